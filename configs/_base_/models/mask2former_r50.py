# Mask2Former R50 (instance): the model of the MMDetection config below (custom/engine/model_zoo.py) and its
# COCO checkpoint, on the project's runtime (../default_runtime.py says why).
_base_ = ['../default_runtime.py']  # first: a file opening with a non-builtin import is a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = mmdet_model('mask2former/mask2former_r50_8xb2-lsj-50e_coco.py', backbone=dict(init_cfg=None))
load_from = ('https://download.openmmlab.com/mmdetection/v3.0/mask2former/mask2former_r50_8xb2-lsj-50e_coco/'
             'mask2former_r50_8xb2-lsj-50e_coco_20220506_191028-41b088b6.pth')
