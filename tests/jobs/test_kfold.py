"""k-fold cross-validation: fold splits, summary statistics and a real 2-fold run of tools/kfold.py."""

import json
import re
from itertools import combinations
from pathlib import Path

import pytest

from custom.cli.arguments import source_config
from custom.data_tools.splitting import source_images, write_folds
from custom.datasets.splits import make_folds
from custom.errors import DataError
from custom.jobs import kfold
from custom.jobs.kfold import summarize
from tests.helpers import REPO
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool, tiny_options

STEMS = [f'FudanPed{i:05d}' for i in range(1, 24)]  # 23 images: folds of unequal size


@pytest.mark.parametrize('k', [2, 5, 23])
def test_folds_are_disjoint_cover_every_stem_once_and_differ_in_size_by_at_most_one(k):
    folds = make_folds(STEMS, k, seed=3)
    assert len(folds) == k
    assert sorted(s for fold in folds for s in fold) == STEMS
    for a, b in combinations(folds, 2):
        assert not set(a) & set(b)
    sizes = [len(fold) for fold in folds]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_folds_depend_only_on_the_seed_and_not_on_the_input_order():
    assert make_folds(STEMS, 5, seed=1) == make_folds(list(reversed(STEMS)), 5, seed=1)
    assert make_folds(STEMS, 5, seed=1) != make_folds(STEMS, 5, seed=2)


@pytest.mark.parametrize('k', [1, 24])
def test_fold_count_below_two_or_above_the_image_count_is_rejected(k):
    with pytest.raises(ValueError, match='fold'):
        make_folds(STEMS, k)


def test_fold_split_files_train_on_the_rest_and_validate_each_image_once(pennfudan_root, tmp_path):
    stems = sorted(p.stem for p in (pennfudan_root / 'PNGImages').glob('*.png'))
    written = write_folds(source_images(source_config('pennfudan', pennfudan_root)), tmp_path / 'splits', k=3,
                          seed=0)
    assert [paths['val'] for paths in written] == [tmp_path / f'splits/fold{i}/val.txt' for i in range(3)]
    vals = []
    for paths in written:
        train = paths['train'].read_text().splitlines()
        val = paths['val'].read_text().splitlines()
        assert paths['val'].read_bytes().endswith(b'\n') and b'\r' not in paths['val'].read_bytes()
        assert train == sorted(train) and val == sorted(val)
        assert sorted(train + val) == stems and not set(train) & set(val)
        vals += val
    assert sorted(vals) == stems


def test_fold_splits_of_a_folder_without_images_name_the_missing_folder(tmp_path):
    with pytest.raises(DataError, match='PNGImages'):
        write_folds(source_images(source_config('pennfudan', tmp_path)), tmp_path / 'splits', k=2)


def test_kfold_builds_the_training_source_once(pennfudan_root, tmp_path, monkeypatch, dataset_builds):
    from custom.jobs import kfold

    steps = []
    monkeypatch.setattr(kfold, 'run_step', lambda step, *args: steps.append(step))
    monkeypatch.setattr(kfold, 'find_checkpoint', lambda fold_dir: fold_dir / 'best.pth')
    monkeypatch.setattr(kfold, 'read_test_metrics', lambda test_dir: {'coco/segm_mAP': 0.5})
    summary = kfold.run_kfold(str(REPO / DEMO_CONFIG), folds=2, work_dir=str(tmp_path / 'kfold'),
                              cfg_options=tiny_options(pennfudan_root))
    assert steps == ['train', 'test', 'train', 'test']
    assert [(fold['n_train'], fold['n_val']) for fold in summary['per_fold']] == [(2, 2), (2, 2)]
    assert dataset_builds == ['PennFudanDataset']


def test_kfold_deals_the_training_split_only_and_never_a_held_out_image(pennfudan_root, tmp_path, monkeypatch,
                                                                         capsys):
    from custom.jobs import kfold

    monkeypatch.setattr(kfold, 'run_step', lambda step, *args: None)
    monkeypatch.setattr(kfold, 'find_checkpoint', lambda fold_dir: fold_dir / 'best.pth')
    monkeypatch.setattr(kfold, 'read_test_metrics', lambda test_dir: {'coco/segm_mAP': 0.5})
    kfold.run_kfold(str(REPO / DEMO_CONFIG), folds=2, work_dir=str(tmp_path / 'kfold'),
                    cfg_options=tiny_options(pennfudan_root))
    held_out = set((pennfudan_root / 'splits' / 'val.txt').read_text().split())
    train = set((pennfudan_root / 'splits' / 'train.txt').read_text().split())
    dealt = [set(path.read_text().split()) for path in (tmp_path / 'kfold' / 'splits').glob('fold*/*.txt')]
    assert len(dealt) == 4 and set().union(*dealt) == train and not held_out & set().union(*dealt)
    assert "k-fold over the 4 images of the config's training split" in capsys.readouterr().out


def test_summary_is_the_mean_and_std_with_ddof_0_over_metrics_that_every_fold_reports():
    per_fold = [dict(metrics={'coco/bbox_mAP': 0.5, 'coco/segm_mAP': 0.25, 'coco/segm_mAP_50': 0.9}),
                dict(metrics={'coco/bbox_mAP': 0.75, 'coco/segm_mAP': 0.5}),
                dict(metrics={'coco/bbox_mAP': 0.25, 'coco/segm_mAP': 0.0})]
    summary = summarize(per_fold)
    assert summary['metric_names'] == ['coco/bbox_mAP', 'coco/segm_mAP']
    assert summary['mean'] == pytest.approx({'coco/bbox_mAP': 0.5, 'coco/segm_mAP': 0.25})
    # Deviations from the mean are 0, +-0.25 for both metrics: std = sqrt(2 * 0.25**2 / 3).
    assert summary['std'] == pytest.approx({'coco/bbox_mAP': (0.125 / 3) ** 0.5,
                                            'coco/segm_mAP': (0.125 / 3) ** 0.5})


def test_kfold_summary_holds_each_folds_test_metrics_and_their_mean_and_std(pennfudan_root, tmp_path,
                                                                             monkeypatch):
    """run_kfold with its train and test steps replaced: each fold's test reports known numbers."""
    fold_metrics = [  # fold 2 lacks segm_mAP_50 (so it is not summarised); segm_mAP_75 is not a summary key
        {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.3, 'coco/segm_mAP': 0.0, 'coco/segm_mAP_50': 0.2},
        {'coco/bbox_mAP': 0.2, 'coco/bbox_mAP_50': 0.3, 'coco/segm_mAP': 0.3, 'coco/segm_mAP_50': 0.2},
        {'coco/bbox_mAP': 0.6, 'coco/bbox_mAP_50': 0.3, 'coco/segm_mAP': 0.6, 'coco/segm_mAP_75': 0.9}]
    steps = []
    monkeypatch.setattr(kfold, 'run_step', lambda tool, *args: steps.append((tool, args)))
    monkeypatch.setattr(kfold, 'find_checkpoint', lambda fold_dir: fold_dir / 'best.pth')
    monkeypatch.setattr(kfold, 'read_test_metrics',
                        lambda test_dir: fold_metrics[int(test_dir.parent.name.removeprefix('fold'))])
    work_dir = tmp_path / 'kfold'
    kfold.run_kfold(DEMO_CONFIG, folds=3, seed=0, data_root=str(pennfudan_root), work_dir=str(work_dir))

    assert [tool for tool, _ in steps] == ['train', 'test'] * 3
    summary = json.loads((work_dir / 'kfold_summary.json').read_text())
    # each fold's test saves its predictions on the fold's val images: the out-of-fold predictions
    for fold, (_, args) in zip(summary['per_fold'], steps[1::2], strict=True):
        predictions = work_dir / f'fold{fold["fold"]}' / 'test' / 'predictions.pkl'
        assert args[args.index('--out') + 1] == str(predictions) == fold['predictions']
    # the 4 images of splits/train.txt in 3 folds (the 2 held-out val images stay out)
    assert [(fold['n_train'], fold['n_val']) for fold in summary['per_fold']] == [(2, 2), (3, 1), (3, 1)]
    reported = [{key: value for key, value in metrics.items() if key != 'coco/segm_mAP_75'}
                for metrics in fold_metrics]
    assert [fold['metrics'] for fold in summary['per_fold']] == reported
    assert summary['metric_names'] == ['coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP']
    assert summary['mean'] == pytest.approx({'coco/bbox_mAP': 0.3, 'coco/bbox_mAP_50': 0.3,
                                             'coco/segm_mAP': 0.3})
    # Deviations from the mean: bbox -0.2, -0.1, 0.3; segm -0.3, 0, 0.3 (ddof=0: divided by 3).
    assert summary['std'] == pytest.approx({'coco/bbox_mAP': (0.14 / 3) ** 0.5, 'coco/bbox_mAP_50': 0.0,
                                            'coco/segm_mAP': (0.18 / 3) ** 0.5})
    table = (work_dir / 'kfold_summary.md').read_text().splitlines()
    assert '| 2 | 3 | 1 | 0.600 | 0.300 | 0.600 |' in table
    assert table[-2:] == ['| **mean** | | | 0.300 | 0.300 | 0.300 |',
                          '| **std** | | | 0.216 | 0.000 | 0.245 |']


def test_kfold_with_tta_tests_every_fold_with_tta(pennfudan_root, tmp_path, monkeypatch):
    steps = []
    monkeypatch.setattr(kfold, 'run_step', lambda tool, *args: steps.append((tool, args)))
    monkeypatch.setattr(kfold, 'find_checkpoint', lambda fold_dir: fold_dir / 'best.pth')
    monkeypatch.setattr(kfold, 'read_test_metrics', lambda test_dir: {'coco/segm_mAP': 0.5})
    summary = kfold.run_kfold(DEMO_CONFIG, folds=2, data_root=str(pennfudan_root),
                              work_dir=str(tmp_path / 'kfold'), tta=True)
    assert summary['tta'] is True
    assert [('--tta' in args) for _, args in steps] == [False, True] * 2  # the tests only, not the trainings


def logged_test_metrics(test_dir: Path) -> dict[str, float]:
    """The COCO metrics that a tools/test.py run printed to its text log (mmengine's <run>/<run>.log)."""
    log, = test_dir.glob('*/*.log')
    line = [line for line in log.read_text().splitlines() if 'Epoch(test)' in line and 'coco/' in line][-1]
    return {name: float(value) for name, value in re.findall(r'(coco/\w+): (-?[\d.]+)', line)}


def test_kfold_tool_with_more_folds_than_images_fails_with_a_message(pennfudan_root, tmp_path):
    process = run_tool('kfold.py', DEMO_CONFIG, '--folds', '7', '--work-dir', str(tmp_path / 'work'),
                       '--cfg-options', *tiny_options(pennfudan_root), check=False)
    assert process.returncode == 1
    assert 'error:' in process.stderr and 'fewer than the 7 folds' in process.stderr


@pytest.mark.slow
def test_kfold_tool_trains_and_tests_each_fold_and_summarizes_mean_and_std(pennfudan_root, tmp_path):
    work_dir = tmp_path / 'kfold'
    process = run_tool('kfold.py', DEMO_CONFIG, '--folds', '2', '--seed', '0', '--work-dir', str(work_dir),
                       '--cfg-options', *tiny_options(pennfudan_root, max_epochs=1))
    summary = json.loads((work_dir / 'kfold_summary.json').read_text())

    assert [fold['fold'] for fold in summary['per_fold']] == [0, 1]
    assert [(fold['n_train'], fold['n_val']) for fold in summary['per_fold']] == [(2, 2), (2, 2)]
    val_sets = [set((work_dir / f'splits/fold{i}/val.txt').read_text().split()) for i in range(2)]
    assert not val_sets[0] & val_sets[1] and len(val_sets[0] | val_sets[1]) == 4  # splits/train.txt
    for fold in summary['per_fold']:
        assert Path(fold['checkpoint']).name == 'best_coco_segm_mAP_epoch_1.pth'
        assert Path(fold['checkpoint']).parent == work_dir / f'fold{fold["fold"]}'
    # the fold's training really used the fold's split files
    dumped = (work_dir / 'fold1/pennfudan_demo_cpu.py').read_text()
    for name in ('train', 'val'):
        assert str(work_dir / f'splits/fold1/{name}.txt') in dumped

    expected = ['coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50']
    assert summary['metric_names'] == expected
    # Each fold's metrics are those its own test run logged (to 4 decimals; COCO's are rounded to 3) ...
    logged = [logged_test_metrics(work_dir / f'fold{i}/test') for i in range(2)]
    for fold, metrics in zip(summary['per_fold'], logged, strict=True):
        assert fold['metrics'] == pytest.approx({name: metrics[name] for name in expected}, abs=1e-4)
    # ... and over two folds the mean is their midpoint, the std (ddof=0) half their distance.
    for name in expected:
        first, second = (metrics[name] for metrics in logged)
        assert summary['mean'][name] == pytest.approx((first + second) / 2, abs=1e-4)
        assert summary['std'][name] == pytest.approx(abs(first - second) / 2, abs=1e-4)
    table = (work_dir / 'kfold_summary.md').read_text()
    assert '| **mean** |' in table and '| **std** |' in table and 'segm_mAP_50' in table
    assert f'coco/segm_mAP: {summary["mean"]["coco/segm_mAP"]:.3f} +- ' in process.stdout
    # The folds' saved predictions are out-of-fold: every training-split image predicted once, by the fold
    # that validated on it, with the ground truth of that fold's test config.
    from custom.analysis.predictions import load_kfold_records

    records, classes = load_kfold_records(work_dir, with_masks=True)
    assert sorted(record.img_id for record in records) == sorted(set().union(*val_sets)) and \
        classes == ['pedestrian']
