"""torchvision's maskrcnn_resnet50_fpn weights mapped onto the project's model compute the same function.

The key mapping is checked everywhere against the name and shape of every tensor of torchvision's model,
kept in maskrcnn_resnet50_fpn_state.json beside this file (its fields say how it was made; regenerate it
with torchvision by ``benchmarks.matched_models.write_torchvision_state()``). That file against the model
itself, and the two models' outputs on an image, need torchvision beside mmdet (the benchmark environment,
`.venv-bench`); skipped elsewhere:
    PYTHONPATH=$PWD .venv-bench/bin/python -m pytest -q tests/benchmarks/test_matched_models.py
"""

import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks.matched_models import (
    FAST_MODEL,
    build_project_model,
    build_torchvision_model,
    state_shapes,
    torchvision_to_mmdet,
)

pytestmark = pytest.mark.usefixtures('mmdet_scope')

TORCHVISION_STATE = Path(__file__).with_name('maskrcnn_resnet50_fpn_state.json')
COCO_CLASSES = 90  # torchvision's num_classes=91 counts the background


def torchvision_state() -> dict[str, dict[str, list[int]]]:
    """{'parameters': {name: shape}, 'buffers': {name: shape}} of torchvision's maskrcnn_resnet50_fpn."""
    return {kind: json.loads(TORCHVISION_STATE.read_text())[kind] for kind in ('parameters', 'buffers')}


def test_classifier_rows_move_background_last_and_background_deltas_and_masks_are_dropped():
    state = {'roi_heads.box_predictor.cls_score.weight': torch.tensor([[0.0], [1.0], [2.0]]),
             'roi_heads.box_predictor.bbox_pred.bias': torch.arange(12.0),
             'roi_heads.mask_predictor.mask_fcn_logits.bias': torch.tensor([5.0, 6.0, 7.0])}
    mapped = torchvision_to_mmdet(state)
    assert mapped['roi_head.bbox_head.fc_cls.weight'].flatten().tolist() == [1.0, 2.0, 0.0]
    assert mapped['roi_head.bbox_head.fc_reg.bias'].tolist() == list(range(4, 12))
    assert mapped['roi_head.mask_head.conv_logits.bias'].tolist() == [6.0, 7.0]


def test_torchvision_state_file_adds_up_to_torchvisions_published_parameter_count():
    """44,401,393: torchvision's num_params of MaskRCNN_ResNet50_FPN_Weights.COCO_V1 (its frozen BatchNorm
    statistics and affine terms are buffers, so they are not counted)."""
    state = torchvision_state()
    assert sum(math.prod(shape) for shape in state['parameters'].values()) == 44_401_393
    assert len(state['buffers']) == 4 * 53  # ResNet-50's 53 BatchNorm layers, frozen: 4 buffers each


@pytest.fixture(scope='module', params=[None, FAST_MODEL], ids=['MaskRCNN', 'FastMaskRCNN'])
def project_state(request) -> dict[str, list[int]]:
    """Name -> shape of the project model's state dict with COCO's classes (as the benchmark builds it)."""
    overrides = {**(request.param or {}), 'model.roi_head.bbox_head.num_classes': COCO_CLASSES,
                 'model.roi_head.mask_head.num_classes': COCO_CLASSES}
    model = build_project_model(overrides=overrides)
    return {name: list(value.shape) for name, value in model.state_dict().items()}


def test_every_torchvision_tensor_maps_to_its_own_project_tensor_of_its_shape_and_all_are_covered(
        project_state):
    state = torchvision_state()
    tensors = {name: torch.empty(shape, device='meta')  # shapes only: no memory
               for kind in ('parameters', 'buffers') for name, shape in state[kind].items()}
    mapped = torchvision_to_mmdet(tensors)
    assert len(mapped) == len(tensors)  # no two torchvision tensors land on one project name
    assert sorted(set(mapped) - set(project_state)) == []  # every one lands on a project tensor
    wrong_shapes = {name: (list(value.shape), project_state[name]) for name, value in mapped.items()
                    if list(value.shape) != project_state[name]}
    assert wrong_shapes == {}
    # ... and every project tensor gets torchvision's value (BatchNorm's step counter has no counterpart).
    uncovered = [name for name in project_state
                 if name not in mapped and not name.endswith('.num_batches_tracked')]
    assert uncovered == []


def test_torchvision_state_file_is_torchvisions_model():
    """Where torchvision imports (.venv-bench): the file is the benchmark's torchvision model at 91 classes,
    which is torchvision's own maskrcnn_resnet50_fpn (there with trainable BatchNorm, so the file's frozen
    BatchNorm parameters are buffers and the step counters are extra)."""
    pytest.importorskip('torchvision')
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    state = torchvision_state()
    assert state_shapes(build_torchvision_model(classes=COCO_CLASSES)) == state
    official = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=COCO_CLASSES + 1)
    assert {name: list(value.shape) for name, value in official.state_dict().items()
            if not name.endswith('.num_batches_tracked')} == {**state['parameters'], **state['buffers']}


@pytest.fixture(scope='module')
def models_and_image():
    pytest.importorskip('torchvision')
    from benchmarks.matched_models import matched_models

    torch.manual_seed(1)
    # A smooth random 0-1 RGB image (noise upsampled), 128x96: small, and big enough for all 5 FPN levels.
    image = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 16), size=(96, 128), mode='bilinear')[0]
    project, reference = matched_models([image], seed=0)
    return project.eval(), reference.eval(), image


@torch.no_grad()
def test_mapped_model_computes_torchvisions_features_rpn_outputs_and_head_outputs(models_and_image):
    project, reference, image = models_and_image
    batch, _ = reference.transform([image])
    theirs = list(reference.backbone(batch.tensors).values())
    # The project's preprocessor normalises 0-255 BGR with the same mean/std x 255.
    ours = project.extract_feat(project.data_preprocessor(
        {'inputs': [(image.flip(0) * 255)], 'data_samples': None}, False)['inputs'])
    assert len(ours) == len(theirs) == 5
    for mine, other in zip(ours, theirs, strict=True):
        assert mine.shape == other.shape
        torch.testing.assert_close(mine, other, rtol=1e-3, atol=1e-3 * other.abs().max().item())
    features = theirs  # the same input for both heads from here on

    objectness, deltas = reference.rpn.head(features)
    rpn_cls, rpn_reg = project.rpn_head(features)
    for pair in [*zip(rpn_cls, objectness, strict=True), *zip(rpn_reg, deltas, strict=True)]:
        torch.testing.assert_close(*pair, rtol=1e-4, atol=1e-5)

    rois = torch.tensor([[10.0, 8.0, 60.0, 90.0], [40.0, 20.0, 120.0, 70.0], [0.0, 0.0, 30.0, 30.0]])
    level_features = dict(zip(['0', '1', '2', '3'], features[:4], strict=False))
    heads = reference.roi_heads
    box_features = heads.box_head(heads.box_roi_pool(level_features, [rois], batch.image_sizes))
    class_logits, box_deltas = heads.box_predictor(box_features)
    mmdet_rois = torch.cat([torch.zeros(len(rois), 1), rois], dim=1)
    bbox_results = project.roi_head._bbox_forward(tuple(features[:4]), mmdet_rois)
    torch.testing.assert_close(bbox_results['cls_score'], class_logits[:, [1, 0]], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bbox_results['bbox_pred'], box_deltas[:, 4:], rtol=1e-4, atol=1e-5)

    mask_logits = heads.mask_predictor(heads.mask_head(heads.mask_roi_pool(level_features, [rois],
                                                                           batch.image_sizes)))
    mask_results = project.roi_head._mask_forward(tuple(features[:4]), mmdet_rois)
    torch.testing.assert_close(mask_results['mask_preds'], mask_logits[:, 1:], rtol=1e-4, atol=1e-4)
