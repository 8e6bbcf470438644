"""Analysis tools: log curves, run report, PR curves and the per-image error report."""

import json
import pickle
import runpy
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from custom.analysis.error_report import write_error_report
from custom.analysis.log_curves import load_run_log, plot_run_curves
from custom.analysis.pr_curve import write_pr_curves
from custom.analysis.predictions import dataset_ground_truth, load_records
from custom.analysis.run_report import write_run_report
from custom.errors import DataError
from custom.structures.masks import mask_extent_box, mask_to_rle
from tests.helpers import REPO
from tests.helpers.label_error_cases import predictions_of_labels

torch.set_num_threads(1)
H, W = 48, 64
TIMESTAMP = '20240101_120000'

TRAIN_LINES = [
    {
        'lr': 0.02 * (i + 1) / 6,
        'data_time': 0.01,
        'loss': 2.0 - 0.2 * i,
        'loss_cls': 1.0 - 0.1 * i,
        'loss_mask': 0.5 - 0.05 * i,
        'time': 0.5,
        'epoch': i // 2 + 1,
        'iter': i + 1,
        'memory': 100,
        'step': i + 1,
    }
    for i in range(6)
]
VAL_LINES = [
    {
        'coco/bbox_mAP': 0.3,
        'coco/segm_mAP': 0.25,
        'pr/bbox_f1@0.5': 0.5,
        'data_time': 0.01,
        'time': 0.2,
        'step': 1,
    },
    {
        'coco/bbox_mAP': 0.6,
        'coco/segm_mAP': 0.55,
        'pr/bbox_f1@0.5': 0.7,
        'data_time': 0.01,
        'time': 0.2,
        'step': 2,
    },
    {
        'coco/bbox_mAP': 0.5,
        'coco/segm_mAP': 0.58,
        'pr/bbox_f1@0.5': 0.75,
        'data_time': 0.01,
        'time': 0.2,
        'step': 3,
    },
]
CONFIG = """
model = dict(type='MaskRCNN', backbone=dict(type='ResNet', depth=50),
             roi_head=dict(bbox_head=dict(num_classes=1), mask_head=dict(num_classes=1)))
train_dataloader = dict(batch_size=2, dataset=dict(type='PennFudanDataset', data_root='data/PennFudanPed/',
                        ann_file='splits/train.txt', metainfo=dict(classes=('pedestrian',))))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0001))
param_scheduler = [dict(type='LinearLR', end=50), dict(type='MultiStepLR', milestones=[2])]
"""


def write_json_lines(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """A work_dir as mmengine leaves it: dumped config + <timestamp>/vis_data/scalars.json."""
    root = tmp_path / 'work_dir'
    write_json_lines(
        root / TIMESTAMP / 'vis_data' / 'scalars.json',
        TRAIN_LINES[:2] + VAL_LINES[:1] + TRAIN_LINES[2:4] + VAL_LINES[1:2] + TRAIN_LINES[4:] + VAL_LINES[2:],
    )
    (root / 'mask-rcnn_pennfudan.py').write_text(CONFIG)
    return root


def test_log_curves_write_readable_pngs_with_one_point_per_record(work_dir, tmp_path):
    written = plot_run_curves(work_dir, tmp_path / 'plots')
    assert set(written) == {'loss.png', 'lr.png', 'metrics.png'}
    for info in written.values():
        image = cv2.imread(str(info['path']))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # not a blank canvas
    losses = written['loss.png']['curves']
    assert set(losses) == {'loss', 'loss_cls', 'loss_mask'}
    assert losses['loss'] == ([1, 2, 3, 4, 5, 6], pytest.approx([2.0, 1.8, 1.6, 1.4, 1.2, 1.0]))
    metrics = written['metrics.png']['curves']
    assert set(metrics) == {'coco/bbox_mAP', 'coco/segm_mAP', 'pr/bbox_f1@0.5'}
    assert metrics['coco/bbox_mAP'] == ([1, 2, 3], [0.3, 0.6, 0.5])



def test_validation_losses_are_plotted_beside_the_training_losses_at_the_end_of_their_epoch(tmp_path):
    # 2 iterations per epoch (epoch = i // 2 + 1); validation after epochs 1..3 is logged at steps 1..3.
    val_lines = [dict(line, **{'val/loss': 1.9 - 0.1 * k, 'val/loss_cls': 0.9})
                 for k, line in enumerate(VAL_LINES)]
    write_json_lines(tmp_path / 'wd' / TIMESTAMP / 'vis_data' / 'scalars.json', TRAIN_LINES + val_lines)
    written = plot_run_curves(tmp_path / 'wd', tmp_path / 'plots')
    losses = written['loss.png']['curves']
    assert set(losses) == {'loss', 'loss_cls', 'loss_mask', 'val/loss', 'val/loss_cls'}
    assert losses['val/loss'] == ([2, 4, 6], pytest.approx([1.9, 1.8, 1.7]))
    assert 'val/loss' not in written['metrics.png']['curves']  # a loss is not a metric
    report = write_run_report(tmp_path / 'wd').read_text()
    assert '| val/loss | 1.7000 | 1.7000 | 3 |' in report  # best of a loss is its minimum

def test_latest_run_with_records_is_read_and_a_later_test_only_run_is_skipped(work_dir):
    write_json_lines(work_dir / '20231231_000000' / 'vis_data' / 'scalars.json', TRAIN_LINES[:1])
    test_only = work_dir / '20240102_000000'
    test_only.mkdir()
    (test_only / '20240102_000000.log').write_text(
        '2024/01/02 00:00:00 - mmengine - INFO - Load checkpoint\n'
    )
    log = load_run_log(work_dir)
    assert len(log.train) == 6 and len(log.val) == 3


def test_text_log_is_the_fallback_when_no_scalars_json(tmp_path):
    run = tmp_path / 'wd' / TIMESTAMP
    run.mkdir(parents=True)
    (run / f'{TIMESTAMP}.log').write_text(
        '2024/01/01 12:00:10 - mmengine - INFO - Epoch(train)  [1][10/20]  base_lr: 2.0000e-02 '
        'lr: 2.0000e-02  '
        'eta: 0:01:00  time: 0.5000  data_time: 0.0100  memory: 100  loss: 1.5000  loss_cls: 0.5000\n'
        '2024/01/01 12:00:20 - mmengine - INFO - Epoch(train)  [2][10/20]  base_lr: 2.0000e-02 '
        'lr: 2.0000e-02  '
        'eta: 0:00:30  time: 0.5000  data_time: 0.0100  memory: 100  loss: 1.2500  loss_cls: 0.4000\n'
        # A progress line of the round repeats the previous round's val/loss (as mmengine logs it): skipped.
        '2024/01/01 12:00:25 - mmengine - INFO - Epoch(val) [2][5/5]    eta: 0:00:00  time: 0.2000  '
        'data_time: 0.0100  val/loss: 9.0000\n'
        '2024/01/01 12:00:30 - mmengine - INFO - Epoch(val) [2][5/5]    coco/bbox_mAP: 0.4210  '
        'coco/segm_mAP: 0.3990  data_time: 0.0100  time: 0.2000\n'
    )
    log = load_run_log(tmp_path / 'wd')
    assert [r['step'] for r in log.train] == [10, 30]
    assert [r['loss'] for r in log.train] == [1.5, 1.25]
    assert log.train[0]['lr'] == pytest.approx(0.02)
    assert log.val == [
        {'coco/bbox_mAP': 0.421, 'coco/segm_mAP': 0.399, 'data_time': 0.01, 'time': 0.2, 'step': 2}
    ]


def test_missing_work_dir_and_bad_json_line_are_reported_with_the_path(tmp_path):
    with pytest.raises(DataError, match='does not exist'):
        load_run_log(tmp_path / 'nope')
    bad = tmp_path / 'wd' / TIMESTAMP / 'vis_data' / 'scalars.json'
    bad.parent.mkdir(parents=True)
    bad.write_text('{"loss": 1.0, "step": 1}\n{"loss": \n')
    with pytest.raises(DataError, match=r'scalars.json: line 2 is not JSON'):
        load_run_log(tmp_path / 'wd')


def test_run_report_summarises_config_and_final_and_best_metrics(work_dir):
    report = write_run_report(work_dir)
    assert report == work_dir / 'report.md'
    text = report.read_text()
    assert '| model | MaskRCNN |' in text
    assert '| classes | pedestrian |' in text
    assert '| lr | 0.005 |' in text
    assert '| batch size (per GPU) | 2 |' in text
    assert '| max_epochs | 3 |' in text
    assert '| lr schedule | LinearLR, MultiStepLR |' in text
    # coco/bbox_mAP: final 0.5, best 0.6 at epoch 2; segm best is the final one.
    assert '| coco/bbox_mAP | 0.5000 | 0.6000 | 2 |' in text
    assert '| coco/segm_mAP | 0.5800 | 0.5800 | 3 |' in text
    assert '| pr/bbox_f1@0.5 | 0.7500 | 0.7500 | 3 |' in text
    for name in ('loss.png', 'lr.png', 'metrics.png'):
        assert f'(plots/{name})' in text
        assert (work_dir / 'plots' / name).stat().st_size > 1000
    # The same content as one self-contained page; without predictions, no confusion matrix section.
    page = (work_dir / 'report.html').read_text()
    assert page.count('<img src="data:image/png;base64,') == 3
    assert '<td>coco/bbox_mAP</td><td>0.5000</td><td>0.6000</td><td>2</td>' in page
    assert '<td>lr schedule</td><td>LinearLR, MultiStepLR</td>' in page
    assert 'Confusion matrix' not in page


@pytest.mark.parametrize('split', ['test', 'train'])
def test_run_report_with_predictions_links_the_review_of_likely_label_mistakes(work_dir, pennfudan_root,
                                                                              split):
    """The run's predictions on a split it did not train on review that split's labels; not on its own
    training images, whose labels it learnt, mistakes included."""
    config = work_dir / 'mask-rcnn_pennfudan.py'
    dataset = (f"dict(type='PennFudanDataset', data_root='{pennfudan_root}/', ann_file='splits/val.txt', "
               "test_mode=True, pipeline=[], serialize_data=False)")  # both loaders: the predicted images
    config.write_text(CONFIG + f'test_dataloader = dict(dataset={dataset})\n'
                               f'train_dataloader.update(dataset={dataset})\n'
                               "model['roi_head']['mask_head']['type'] = 'FCNMaskHead'\n")  # masks compared
    stems = (pennfudan_root / 'splits' / 'val.txt').read_text().split()
    predictions = work_dir / 'predictions.pkl'
    predictions.write_bytes(pickle.dumps(predictions_of_labels(dataset_ground_truth(config)[0], stems,
                                                               drop=(stems[1], 0))))
    text = write_run_report(work_dir, config, predictions=predictions, split=split).read_text()
    review = work_dir / 'label_errors' / 'review.html'
    if split == 'train':
        assert not review.exists() and 'Label review' not in text
        return
    assert '## Label review' in text and '[label_errors/review.html](label_errors/review.html)' in text
    assert '<a href="label_errors/review.html">' in (work_dir / 'report.html').read_text()
    queue = json.loads((work_dir / 'label_errors' / 'label_errors.json').read_text())
    assert [(row['image'], row['object'], row['kind']) for row in queue['suspects']] == [
        (stems[1], 0, 'spurious')]
    assert review.is_file() and 'split, which it did not train on' in queue['source']


def test_run_report_tool_writes_the_report(work_dir, monkeypatch, capsys):
    tool = runpy.run_path(str(REPO / 'tools' / 'run_report.py'), run_name='tool')
    monkeypatch.setattr(sys, 'argv', ['run_report.py', str(work_dir), '--out', str(work_dir / 'r.md')])
    assert tool['main']() == 0
    assert (work_dir / 'r.md').read_text().startswith('# Run report: work_dir')


def rect(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[y1:y2, x1:x2] = 1
    return mask


def dumped_sample(
    img_path: Path, gt_masks: list, pred_masks: list, scores: list[float], ignore: list[int] | None = None
) -> dict:
    """One entry as mmdet's DumpDetResults pickles it (tensors, RLE masks with bytes counts)."""
    ignore = ignore or [0] * len(gt_masks)
    rles = [dict(mask_to_rle(m), counts=mask_to_rle(m)['counts'].encode()) for m in pred_masks]
    return dict(
        img_id=img_path.stem,
        img_path=str(img_path),
        ori_shape=(H, W),
        instances=[
            dict(bbox=mask_extent_box(m), bbox_label=0, ignore_flag=i, mask=mask_to_rle(m))
            for m, i in zip(gt_masks, ignore, strict=True)
        ],
        pred_instances=dict(
            bboxes=torch.tensor([mask_extent_box(m) for m in pred_masks], dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor(scores),
            labels=torch.zeros(len(pred_masks), dtype=torch.int64),
            masks=rles,
        ),
    )


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    """Three images: perfect, one missed + one FP, and two FPs + one missed (ignoring an ignored region)."""
    images = tmp_path / 'images'
    images.mkdir()
    paths = []
    for name in ('good', 'medium', 'bad'):
        path = images / f'{name}.png'
        cv2.imwrite(str(path), np.full((H, W, 3), 90, dtype=np.uint8))
        paths.append(path)
    samples = [
        dumped_sample(paths[0], [rect(5, 5, 20, 40)], [rect(5, 5, 20, 40)], [0.9]),
        dumped_sample(
            paths[1],
            [rect(5, 5, 20, 40), rect(30, 5, 45, 40)],
            [rect(6, 5, 20, 40), rect(50, 30, 60, 45), rect(30, 5, 45, 40)],
            [0.95, 0.7, 0.2],
        ),
        dumped_sample(
            paths[2],
            [rect(5, 5, 20, 40), rect(40, 0, 64, 48)],
            [rect(30, 30, 38, 46), rect(0, 40, 10, 48), rect(45, 10, 55, 30)],
            [0.8, 0.6, 0.9],
            ignore=[0, 1],
        ),
    ]
    out = tmp_path / 'results.pkl'
    out.write_bytes(pickle.dumps(samples))
    return out


def test_error_report_counts_missed_and_false_positives_per_image(predictions, tmp_path):
    records, classes = load_records(predictions, with_masks=True)
    report = write_error_report(records, ['pedestrian'], tmp_path / 'errors', kind='segm', worst=2)
    assert classes == []
    by_id = {image['img_id']: image for image in report['images']}
    assert [image['img_id'] for image in report['images']] == ['bad', 'medium', 'good']  # worst first
    assert (by_id['good']['tp'], by_id['good']['fp'], by_id['good']['fn']) == (1, 0, 0)
    # medium: the 0.2-scored correct box is below the score threshold, so its GT is missed.
    assert (by_id['medium']['tp'], by_id['medium']['fp'], by_id['medium']['fn']) == (1, 1, 1)
    assert by_id['medium']['missed'] == [{'label': 'pedestrian', 'bbox': [30.0, 5.0, 45.0, 40.0]}]
    assert by_id['medium']['false_positives'][0]['score'] == pytest.approx(0.7)
    # bad: the 0.9 box lies in the ignored region (neither TP nor FP); the ignored GT is not missed.
    assert (by_id['bad']['tp'], by_id['bad']['fp'], by_id['bad']['fn']) == (0, 2, 1)
    assert report['summary'] == {'images': 3, 'tp': 2, 'fp': 3, 'fn': 2, 'images_with_errors': 2}

    out = tmp_path / 'errors'
    assert json.loads((out / 'errors.json').read_text())['summary'] == report['summary']
    markdown = (out / 'errors.md').read_text()
    assert '| medium | 1 | 1 | 1 | pedestrian [30.0, 5.0, 45.0, 40.0] | pedestrian 0.70 |' in markdown
    assert '![bad](overlays/bad.png)' in markdown
    overlays = sorted(p.name for p in (out / 'overlays').iterdir())
    assert overlays == ['bad.png', 'medium.png']
    overlay = cv2.imread(str(out / 'overlays' / 'medium.png'))
    assert overlay.shape == (H, W, 3)
    assert (overlay[5:40, 30:45] != 90).any()  # the missed GT is drawn



def test_confusion_matrix_tool_agrees_with_the_error_report_counts(predictions, tmp_path, capsys):
    from custom.cli.confusion_matrix import main

    # TP 2, FP 3, FN 2 as in the error report: the detection on the ignored region counts nowhere.
    assert main([str(predictions), '--out-dir', str(tmp_path / 'cm'), '--kind', 'segm', 'bbox',
                 '--classes', 'pedestrian']) == 0
    for kind in ('segm', 'bbox'):
        rows = (tmp_path / 'cm' / f'confusion_{kind}.csv').read_text().splitlines()
        assert rows == ['ground truth \\ detected,pedestrian,background', 'pedestrian,2,2', 'background,3,0']
        assert cv2.imread(str(tmp_path / 'cm' / f'confusion_{kind}.png')) is not None
    assert 'confusion_segm.csv' in capsys.readouterr().out

def test_pr_curve_follows_the_score_order_and_plots(predictions, tmp_path):
    records, _ = load_records(predictions, with_masks=False)
    curves = write_pr_curves(records, ['bbox'], 0.5, ['pedestrian'], tmp_path / 'pr')
    curve = curves['bbox']['all']
    # score order: 0.95 TP, 0.9 TP (0.9 in the ignored region left out), 0.8, 0.7, 0.6 FP, 0.2 TP; 4 GT
    assert curve.scores.tolist() == pytest.approx([0.95, 0.9, 0.8, 0.7, 0.6, 0.2])
    assert curve.precision.tolist() == pytest.approx([1, 1, 2 / 3, 2 / 4, 2 / 5, 3 / 6])
    assert curve.recall.tolist() == pytest.approx([1 / 4, 2 / 4, 2 / 4, 2 / 4, 2 / 4, 3 / 4])
    assert curve.num_gt == 4
    # 101-point AP: precision 1 up to recall 0.5, then 0.5 up to 0.75, 0 beyond.
    assert curve.ap == pytest.approx((51 * 1.0 + 25 * 0.5) / 101)
    assert cv2.imread(str(tmp_path / 'pr' / 'pr_bbox.png')) is not None


def test_error_report_and_confusion_matrix_count_from_one_score_threshold_and_print_it(predictions, tmp_path,
                                                                                      capsys):
    """Both default to DEFAULT_SCORE_THR (0.3) and say so: on the same predictions they count the same."""
    from custom.cli.confusion_matrix import main as confusion_main
    from custom.cli.error_report import main as error_main

    args = [str(predictions), '--classes', 'pedestrian']
    assert error_main([*args, '--out-dir', str(tmp_path / 'errors'), '--kind', 'segm', '--no-pr']) == 0
    assert confusion_main([*args, '--out-dir', str(tmp_path / 'cm'), '--kind', 'segm']) == 0
    out = capsys.readouterr().out
    assert out.count('IoU >= 0.5, score >= 0.3') == 2
    assert 'TP 2, FP 3, FN 2' in out
    assert json.loads((tmp_path / 'errors' / 'errors.json').read_text())['settings']['score_thr'] == 0.3


def test_error_report_tool_takes_ground_truth_from_a_config(predictions, tmp_path, monkeypatch):
    """GT from a config's test dataset (mmdet CocoDataset with polygons here) instead of the pickle."""
    samples = pickle.loads(predictions.read_bytes())
    for s in samples:
        del s['instances']
    predictions.write_bytes(pickle.dumps(samples))
    images, annotations = [], []
    for index, s in enumerate(samples):
        images.append(dict(id=index, file_name=Path(s['img_path']).name, height=H, width=W))
    # one pedestrian per image at the same place as in the fixture's first GT
    for index in range(len(samples)):
        annotations.append(
            dict(
                id=index + 1,
                image_id=index,
                category_id=1,
                iscrowd=0,
                area=15 * 35,
                bbox=[5, 5, 15, 35],
                segmentation=[[5, 5, 20, 5, 20, 40, 5, 40]],
            )
        )
    ann = tmp_path / 'ann.json'
    ann.write_text(
        json.dumps(dict(images=images, annotations=annotations, categories=[dict(id=1, name='pedestrian')]))
    )
    config = tmp_path / 'cfg.py'
    config.write_text(
        "default_scope = 'mmdet'\n"
        f"test_dataloader = dict(dataset=dict(type='CocoDataset', data_root='{tmp_path}',"
        " ann_file='ann.json',"
        " data_prefix=dict(img='images/'), metainfo=dict(classes=('pedestrian',)), test_mode=True,"
        ' pipeline=[]))\n'
    )
    tool = runpy.run_path(str(REPO / 'tools' / 'error_report.py'), run_name='tool')
    out = tmp_path / 'errors'
    monkeypatch.setattr(
        sys,
        'argv',
        [
            'error_report.py',
            str(predictions),
            '--out-dir',
            str(out),
            '--config',
            str(config),
            '--kind',
            'segm',
        ],
    )
    assert tool['main']() == 0
    summary = json.loads((out / 'errors.json').read_text())['summary']
    # good: TP; medium: TP + FP 0.7; bad: FP 0.8, 0.6, 0.9 and the GT missed
    assert summary == {'images': 3, 'tp': 2, 'fp': 4, 'fn': 1, 'images_with_errors': 2}
    assert (out / 'pr_segm.png').stat().st_size > 1000


def test_analyze_logs_tool_plots_the_curves_and_fails_cleanly_without_logs(
    work_dir, tmp_path, monkeypatch, capsys
):
    tool = runpy.run_path(str(REPO / 'tools' / 'analyze_logs.py'), run_name='tool')
    monkeypatch.setattr(sys, 'argv', ['analyze_logs.py', str(work_dir), '--keys', 'coco/segm_mAP'])
    assert tool['main']() == 0
    assert 'coco/segm_mAP (3 points)' in capsys.readouterr().out
    assert (work_dir / 'plots' / 'metrics.png').is_file()
    monkeypatch.setattr(sys, 'argv', ['analyze_logs.py', str(tmp_path / 'missing')])
    assert tool['main']() == 1
    assert 'missing: work_dir does not exist' in capsys.readouterr().err
