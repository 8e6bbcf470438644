# RTMDet-tiny fine-tuned from COCO on KITTI 2D object labels (boxes only), with the project's pipelines (not
# RTMDet's 640 px Mosaic/MixUp COCO recipe).
_base_ = ['./_base_/models/rtmdet_tiny.py', './_base_/datasets/kitti.py',
          './_base_/schedules/finetune_adamw_12e.py']

model = dict(bbox_head=dict(num_classes=len(_base_.classes)))
