# PointRend R50-caffe-FPN: the model of the MMDetection config below (custom/engine/model_zoo.py) and its COCO
# checkpoint, on the project's runtime (../default_runtime.py says why).
_base_ = ['../default_runtime.py']  # first: a file opening with a non-builtin import is a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = mmdet_model('point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py', backbone=dict(init_cfg=None))
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/point_rend/point_rend_r50_caffe_fpn_mstrain_1x_coco/'
             'point_rend_r50_caffe_fpn_mstrain_1x_coco-1bcb5fb4.pth')
