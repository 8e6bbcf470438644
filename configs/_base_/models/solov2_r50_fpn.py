# SOLOv2 R50-FPN: only the model of the MMDetection config below (custom/engine/model_zoo.py).
_base_ = []  # first: mmengine reads a config that starts with a non-builtin import as a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

model = mmdet_model('solov2/solov2_r50_fpn_1x_coco.py')
