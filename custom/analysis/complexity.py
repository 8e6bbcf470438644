"""Parameters and FLOPs of a config's model at its test image size, by mmengine's complexity analysis.

As MMDetection's ``tools/analysis_tools/get_flops.py``: the model is built with random weights and its
``forward`` in ``'tensor'`` mode (backbone, neck and heads, no post-processing) is traced by mmengine's
``FlopAnalyzer`` (what ``get_model_complexity_info`` runs, without its activation count and its warnings
about operators it does not count, such as norms and upsampling: they count 0). The input is one blank image
exactly the size of the test pipeline's Resize scale (so the resize keeps it), padded by the model's data
preprocessor. mmengine counts one multiply-add as one FLOP.

In ``'tensor'`` mode a two-stage model runs its RoI heads, the mask head included, on every RPN proposal (1000
at test), where inference runs the mask head on at most ``test_cfg.rcnn.max_per_img`` (100) detections: on
Cascade Mask R-CNN at 320x192 that counted 1595 GFLOPs, nearly all of it mask heads on 1000 RoIs. So the RPN
keeps ``rcnn.max_per_img`` proposals for the count: the mask head is counted as inference runs it, the box
head on 100 RoIs instead of 1000 (about 1 GFLOP less per stage than inference).
"""

import copy
from functools import partial

import torch
from mmengine.config import Config

from custom.errors import ConfigError


def input_size_at_test(cfg: Config) -> tuple[int, int]:
    """(width, height) of the first resize scale in the test pipeline (the first of a multi-scale test)."""
    for step in cfg.test_dataloader.dataset.get('pipeline', []):
        scale = step.get('scale')
        if scale is None:
            continue
        while isinstance(scale[0], list | tuple):
            scale = scale[0]
        return int(scale[0]), int(scale[1])
    raise ConfigError('test_dataloader.dataset.pipeline: no step with a scale, so the test image size is '
                      'unknown')


def model_complexity(cfg: Config) -> dict[str, float]:
    """{'params': number of parameters, 'flops': FLOPs of one test-size image, 'width', 'height'}."""
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.analysis import FlopAnalyzer, parameter_count

    register_all_modules()
    width, height = input_size_at_test(cfg)
    model_cfg = copy.deepcopy(cfg.model)
    rpn, rcnn = model_cfg.get('test_cfg', {}).get('rpn'), model_cfg.get('test_cfg', {}).get('rcnn')
    if rpn and rcnn and 'max_per_img' in rcnn:
        rpn.max_per_img = rcnn.max_per_img
    model = MODELS.build(model_cfg).eval()
    sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                         scale_factor=(1.0, 1.0)))
    image = torch.zeros(3, height, width, dtype=torch.uint8)
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
        model.forward = partial(model.forward, data_samples=data['data_samples'], mode='tensor')
        flops = FlopAnalyzer(model, data['inputs'])
        flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return dict(params=float(parameter_count(model)['']), flops=float(flops.total()), width=width,
                    height=height)
