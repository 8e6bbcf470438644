# Cascade Mask R-CNN R50-FPN: MMDetection's model base and the COCO checkpoint of
# cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py, on the project's runtime
# (../default_runtime.py says why).
_base_ = ['mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py', '../default_runtime.py']

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/cascade_rcnn/cascade_mask_rcnn_r50_fpn_1x_coco/'
             'cascade_mask_rcnn_r50_fpn_1x_coco_20200203-9d4dcb24.pth')
# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = dict(backbone=dict(init_cfg=None))
