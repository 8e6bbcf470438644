# Mask R-CNN X101-32x4d-FPN: only the model of the MMDetection config below (custom/engine/model_zoo.py).
_base_ = []  # first: mmengine reads a config that starts with a non-builtin import as a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

model = mmdet_model('mask_rcnn/mask-rcnn_x101-32x4d_fpn_1x_coco.py')
