# Mask2Former R50 (instance): only the model of the MMDetection config below (custom/engine/model_zoo.py).
_base_ = []  # first: mmengine reads a config that starts with a non-builtin import as a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

model = mmdet_model('mask2former/mask2former_r50_8xb2-lsj-50e_coco.py')
