# Faster R-CNN R50-FPN: MMDetection's model base and the COCO checkpoint of
# faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py, on the project's runtime (../default_runtime.py says why).
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', '../default_runtime.py']

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r50_fpn_1x_coco/'
             'faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')
# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = dict(backbone=dict(init_cfg=None))
