"""Does test-time augmentation (custom/apis/augmentation.py, --tta) raise a checkpoint's AP? COCO AP of the
same weights on a config's test set, plain and with the mirror image (what --tta runs), and optionally with
the test resize scaled by other factors (each a run of its own, with and without the mirror image).

    OMP_NUM_THREADS=1 python -m benchmarks.test_time_augmentation \
        work_dirs/pennfudan_demo_cpu/pennfudan_demo_cpu.py \
        work_dirs/pennfudan_demo_cpu/best_coco_segm_mAP_epoch_24.pth --scales 1.25

Prints a markdown table (AP, AP_50 and AP_small for masks and boxes, seconds per image, load average).
"""

import argparse
import copy
import datetime
import os
import platform
import sys

from custom.errors import report_user_errors

METRICS = {'AP (mask)': 'coco/segm_mAP', 'AP_50 (mask)': 'coco/segm_mAP_50',
           'AP_small (mask)': 'coco/segm_mAP_s', 'AP (box)': 'coco/bbox_mAP',
           'AP_small (box)': 'coco/bbox_mAP_s'}


def scaled_test_resize(cfg, factor: float):
    """A copy of the config whose test Resize scale is ``factor`` times its own."""
    from custom.deploy.export import pipeline_resize
    from custom.engine.runtime import apply_data_options

    width, height = pipeline_resize(cfg)['scale']
    return apply_data_options(copy.deepcopy(cfg), img_scale=(round(width * factor), round(height * factor)))


def main_rows(config: str, checkpoint: str, scales: list[float], limit: int | None,
              data_root: str | None = None) -> list[dict]:
    from custom.apis.augmentation import AugmentedDetector
    from custom.apis.evaluation import evaluate_detector
    from custom.apis.inference import PyTorchDetector
    from custom.engine.runtime import load_config

    cfg = load_config(config, data_root=data_root)
    plain = PyTorchDetector(cfg, checkpoint, 'cpu')
    others = [PyTorchDetector(scaled_test_resize(cfg, factor), checkpoint, 'cpu') for factor in scales]
    ways = [('plain', plain), ('mirror image too (--tta)', AugmentedDetector([plain]))]
    for factor, view in zip(scales, others, strict=True):
        ways.append((f'test resize x{factor} alone', view))
    if scales:
        names = ', '.join(f'x{factor}' for factor in scales)
        ways.append((f'test resize x1 and {names}', AugmentedDetector([plain, *others], flip=False)))
        ways.append((f'test resize x1 and {names}, each with its mirror image',
                     AugmentedDetector([plain, *others])))
    rows = []
    for name, detector in ways:
        load = os.getloadavg()[0]
        result = evaluate_detector(detector, cfg, limit=limit)
        rows.append({'way': name, 'images': result.images, 'seconds_per_image': result.seconds_per_image,
                     'load': f'{load:.1f}-{os.getloadavg()[0]:.1f}',
                     **{label: result.metrics.get(key) for label, key in METRICS.items()}})
    return rows


def markdown(rows: list[dict], header: str) -> str:
    lines = [header, '', '| inference | ' + ' | '.join(METRICS) + ' | s / image | load |',
             '| --- |' + ' ---: |' * (len(METRICS) + 2)]
    for row in rows:
        values = ' | '.join('-' if row[label] is None else f'{row[label]:.3f}' for label in METRICS)
        lines.append(f'| {row["way"]} | {values} | {row["seconds_per_image"]:.2f} | {row["load"]} |')
    return '\n'.join(lines) + '\n'


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--scales', type=float, nargs='*', default=[],
                        help='other test resize factors to try (e.g. 1.25)')
    parser.add_argument('--data-root', help="the test set's data folder (default: the config's)")
    parser.add_argument('--limit', type=int, help='the first N test images only')
    args = parser.parse_args(argv)
    rows = main_rows(args.config, args.checkpoint, args.scales, args.limit, args.data_root)
    when = datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')
    threads = os.environ.get('OMP_NUM_THREADS', 'all')
    print(markdown(rows, f'Measured {when} on {platform.node()} ({os.cpu_count()} cores, CPU, {threads} '
                         f'thread(s)); {args.checkpoint} on the test set of {args.config}, '
                         f'{rows[0]["images"]} images.'))


if __name__ == '__main__':
    sys.exit(main())
