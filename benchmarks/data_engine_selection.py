"""What the --select rule of tools/pre_annotate.py is worth, on the demo data: the images it picks against
random ones, by the corrections their drafts need and by the model trained again with them.

Runs in the project's .venv (no torchvision), from the repo root (one thread per process: on a shared CPU
the runs are much faster so):
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.data_engine_selection

1. Demo data (custom/data_tools/demo_data.py, 160 x 128 px, seed 0): 20 labelled images, a pool of 100
   unlabelled ones, 40 validation images.
2. configs/pennfudan_demo_cpu.py trained from scratch on the 20 (--initial-epochs).
3. Its predictions on the pool, cached as tools/pre_annotate.py caches them
   (custom/data_engine/pre_annotate.py), and a second pass on the mirrored images for flip disagreement.
   Each pool image's corrections: what the human changes in its draft (the detections from --score-thr) to
   reach the ground truth, counted by count_changes (custom/data_engine/changes.py). Each rule's score
   against them: Spearman's rank correlation over the pool, and the corrections per image in the 20 images
   it would pick.
4. 20 more images picked by the default rule (custom/data_engine/selection.py) and 20 at random (--seeds): the
   corrections per image of each set, and the model of step 2 trained again on the 40 (--retrain-epochs,
   training seed = the seed), segm and bbox mAP on the validation images.

Every stage keeps what it made in --work-dir and is skipped when run again (delete a folder to redo it);
results.json and the printed table hold the figures, the run times and the load average during each run.
"""

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from custom.errors import report_user_errors

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / 'configs' / 'pennfudan_demo_cpu.py'
SIZE = (160, 128)
SPLITS = {'labelled': 20, 'pool': 100, 'val': 40}
PICK = 20
RANDOM = 'random'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', type=Path, default=Path('work_dirs/data_engine_selection'))
    parser.add_argument('--data-root', type=Path,
                        help='where the demo data set is written, or read when it is there (default: '
                             'WORK_DIR/data)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--initial-epochs', type=int, default=40,
                        help='epochs on the 20 labelled images (5 iterations each at batch 4)')
    parser.add_argument('--retrain-epochs', type=int, default=8,
                        help='epochs on the 40 images, from the initial model (10 iterations each)')
    parser.add_argument('--score-thr', type=float, default=0.3, help="the drafts' score threshold")
    return parser.parse_args(argv)


def make_data(root: Path) -> tuple[Path, dict[str, list[str]]]:
    """The demo images and the names of each part (labelled, pool, val), dealt at random with seed 0."""
    from custom.data_tools.demo_data import generate_demo_dataset

    if not (root / 'readme.txt').is_file():
        generate_demo_dataset(root, n_images=sum(SPLITS.values()), size=SIZE, seed=0)
    stems = sorted(path.stem for path in (root / 'PNGImages').glob('*.png'))
    order = np.random.default_rng(0).permutation(len(stems))
    parts, start = {}, 0
    for name, count in SPLITS.items():
        parts[name] = sorted(stems[i] for i in order[start:start + count])
        start += count
    return root, parts


def write_split(path: Path, stems: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(f'{stem}\n' for stem in stems), encoding='utf-8')
    return path


def write_config(path: Path, root: Path, epochs: int, load_from: Path | None) -> Path:
    """The demo config over ``root`` for ``epochs`` epochs (learning rate down 10x at 3/4 and 11/12 of them,
    as the demo's 18 and 22 of 24), validated only by tools/test.py afterwards."""
    milestones = [round(epochs * 3 / 4), round(epochs * 11 / 12)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""_base_ = {str(DEMO_CONFIG)!r}
data_root = {f'{root}/'!r}
load_from = {None if load_from is None else str(load_from)!r}
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root, ann_file='splits/val.txt'))
test_dataloader = val_dataloader
# At most 20 detections an image (the demo's hold 1-4 people): a weak model's 100 cost most of a test pass.
model = dict(test_cfg=dict(rcnn=dict(max_per_img=20)))
train_cfg = dict(max_epochs={epochs}, val_interval={epochs + 1})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', begin=0, end={epochs}, by_epoch=True, milestones={milestones}, gamma=0.1)]
default_hooks = dict(checkpoint=dict(interval={epochs}), logger=dict(interval=10))
""", encoding='utf-8')
    return path


def train_and_test(config: Path, train_split: Path, work_dir: Path, seed: int) -> dict:
    """Trains and tests on the val images (unless work_dir holds the run.json of an earlier run): the
    checkpoint, the metrics, the run's wall time and the 1-minute load average (mean of start and end)."""
    from custom.jobs.steps import find_checkpoint, read_test_metrics, run_step

    done = work_dir / 'run.json'
    if done.is_file():
        return json.loads(done.read_text())
    start, load = time.monotonic(), LoadSampler()
    run_step('train', str(config), '--work-dir', str(work_dir), '--cfg-options',
             f'train_dataloader.dataset.ann_file={train_split}', f'randomness.seed={seed}',
             log_file=work_dir / 'steps.log')
    checkpoint = find_checkpoint(work_dir)
    run_step('test', str(config), str(checkpoint), '--work-dir', str(work_dir / 'test'),
             log_file=work_dir / 'steps.log')
    metrics = read_test_metrics(work_dir / 'test')
    run = {'checkpoint': str(checkpoint), 'seconds': round(time.monotonic() - start),
           'load_average': load.mean(), 'segm_mAP': metrics['coco/segm_mAP'],
           'bbox_mAP': metrics['coco/bbox_mAP']}
    done.write_text(json.dumps(run, indent=1))
    return run


class LoadSampler:
    """The 1-minute load average, read at the start and at each ``mean()``, which averages the readings."""

    def __init__(self) -> None:
        self.readings = [os.getloadavg()[0]]

    def mean(self) -> float:
        self.readings.append(os.getloadavg()[0])
        return round(float(np.mean(self.readings)), 2)


class Flipped:
    """A detector run on the mirrored image, its detections mirrored back: the second pass of flip
    disagreement."""

    def __init__(self, detector) -> None:
        self.detector, self.classes = detector, detector.classes

    def __call__(self, image: np.ndarray, score_thr: float = 0.0):
        pred = self.detector(np.ascontiguousarray(image[:, ::-1]), score_thr)
        width = image.shape[1]
        pred.bboxes = np.stack([width - pred.bboxes[:, 2], pred.bboxes[:, 1], width - pred.bboxes[:, 0],
                                pred.bboxes[:, 3]], axis=1).reshape(-1, 4)
        if pred.masks is not None:
            pred.masks = np.ascontiguousarray(pred.masks[:, :, ::-1])
        return pred


def predict(checkpoint: Path, config: Path, files: list[Path], cache_dir: Path, flipped: bool) -> tuple[
        dict[str, dict], float]:
    """The cached records of ``files`` (predicted when the cache lacks them) and seconds per image."""
    from custom.apis.inference import PyTorchDetector
    from custom.data_engine.pre_annotate import PredictionCache, ProcessGroup, image_key, predict_into_cache

    cache = PredictionCache(cache_dir)
    timing = cache_dir / 'seconds_per_image.json'
    if not timing.is_file():
        detector = PyTorchDetector(str(config), checkpoint, 'cpu')
        start = time.monotonic()
        count = predict_into_cache(Flipped(detector) if flipped else detector, files, cache, ProcessGroup())
        timing.write_text(json.dumps((time.monotonic() - start) / max(count, 1)))
    records, _ = cache.read()
    return {path.stem: records[image_key(path)] for path in files}, json.loads(timing.read_text())


def kept(record: dict, score_thr: float) -> list[dict]:
    return [item for item in record['detections'] if item['score'] >= score_thr]


def flip_disagreement(plain: dict, flipped: dict, score_thr: float) -> float:
    """Unmatched detections of either pass (box IoU < 0.5, greedy by score) plus 1 - IoU of each matched
    pair, over the detections from score_thr."""
    from custom.evaluation.matching import box_iou

    a, b = kept(plain, score_thr), kept(flipped, score_thr)
    if not a or not b:
        return float(len(a) + len(b))
    iou = box_iou(np.array([item['bbox'] for item in a]), np.array([item['bbox'] for item in b]))
    free, total = set(range(len(b))), 0.0
    for i in np.argsort([-item['score'] for item in a]):
        partners = [j for j in free if iou[i, j] >= 0.5]
        if not partners:
            total += 1
            continue
        best = max(partners, key=lambda j: iou[i, j])
        free.discard(best)
        total += 1 - iou[i, best]
    return total + len(free)


def instances(record: dict, score_thr: float) -> list[dict]:
    """The draft's objects in the middle format count_changes compares."""
    return [{'bbox': item['bbox'], 'bbox_label': item['label'], 'mask': item.get('mask')}
            for item in kept(record, score_thr)]


def ground_truth(root: Path, split: Path) -> dict[str, list[dict]]:
    from custom.datasets.builder import build_dataset

    dataset = build_dataset(dict(type='PennFudanDataset', data_root=f'{root}/', ann_file=str(split)),
                            lazy=True)
    return {info['img_id']: [dict(bbox=inst['bbox'], bbox_label=inst['bbox_label'], mask=inst['mask'])
                             for inst in info['instances']] for info in dataset.load_data_list()}


def corrections(drafts: dict[str, list[dict]], truth: dict[str, list[dict]]) -> dict[str, int]:
    """Per image: objects the human adds, removes, moves or relabels to turn the draft into the truth."""
    from custom.data_engine.changes import count_changes

    changes = count_changes(drafts, truth)
    return {stem: counts.corrections for stem, counts in changes.images.items()}


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    from custom.data_engine.selection import DEFAULT_RULE, rank_by_need

    args = parse_args(argv)
    work = args.work_dir.resolve()
    root, parts = make_data((args.data_root or work / 'data').resolve())
    splits = {name: write_split(work / 'splits' / f'{name}.txt', stems) for name, stems in parts.items()}
    write_split(root / 'splits' / 'val.txt', parts['val'])
    results: dict = {'machine': f'{platform.machine()}, {os.cpu_count()} CPUs', 'image_size': list(SIZE),
                     'splits': SPLITS, 'score_thr': args.score_thr, 'initial_epochs': args.initial_epochs,
                     'retrain_epochs': args.retrain_epochs}

    initial_config = write_config(work / 'initial.py', root, args.initial_epochs, None)
    initial = train_and_test(initial_config, splits['labelled'], work / 'initial', seed=0)
    results['initial'] = initial
    print(f'initial model (20 images, {args.initial_epochs} epochs): {initial}', flush=True)
    stems = parts['pool']
    pool = [root / 'PNGImages' / f'{stem}.png' for stem in stems]
    checkpoint = Path(initial['checkpoint'])
    plain, plain_s = predict(checkpoint, initial_config, pool, work / 'cache' / 'plain', False)

    order = rank_by_need([scores(plain[stem]) for stem in stems], args.score_thr, DEFAULT_RULE)
    retrain_config = write_config(work / 'retrain.py', root, args.retrain_epochs, checkpoint)
    runs = {}
    for seed in args.seeds:
        random_picks = np.random.default_rng(seed).choice(stems, PICK, replace=False)
        picks = {DEFAULT_RULE: [stems[i] for i in order[:PICK]], RANDOM: [str(stem) for stem in random_picks]}
        for arm, chosen in picks.items():
            name = f'{arm}-seed{seed}'
            split = write_split(work / 'splits' / f'{name}.txt', sorted(parts['labelled'] + chosen))
            runs[arm, seed] = dict(train_and_test(retrain_config, split, work / 'retrain' / name, seed),
                                   picked=chosen)
            print(f'{arm}, seed {seed}: {runs[arm, seed]}', flush=True)

    flipped, flipped_s = predict(checkpoint, initial_config, pool, work / 'cache' / 'flip', True)
    truth = ground_truth(root, splits['pool'])
    fixes = corrections({stem: instances(plain[stem], args.score_thr) for stem in stems}, truth)
    results['pool'] = pool_figures(stems, plain, flipped, fixes, args.score_thr)
    results['pool']['seconds_per_image'] = {'plain': round(plain_s, 3), 'flipped': round(flipped_s, 3)}
    results['arms'] = [{'picked_by': arm, 'seed': seed, **run, 'corrections_per_image': round(
        float(np.mean([fixes[stem] for stem in run['picked']])), 3)} for (arm, seed), run in runs.items()]
    (work / 'results.json').write_text(json.dumps(results, indent=1))
    print(json.dumps(results['pool'], indent=1))
    print(table(results['arms']))
    return 0


def scores(record: dict) -> np.ndarray:
    return np.array([item['score'] for item in record['detections']])


def pool_figures(stems: list[str], plain: dict, flipped: dict, fixes: dict[str, int],
                 score_thr: float) -> dict:
    """The pool's corrections per image, and for each rule: Spearman's rank correlation of its score with
    the corrections, and the corrections per image of the 20 images it ranks first."""
    from scipy.stats import spearmanr

    from custom.data_engine.selection import SELECTION_RULES

    need = {rule: [function(scores(plain[stem]), score_thr) for stem in stems]
            for rule, function in SELECTION_RULES.items()}
    need['flip-disagreement'] = [flip_disagreement(plain[stem], flipped[stem], score_thr) for stem in stems]
    truth = np.array([fixes[stem] for stem in stems])
    figures = {'corrections_per_image': round(float(truth.mean()), 3), 'rules': {}}
    for rule, values in need.items():
        top = np.argsort(-np.array(values), kind='stable')[:PICK]
        figures['rules'][rule] = {'spearman': round(float(spearmanr(values, truth).statistic), 3),
                                  'corrections_per_image_of_top_20': round(float(truth[top].mean()), 3)}
    return figures


def table(arms: list[dict]) -> str:
    lines = ['| picked by | seed | corrections / image | segm mAP | bbox mAP | run (s) | load avg |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for run in arms:
        lines.append(f'| {run["picked_by"]} | {run["seed"]} | {run["corrections_per_image"]:.2f} | '
                     f'{run["segm_mAP"]:.3f} | {run["bbox_mAP"]:.3f} | {run["seconds"]} | '
                     f'{run["load_average"]} |')
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
