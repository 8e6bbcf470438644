# RTMDet-tiny fine-tuned from COCO on VOC-style XML boxes (boxes only), with the project's pipelines (not
# RTMDet's 640 px Mosaic/MixUp COCO recipe).
_base_ = ['./_base_/models/rtmdet_tiny.py', './_base_/datasets/voc_xml_boxes.py',
          './_base_/schedules/finetune_adamw_12e.py']

model = dict(bbox_head=dict(num_classes=len(_base_.classes)))
