"""torchvision's maskrcnn_resnet50_fpn weights mapped onto the project's model compute the same function.

Needs torchvision beside mmdet (the benchmark environment, `.venv-bench`); skipped elsewhere:
    PYTHONPATH=$PWD .venv-bench/bin/python -m pytest -q tests/benchmarks/test_matched_models.py
"""

import pytest
import torch

from benchmarks.matched_models import KEY_RULES, torchvision_to_mmdet

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def test_classifier_rows_move_background_last_and_background_deltas_and_masks_are_dropped():
    state = {'roi_heads.box_predictor.cls_score.weight': torch.tensor([[0.0], [1.0], [2.0]]),
             'roi_heads.box_predictor.bbox_pred.bias': torch.arange(12.0),
             'roi_heads.mask_predictor.mask_fcn_logits.bias': torch.tensor([5.0, 6.0, 7.0])}
    mapped = torchvision_to_mmdet(state)
    assert mapped['roi_head.bbox_head.fc_cls.weight'].flatten().tolist() == [1.0, 2.0, 0.0]
    assert mapped['roi_head.bbox_head.fc_reg.bias'].tolist() == list(range(4, 12))
    assert mapped['roi_head.mask_head.conv_logits.bias'].tolist() == [6.0, 7.0]
    assert len(KEY_RULES) == 13


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
