# PointRend R50-caffe-FPN: only the model of the MMDetection config below (custom/engine/model_zoo.py).
_base_ = []  # first: mmengine reads a config that starts with a non-builtin import as a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

model = mmdet_model('point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py')
