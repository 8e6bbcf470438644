# Mask R-CNN X101-32x4d-FPN fine-tuned from COCO on Penn-Fudan pedestrians.
_base_ = [
    './_base_/models/mask-rcnn_x101-32x4d_fpn.py',
    './_base_/datasets/pennfudan.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_x101_32x4d_fpn_1x_coco/'
             'mask_rcnn_x101_32x4d_fpn_1x_coco_20200205-478d0b67.pth')
num_classes = len(_base_.classes)
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)))
