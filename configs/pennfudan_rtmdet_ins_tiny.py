# RTMDet-Ins-tiny fine-tuned from COCO on Penn-Fudan pedestrians. Not RTMDet's COCO recipe (640 px, Mosaic,
# MixUp, 300 epochs, EMA): the project's pipelines, whose bitmap masks it trains on (its poly2mask=False would
# ignore them).
_base_ = ['./_base_/models/rtmdet-ins_tiny.py', './_base_/datasets/pennfudan.py',
          './_base_/schedules/finetune_adamw_12e.py']

model = dict(bbox_head=dict(num_classes=len(_base_.classes)))
