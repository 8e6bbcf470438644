# RetinaNet R50-FPN: MMDetection's model base and the COCO checkpoint of
# retinanet/retinanet_r50_fpn_1x_coco.py, on the project's runtime (../default_runtime.py says why).
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', '../default_runtime.py']

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r50_fpn_1x_coco/'
             'retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth')
# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = dict(backbone=dict(init_cfg=None))
