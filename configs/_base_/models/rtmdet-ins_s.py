# RTMDet-Ins-s: only the model of the MMDetection config below (custom/engine/model_zoo.py).
_base_ = []  # first: mmengine reads a config that starts with a non-builtin import as a lazy-import config
from custom.engine.model_zoo import mmdet_model  # noqa: E402

# RTMDet's own pipeline pads every image to 640x640; the project's keep each image's size, so batches and
# their masks are padded to a multiple of the largest stride instead, or feature and mask sizes disagree.
model = mmdet_model('rtmdet/rtmdet-ins_s_8xb32-300e_coco.py',
                    data_preprocessor=dict(pad_size_divisor=32, pad_mask=True))
