# RTMDet-tiny fine-tuned from COCO on KITTI 2D object labels (boxes only), with the project's pipelines (not
# RTMDet's 640 px Mosaic/MixUp COCO recipe).
_base_ = [
    './_base_/models/rtmdet_tiny.py',
    './_base_/datasets/kitti.py',
    './_base_/schedules/finetune_adamw_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet_tiny_8xb32-300e_coco/'
             'rtmdet_tiny_8xb32-300e_coco_20220902_112414-78e30dcc.pth')
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             bbox_head=dict(num_classes=len(_base_.classes)))
