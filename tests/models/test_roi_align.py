"""SparseRoIAlign computes mmcv's RoIAlign: the same outputs and feature gradients, also in an extractor, and
on the CPU by its sparse product, never by mmcv's op (a fall-back would give the same values, slower)."""

import sys
from contextlib import contextmanager

import pytest
import torch
from mmcv.ops import RoIAlign
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

import custom  # noqa: F401
from custom.models import roi_align
from custom.models.roi_align import SparseRoIAlign

MMCV_ROI_ALIGN = sys.modules['mmcv.ops.roi_align']  # the module: `mmcv.ops.roi_align` is also a function


@contextmanager
def sparse_path_only():
    """Inside, mmcv's RoIAlign kernels (forward and backward) raise; yields the list of sparse RoIAlign
    matrices built inside, so a test sees which path computed its values."""
    def forbidden(*args, **kwargs):
        raise AssertionError("mmcv's RoIAlign kernel ran: the sparse path was not taken")

    matrices = []
    build_matrix = roi_align.roi_align_matrix

    def counted_matrix(*args, **kwargs):
        matrices.append(build_matrix(*args, **kwargs))
        return matrices[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MMCV_ROI_ALIGN.ext_module, 'roi_align_forward', forbidden)
        patch.setattr(MMCV_ROI_ALIGN.ext_module, 'roi_align_backward', forbidden)
        patch.setattr(roi_align, 'roi_align_matrix', counted_matrix)
        yield matrices


def random_rois(n: int, height: int, width: int, stride: float, generator: torch.Generator) -> torch.Tensor:
    """Boxes in image pixels, some reaching past the image edges, some tiny, on 2 images."""
    size = torch.tensor([width, height], dtype=torch.float32) * stride
    corner = torch.rand(n, 2, generator=generator) * size * 1.1 - 0.1 * size
    extent = torch.rand(n, 2, generator=generator) * size * 0.6 + 0.5
    batch = torch.randint(0, 2, (n, 1), generator=generator).float()
    return torch.cat([batch, corner, corner + extent], 1)


@pytest.mark.parametrize('output_size, sampling_ratio, aligned',
                         [(7, 0, True), (14, 0, True), (7, 2, False), ((5, 9), 3, True)])
def test_outputs_and_feature_gradients_equal_mmcvs(output_size, sampling_ratio, aligned):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 16, 23, 31, generator=generator, requires_grad=True)
    rois = random_rois(60, 23, 31, 4.0, generator)
    reference_layer = RoIAlign(output_size, 0.25, sampling_ratio, aligned=aligned)
    sparse_layer = SparseRoIAlign(output_size, 0.25, sampling_ratio, aligned=aligned)

    expected = reference_layer(features, rois)
    upstream = torch.randn(expected.shape, generator=generator)
    expected_grad, = torch.autograd.grad(expected, features, upstream)
    with sparse_path_only() as matrices:
        actual = sparse_layer(features, rois)
        actual_grad, = torch.autograd.grad(actual, features, upstream)

    assert len(matrices) == 1  # forward: one sparse product; backward: its transpose, through autograd
    assert actual.shape == expected.shape
    assert expected.abs().max() > 0.5  # real values, not an all-zero agreement
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(actual_grad, expected_grad, rtol=0, atol=1e-5)


def test_the_guard_stops_mmcvs_op_in_forward_and_backward():
    """sparse_path_only() really stops mmcv's op: the other tests' guard is not vacuous."""
    features = torch.randn(1, 8, 10, 10, requires_grad=True)
    rois = torch.tensor([[0.0, 4.0, 4.0, 30.0, 30.0]])
    with sparse_path_only() as matrices, pytest.raises(AssertionError, match="mmcv's RoIAlign kernel ran"):
        RoIAlign(7, 0.25)(features, rois)
    output = RoIAlign(7, 0.25)(features, rois)
    with sparse_path_only(), pytest.raises(AssertionError, match="mmcv's RoIAlign kernel ran"):
        output.sum().backward()
    assert matrices == []


def test_no_rois_give_an_empty_output():
    with sparse_path_only():
        output = SparseRoIAlign(7, 0.25)(torch.randn(1, 8, 10, 10), torch.zeros(0, 5))
    assert output.shape == (0, 8, 7, 7)


def test_max_pooling_is_refused():
    with pytest.raises(ValueError, match='avg pooling'):
        SparseRoIAlign(7, 0.25, pool_mode='max')


def test_sparse_extractor_gives_single_roi_extractors_features_on_every_fpn_level():
    register_all_modules()
    settings = dict(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0), out_channels=8,
                    featmap_strides=[4, 8, 16, 32])
    reference = MODELS.build(dict(type='SingleRoIExtractor', **settings))
    sparse = MODELS.build(dict(type='SparseRoIExtractor', **settings))
    assert all(isinstance(layer, SparseRoIAlign) for layer in sparse.roi_layers)
    generator = torch.Generator().manual_seed(1)
    features = tuple(torch.randn(2, 8, 512 // s, 512 // s, generator=generator) for s in (4, 8, 16, 32))
    sizes = torch.logspace(0.5, 2.7, 80).unsqueeze(1)  # 3 to 500 px: every FPN level gets RoIs
    corners = torch.rand(80, 2, generator=generator) * (512 - sizes)
    rois = torch.cat([torch.arange(80).unsqueeze(1) % 2, corners, corners + sizes], 1).float()
    assert len(set(reference.map_roi_levels(rois, 4).tolist())) == 4
    expected = reference(features, rois)
    with sparse_path_only() as matrices:
        actual = sparse(features, rois)
    assert len(matrices) == 4  # one sparse product per FPN level
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-5)
