# SOLOv2 R50-FPN: the model of the MMDetection config below (custom/engine/model_zoo.py) and its COCO
# checkpoint, on the project's runtime (../default_runtime.py says why).
_base_ = ['../default_runtime.py']  # first: a file opening with a non-builtin import is a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = mmdet_model('solov2/solov2_r50_fpn_1x_coco.py', backbone=dict(init_cfg=None))
load_from = ('https://download.openmmlab.com/mmdetection/v2.0/solov2/solov2_r50_fpn_1x_coco/'
             'solov2_r50_fpn_1x_coco_20220512_125858-a357fa23.pth')
