# Mask R-CNN R101-FPN fine-tuned from COCO on Penn-Fudan pedestrians.
_base_ = [
    './_base_/models/mask-rcnn_r101_fpn.py',
    './_base_/datasets/pennfudan.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r101_fpn_1x_coco/'
             'mask_rcnn_r101_fpn_1x_coco_20200204-1efe0ed5.pth')
num_classes = len(_base_.classes)
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)))
