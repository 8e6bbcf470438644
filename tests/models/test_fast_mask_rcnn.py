"""FastMaskRCNN (configs/_base_/models/fast_mask_rcnn.py) predicts what MaskRCNN predicts."""


import pytest
import torch
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmengine.config import Config, ConfigDict

from custom.models import SeparablePasteMaskHead
from tests.helpers import REAL_PENNFUDAN, REPO

PENNFUDAN = REAL_PENNFUDAN


def test_its_base_in_place_of_the_mask_rcnn_base_gives_the_fast_model_with_the_same_checkpoint(tmp_path):
    plain_path = REPO / 'configs' / 'pennfudan_maskrcnn.py'
    fast_path = tmp_path / 'pennfudan_fast_maskrcnn.py'
    fast_path.write_text(plain_path.read_text().replace("'./_base_/", f"'{REPO}/configs/_base_/")
                         .replace('/models/mask-rcnn_r50_fpn.py', '/models/fast_mask_rcnn.py'))
    plain, fast = Config.fromfile(plain_path), Config.fromfile(fast_path)
    assert fast.model.type == 'FastMaskRCNN'
    assert fast.model.roi_head.mask_head.type == 'SeparablePasteMaskHead'
    assert fast.load_from == plain.load_from and fast.model.roi_head.mask_head.num_classes == 1


def test_separable_pasting_gives_mmdetections_masks_and_rescales_the_boxes_in_place_as_it_does():
    torch.manual_seed(0)
    mask_preds = torch.randn(6, 1, 28, 28) * 4
    boxes = torch.tensor([[10.3, 5.7, 60.2, 90.9], [0.0, 0.0, 30.0, 20.0], [100.5, 40.2, 159.9, 119.6],
                          [50.0, 50.0, 50.0, 70.0], [-5.0, -3.0, 20.0, 25.0], [120.0, 90.0, 170.0, 130.0]])
    meta = {'scale_factor': (0.5, 0.5), 'ori_shape': (240, 320)}
    cfg = ConfigDict(mask_thr_binary=0.5)
    labels = torch.zeros(6, dtype=torch.long)
    heads = [FCNMaskHead(num_classes=1), SeparablePasteMaskHead(num_classes=1)]
    rescaled = [boxes.clone(), boxes.clone()]
    masks = [head._predict_by_feat_single(mask_preds, box, labels, meta, cfg, rescale=True)
             for head, box in zip(heads, rescaled, strict=True)]
    assert masks[0].shape == masks[1].shape == (6, 240, 320) and masks[1].dtype == torch.bool
    torch.testing.assert_close(rescaled[1], boxes * 2)
    torch.testing.assert_close(rescaled[1], rescaled[0])
    assert masks[0].sum() > 1000  # the masks are not empty: the comparison means something
    assert (masks[0] != masks[1]).sum() <= 2  # pixels at exactly 0.5 may round either way


@pytest.mark.skipif(not PENNFUDAN.is_dir(), reason='the real Penn-Fudan data is not here')
@pytest.mark.usefixtures('mmdet_scope')
@torch.no_grad()
def test_fast_model_predicts_the_boxes_scores_and_masks_of_the_plain_model_on_real_images():
    from mmdet.registry import MODELS

    from benchmarks.matched_models import FAST_MODEL, calibrate_batchnorm, project_model_config
    from benchmarks.torchvision_speed import load_samples, project_batch

    batch = project_batch(load_samples(PENNFUDAN, count=2, size=(320, 240)))
    torch.manual_seed(0)
    plain = MODELS.build(project_model_config()).eval()
    data = plain.data_preprocessor(batch, False)
    # Random weights with BatchNorm statistics of these images: activations at a unit scale, no tied scores.
    calibrate_batchnorm(plain, lambda: plain.extract_feat(data['inputs']), (torch.nn.BatchNorm2d,))
    fast = MODELS.build(project_model_config(overrides=FAST_MODEL))
    fast.load_state_dict(plain.state_dict())
    fast.eval()
    assert next(fast.backbone.parameters()).is_contiguous(memory_format=torch.channels_last)

    results = [model.predict(data['inputs'], data['data_samples'], rescale=True) for model in (plain, fast)]
    for ours, theirs in zip(*results, strict=True):
        ours, theirs = ours.pred_instances, theirs.pred_instances
        assert len(ours) == len(theirs) > 0
        torch.testing.assert_close(theirs.bboxes, ours.bboxes, rtol=1e-4, atol=1e-3)
        torch.testing.assert_close(theirs.scores, ours.scores, rtol=1e-4, atol=1e-5)
        differing = (theirs.masks != ours.masks).sum().item()
        assert differing <= 1e-4 * ours.masks.numel() and ours.masks.sum() > 0
    assert fast._folded and fast._folded[0][1] is not fast.backbone  # inference ran on the folded copy
