# Mask R-CNN R50-FPN: MMDetection's model base and the COCO checkpoint of
# mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py, on the project's runtime (../default_runtime.py says why).
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', '../default_runtime.py']

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_1x_coco/'
             'mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth')
# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = dict(backbone=dict(init_cfg=None))
