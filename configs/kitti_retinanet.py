# RetinaNet R50-FPN fine-tuned from COCO on KITTI 2D object labels (boxes only).
_base_ = ['./_base_/models/retinanet_r50_fpn.py', './_base_/datasets/kitti.py',
          './_base_/schedules/finetune_12e_half_lr.py']

model = dict(bbox_head=dict(num_classes=len(_base_.classes)))
