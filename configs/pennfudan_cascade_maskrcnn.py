# Cascade Mask R-CNN R50-FPN fine-tuned from COCO on Penn-Fudan pedestrians.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    './_base_/datasets/pennfudan.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/cascade_rcnn/cascade_mask_rcnn_r50_fpn_1x_coco/'
             'cascade_mask_rcnn_r50_fpn_1x_coco_20200203-9d4dcb24.pth')
num_classes = len(_base_.classes)
# The box heads of the three stages are a list, so each is given the classes.
stage_heads = [dict(head, num_classes=num_classes) for head in _base_.model.roi_head.bbox_head]
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             roi_head=dict(bbox_head=stage_heads, mask_head=dict(num_classes=num_classes)))
