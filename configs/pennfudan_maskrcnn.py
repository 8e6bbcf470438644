# Mask R-CNN R50-FPN fine-tuned from COCO on Penn-Fudan pedestrians (120 train / 50 val images).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    './_base_/datasets/pennfudan.py',
    './_base_/schedules/finetune_12e.py',
    './_base_/default_runtime.py',
]

# Offline: download the file once and pass `--cfg-options load_from=/path/to/file.pth`,
# or put it where the error message says (see README "Offline checkpoints").
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_1x_coco/'
             'mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth')
num_classes = len(_base_.classes)
# init_cfg=None: load_from holds every weight, so the ImageNet backbone (torchvision://resnet50) is neither
# downloaded nor needed (torchvision is not part of this environment).
model = dict(backbone=dict(init_cfg=None),
             roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)))
