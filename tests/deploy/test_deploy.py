"""ONNX export (tools/export_onnx.py) and its inference by ONNX Runtime and OpenVINO (tools/infer.py --backend
onnxruntime, openvino)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from mmdet.datasets.transforms import Resize
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from custom.apis.inference import PyTorchDetector
from custom.apis.slicing import SlicedDetector, SliceSettings
from custom.cli import export_onnx, infer
from custom.deploy.export import export_onnx as export_model
from custom.deploy.export import unsupported_parts
from custom.deploy.onnx_runtime import METADATA_FORMAT, OnnxDetector, paste_masks, resize_like_test_pipeline
from custom.deploy.openvino_runtime import OpenVinoDetector
from custom.deploy.parity import Agreement, agreement
from custom.engine.runtime import load_config
from custom.errors import DataError
from custom.evaluation.matching import mask_iou
from custom.structures.detections import Detections
from custom.structures.tiles import TileSize
from tests.helpers import REAL_PENNFUDAN
from tests.helpers.source_writers import make_pennfudan
from tests.helpers.tool_runs import DEMO_CONFIG, REPO, run_tool, tiny_options, write_video

REAL_PENNFUDAN = REAL_PENNFUDAN
DEMO_ITERATIONS = {'max_epochs': 6}  # 4 training images at batch 2: 12 iterations
SHIPPED_CONFIGS = sorted(path.name for path in (REPO / 'configs').glob('*.py'))
# Zoo configs the export refuses, and the part its message names; every other shipped config exports.
NOT_EXPORTED = {
    'kitti_retinanet.py': 'model (RetinaNet)', 'voc_retinanet.py': 'model (RetinaNet)',
    'kitti_rtmdet_tiny.py': 'model (RTMDet)', 'voc_rtmdet_tiny.py': 'model (RTMDet)',
    'pennfudan_rtmdet_ins_tiny.py': 'model (RTMDet)', 'pennfudan_rtmdet_ins_s.py': 'model (RTMDet)',
    'pennfudan_solov2.py': 'model (SOLOv2)', 'pennfudan_mask2former.py': 'model (Mask2Former)',
    'pennfudan_cascade_maskrcnn.py': 'model.roi_head (CascadeRoIHead)',
    'pennfudan_pointrend.py': 'model.roi_head (PointRendRoIHead)',
}


@pytest.fixture(scope='module')
def demo_checkpoint(tmp_path_factory) -> Path:
    """The CPU demo config after 12 iterations on the synthetic set at a constant learning rate, without
    validation: measured, its best detection on a real Penn-Fudan image scores 0.7-0.9, and 10-20 score
    above 0.05."""
    base = tmp_path_factory.mktemp('deploy')
    root = make_pennfudan(base / 'PennFudanPed')
    run_tool('train.py', DEMO_CONFIG, '--work-dir', str(base / 'work'), '--cfg-options',
             *tiny_options(root, DEMO_ITERATIONS['max_epochs']), 'train_cfg.val_interval=100',
             'param_scheduler.0.end=5', 'param_scheduler.1.milestones=[100]')
    return base / 'work' / f'epoch_{DEMO_ITERATIONS["max_epochs"]}.pth'


@pytest.fixture(scope='module')
def exported(demo_checkpoint, tmp_path_factory) -> Path:
    """The demo checkpoint exported, and checked by the tool against PyTorch on two synthetic images."""
    out = demo_checkpoint.parent / 'demo.onnx'
    root = make_pennfudan(tmp_path_factory.mktemp('verify') / 'data', seed=1)
    images = sorted((root / 'PNGImages').glob('*.png'))
    assert export_onnx.main([DEMO_CONFIG, str(demo_checkpoint), '--out', str(out),
                             '--verify', *map(str, images[:2])]) == 0
    return out


def test_parity_needs_the_same_detections_within_the_tolerances():
    boxes = np.array([[10, 10, 50, 90], [60, 20, 90, 70]], np.float32)
    masks = np.zeros((2, 100, 100), bool)
    masks[0, 10:90, 10:50] = masks[1, 20:70, 60:90] = True
    expected = Detections(boxes, np.array([0.9, 0.6], np.float32), np.array([0, 0]), masks)
    assert agreement(expected, expected).ok
    swapped = Detections(boxes[::-1], expected.scores[::-1] + 5e-4, expected.labels, masks[::-1])
    assert agreement(expected, swapped).ok  # pairs by overlap, not by order
    shifted = Detections(boxes + [2, 0, 2, 0], expected.scores, expected.labels, masks)
    assert agreement(expected, shifted).min_box_iou < 0.99 and not agreement(expected, shifted).ok
    assert not agreement(expected, Detections(boxes, expected.scores + 2e-3, expected.labels, masks)).ok
    thinner = masks.copy()
    thinner[0, 10:90, 10:12] = False
    assert not agreement(expected, Detections(boxes, expected.scores, expected.labels, thinner)).ok
    one_missing = Detections(boxes[:1], expected.scores[:1], expected.labels[:1], masks[:1])
    assert not agreement(expected, one_missing).ok
    other_class = Detections(boxes, expected.scores, np.array([0, 1]), masks)
    assert agreement(expected, other_class).min_box_iou == 0.0
    empty = masks.copy()
    empty[1] = False  # a box thinner than a pixel: both backends paste nothing
    assert agreement(expected, Detections(boxes, expected.scores, expected.labels, empty)).min_mask_iou == 0.0
    assert agreement(*[Detections(boxes, expected.scores, expected.labels, empty)] * 2).ok


def test_parity_pairs_each_detection_with_its_own_partner_and_adds_up_images():
    boxes = np.array([[10, 10, 50, 90], [12, 10, 52, 90], [60, 20, 90, 70]], np.float32)
    expected = Detections(boxes, np.array([0.9, 0.8, 0.6], np.float32), np.zeros(3, np.int64))
    # The first two share one partner: the one overlapping it most keeps it, the other is left without.
    actual = Detections(boxes[[0, 2]], np.array([0.9, 0.6], np.float32), np.zeros(2, np.int64))
    result = agreement(expected, actual)
    assert result.box_ious.tolist() == [1.0, 0.0, 1.0] and result.paired(0.9).tolist() == [True, False, True]
    assert result.score_diffs[result.paired(0.9)].max() == 0.0 and result.min_mask_iou == 1.0  # no masks
    assert repr(result).startswith('Agreement(expected=3, actual=2, min_box_iou=0.0, max_score_diff=')
    both = Agreement.combined([result, agreement(expected, expected)])
    assert (both.expected, both.actual, len(both.box_ious)) == (6, 5, 6) and both.min_box_iou == 0.0
    assert not both.ok and Agreement.combined([agreement(expected, expected)] * 2).ok


def test_parity_fails_when_only_one_side_gives_masks_and_says_so():
    boxes = np.array([[10, 10, 50, 90], [60, 20, 90, 70]], np.float32)
    masks = np.zeros((2, 100, 100), bool)
    masks[0, 10:90, 10:50] = masks[1, 20:70, 60:90] = True
    with_masks = Detections(boxes, np.array([0.9, 0.6], np.float32), np.array([0, 0]), masks)
    boxes_only = Detections(boxes, with_masks.scores, with_masks.labels)  # an export that lost its masks
    result = agreement(with_masks, boxes_only)
    assert not result.ok and result.min_mask_iou == 0.0 and result.masks_only_in == 'expected'
    assert repr(result).endswith("min_mask_iou=0.0, masks_only_in='expected')")
    assert agreement(boxes_only, with_masks).masks_only_in == 'actual'
    # Also on an image where neither finds anything, and over several images.
    nothing = Detections(boxes[:0], with_masks.scores[:0], with_masks.labels[:0])
    nothing_with_masks = Detections(boxes[:0], nothing.scores, nothing.labels, masks[:0])
    assert not agreement(nothing_with_masks, nothing).ok and agreement(nothing, nothing).ok
    both = Agreement.combined([agreement(with_masks, with_masks), agreement(nothing_with_masks, nothing)])
    assert not both.ok and both.masks_only_in == 'expected'


@pytest.mark.slow
@pytest.mark.skipif(not REAL_PENNFUDAN.is_dir(), reason='real Penn-Fudan data not found in ../shared/data')
def test_onnx_runtime_matches_pytorch_on_real_pennfudan_images(demo_checkpoint, exported):
    pytorch, onnxruntime = PyTorchDetector(DEMO_CONFIG, demo_checkpoint, 'cpu'), OnnxDetector(exported)
    images = sorted((REAL_PENNFUDAN / 'PNGImages').glob('*.png'))[::30]  # 6 images of 6 different sizes
    sizes, confident = set(), 0
    for path in images:
        image = cv2.imread(str(path))
        sizes.add(image.shape)
        expected = pytorch(image)
        result = agreement(expected, onnxruntime(image))
        assert result.ok, f'{path.name}: {result}'
        confident += int((expected.scores >= 0.5).sum())
    assert len(sizes) == len(images)  # the exported graph takes every input size
    assert confident >= len(images)  # the parity covers confident detections, not only noise


@pytest.mark.slow
@pytest.mark.skipif(not REAL_PENNFUDAN.is_dir(), reason='real Penn-Fudan data not found in ../shared/data')
def test_sliced_inference_merges_alike_on_pytorch_and_onnx_runtime(demo_checkpoint, exported):
    settings = SliceSettings(TileSize(192, 160), overlap=0.25, full_pass=True)
    pytorch = SlicedDetector(PyTorchDetector(DEMO_CONFIG, demo_checkpoint, 'cpu'), settings)
    onnxruntime = SlicedDetector(OnnxDetector(exported), settings)
    image = cv2.imread(str(sorted((REAL_PENNFUDAN / 'PNGImages').glob('*.png'))[0]))
    expected = pytorch(image, score_thr=0.1)
    result = agreement(expected, onnxruntime(image, score_thr=0.1))
    assert result.ok and len(expected) > 0, result
    pieces = sum(len(piece.detections) for piece in pytorch.pieces(image, score_thr=0.1))
    assert len(expected) < pieces  # pieces of several tiles (and the full pass) were merged


@pytest.mark.slow
def test_exported_file_uses_standard_operators_and_carries_what_inference_needs(exported):
    model = onnx.load(str(exported))
    operators = {node.op_type for node in model.graph.node}
    assert {'RoiAlign', 'NonMaxSuppression', 'TopK'} <= operators
    assert {node.domain for node in model.graph.node} <= {'', 'ai.onnx'}  # no custom operator library
    image = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in image] == ['height', 'width', 3]
    meta = {prop.key: prop.value for prop in model.metadata_props}
    assert json.loads(meta['classes']) == ['pedestrian']
    assert json.loads(meta['resize']) == {'scale': [160, 128], 'keep_ratio': True}
    assert float(meta['mask_thr_binary']) == 0.5


@pytest.mark.slow
def test_a_fixed_size_export_takes_only_its_size_and_finds_what_the_dynamic_one_finds(
        demo_checkpoint, exported, tmp_path):
    """export_onnx(fixed_size=True), what benchmarks/onnx_fixed_size.py times against the dynamic export."""
    fixed = export_model(DEMO_CONFIG, demo_checkpoint, tmp_path / 'fixed.onnx', fixed_size=True)
    image = onnx.load(str(fixed)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in image] == [128, 160, 3]  # the test resize, H x W
    path = sorted((make_pennfudan(tmp_path / 'data') / 'PNGImages').glob('*.png'))[0]
    resized = cv2.resize(cv2.imread(str(path)), (160, 128))
    dynamic_out, fixed_out = (OnnxDetector(path, 1).run_graph(resized) for path in (exported, fixed))
    assert len(fixed_out[1]) == len(dynamic_out[1]) > 0
    assert np.allclose(fixed_out[0], dynamic_out[0], atol=1e-3)
    with pytest.raises(Exception, match='(?i)dimension|shape'):
        OnnxDetector(fixed, 1).run_graph(resized[:96])


@pytest.mark.slow
def test_infer_tool_onnxruntime_backend_writes_the_overlays_and_json_of_the_pytorch_backend(
        demo_checkpoint, exported, tmp_path):
    root = make_pennfudan(tmp_path / 'data')
    images = sorted((root / 'PNGImages').glob('*.png'))
    video = write_video(tmp_path / 'clip.mp4', images[:2])
    inputs = [str(root / 'PNGImages'), str(video), '--score-thr', '0.3']
    assert infer.main([DEMO_CONFIG, str(demo_checkpoint), *inputs, '--out-dir', str(tmp_path / 'pt')]) == 0
    assert infer.main(['--backend', 'onnxruntime', str(exported), *inputs,
                       '--out-dir', str(tmp_path / 'ort')]) == 0

    pytorch = json.loads((tmp_path / 'pt' / 'results.json').read_text())
    onnxruntime = json.loads((tmp_path / 'ort' / 'results.json').read_text())
    assert onnxruntime['backend'] == 'onnxruntime' and onnxruntime['model'] == str(exported)
    assert len(onnxruntime['items']) == len(pytorch['items']) == len(images) + 2
    found = 0
    for ours, theirs in zip(onnxruntime['items'], pytorch['items'], strict=True):
        assert ours.get('overlay') == theirs.get('overlay') and ours.get('frame') == theirs.get('frame')
        assert len(ours['detections']) == len(theirs['detections'])
        for det, ref in zip(ours['detections'], theirs['detections'], strict=True):
            assert det['class'] == ref['class'] == 'pedestrian'
            assert abs(det['score'] - ref['score']) <= 1e-3
            assert np.allclose(det['bbox'], ref['bbox'], atol=0.11)  # rounded to 0.1 px
            assert mask_iou([det['mask']], [ref['mask']])[0, 0] > 0.98
        found += len(ours['detections'])
    assert found > 0
    assert sorted(p.name for p in (tmp_path / 'ort').iterdir()) == sorted(
        p.name for p in (tmp_path / 'pt').iterdir())  # overlays, clip_overlay.mp4, results.json


@pytest.mark.slow
def test_checkpoint_that_does_not_match_the_config_fails_before_export(demo_checkpoint, tmp_path, capsys):
    out = tmp_path / 'model.onnx'
    status = export_onnx.main([DEMO_CONFIG, str(demo_checkpoint), '--out', str(out), '--cfg-options',
                               'model.roi_head.bbox_head.num_classes=3',
                               'model.roi_head.mask_head.num_classes=3'])
    error = capsys.readouterr().err
    assert status == 1 and not out.exists()
    assert f'error: {demo_checkpoint} does not match {DEMO_CONFIG}' in error
    assert 'roi_head.bbox_head.fc_cls.weight (checkpoint (2, 1024), config (4, 1024))' in error
    assert 'roi_head.mask_head.conv_logits.weight' in error


@pytest.mark.slow
def test_verify_fails_when_the_export_lost_its_mask_output(demo_checkpoint, tmp_path, capsys, monkeypatch):
    def without_masks(*args, **kwargs) -> Path:
        """The export, then its mask output and mask threshold taken out: a consistent boxes-only file."""
        out = export_model(*args, **kwargs)
        model = onnx.load(str(out))
        model.graph.output.remove(next(o for o in model.graph.output if o.name == 'mask_probs'))
        kept = [prop for prop in model.metadata_props if prop.key != 'mask_thr_binary']
        del model.metadata_props[:]
        model.metadata_props.extend(kept)
        onnx.save(model, str(out))
        return out

    monkeypatch.setattr(export_onnx, 'export_onnx', without_masks)
    images = sorted((make_pennfudan(tmp_path / 'data', seed=1) / 'PNGImages').glob('*.png'))[:1]
    status = export_onnx.main([DEMO_CONFIG, str(demo_checkpoint), '--out', str(tmp_path / 'model.onnx'),
                               '--verify', *map(str, images)])
    output = capsys.readouterr()
    assert status == 1 and 'mask IoU 0.00000' in output.out
    assert (f'error: {images[0]}: ONNX Runtime differs from PyTorch: only PyTorch gives masks (the ONNX file '
            'has no mask output); Agreement(') in output.err
    assert "masks_only_in='expected')" in output.err


@pytest.mark.parametrize('config', SHIPPED_CONFIGS)
def test_every_shipped_config_passes_the_export_checks_or_is_refused_naming_the_part(config):
    cfg = load_config(REPO / 'configs' / config)
    cfg.model.backbone.init_cfg = None  # nothing to download: only the structure is checked
    register_all_modules()
    problems = unsupported_parts(MODELS.build(cfg.model), cfg)
    if config in NOT_EXPORTED:
        assert len(problems) == 1 and problems[0].startswith(NOT_EXPORTED[config]), problems
    else:
        assert problems == []


@pytest.mark.slow
def test_faster_rcnn_without_a_mask_head_exports_and_matches_pytorch(tmp_path):
    """configs/kitti_fasterrcnn.py (three classes, boxes only), random weights, at the demo's test size."""
    config = 'configs/kitti_fasterrcnn.py'
    pipeline = [dict(step, scale=(160, 128)) if step['type'] == 'Resize' else step
                for step in load_config(config).test_dataloader.dataset.pipeline]
    options = {'test_dataloader.dataset.pipeline': pipeline, 'model.backbone.init_cfg': None}
    cfg = load_config(config, options)
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = tmp_path / 'random.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': list(cfg.classes)}}},
               checkpoint)
    exported = export_model(config, checkpoint, tmp_path / 'kitti.onnx', options)

    onnxruntime, pytorch = OnnxDetector(exported), PyTorchDetector(cfg, checkpoint, 'cpu')
    assert [output.name for output in onnxruntime.session.get_outputs()] == ['boxes', 'scores', 'labels']
    assert onnxruntime.classes == ('Car', 'Pedestrian', 'Cyclist') and onnxruntime.mask_threshold is None
    for path in sorted((make_pennfudan(tmp_path / 'data') / 'PNGImages').glob('*.png'))[:2]:
        image = cv2.imread(str(path))
        expected, actual = pytorch(image), onnxruntime(image)
        assert actual.masks is None and len(set(expected.labels)) > 1  # several classes: per-class NMS runs
        result = agreement(expected, actual)
        assert result.ok, f'{path.name}: {result}'


@pytest.mark.parametrize('base, part', [
    ('mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', 'model.roi_head (CascadeRoIHead)'),
    ('mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py', 'model (RTMDet): not a two-stage detector'),
    ('mmdet::dcn/mask-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py', 'model.backbone.layer2.0.conv2, '),
])
def test_model_that_cannot_be_exported_stops_naming_the_part(base, part, tmp_path, capsys):
    config = tmp_path / 'model.py'
    config.write_text(f"_base_ = '{base}'\n")
    out = tmp_path / 'model.onnx'
    status = export_onnx.main([str(config), str(tmp_path / 'never_read.pth'), '--out', str(out)])
    error = capsys.readouterr().err
    assert status == 1 and not out.exists()
    assert f'error: {config}: cannot export this model to ONNX' in error and part in error


def test_masks_are_pasted_as_mmdet_pastes_them_on_the_cpu():
    rng = np.random.default_rng(0)
    height, width = 60, 80
    # Inside, over the left and bottom borders, over the right border, thinner than a pixel, zero width.
    boxes = np.array([[10.3, 5.7, 40.2, 50.9], [-8.5, 30.1, 20.4, 75.0], [70.6, 2.2, 95.0, 20.0],
                      [30.0, 30.0, 30.4, 45.0], [50.0, 10.0, 50.0, 20.0]], np.float32)
    probs = rng.random((len(boxes), 28, 28), dtype=np.float32)
    ours = paste_masks(probs, boxes, height, width, threshold=0.5)
    for i in range(len(boxes)):
        pasted, (rows, cols) = _do_paste_mask(torch.from_numpy(probs[i:i + 1, None]),
                                              torch.from_numpy(boxes[i:i + 1]), height, width,
                                              skip_empty=True)
        theirs = np.zeros((height, width), bool)
        theirs[rows, cols] = pasted[0].numpy() >= 0.5
        assert np.array_equal(ours[i], theirs)
    assert ours[:3].any(axis=(1, 2)).all()


@pytest.mark.slow
@pytest.mark.skipif(not REAL_PENNFUDAN.is_dir(), reason='real Penn-Fudan data not found in ../shared/data')
def test_openvino_gives_onnx_runtimes_detections_on_real_pennfudan_images(exported):
    onnxruntime, openvino = OnnxDetector(exported), OpenVinoDetector(exported)
    assert (openvino.classes, openvino.scale, openvino.mask_threshold) == (
        onnxruntime.classes, onnxruntime.scale, onnxruntime.mask_threshold)
    for path in sorted((REAL_PENNFUDAN / 'PNGImages').glob('*.png'))[::60]:  # 3 images of 3 sizes
        image = cv2.imread(str(path))
        expected = onnxruntime(image)
        result = agreement(expected, openvino(image))
        assert result.ok and len(expected) > 0, f'{path.name}: {result}'


@pytest.mark.parametrize('keep_ratio', [True, False])
@pytest.mark.parametrize('shape', [(536, 559), (311, 420), (128, 160), (50, 400)])
def test_resize_matches_the_test_pipeline(shape, keep_ratio):
    image = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    expected = Resize(scale=(160, 128), keep_ratio=keep_ratio)({'img': image})
    resized, scale_factor = resize_like_test_pipeline(image, (160, 128), keep_ratio)
    assert np.array_equal(resized, expected['img'])
    assert scale_factor == expected['scale_factor']


def test_onnx_detector_refuses_a_file_not_written_by_the_export(tmp_path):
    graph = onnx.helper.make_graph([onnx.helper.make_node('Relu', ['x'], ['y'])], 'g',
                                   [onnx.helper.make_tensor_value_info('x', onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, [1])])
    foreign = tmp_path / 'relu.onnx'
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    with pytest.raises(DataError, match='not a model written by tools/export_onnx.py'):
        OnnxDetector(foreign)
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not onnx')
    with pytest.raises(DataError, match='ONNX Runtime cannot load it'):
        OnnxDetector(broken)


def fake_export(path: Path, metadata: dict[str, str], outputs: int = 4) -> Path:
    """An ONNX file of `outputs` Identity outputs and `metadata`, stored as custom/deploy/export.py does."""
    names = ['boxes', 'scores', 'labels', 'mask_probs'][:outputs]
    value = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph([onnx.helper.make_node('Identity', ['image'], [name]) for name in names],
                                   'g', [value('image', onnx.TensorProto.FLOAT, [1])],
                                   [value(name, onnx.TensorProto.FLOAT, [1]) for name in names])
    model = onnx.helper.make_model(graph)
    onnx.helper.set_model_props(model, {'format': METADATA_FORMAT, **metadata})
    onnx.save(model, str(path))
    return path


def test_onnx_detector_names_the_metadata_a_file_lacks_or_cannot_be_read(tmp_path, capsys):
    complete = {'classes': '["pedestrian"]', 'resize': '{"scale": [160, 128], "keep_ratio": true}',
                'mask_thr_binary': '0.5'}
    assert OnnxDetector(fake_export(tmp_path / 'complete.onnx', complete)).classes == ('pedestrian',)
    partial = fake_export(tmp_path / 'partial.onnx', {'resize': complete['resize']})
    with pytest.raises(DataError, match=r'partial.onnx: its metadata lacks classes, mask_thr_binary \('):
        OnnxDetector(partial)
    boxes_only = fake_export(tmp_path / 'boxes.onnx', {'resize': complete['resize']}, outputs=3)
    with pytest.raises(DataError, match='boxes.onnx: its metadata lacks classes '):  # no mask threshold
        OnnxDetector(boxes_only)
    lost_masks = fake_export(tmp_path / 'lost.onnx', complete, outputs=3)
    with pytest.raises(DataError, match='lost.onnx: its metadata is of a model with masks .* no mask output'):
        OnnxDetector(lost_masks)
    for key, value in [('classes', '"pedestrian"'), ('resize', '{"scale": [160, 128]}'), ('classes', '[')]:
        broken = fake_export(tmp_path / 'broken.onnx', {**complete, key: value})
        with pytest.raises(DataError, match='broken.onnx: its metadata cannot be read'):
            OnnxDetector(broken)
    assert infer.main(['--backend', 'onnxruntime', str(partial), str(tmp_path / 'street.jpg')]) == 1
    assert f'error: {partial}: its metadata lacks classes, mask_thr_binary' in capsys.readouterr().err


def test_openvino_reads_the_same_metadata_and_refuses_the_same_files(tmp_path, capsys):
    complete = {'classes': '["pedestrian"]', 'resize': '{"scale": [160, 128], "keep_ratio": true}',
                'mask_thr_binary': '0.5'}
    detector = OpenVinoDetector(fake_export(tmp_path / 'complete.onnx', complete))
    assert (detector.classes, detector.scale, detector.keep_ratio, detector.mask_threshold) == (
        ('pedestrian',), (160, 128), True, 0.5)
    partial = fake_export(tmp_path / 'partial.onnx', {'resize': complete['resize']})
    with pytest.raises(DataError, match=r'partial.onnx: its metadata lacks classes, mask_thr_binary \('):
        OpenVinoDetector(partial)
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not onnx')
    with pytest.raises(DataError, match='broken.onnx: OpenVINO cannot load it'):
        OpenVinoDetector(broken)
    assert infer.main(['--backend', 'openvino', str(partial), str(tmp_path / 'street.jpg')]) == 1
    assert f'error: {partial}: its metadata lacks classes, mask_thr_binary' in capsys.readouterr().err


def test_openvino_models_freed_in_the_order_they_were_made_leave_signal_handlers_working(tmp_path):
    """OpenVINO gives the compiling thread a signal stack of its own and puts back the one it replaced when
    the model is freed; without keep_signal_stack the second put-back is an unmapped stack, and the next
    Python signal handler (Ctrl-C, a DataLoader's SIGCHLD) is a segmentation fault. In a subprocess: that
    fault would take a test worker down."""
    model = fake_export(tmp_path / 'model.onnx', {'classes': '["pedestrian"]', 'mask_thr_binary': '0.5',
                                                  'resize': '{"scale": [160, 128], "keep_ratio": true}'})
    script = ('import gc, os, signal, sys\n'
              'from custom.deploy.openvino_runtime import OpenVinoDetector\n'
              'first, second = OpenVinoDetector(sys.argv[1]), OpenVinoDetector(sys.argv[1])\n'
              'del first; gc.collect(); del second; gc.collect()\n'
              "signal.signal(signal.SIGUSR1, lambda *_: print('handled'))\n"
              'os.kill(os.getpid(), signal.SIGUSR1)\n')
    process = subprocess.run([sys.executable, '-c', script, str(model)], cwd=REPO, capture_output=True,
                             text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert (process.returncode, process.stdout) == (0, 'handled\n'), process.stderr[-2000:]


def test_infer_tool_says_what_each_backend_takes(tmp_path, capsys):
    assert infer.main(['--backend', 'onnxruntime', 'model.onnx']) == 1
    error = capsys.readouterr().err
    assert 'error: --backend onnxruntime takes MODEL.onnx and then at least one input' in error
    assert infer.main([DEMO_CONFIG, 'model.onnx', 'street.jpg']) == 1
    assert 'model.onnx is an ONNX model: run it with --backend onnxruntime' in capsys.readouterr().err
