"""tools/train.py, tools/test.py and tools/infer.py end to end on a tiny synthetic Penn-Fudan set (CPU)."""

import csv
import hashlib
import json
import pickle
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.helpers.source_writers import make_pennfudan
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool, tiny_options, write_video


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(data root, work dir) after one epoch of tools/train.py."""
    base = tmp_path_factory.mktemp('tools')
    root = make_pennfudan(base / 'PennFudanPed')
    work_dir = base / 'work'
    # The visualization hook draws every validation image into the vis backends (TensorBoard included).
    run_tool('train.py', DEMO_CONFIG, '--work-dir', str(work_dir), '--cfg-options', *tiny_options(root),
             'default_hooks.visualization.draw=True', 'default_hooks.visualization.interval=1')
    return root, work_dir


@pytest.mark.slow
def test_train_tool_writes_epoch_best_and_last_checkpoints_and_logs_coco_metrics(trained):
    _, work_dir = trained
    assert (work_dir / 'epoch_1.pth').is_file()
    assert len(list(work_dir.glob('best_coco_segm_mAP_epoch_1.pth'))) == 1
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    scalars = next(work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()
    val = [json.loads(line) for line in scalars if 'coco/segm_mAP' in line]
    assert val and {'coco/bbox_mAP', 'coco/segm_mAP'} <= set(val[-1])


@pytest.mark.slow
def test_test_tool_reports_coco_metrics_and_dumps_predictions(trained, tmp_path):
    """Only the test data need be there: the train loader's data_root points nowhere."""
    root, work_dir = trained
    out = tmp_path / 'preds.pkl'
    process = run_tool('test.py', DEMO_CONFIG, str(work_dir / 'epoch_1.pth'), '--work-dir', str(tmp_path),
                       '--out', str(out), '--show-dir', 'painted', '--cfg-options', *tiny_options(root),
                       f'train_dataloader.dataset.data_root={tmp_path}/no_train_data/')
    assert 'coco/bbox_mAP' in process.stdout + process.stderr
    assert 'coco/segm_mAP' in process.stdout + process.stderr
    predictions = pickle.loads(out.read_bytes())
    assert len(predictions) == 2  # the val split
    assert {'pred_instances', 'img_path'} <= set(predictions[0])
    painted = list(tmp_path.glob('*/painted/*.png'))
    assert len(painted) == 2


@pytest.mark.slow
def test_test_and_infer_tools_refuse_a_checkpoint_trained_for_other_classes(trained, tmp_path):
    """mmengine would load it in part and evaluate to mAP 0 with exit 0; the tool names what differs."""
    root, work_dir = trained
    checkpoint = work_dir / 'epoch_1.pth'
    process = run_tool('test.py', DEMO_CONFIG, str(checkpoint), '--work-dir', str(tmp_path), '--classes',
                       'pedestrian', 'cyclist', '--cfg-options', *tiny_options(root), check=False)
    assert process.returncode == 1
    error = process.stderr[process.stderr.index('error: '):]
    assert error.startswith(f'error: {checkpoint} does not match {DEMO_CONFIG}:')
    assert 'roi_head.bbox_head.fc_cls.weight (checkpoint (2, 1024), config (3, 1024))' in error
    assert "It was trained for 1 classes ('pedestrian',): use the config it was trained with, or add " \
           '--classes pedestrian.' in error
    assert 'coco/bbox_mAP' not in process.stdout + process.stderr  # stopped before evaluating
    image = next(root.glob('PNGImages/*.png'))
    process = run_tool('infer.py', DEMO_CONFIG, str(checkpoint), str(image), '--out-dir',
                       str(tmp_path / 'infer'), '--classes', 'pedestrian', 'cyclist', check=False)
    assert process.returncode == 1 and f'error: {checkpoint} does not match {DEMO_CONFIG}' in process.stderr
    assert not (tmp_path / 'infer' / 'results.json').exists()


@pytest.mark.slow
def test_infer_tool_writes_overlays_and_json_for_images_folders_and_videos(trained, tmp_path):
    root, work_dir = trained
    images = sorted((root / 'PNGImages').glob('*.png'))
    video = write_video(tmp_path / 'clip.mp4', images[:3])
    out_dir = tmp_path / 'infer'
    run_tool('infer.py', DEMO_CONFIG, str(work_dir / 'epoch_1.pth'), str(images[0]), str(root / 'PNGImages'),
             str(video), '--out-dir', str(out_dir), '--score-thr', '0.0')

    results = json.loads((out_dir / 'results.json').read_text())
    items = results['items']
    assert len(items) == 1 + len(images) + 3
    assert [item['frame'] for item in items if 'frame' in item] == [0, 1, 2]
    overlays = [item['overlay'] for item in items if 'overlay' in item]
    assert len(set(overlays)) == 1 + len(images)  # the image given twice gets a second, distinct overlay
    assert sorted(p.name for p in out_dir.glob('*.png')) == sorted(overlays)
    assert f'{images[0].stem}_2.png' in overlays
    assert (out_dir / 'clip_overlay.mp4').stat().st_size > 0
    for item in items:
        for det in item['detections']:
            assert det['class'] == 'pedestrian' and len(det['bbox']) == 4 and 'counts' in det['mask']
    overlay = cv2.imread(str(out_dir / images[0].name))
    assert overlay.shape == (80, 96, 3)


@pytest.mark.slow
def test_infer_tool_names_and_skips_an_unreadable_image_and_counts_what_it_ignored(trained, tmp_path):
    root, work_dir = trained
    folder = tmp_path / 'photos'
    folder.mkdir()
    for name in ('FudanPed00001.png', 'FudanPed00003.png'):
        shutil.copy(root / 'PNGImages' / name, folder / name)
    unreadable = folder / 'FudanPed00002.png'
    unreadable.write_bytes(b'')  # a copy that failed
    (folder / 'README.txt').write_text('street photos, March\n')
    out_dir = tmp_path / 'infer'
    process = run_tool('infer.py', DEMO_CONFIG, str(work_dir / 'epoch_1.pth'), str(folder), '--out-dir',
                       str(out_dir), check=False)
    assert process.returncode == 1  # some inputs were not done, as cp says when some files were not copied
    assert (f'warning: {unreadable}: cannot read the image (corrupt or unsupported format); skipped'
            in process.stderr)
    summary = process.stdout.strip().splitlines()[-1]
    assert summary.startswith('2 images/frames, ')
    assert summary.endswith(f'detections; skipped (unreadable): 1; ignored (not images): 1 -> '
                            f'{out_dir}/results.json')
    results = json.loads((out_dir / 'results.json').read_text())
    assert [item['overlay'] for item in results['items']] == ['FudanPed00001.png', 'FudanPed00003.png']
    assert results['skipped'] == [{'file': str(unreadable),
                                   'problem': 'cannot read the image (corrupt or unsupported format)'}]
    assert results['ignored'] == [str(folder / 'README.txt')] and results['complete']


def test_inference_api_works_in_a_user_script(trained):
    """What the README shows: init_detector + inference_detector on a checkpoint trained here."""
    from mmdet.apis import inference_detector, init_detector

    import custom  # noqa: F401

    root, work_dir = trained
    model = init_detector(DEMO_CONFIG, str(work_dir / 'epoch_1.pth'), device='cpu')
    image = cv2.imread(str(next((root / 'PNGImages').glob('*.png'))))
    result = inference_detector(model, image)
    pred = result.pred_instances
    assert model.dataset_meta['classes'] == ('pedestrian',)
    assert pred.masks.shape[1:] == image.shape[:2]
    assert pred.bboxes.shape == (len(pred), 4) and pred.scores.dtype == torch.float32
    assert np.all(pred.labels.numpy() == 0)


@pytest.mark.slow
def test_load_from_url_is_fetched_and_loaded_through_the_safe_loader(trained, server, tmp_path, monkeypatch):
    """load_from = an http URL (here a local fake of the model zoo) is fetched, checked and loaded in part."""
    root, work_dir = trained
    body = (work_dir / 'epoch_1.pth').read_bytes()
    name = f'mask_rcnn_demo_20260101-{hashlib.sha256(body).hexdigest()[:8]}.pth'
    url = server.serve(f'/zoo/{name}', body)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('MMDET_CHECKPOINT_DIR', raising=False)
    # Fine-tuned for one more class: the class-specific tensors are skipped, and one line names them.
    process = run_tool('train.py', DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), '--classes',
                       'pedestrian', 'cyclist', '--cfg-options', *tiny_options(root), f'load_from={url}')
    assert server.requests == [f'/zoo/{name}']
    assert (tmp_path / 'torch_home/hub/checkpoints' / name).is_file()
    output = process.stdout + process.stderr
    assert f'Load checkpoint from {url}' in output
    summary = [line for line in output.splitlines() if f'load_from {url}: all tensors are loaded but' in line]
    assert len(summary) == 1
    assert 'tensors shaped differently: roi_head.bbox_head.fc_cls.weight (checkpoint (2, 1024), config (3, ' \
           '1024))' in summary[0]


def test_load_from_url_offline_fails_before_training_with_the_ways_out(pennfudan_root, dead_url, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('MMDET_CHECKPOINT_DIR', raising=False)
    url = dead_url.rsplit('/', 1)[0] + '/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth'
    process = run_tool('train.py', DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                       *tiny_options(pennfudan_root), f'load_from={url}', check=False)
    assert process.returncode != 0
    assert f'could not download {url}' in process.stderr
    assert '--cfg-options load_from=' in process.stderr
    # and the truth about load_from=None: no ImageNet backbone either, so random weights and AP near 0
    assert 'train from random weights' in process.stderr and 'near AP 0' in process.stderr
    assert not list((tmp_path / 'work').glob('epoch_*.pth'))


@pytest.fixture(scope='module')
def val_predictions(trained, tmp_path_factory) -> Path:
    """tools/test.py --out of the trained checkpoint on the val split (the demo's test split)."""
    root, work_dir = trained
    out = tmp_path_factory.mktemp('predictions') / 'preds.pkl'
    run_tool('test.py', DEMO_CONFIG, str(work_dir / 'epoch_1.pth'), '--work-dir', str(out.parent), '--out',
             str(out), '--cfg-options', *tiny_options(root))
    return out


@pytest.mark.slow
def test_tensorboard_events_hold_train_and_val_loss_metrics_and_drawn_val_images(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, work_dir = trained
    (events_file,) = work_dir.glob('*/vis_data/events.out.tfevents.*')
    events = EventAccumulator(str(events_file), size_guidance={'images': 0, 'scalars': 0})
    events.Reload()
    scalars = set(events.Tags()['scalars'])
    expected = {'loss', 'loss_mask', 'lr', 'val/loss', 'val/loss_mask', 'coco/segm_mAP', 'coco/bbox_mAP'}
    assert expected <= scalars
    assert [event.step for event in events.Scalars('loss')] == [1, 2]  # 4 images at batch 2, logged each step
    images = events.Images('val_img')
    # Each 96x80 val image twice, side by side: ground truth left, predictions right (DetLocalVisualizer).
    assert len(images) == 2 and all(image.width == 2 * 96 and image.height == 80 for image in images)
    # TensorBoard and scalars.json (tools/analyze_logs.py) get the same validation loss.
    scalars_json = next(work_dir.glob('*/vis_data/scalars.json')).read_text().splitlines()
    (val_record,) = [json.loads(line) for line in scalars_json if 'val/loss' in line]
    (val_loss,) = events.Scalars('val/loss')
    assert val_loss.value == pytest.approx(val_record['val/loss'], rel=1e-6) and val_loss.value > 0
    assert val_record['val/loss'] == pytest.approx(sum(value for key, value in val_record.items()
                                                       if key.startswith('val/loss_')), rel=1e-5)


@pytest.mark.slow
def test_analyze_logs_and_html_report_show_validation_loss_confusion_matrix_and_worst_images(
        trained, val_predictions, tmp_path):
    from custom.cli.analyze_logs import main as analyze_logs
    from custom.cli.run_report import main as run_report

    root, work_dir = trained
    assert analyze_logs([str(work_dir), '--out-dir', str(tmp_path / 'curves')]) == 0
    assert cv2.imread(str(tmp_path / 'curves' / 'loss.png')) is not None
    out = tmp_path / 'report' / 'report.md'
    assert run_report([str(work_dir), '--out', str(out), '--predictions', str(val_predictions), '--score-thr',
                       '0.05']) == 0
    page = out.with_suffix('.html').read_text()
    for section in ('Configuration', 'Metrics', 'Curves', 'Confusion matrix', 'Worst images', 'Label review'):
        assert f'<h2>{section}</h2>' in page
    assert 'val/loss' in page and 'coco/segm_mAP' in page
    # Self-contained: every image is embedded, nothing is fetched.
    assert page.count('src="data:image/png;base64,') == page.count('<img ') >= 5
    assert 'http' not in page.replace('http-equiv', '')
    # Confusion matrix (bbox): the pedestrian row holds every val person once, the detected columns every
    # detection scoring >= 0.05 once.
    stems = (root / 'splits' / 'val.txt').read_text().split()
    val_people = sum(len(np.unique(cv2.imread(str(root / 'PedMasks' / f'{stem}_mask.png'), 0))) - 1
                     for stem in stems)
    detections = sum(int((sample['pred_instances']['scores'] >= 0.05).sum())
                     for sample in pickle.loads(val_predictions.read_bytes()))
    rows = list(csv.reader((tmp_path / 'report' / 'plots' / 'confusion_bbox.csv').open()))
    assert rows[0] == ['ground truth \\ detected', 'pedestrian', 'background']
    (found, missed), (false, _) = [[int(v) for v in row[1:]] for row in rows[1:]]
    assert found + missed == val_people == 5 and found + false == detections > 0
