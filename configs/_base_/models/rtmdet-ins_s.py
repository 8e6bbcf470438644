# RTMDet-Ins-s: the model of the MMDetection config below (custom/engine/model_zoo.py) and its COCO
# checkpoint, on the project's runtime (../default_runtime.py says why).
_base_ = ['../default_runtime.py']  # first: a file opening with a non-builtin import is a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

# RTMDet's own pipeline pads every image to 640x640; the project's keep each image's size, so batches and
# their masks are padded to a multiple of the largest stride instead, or feature and mask sizes disagree.
# load_from holds every weight, so no ImageNet backbone is downloaded (torchvision is not in the env).
model = mmdet_model('rtmdet/rtmdet-ins_s_8xb32-300e_coco.py', backbone=dict(init_cfg=None),
                    data_preprocessor=dict(pad_size_divisor=32, pad_mask=True))
load_from = ('https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet-ins_s_8xb32-300e_coco/'
             'rtmdet-ins_s_8xb32-300e_coco_20221121_212604-fdc5d7ec.pth')
