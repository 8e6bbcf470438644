# PointRend (Mask R-CNN R50-caffe-FPN with point-wise mask refinement) fine-tuned from COCO on Penn-Fudan.
_base_ = [
    './_base_/models/point-rend_r50-caffe_fpn.py',
    './_base_/datasets/pennfudan.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/point_rend/point_rend_r50_caffe_fpn_mstrain_1x_coco/'
             'point_rend_r50_caffe_fpn_mstrain_1x_coco-1bcb5fb4.pth')
num_classes = len(_base_.classes)
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes),
                           point_head=dict(num_classes=num_classes)))
