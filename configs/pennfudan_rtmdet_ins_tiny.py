# RTMDet-Ins-tiny fine-tuned from COCO on Penn-Fudan pedestrians. Not RTMDet's COCO recipe (640 px, Mosaic,
# MixUp, 300 epochs, EMA): the project's pipelines, whose bitmap masks it trains on (its poly2mask=False would
# ignore them).
_base_ = [
    './_base_/models/rtmdet-ins_tiny.py',
    './_base_/datasets/pennfudan.py',
    './_base_/schedules/finetune_adamw_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet-ins_tiny_8xb32-300e_coco/'
             'rtmdet-ins_tiny_8xb32-300e_coco_20221130_151727-ec670f7e.pth')
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             bbox_head=dict(num_classes=len(_base_.classes)))
