"""How well tools/find_label_errors.py finds label mistakes: inject known ones, run k-fold, rank, count.

Takes a data set in the Penn-Fudan layout (the demo data of tools/make_demo_data.py, or the real
PennFudanPed), copies it, and injects known errors into the copy's labels, only in the images of its training
split (the images k-fold deals into folds):

- removed: ~10% of the objects deleted (mask pixels cleared, ids renumbered, annotation line dropped);
- shifted / shrunk: ~10% of the objects, half moved by 25-45% of their box width or height, half scaled
  about their centre by 0.63-0.77 (box IoU with the truth about 0.4-0.6; the mask moves with the box);
- swapped: ~5% of the classes where the data has more than one class (Penn-Fudan has one: none);
- background: a few (3% of the objects, at least 2) person-sized ellipses drawn where no object is.

Then it runs k-fold (custom/jobs/kfold.py) on the copy to get out-of-fold predictions, ranks the copy's
labels with the finder (custom/analysis/label_errors.py) and reports, per error kind, the recall of injected
errors in the top 10% / 20% of the review queue against random order and a plain "lowest score first"
baseline. Every step that has its output already (the copy, the k-fold summary) is reused, so a stopped run
resumes.

    python -m benchmarks.label_errors --data-root data/pennfudan_demo \\
        --work-dir work_dirs/label_errors_demo --folds 4 [--config configs/pennfudan_demo_cpu.py] \\
        [--cfg-options key=value ...]

Results: <work-dir>/label_errors_benchmark.json and .md; figures in docs/label_errors.md.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from custom.analysis.label_errors import LabelErrors, Suspect
from custom.data_tools.splitting import source_images, write_splits
from custom.datasets.pennfudan import (
    DEFAULT_SPLIT,
    LAYOUT,
    SPLIT_DIR,
    format_annotation,
    parse_annotation,
    pennfudan_files,
    pennfudan_source,
)
from custom.errors import ConfigError, MissingFileError, report_user_errors
from custom.evaluation.matching import box_iou, iou_for
from custom.structures.masks import mask_extent_box, read_index_png

RATES = {'removed': 0.10, 'relocated': 0.10, 'swapped': 0.05, 'background': 0.03}
MIN_BACKGROUND = 2
MANIFEST = 'injected_errors.json'


@dataclass
class InjectedError:
    """One injected error. ``gt_index``: the object's index in the corrupted image's instances (what the
    loader reads, 0-based), None for a removed object; ``true_box``: where the object really is (x1y1x2y2,
    x2/y2 exclusive), None for a background box; ``box``: the corrupted label's box, None when removed."""

    image: str
    kind: str  # removed, shifted, shrunk, swapped, background
    gt_index: int | None
    true_box: list[float] | None
    box: list[float] | None


def moved_mask(mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The mask shifted (by 25-45% of its box size along one axis) or shrunk (scaled 0.63-0.77 about its
    centre), and which of the two."""
    height, width = mask.shape
    x1, y1, x2, y2 = (int(v) for v in mask_extent_box(mask))
    ys, xs = np.nonzero(mask)
    if rng.random() < 0.5:
        axis = int(rng.integers(2))
        size = (x2 - x1, y2 - y1)[axis]
        step = int(round(rng.uniform(0.25, 0.45) * size)) * (1 if rng.random() < 0.5 else -1)
        low, high = ((x1, x2), (y1, y2))[axis]
        limit = (width, height)[axis]
        if low + step < 0 or high + step > limit:  # move the other way when it would leave the image
            step = -step
        xs, ys = (xs + step, ys) if axis == 0 else (xs, ys + step)
        kind = 'shifted'
    else:
        scale = rng.uniform(0.63, 0.77)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        xs = np.round(cx + (xs - cx) * scale).astype(int)
        ys = np.round(cy + (ys - cy) * scale).astype(int)
        kind = 'shrunk'
    keep = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    moved = np.zeros_like(mask)
    moved[ys[keep], xs[keep]] = True
    return moved, kind


def background_mask(id_mask: np.ndarray, rng: np.random.Generator, tries: int = 50) -> np.ndarray | None:
    """A person-sized filled ellipse (30-60% of the image height, width 0.4 of that) touching no object's box
    with more than a sliver (box IoU < 0.05 with every object), or None where none fits."""
    height, width = id_mask.shape
    boxes = [mask_extent_box(id_mask == i) for i in range(1, int(id_mask.max()) + 1)]
    for _ in range(tries):
        h = rng.uniform(0.3, 0.6) * height
        w = 0.4 * h
        x1, y1 = rng.uniform(0, width - w), rng.uniform(0, height - h)
        box = np.array([[x1, y1, x1 + w, y1 + h]])
        if boxes and box_iou(box, np.array(boxes)).max() >= 0.05:
            continue
        yy, xx = np.mgrid[:height, :width]
        inside = ((xx + 0.5 - (x1 + w / 2)) / (w / 2)) ** 2 + ((yy + 0.5 - (y1 + h / 2)) / (h / 2)) ** 2 <= 1
        return inside & (id_mask == 0)
    return None


def corrupt_image(root: Path, stem: str, plan: dict[int, str], n_background: int,
                  rng: np.random.Generator) -> list[InjectedError]:
    """Rewrites the image's mask and annotation in ``root`` with the planned errors (object id -> 'removed'
    or 'relocated') and ``n_background`` background objects; returns what was injected."""
    files = pennfudan_files(root, stem)
    ann = parse_annotation(files.annotation)
    id_mask = read_index_png(files.mask, ('L', 'P', 'I', 'I;16'), 'mode L id mask')
    objects = [id_mask == i for i in range(1, ann.num_objects + 1)]
    true_boxes = [mask_extent_box(mask) for mask in objects]
    kinds: list[str] = ['kept'] * len(objects)
    errors: list[InjectedError] = []
    for index, what in plan.items():
        if what == 'removed':
            kinds[index] = 'removed'
            errors.append(InjectedError(stem, 'removed', None, true_boxes[index], None))
    kept = [index for index, kind in enumerate(kinds) if kind != 'removed']
    new_ids = np.zeros(id_mask.shape, np.uint8)
    for new_id, index in enumerate(kept, start=1):  # the objects that stay where they are ...
        if plan.get(index) != 'relocated':
            new_ids[objects[index]] = new_id
    for new_id, index in enumerate(kept, start=1):  # ... then the moved ones, on the pixels still free
        if plan.get(index) == 'relocated':
            for _ in range(10):  # a move that lands mostly on other objects is drawn again
                moved, kind = moved_mask(objects[index], rng)
                if (moved & (new_ids == 0)).sum() >= 0.5 * moved.sum() > 0:
                    objects[index], kinds[index] = moved & (new_ids == 0), kind
                    break
            new_ids[objects[index] & (new_ids == 0)] = new_id
    labels = [ann.labels[index] for index in kept]
    for _ in range(n_background):
        mask = background_mask(new_ids, rng)
        if mask is None or not mask.any():
            continue
        new_ids[mask] = len(labels) + 1
        labels.append(ann.labels[0] if ann.labels else 'PASpersonWalking')
        errors.append(InjectedError(stem, 'background', len(labels) - 1, None, mask_extent_box(mask)))
    boxes = []
    for new_id in range(1, len(labels) + 1):
        boxes.append(mask_extent_box(new_ids == new_id))
    for new_id, index in enumerate(kept, start=1):
        if kinds[index] in ('shifted', 'shrunk'):
            errors.append(InjectedError(stem, kinds[index], new_id - 1, true_boxes[index], boxes[new_id - 1]))
    Image.fromarray(new_ids, 'L').save(files.mask)
    ann.boxes = [(int(x1) + 1, int(y1) + 1, int(x2), int(y2))  # 1-based inclusive
                 for x1, y1, x2, y2 in boxes]
    ann.labels, ann.num_objects = labels, len(labels)
    with open(files.annotation, 'w', encoding='ascii', newline='') as f:
        f.write(format_annotation(ann))
    return errors


def inject_errors(source: Path, out: Path, seed: int = 0) -> list[InjectedError]:
    """Copies the data set ``source`` to ``out`` and injects errors into the images of its training split
    (splits/train.txt; the project's default split, written into the copy, when the source has none, as
    for the real Penn-Fudan archive); returns them and writes them to ``out/injected_errors.json``."""
    if not (source / LAYOUT['img']).is_dir():
        raise MissingFileError(f'{source / LAYOUT["img"]}: no such folder (a data set in the Penn-Fudan '
                               'layout is needed)')
    if out.exists():
        raise ConfigError(f'{out}: exists; the benchmark writes a fresh copy')
    shutil.copytree(source, out, copy_function=shutil.copyfile)  # writable, whatever the source's modes
    for folder in (out, *(path for path in out.rglob('*') if path.is_dir())):
        folder.chmod(0o755)
    train_file = out / SPLIT_DIR / 'train.txt'
    if not train_file.is_file():
        write_splits(source_images(pennfudan_source(out)), out / SPLIT_DIR, **DEFAULT_SPLIT)
    stems = train_file.read_text().split()
    rng = np.random.default_rng(seed)
    objects = [(stem, index) for stem in stems
               for index in range(parse_annotation(pennfudan_files(out, stem).annotation).num_objects)]
    order = rng.permutation(len(objects))
    n_removed, n_relocated = (int(round(RATES[kind] * len(objects))) for kind in ('removed', 'relocated'))
    plans: dict[str, dict[int, str]] = {}
    for rank, position in enumerate(order[:n_removed + n_relocated]):
        stem, index = objects[position]
        plans.setdefault(stem, {})[index] = 'removed' if rank < n_removed else 'relocated'
    n_background = max(MIN_BACKGROUND, int(round(RATES['background'] * len(objects))))
    backgrounds: dict[str, int] = {}
    for position in rng.choice(len(stems), size=n_background, replace=False):
        backgrounds[stems[position]] = backgrounds.get(stems[position], 0) + 1
    errors = []
    for stem in stems:
        if stem in plans or stem in backgrounds:
            errors += corrupt_image(out, stem, plans.get(stem, {}), backgrounds.get(stem, 0), rng)
    (out / MANIFEST).write_text(json.dumps(dict(
        source=str(source), seed=seed, rates=RATES, objects=len(objects), images=len(stems),
        swapped='none: every Penn-Fudan object is a pedestrian (one class)',
        errors=[asdict(error) for error in errors]), indent=1) + '\n', encoding='utf-8')
    return errors


FRACTIONS = (0.1, 0.2)
# what each injected error should be flagged as (any row on the object finds it; see found_at)
EXPECTED_KIND = {'removed': 'missing', 'shifted': 'bad_location', 'shrunk': 'bad_location',
                 'background': 'spurious', 'swapped': 'wrong_class'}


def found_at(rows: list[Suspect], error: InjectedError) -> tuple[int | None, str | None]:
    """(rank, kind) of the first row that finds the error, (None, None) when no row does: a row on the
    corrupted object (any kind), or for a removed object a 'missing' row whose prediction lies mostly on it
    (at least half the prediction's box inside the object's box: the card shows that object, however
    loosely a weak model boxes it)."""
    for rank, row in enumerate(rows):
        if row.image != error.image:
            continue
        if error.gt_index is not None and row.object == error.gt_index:
            return rank, row.kind
        if (error.kind == 'removed' and row.kind == 'missing' and box_iou(
                np.array([row.pred_box]), np.array([error.true_box]), np.ones(1, dtype=bool))[0, 0] >= 0.5):
            return rank, row.kind
    return None, None


def lowest_score_first(errors: LabelErrors) -> list[Suspect]:
    """The same rows in the plain baseline's order: the model's confidence in each annotation, lowest first
    (an object: the highest score of a prediction of its class whose box overlaps it at IoU >= tau, 0 without
    one; a prediction no annotation explains: 1 - its score, the confidence that there is nothing). Boxes,
    not masks: what such a baseline usually looks at, and kinder to it where a weak mask head outlines
    every object loosely."""
    settings = errors.settings

    def confidence(row: Suspect) -> float:
        record = errors.records[row.image]
        if row.object is None:
            return 1.0 - row.pred_score
        scores = record.pred_scores
        ious = iou_for(record, 'bbox', np.arange(scores.size))[:, row.object] if scores.size else []
        same = [scores[p] for p in range(scores.size)
                if record.pred_labels[p] == record.gt_labels[row.object] and ious[p] >= settings.iou_thr]
        return float(max(same, default=0.0))

    return sorted(errors.suspects, key=lambda row: (confidence(row), row.image, row.object or -1))


def recall_table(errors: LabelErrors, injected: list[InjectedError]) -> dict:
    """Per injected kind and in all: the share of errors found in the first 10% / 20% of the queue's rows in
    the finder's order, the lowest-score-first baseline's, random order's (its expectation) and the best
    order's (every error the queue holds first); in the worst 10% / 20% of the images by the finder's image
    quality (and the best such share); and which kind the finder's row gave them."""
    rows = errors.suspects
    orders = {'finder': rows, 'lowest_score_first': lowest_score_first(errors)}
    ranks = {name: [found_at(order, error) for error in injected] for name, order in orders.items()}
    image_rank = {image.image: rank for rank, image in enumerate(errors.images)}
    n_rows, n_images = len(rows), len(errors.images)
    n_annotations = sum(image.objects for image in errors.images)
    per_image = sorted(Counter(error.image for error in injected).values(), reverse=True)
    table = {}
    for kind in sorted({error.kind for error in injected}) + ['all']:
        chosen = [i for i, error in enumerate(injected) if kind in ('all', error.kind)]
        entry = {'errors': len(chosen), 'in_queue': sum(ranks['finder'][i][0] is not None for i in chosen)}
        for fraction in FRACTIONS:
            top = int(np.ceil(fraction * n_rows))
            key = f'{int(fraction * 100)}%'
            for name in orders:
                entry[f'{name}@{key}'] = sum(ranks[name][i][0] is not None and ranks[name][i][0] < top
                                             for i in chosen) / len(chosen)
            entry[f'random@{key}'] = top / n_rows * entry['in_queue'] / len(chosen)
            entry[f'best@{key}'] = min(top, entry['in_queue']) / len(chosen)
            top_images = int(np.ceil(fraction * n_images))
            entry[f'images_finder@{key}'] = sum(image_rank[injected[i].image] < top_images
                                                for i in chosen) / len(chosen)
            entry[f'images_best@{key}'] = sum(per_image[:top_images]) / len(injected)
        found_kinds = [ranks['finder'][i][1] for i in chosen if ranks['finder'][i][1] is not None]
        if kind != 'all':
            entry['flagged_as_expected'] = (sum(k == EXPECTED_KIND[kind] for k in found_kinds) /
                                            max(1, len(found_kinds)))
        table[kind] = entry
    return dict(rows=n_rows, annotations=n_annotations, images=n_images,
                images_with_errors=len(per_image), per_kind=table)


def markdown(result: dict) -> str:
    lines = [f'# Label-error finder on {result["data_root"]} with injected errors', '',
             f'{result["source"]}; k-fold: {result["kfold"]}. Measured {result["measured"]}.', '',
             'Recall = share of the injected errors in the first 10% / 20% of the rows of the queue; best = '
             'every error the queue holds first.']
    for kind, table in result['recall'].items():
        lines += ['', f'## Compared by {"mask" if kind == "segm" else "box"} IoU (--kind {kind})', '',
                  f'Queue: {table["rows"]} rows (each of the {table["annotations"]} annotations and each '
                  f'prediction no annotation explains) in {table["images"]} images, '
                  f'{table["images_with_errors"]} of them with an injected error.', '',
                  '| injected | n | in queue | finder 10% | finder 20% | lowest score first 10% | 20% '
                  '| random 10% | 20% | best 10% | 20% | flagged as expected |',
                  '|' + '---|' * 12]
        orders = ('finder', 'lowest_score_first', 'random', 'best')
        for name, entry in table['per_kind'].items():
            cells = [name, entry['errors'], entry['in_queue'],
                     *(f'{entry[f"{order}@{key}"]:.2f}' for order in orders for key in ('10%', '20%')),
                     f'{entry["flagged_as_expected"]:.2f}' if 'flagged_as_expected' in entry else '']
            lines.append('| ' + ' | '.join(str(cell) for cell in cells) + ' |')
        every = table['per_kind']['all']
        lines += ['', f'Images by quality: the worst 10% / 20% hold {every["images_finder@10%"]:.2f} / '
                      f'{every["images_finder@20%"]:.2f} of the errors (random 0.10 / 0.20, best '
                      f'{every["images_best@10%"]:.2f} / {every["images_best@20%"]:.2f}).']
    return '\n'.join(lines) + '\n'


def kfold_facts(kfold_dir: Path) -> str:
    """Folds, their mean segm/bbox mAP and the wall time of the k-fold run (split files to summary)."""
    summary = json.loads((kfold_dir / 'kfold_summary.json').read_text())
    started = (kfold_dir / 'splits' / 'fold0' / 'train.txt').stat().st_mtime
    minutes = ((kfold_dir / 'kfold_summary.json').stat().st_mtime - started) / 60
    maps = ', '.join(f'{name.removeprefix("coco/")} {summary["mean"][name]:.3f} +- {summary["std"][name]:.3f}'
                     for name in ('coco/segm_mAP', 'coco/bbox_mAP') if name in summary['mean'])
    return (f'{summary["folds"]} folds of `{summary["config"]}` over {summary["folded"]}; mean {maps} '
            f'(on the corrupted labels); {minutes:.0f} min wall time')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', required=True, type=Path,
                        help='data set in the Penn-Fudan layout (not changed); its splits/train.txt, or the '
                             "project's default split when it has none, is what gets corrupted and folded")
    parser.add_argument('--work-dir', required=True, type=Path,
                        help='the corrupted copy (data/), the k-fold runs (kfold/) and the results')
    parser.add_argument('--config', default='configs/pennfudan_demo_cpu.py')
    parser.add_argument('--folds', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0, help='seed of the injection and of the folds')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='config overrides for every fold')
    parser.add_argument('--tta', action='store_true',
                        help='k-fold tests each fold with --tta (tools/kfold.py --tta): the mirror image too')
    parser.add_argument('--train-only', action='store_true', help='stop after k-fold')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    from custom.analysis.label_errors import Settings, find_label_errors
    from custom.analysis.predictions import load_kfold_records
    from custom.evaluation.records import class_names
    from custom.jobs.kfold import run_kfold

    args = parse_args(argv)
    data = args.work_dir / 'data'
    if not (data / MANIFEST).is_file():
        if data.exists():
            shutil.rmtree(data)  # a copy interrupted before its manifest was written
        inject_errors(args.data_root, data, args.seed)
    kfold_dir = args.work_dir / 'kfold'
    if not (kfold_dir / 'kfold_summary.json').is_file():
        run_kfold(args.config, folds=args.folds, seed=args.seed, data_root=str(data), work_dir=str(kfold_dir),
                  cfg_options=args.cfg_options, tta=args.tta)
    if args.train_only:
        return 0
    records, classes = load_kfold_records(kfold_dir, with_masks=True)
    injected = [InjectedError(**error) for error in
                json.loads((data / MANIFEST).read_text(encoding='utf-8'))['errors']]
    source = f'Out-of-fold predictions of {kfold_dir}'
    recall = {kind: recall_table(find_label_errors(records, class_names(records, classes), Settings(kind),
                                                   source), injected) for kind in ('segm', 'bbox')}
    result = dict(data_root=str(args.data_root), source=source, kfold=kfold_facts(kfold_dir),
                  measured=(f'{datetime.date.today()} on {platform.node()} ({os.cpu_count()} CPUs, shared), '
                            f'load average at the end {os.getloadavg()[0]:.1f}'), recall=recall)
    (args.work_dir / 'label_errors_benchmark.json').write_text(json.dumps(result, indent=1) + '\n')
    (args.work_dir / 'label_errors_benchmark.md').write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
