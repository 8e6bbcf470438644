"""Sliced inference on small objects in big images: plain, sliced, sliced + full pass at the same weights.

Steps (each reused when its output exists, so a stopped run resumes):

1. scenes: big street scenes (default 1280x960) with many small pedestrians (16-48 px tall) drawn by the
   demo generator (custom/data_tools/demo_data.py), written in the Penn-Fudan layout with train/val splits;
2. tiles: the training scenes cut into overlapping tiles by tools/make_tiles.py (COCO json + tile images);
3. train: a from-scratch CPU Mask R-CNN (configs/pennfudan_demo_cpu.py's model at the tile size, smaller
   anchors) trained on the tiles with tools/train.py;
4. evaluate: the same weights on the val scenes with the config's test evaluator, in this process as
   tools/test.py --slice does (custom/apis/evaluation.py), each of --ways: plain (the config's test resize),
   sliced (tiles of the training size), sliced + full pass, native (one pass at the scene's own size) and
   tta (sliced, each tile with its mirror image); COCO AP, AP_small and seconds per image.

    OMP_NUM_THREADS=1 python -m benchmarks.sliced_inference --work-dir work_dirs/sliced_benchmark \\
        [--train-scenes 16 --val-scenes 10 --epochs 12]

Results: <work-dir>/sliced_inference.json and .md; figures in docs/sliced_inference.md.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from custom.data_tools.demo_data import draw_background, draw_person_parts, paint_person, write_sample
from custom.data_tools.splitting import source_images, write_splits
from custom.datasets.pennfudan import LAYOUT, SPLIT_DIR, pennfudan_source
from custom.errors import report_user_errors

TILE = 256
OVERLAP = 0.2
PERSON_HEIGHTS = (16, 48)


def draw_big_scene(rng: np.random.Generator, width: int, height: int,
                   people: tuple[int, int] = (8, 20)) -> tuple[np.ndarray, np.ndarray]:
    """A street background with ``people`` small pedestrians whose boxes do not overlap (RGB image and id
    mask, ids 1..N)."""
    image = draw_background(rng, width, height)
    id_mask = np.zeros((height, width), np.uint8)
    boxes: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(*people))):
        for _ in range(20):  # a free place
            person_h = rng.uniform(*PERSON_HEIGHTS)
            foot_x = rng.uniform(person_h, width - person_h)
            foot_y = rng.uniform(person_h + 2, height - 4)
            box = (foot_x - 0.5 * person_h, foot_y - person_h - 2, foot_x + 0.5 * person_h, foot_y + 4)
            if all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1] for b in boxes):
                break
        else:
            continue
        parts = draw_person_parts(rng, (height, width), foot_x, foot_y, person_h)
        if (parts > 0).sum() < 20:
            continue
        boxes.append(box)
        paint_person(rng, image, parts)
        id_mask[parts > 0] = len(boxes)
    return image, id_mask


def make_scenes(root: Path, n_train: int, n_val: int, size: tuple[int, int], seed: int = 0) -> Path:
    """The scenes in the Penn-Fudan layout with splits/train.txt and splits/val.txt."""
    if (root / SPLIT_DIR / 'val.txt').is_file():
        return root
    for folder in LAYOUT.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index in range(n_train + n_val):
        image, id_mask = draw_big_scene(np.random.default_rng([seed, index]), *size)
        write_sample(root, f'Scene{index + 1:05d}', image, id_mask)
    write_splits(source_images(pennfudan_source(root)), root / SPLIT_DIR, n_train=n_train, n_val=n_val,
                 seed=seed)
    return root


# The CPU demo's from-scratch Mask R-CNN at the tile size, trained on the tiles (COCO json) and tested on the
# big scenes (Penn-Fudan layout); anchors of 16 and 32 px at P2 for people 16-48 px tall.
CONFIG = """_base_ = 'custom::pennfudan_demo_cpu.py'
image_scale = ({tile}, {tile})
data_root = '{scenes}/'
model = dict(rpn_head=dict(anchor_generator=dict(scales=[4, 8])))
train_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=image_scale) if step['type'] == 'Resize' else step
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(_delete_=True, type='CocoJsonDataset', data_root='{tiles}/',
                                     ann_file='annotations/train.json', data_prefix=dict(img='images/'),
                                     metainfo=_base_.metainfo, pipeline=train_pipeline,
                                     filter_cfg=dict(filter_empty_gt=True, min_size=4)))
val_dataloader = dict(dataset=dict(data_root=data_root, ann_file='splits/val.txt', pipeline=test_pipeline))
test_dataloader = val_dataloader
max_epochs = {epochs}
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[max_epochs - 1], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=1))
"""


def run_tool(args: list[str], log: Path) -> None:
    """python tools/<args> with this interpreter, its output appended to ``log``; stops on failure."""
    with open(log, 'a') as out:
        subprocess.run([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, check=True)


def make_tiles(scenes: Path, tiles: Path, log: Path) -> Path:
    if not (tiles / 'annotations' / 'train.json').is_file():
        run_tool(['tools/make_tiles.py', 'pennfudan', str(scenes), '--split', 'splits/train.txt', '--tile',
                  f'{TILE}x{TILE}', '--overlap', str(OVERLAP), '--out', str(tiles), '--name', 'train'], log)
    return tiles


def train(work_dir: Path, scenes: Path, tiles: Path, epochs: int, log: Path) -> tuple[Path, Path]:
    """The config and the checkpoint of the last epoch (trained unless it exists)."""
    config = work_dir / 'tiles_maskrcnn.py'
    config.write_text(CONFIG.format(tile=TILE, scenes=scenes.resolve(), tiles=tiles.resolve(), epochs=epochs))
    checkpoint = work_dir / 'train' / f'epoch_{epochs}.pth'
    if not checkpoint.is_file():
        run_tool(['tools/train.py', str(config), '--work-dir', str(work_dir / 'train')], log)
    return config, checkpoint


METRICS = {'AP (mask)': 'coco/segm_mAP', 'AP_small (mask)': 'coco/segm_mAP_s', 'AP (box)': 'coco/bbox_mAP',
           'AP_small (box)': 'coco/bbox_mAP_s'}


WAYS = ('plain', 'sliced', 'full', 'native', 'tta')


def evaluate(config: Path, checkpoint: Path, limit: int | None, size: tuple[int, int],
             names: tuple[str, ...] = WAYS) -> list[dict]:
    """Each way of running the same weights on the val scenes: its metrics and seconds per image. native:
    the whole image in one pass at its own size (the test resize set to the scene size), as a model trained
    on tiles could also be run; tta: sliced, each tile with its mirror image (--tta)."""
    from custom.apis.augmentation import AugmentedDetector
    from custom.apis.evaluation import evaluate_detector
    from custom.apis.inference import PyTorchDetector
    from custom.apis.slicing import SlicedDetector, SliceSettings
    from custom.engine.runtime import load_config
    from custom.structures.tiles import TileSize

    cfg = load_config(config)
    detector = PyTorchDetector(cfg, checkpoint, 'cpu')
    tiles = SliceSettings(TileSize(TILE, TILE), OVERLAP)
    full_pass = SliceSettings(tiles.tile, OVERLAP, full_pass=True)
    ways = {'plain': (f'plain (the config\'s test resize to {TILE}x{TILE})', lambda: detector),
            'sliced': (f'sliced ({TILE}x{TILE} tiles, overlap {OVERLAP})',
                       lambda: SlicedDetector(detector, tiles)),
            'full': ('sliced + full pass', lambda: SlicedDetector(detector, full_pass)),
            'native': (f'plain at the scene\'s own size ({size[0]}x{size[1]})',
                       lambda: PyTorchDetector(load_config(config, img_scale=size), checkpoint, 'cpu')),
            'tta': ('sliced, each tile with its mirror image (--tta)',
                    lambda: SlicedDetector(AugmentedDetector([detector]), tiles))}
    rows = []
    for key in names:
        name, make = ways[key]
        way = make()
        load = os.getloadavg()[0]
        result = evaluate_detector(way, cfg, limit=limit)
        rows.append({'way': name, 'images': result.images, 'seconds_per_image': result.seconds_per_image,
                     'load_before': load, 'load_after': os.getloadavg()[0],
                     **{label: result.metrics.get(key) for label, key in METRICS.items()}})
        print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict], header: dict) -> str:
    lines = [f'Measured {header["date"]} on {header["machine"]} (CPU, {header["threads"]} thread(s)); load '
             f'average {header["load"]}; weights {header["checkpoint"]}.', '',
             '| inference | ' + ' | '.join(METRICS) + ' | s / image | load |',
             '| --- |' + ' ---: |' * (len(METRICS) + 2)]
    for row in rows:
        values = ' | '.join('-' if row[label] is None else f'{row[label]:.3f}' for label in METRICS)
        lines.append(f'| {row["way"]} | {values} | {row["seconds_per_image"]:.2f} | '
                     f'{row["load_before"]:.1f}-{row["load_after"]:.1f} |')
    return '\n'.join(lines) + '\n'


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', type=Path, default=Path('work_dirs/sliced_benchmark'))
    parser.add_argument('--data-root', type=Path,
                        help='big images of your own in the Penn-Fudan layout with splits/train.txt and '
                             'splits/val.txt (default: scenes generated under WORK_DIR/scenes)')
    parser.add_argument('--train-scenes', type=int, default=24)
    parser.add_argument('--val-scenes', type=int, default=10)
    parser.add_argument('--size', type=int, nargs=2, default=(1280, 960), metavar=('WIDTH', 'HEIGHT'))
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--checkpoint', type=Path,
                        help="evaluate these weights (of the benchmark's config), not the last epoch's")
    parser.add_argument('--limit', type=int, help='evaluate the first N val scenes only')
    parser.add_argument('--ways', nargs='+', choices=WAYS, default=list(WAYS), help='which inferences to run')
    args = parser.parse_args(argv)
    work_dir = args.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / 'benchmark.log'
    scenes = args.data_root or make_scenes(work_dir / 'scenes', args.train_scenes, args.val_scenes,
                                           tuple(args.size))
    tiles = make_tiles(scenes, work_dir / 'tiles', log)
    config = work_dir / 'tiles_maskrcnn.py'
    if args.checkpoint is None:
        config, checkpoint = train(work_dir, scenes, tiles, args.epochs, log)
    else:
        checkpoint = args.checkpoint
    header = {'date': datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC'),
              'machine': f'{platform.node()} ({os.cpu_count()} cores)',
              'threads': os.environ.get('OMP_NUM_THREADS', 'all'),
              'load': ' / '.join(f'{v:.1f}' for v in os.getloadavg()), 'checkpoint': str(checkpoint),
              'scenes': {'train': args.train_scenes, 'val': args.val_scenes, 'size': list(args.size)}}
    start = time.time()
    rows = evaluate(config, checkpoint, args.limit, tuple(args.size), tuple(args.ways))
    header['evaluation_minutes'] = round((time.time() - start) / 60, 1)
    (work_dir / 'sliced_inference.json').write_text(json.dumps({**header, 'rows': rows}, indent=1))
    (work_dir / 'sliced_inference.md').write_text(markdown(rows, header))
    print(markdown(rows, header))


if __name__ == '__main__':
    sys.exit(main())
