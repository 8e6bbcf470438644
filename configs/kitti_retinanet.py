# RetinaNet R50-FPN fine-tuned from COCO on KITTI 2D object labels (boxes only).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    './_base_/datasets/kitti.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r50_fpn_1x_coco/'
             'retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth')
model = dict(backbone=dict(init_cfg=None),  # load_from holds every weight
             bbox_head=dict(num_classes=len(_base_.classes)))
# RetinaNet's lr 0.01 for 16 images per step, scaled linearly to batch 2.
optim_wrapper = dict(optimizer=dict(lr=0.00125))
