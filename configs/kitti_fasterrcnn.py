# Faster R-CNN R50-FPN fine-tuned from COCO on KITTI 2D object labels (boxes only).
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    './_base_/datasets/kitti.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r50_fpn_1x_coco/'
             'faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             roi_head=dict(bbox_head=dict(num_classes=len(_base_.classes))))
