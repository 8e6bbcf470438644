"""The two Mask R-CNNs of the benchmark, made to compute the same function.

torchvision's ``maskrcnn_resnet50_fpn`` and MMDetection's ``mask-rcnn_r50_fpn`` are the same architecture:
ResNet-50 with frozen BatchNorm, a 5-level FPN (P6 = stride-2 max-pool of P5), a 3-anchor RPN head, RoIAlign
7x7 into two 1024-d FCs, RoIAlign 14x14 into four 3x3 convs, a 2x deconvolution and 1x1 logits. So
torchvision's weights map one to one onto the project's model (``torchvision_to_mmdet``); what differs is
settled here, on the side that costs nothing:

- class order: torchvision puts background first in its classifier, MMDetection last; torchvision also has box
  and mask outputs for the background class, which MMDetection does not compute (dropped when mapping); its
  predicted labels count the background too, and become the project's once, in ``torchvision_detections``;
- RoIAlign: torchvision's MultiScaleRoIAlign uses ``sampling_ratio=2, aligned=False``; the project model is
  given the same (same cost as MMDetection's ``sampling_ratio=0, aligned=True``);
- anchors: torchvision rounds its base anchors to whole pixels; it is given MMDetection's (unrounded) ones;
- resizing: both models get images already at the benchmark size; torchvision's transform is told not to
  resize (it would rescale each image to its min_size).

Weights are random (nothing can be downloaded here), drawn by torchvision's own initialisation; the frozen
BatchNorm statistics are then set from one image (``calibrate_frozen_batchnorm``) so that activations keep
a unit scale through 50 layers instead of growing by orders of magnitude, which would saturate the scores
into ties that the two frameworks break differently.

Masks are the one output that differs by design: both paste each 28x28 mask into its box, torchvision by
resizing it at the box's whole-pixel position, MMDetection by sampling it at the box's exact position, so a
random (salt-and-pepper) mask differs along every cell edge: measured mean mask IoU 0.83-0.85 between the
two at 256x192 while boxes and scores agree to 2e-5. The mask logits themselves agree to 1e-4
(tests/benchmarks/test_matched_models.py).
"""

import copy
import json
import re
from collections.abc import Callable

import numpy as np
import torch

from custom.errors import UserError
from custom.structures.detections import Detections
from custom.structures.masks import to_numpy

PROJECT_CONFIG = 'configs/pennfudan_maskrcnn.py'
NUM_CLASSES = 1  # pedestrian
MASK_THRESHOLD = 0.5  # mask probability -> pixel, in both models (MMDetection's mask_thr_binary)
# The project's faster model (configs/_base_/models/fast_mask_rcnn.py) as overrides of the project config.
FAST_MODEL = {'model.type': 'FastMaskRCNN', 'model.roi_head.mask_head.type': 'SeparablePasteMaskHead',
              'model.roi_head.bbox_roi_extractor.type': 'SparseRoIExtractor',
              'model.roi_head.mask_roi_extractor.type': 'SparseRoIExtractor'}

# The state-dict shapes of torchvision's maskrcnn_resnet50_fpn (write_torchvision_state).
TORCHVISION_STATE = 'tests/benchmarks/maskrcnn_resnet50_fpn_state.json'
# torchvision key prefix -> MMDetection key prefix (after the ResNet body, whose names are the same).
KEY_RULES = [
    (r'^backbone\.body\.', 'backbone.'),
    (r'^backbone\.fpn\.inner_blocks\.(\d)\.0\.', r'neck.lateral_convs.\1.conv.'),
    (r'^backbone\.fpn\.layer_blocks\.(\d)\.0\.', r'neck.fpn_convs.\1.conv.'),
    (r'^rpn\.head\.conv\.0\.0\.', 'rpn_head.rpn_conv.'),
    (r'^rpn\.head\.cls_logits\.', 'rpn_head.rpn_cls.'),
    (r'^rpn\.head\.bbox_pred\.', 'rpn_head.rpn_reg.'),
    (r'^roi_heads\.box_head\.fc6\.', 'roi_head.bbox_head.shared_fcs.0.'),
    (r'^roi_heads\.box_head\.fc7\.', 'roi_head.bbox_head.shared_fcs.1.'),
    (r'^roi_heads\.box_predictor\.cls_score\.', 'roi_head.bbox_head.fc_cls.'),
    (r'^roi_heads\.box_predictor\.bbox_pred\.', 'roi_head.bbox_head.fc_reg.'),
    (r'^roi_heads\.mask_head\.(\d)\.0\.', r'roi_head.mask_head.convs.\1.conv.'),
    (r'^roi_heads\.mask_predictor\.conv5_mask\.', 'roi_head.mask_head.upsample.'),
    (r'^roi_heads\.mask_predictor\.mask_fcn_logits\.', 'roi_head.mask_head.conv_logits.'),
]


class BenchmarkError(UserError, RuntimeError):
    """The benchmark cannot run here (missing torchvision, no images, no CUDA, disagreeing models)."""


def require_torchvision(tool: str = 'torchvision_speed', instead: str = ''):
    """Imports torchvision or explains how to get an environment that has it (and what `tool`, a module of
    benchmarks/, can do `instead` without it)."""
    try:
        import torchvision
        from torchvision.models.detection import MaskRCNN  # noqa: F401
    except Exception as error:  # ImportError, or PyPI's torchvision beside another torch build
        raise BenchmarkError(
            f'torchvision cannot be imported here ({type(error).__name__}: {error}). The benchmark compares '
            'against torchvision\'s maskrcnn_resnet50_fpn, so it needs both in one environment: run '
            '`bash benchmarks/setup_env.sh` once, then '
            f'`.venv-bench/bin/python -m benchmarks.{tool} ...` (benchmarks/README.md){instead}.'
        ) from error
    return torchvision


def project_model_config(config: str = PROJECT_CONFIG, overrides: dict | None = None,
                         match_torchvision: bool = True):
    """The model section of the project's config with random weights, at the settings torchvision uses
    (module docstring) unless match_torchvision is False (then at the config's own)."""
    from mmengine.config import Config

    cfg = Config.fromfile(config)
    if overrides:
        cfg.merge_from_dict(overrides)
    model = copy.deepcopy(cfg.model)
    model.backbone.init_cfg = None  # random weights: nothing downloaded
    if not match_torchvision:
        return model
    model.backbone.norm_cfg.requires_grad = False  # frozen BatchNorm: torchvision's FrozenBatchNorm2d
    for extractor in (model.roi_head.bbox_roi_extractor, model.roi_head.mask_roi_extractor):
        extractor.roi_layer.update(sampling_ratio=2, aligned=False)
    rpn_nms = dict(type='nms', iou_threshold=0.7)
    model.train_cfg.rpn_proposal.update(nms_pre=2000, max_per_img=1000, nms=rpn_nms)
    model.train_cfg.rcnn.sampler.update(num=512, pos_fraction=0.25)
    model.test_cfg.rpn.update(nms_pre=1000, max_per_img=1000, nms=rpn_nms)
    model.test_cfg.rcnn.update(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                               mask_thr_binary=MASK_THRESHOLD)
    return model


def build_project_model(device: str = 'cpu', config: str = PROJECT_CONFIG, overrides: dict | None = None,
                        match_torchvision: bool = True) -> torch.nn.Module:
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import custom  # noqa: F401  (the project's registered modules)

    register_all_modules(init_default_scope=False)
    return MODELS.build(project_model_config(config, overrides, match_torchvision)).to(device)


def build_torchvision_model(device: str = 'cpu', classes: int = NUM_CLASSES) -> torch.nn.Module:
    """maskrcnn_resnet50_fpn's architecture with the project model's settings (see module docstring), for
    `classes` classes besides the background."""
    torchvision = require_torchvision()
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops import FrozenBatchNorm2d

    resnet = torchvision.models.resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(resnet, trainable_layers=3)  # layer2-4 train, as frozen_stages=1
    model = MaskRCNN(backbone, num_classes=classes + 1,  # + background
                     rpn_pre_nms_top_n_train=2000, rpn_post_nms_top_n_train=1000,
                     rpn_pre_nms_top_n_test=1000, rpn_post_nms_top_n_test=1000,
                     box_batch_size_per_image=512, box_score_thresh=0.05, box_detections_per_img=100)
    model.transform.resize = lambda image, target=None: (image, target)  # images come at the benchmark size
    return model.to(device)


def torchvision_detections(output: dict[str, torch.Tensor]) -> Detections:
    """One image's output of torchvision's Mask R-CNN as the project's Detections: labels shifted to the
    project's (torchvision's label 0 is the background), mask probabilities (N, 1, H, W) thresholded."""
    return Detections(to_numpy(output['boxes']).astype(np.float32, copy=False),
                      to_numpy(output['scores']).astype(np.float32, copy=False),
                      to_numpy(output['labels'] - 1).astype(np.int64, copy=False),
                      to_numpy(output['masks'][:, 0] > MASK_THRESHOLD))


@torch.no_grad()
def calibrate_batchnorm(model: torch.nn.Module, forward: Callable[[], object],
                        norm_types: tuple[type, ...]) -> None:
    """Sets the statistics of every BatchNorm layer of `norm_types` to its input's mean and variance during
    `forward()`, layer after layer: random weights then keep activations at a unit scale."""

    def set_statistics(module, inputs):
        module.running_mean.copy_(inputs[0].mean(dim=(0, 2, 3)))
        module.running_var.copy_(inputs[0].var(dim=(0, 2, 3)))

    handles = [module.register_forward_pre_hook(set_statistics) for module in model.modules()
               if isinstance(module, norm_types)]
    was_training = model.training
    model.eval()
    try:
        forward()
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


def calibrate_frozen_batchnorm(model: torch.nn.Module, images: list[torch.Tensor]) -> None:
    """torchvision's backbone BatchNorm statistics from `images` (0-1 RGB)."""
    from torchvision.ops import FrozenBatchNorm2d

    calibrate_batchnorm(model, lambda: model.backbone.body(model.transform(images)[0].tensors),
                        (FrozenBatchNorm2d,))


def torchvision_to_mmdet(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision maskrcnn_resnet50_fpn's state dict under the project model's names and class order."""
    mapped = {}
    for key, value in state_dict.items():
        if key.endswith('num_batches_tracked'):
            continue
        for pattern, replacement in KEY_RULES:
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                break
        else:
            raise KeyError(f'no MMDetection name for torchvision key {key!r}')
        if new_key.startswith('roi_head.bbox_head.fc_cls.'):  # [background, classes] -> [classes, background]
            value = torch.cat([value[1:], value[:1]])
        elif new_key.startswith('roi_head.bbox_head.fc_reg.'):  # 4 deltas per class, background's dropped
            value = value[4:]
        elif new_key.startswith('roi_head.mask_head.conv_logits.'):  # one mask per class, not background's
            value = value[1:]
        mapped[new_key] = value.clone()
    return mapped


def state_shapes(model: torch.nn.Module) -> dict[str, dict[str, list[int]]]:
    """The shape of every tensor in `model`'s state dict, in its order: {'parameters': {name: shape},
    'buffers': {name: shape}}."""
    parameters = {name for name, _ in model.named_parameters()}
    shapes = {'parameters': {}, 'buffers': {}}
    for name, value in model.state_dict().items():
        shapes['parameters' if name in parameters else 'buffers'][name] = list(value.shape)
    return shapes


def write_torchvision_state(path: str = TORCHVISION_STATE, shapes: dict | None = None) -> None:
    """Writes `shapes` (default: ``state_shapes`` of torchvision's maskrcnn_resnet50_fpn with COCO's 91
    classes, built here with frozen BatchNorm as with its published weights) to `path`: the fixture that tests
    the key mapping without torchvision (tests/benchmarks/test_matched_models.py). With torchvision:
        .venv-bench/bin/python -c 'from benchmarks.matched_models import write_torchvision_state as w; w()'
    """
    about = {
        'about': "torchvision's maskrcnn_resnet50_fpn (v1) with num_classes=91 and FrozenBatchNorm2d "
                 '(as with its published COCO weights): the name and shape of every tensor of its '
                 'state dict.',
        'made': 'by write_torchvision_state() in benchmarks/matched_models.py; the first copy from a '
                "reading of torchvision's source (models/resnet.py, models/detection/backbone_utils.py, "
                'faster_rcnn.py, rpn.py, mask_rcnn.py, ops/feature_pyramid_network.py).',
        'read_by': 'tests/benchmarks/test_matched_models.py, without torchvision; where torchvision '
                   'imports, it is also compared with the model itself there.',
        'num_params': 'the parameters add up to 44401393, the num_params torchvision publishes for '
                      'MaskRCNN_ResNet50_FPN_Weights.COCO_V1.'}
    if shapes is None:
        shapes = state_shapes(build_torchvision_model(classes=90))
    text = json.dumps({**about, **shapes}, indent=1)
    # One line per tensor: [64, 3, 7, 7] rather than one line per dimension.
    text = re.sub(r'\[([\d,\s]+)\]', lambda match: '[' + ' '.join(match.group(1).split()) + ']', text)
    with open(path, 'w', encoding='utf-8') as file:
        file.write(text + '\n')


def load_torchvision_weights(project: torch.nn.Module, reference: torch.nn.Module) -> None:
    """Gives the project model torchvision's weights and torchvision the project model's anchors."""
    result = project.load_state_dict(torchvision_to_mmdet(reference.state_dict()), strict=False)
    missing = [key for key in result.missing_keys if not key.endswith('num_batches_tracked')]
    if missing or result.unexpected_keys:
        raise KeyError(f'state dict mapping incomplete: missing {missing}, '
                       f'unexpected {result.unexpected_keys}')
    generator = reference.rpn.anchor_generator
    generator.cell_anchors = [anchors.clone().to(generator.cell_anchors[0])
                              for anchors in project.rpn_head.prior_generator.base_anchors]


def matched_models(images: list[torch.Tensor], device: str = 'cpu', seed: int = 0,
                   config: str = PROJECT_CONFIG, overrides: dict | None = None):
    """(project model, torchvision model) computing the same function; `images` are 0-1 RGB tensors."""
    torch.manual_seed(seed)
    reference = build_torchvision_model(device)
    calibrate_frozen_batchnorm(reference, [image.to(device) for image in images])
    project = build_project_model(device, config, overrides)
    load_torchvision_weights(project, reference)
    return project, reference
