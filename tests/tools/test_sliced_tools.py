"""--slice and --tta in the tools that run a detector (custom/cli/arguments.py): infer.py, pre_annotate.py,
serve.py and test.py; the backend is a fake one (BlobDetector) except in test.py."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from custom.analysis.predictions import load_records
from custom.apis.augmentation import AugmentedDetector
from custom.apis.inference import PyTorchDetector
from custom.apis.slicing import SlicedDetector
from custom.cli import arguments, infer, pre_annotate, serve
from custom.cli import test as test_tool
from custom.engine.runtime import load_config
from custom.jobs.steps import read_test_metrics
from tests.helpers.fake_detector import BlobDetector
from tests.helpers.source_writers import make_pennfudan
from tests.helpers.tool_runs import DEMO_CONFIG, tiny_overrides


class FakeOnnxBackend(BlobDetector):
    """BlobDetector with what GET /model reads of an ONNX Runtime detector."""

    scale, keep_ratio, mask_threshold = (64, 64), True, 0.5


@pytest.fixture
def fake_backend(monkeypatch, tmp_path) -> Path:
    """Every tool's backend is a FakeOnnxBackend; returns a model file for the command lines."""
    def backend(args, files):
        return FakeOnnxBackend(), {'backend': 'onnxruntime', 'model': files[0]}

    monkeypatch.setattr(arguments, 'backend_from_args', backend)
    model = tmp_path / 'model.onnx'
    model.write_bytes(b'not read')
    return model


def bar_image(path: Path) -> Path:
    """A 160x120 image with one bar (score 0.8) across the tile borders of 64x64 tiles."""
    image = np.zeros((120, 160, 3), np.uint8)
    image[50:60, 20:140] = (0, 0, 204)
    cv2.imwrite(str(path), image)
    return path


def test_infer_with_slice_merges_an_object_cut_by_tiles_and_says_how_it_sliced(fake_backend, tmp_path):
    image = bar_image(tmp_path / 'scene.png')
    argv = ['--backend', 'onnxruntime', str(fake_backend), str(image), '--out-dir', str(tmp_path / 'out')]
    slicing = ['--slice', '64x64', '--overlap', '0.25', '--full-pass', '--slice-batch', '3']
    assert infer.main([*argv, *slicing]) == 0
    results = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert results['slice'] == {'tile': [64, 64], 'overlap': 0.25, 'full_pass': True, 'match': 'ios',
                                'batch': 3}
    [found] = results['items'][0]['detections']
    assert found['bbox'] == [20, 50, 140, 60]
    # --tta: the image and its mirror image, merged into the one bar
    assert infer.main([*argv, '--tta']) == 0
    results = json.loads((tmp_path / 'out' / 'results.json').read_text())
    assert results['tta'] == 'flip' and 'slice' not in results
    [found] = results['items'][0]['detections']
    assert found['bbox'] == [20, 50, 140, 60] and found['score'] == pytest.approx(0.8)


def test_pre_annotate_and_serve_get_the_sliced_detector(fake_backend, tmp_path):
    image = bar_image(tmp_path / 'scene.png')
    args = pre_annotate.parse_args(['--backend', 'onnxruntime', str(fake_backend), str(image), '--format',
                                    'coco', '--out', str(tmp_path / 'drafts.json'), '--slice', '64x48'])
    detector, _, header = arguments.detector_and_inputs(args)
    assert isinstance(detector, SlicedDetector) and detector.settings.tile == (64, 48)
    # slicing is part of what the prediction cache is kept for
    assert pre_annotate.model_identity(args)['slice'] == header['slice']
    assert 'slice' not in pre_annotate.model_identity(pre_annotate.parse_args(
        ['--backend', 'onnxruntime', str(fake_backend), str(image), '--format', 'coco', '--out', 'x.json']))
    with_tta = pre_annotate.parse_args(['--backend', 'onnxruntime', str(fake_backend), str(image), '--format',
                                        'coco', '--out', 'x.json', '--tta'])
    assert pre_annotate.model_identity(with_tta)['tta'] == 'flip'
    app_args = serve.parse_args(['--backend', 'onnxruntime', str(fake_backend), '--slice', '64x64', '--tta'])
    detector, header = arguments.detector_from_args(app_args, app_args.files)
    assert isinstance(detector, SlicedDetector) and isinstance(detector.detector, AugmentedDetector)
    info = serve.model_info(detector, header)
    assert info['slice']['tile'] == [64, 64] and info['input']['scale'] == [64, 64] and info['tta'] == 'flip'


@pytest.mark.parametrize('flags, message', [
    (['--overlap', '0.3'], '--overlap only apply to sliced inference: add --slice WxH'),
    (['--full-pass'], '--full-pass only apply to sliced inference'),
    (['--slice', '64y64'], "WIDTHxHEIGHT in pixels (e.g. 640x640), got '64y64'"),
    (['--slice', '64x64', '--overlap', '1'], 'overlap is a fraction of the tile size in [0, 1), got 1.0'),
])
def test_slice_mistakes_are_one_error_line(flags, message, fake_backend, tmp_path, capsys):
    image = bar_image(tmp_path / 'scene.png')
    assert infer.main(['--backend', 'onnxruntime', str(fake_backend), str(image), '--out-dir',
                       str(tmp_path / 'out'), *flags]) == 1
    error = capsys.readouterr().err
    assert error.startswith('error: ') and message in error and 'Traceback' not in error


def test_test_tool_refuses_what_evaluation_in_process_cannot_do(capsys):
    assert test_tool.main([DEMO_CONFIG, 'x.pth', '--slice', '64x64', '--show']) == 1
    assert '--slice evaluates in this process, image by image: not with --show' in capsys.readouterr().err
    assert test_tool.main([DEMO_CONFIG, 'x.pth', '--tta', '--show']) == 1
    assert '--tta with masks evaluates in this process, image by image: not with --show' in \
        capsys.readouterr().err


def test_test_tool_with_slice_scores_sliced_detections_with_the_coco_metric(tmp_path):
    """An untrained demo model (fixed seed) as its checkpoint, keeping 5 detections an image: what is tested
    is the path from the flags to the metrics (and the PyTorch backend's batches), not the model."""
    root = make_pennfudan(tmp_path / 'PennFudanPed')
    overrides = {**tiny_overrides(root), 'model.test_cfg.rcnn.max_per_img': 5}
    cfg = load_config(DEMO_CONFIG, overrides)
    torch.manual_seed(0)
    detector = PyTorchDetector(cfg, None, 'cpu')
    # the PyTorch backend's batches (one test_step on equal tiles) find what single calls find
    image = cv2.imread(str(sorted((root / 'PNGImages').glob('*.png'))[0]))
    tiles = [np.ascontiguousarray(image[:48]), np.ascontiguousarray(image[32:])]
    for batched, single in zip(detector.detect_batch(tiles), map(detector, tiles), strict=True):
        assert len(batched) == len(single) > 0
        assert batched.scores == pytest.approx(single.scores, abs=1e-4)
        assert batched.bboxes == pytest.approx(single.bboxes, abs=1e-2)
    checkpoint = tmp_path / 'untrained.pth'
    torch.save({'state_dict': detector.model.state_dict(),
                'meta': {'dataset_meta': {'classes': ['pedestrian']}}}, checkpoint)
    work_dir = tmp_path / 'work'
    options = [f'{key}={value}' for key, value in overrides.items()]
    # 96x80 images: 2 tiles of 96x48, in one batch, and the full pass each
    assert test_tool.main([DEMO_CONFIG, str(checkpoint), '--work-dir', str(work_dir), '--slice', '96x48',
                           '--full-pass', '--slice-batch', '2', '--cfg-options', *options]) == 0
    result = json.loads((work_dir / 'sliced_test.json').read_text())
    assert result['images'] == 2 and result['slice']['full_pass'] is True  # the val split's 96x80 images
    assert {'coco/segm_mAP', 'coco/segm_mAP_s', 'coco/bbox_mAP', 'coco/bbox_mAP_s'} <= set(result['metrics'])
    assert result['seconds_per_image'] > 0 and result['tta'] is None
    # --tta, a model with masks: the mirror image too, masks merged (MMDetection's DetTTAModel refuses them)
    dump = work_dir / 'tta.pkl'  # --out: as the runner's test writes it (for k-fold and find_label_errors)
    assert test_tool.main([DEMO_CONFIG, str(checkpoint), '--work-dir', str(work_dir), '--tta', '--out',
                           str(dump), '--cfg-options', *options]) == 0
    result = json.loads((work_dir / 'tta_test.json').read_text())
    assert result['images'] == 2 and result['tta'] == 'flip' and result['slice'] is None
    assert {'coco/segm_mAP', 'coco/bbox_mAP'} <= set(result['metrics'])
    # what k-fold reads of a test run (tools/kfold.py --tta): the metrics, the config as evaluated, the dump
    assert read_test_metrics(work_dir) == pytest.approx(
        {key: value for key, value in result['metrics'].items() if isinstance(value, int | float)})
    records, classes = load_records(dump, True, work_dir / Path(DEMO_CONFIG).name, 'test')
    assert classes == ['pedestrian'] and len(records) == 2
    # 5 detections a run; merged, at most 10
    assert all(0 < len(record.pred_scores) <= 10 and len(record.pred_masks) == len(record.pred_scores)
               for record in records)
