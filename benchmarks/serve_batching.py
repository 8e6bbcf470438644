"""Does micro-batching pay for tools/serve.py on this machine? One model call on a batch of B images against B
calls on one image each, for the PyTorch backend. Figures and the decision: docs/serving.md.

    .venv/bin/python -m benchmarks.serve_batching --data-root ../shared/data/PennFudanPed \
        --batch-sizes 2 4 8 --rounds 5 --threads 2

What a server would run per request either way is timed: the config's test pipeline on the decoded image
(as ``mmdet.apis.inference_detector`` builds it), then the model's ``test_step`` (data preprocessor, padding,
forward, masks pasted at the image's size). ``inference_detector`` given a list still calls ``test_step`` once
per image, so the batched side calls ``test_step`` on all B pipelines' outputs at once, as mmdet's test loop
does with a batch from its data loader. Each round takes the next B images and times both sides back to back,
the order alternating, so a change in the machine's load falls on both. The ONNX backend is not timed: the
exported graph takes one HxWx3 image (custom/deploy/export.py), so a batch would need another export.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.utils import get_test_pipeline_cfg

from benchmarks.serve_load import load_images
from custom.apis.inference import PyTorchDetector
from custom.cli.arguments import KeyValueAction
from custom.engine.runtime import load_config
from custom.jobs.main_job import save_untrained_checkpoint

DEMO_CONFIG = 'configs/pennfudan_demo_cpu.py'


def test_pipeline(detector: PyTorchDetector) -> Compose:
    """The test pipeline inference_detector builds for an image given as an array."""
    steps = get_test_pipeline_cfg(detector.model.cfg.copy())
    steps[0].type = 'mmdet.LoadImageFromNDArray'
    return Compose(steps)


def predict(detector: PyTorchDetector, pipeline: Compose, images: list[np.ndarray]) -> list:
    """One test_step on all of ``images``: their pipelines' outputs padded into one batch."""
    items = [pipeline({'img': image, 'img_id': 0}) for image in images]
    with torch.no_grad():
        return detector.model.test_step({'inputs': [item['inputs'] for item in items],
                                         'data_samples': [item['data_samples'] for item in items]})


def timed(function, *args) -> tuple[float, float, object]:
    """Wall and CPU milliseconds of the call (CPU: all of this process's threads), and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return 1000 * (time.perf_counter() - wall), 1000 * (time.process_time() - cpu), result


def top_scores(results: list, count: int = 20) -> list[np.ndarray]:
    return [np.sort(result.pred_instances.scores.numpy())[::-1][:count] for result in results]


def compare(detector: PyTorchDetector, images: list[np.ndarray], sizes: list[int], rounds: int) -> list[dict]:
    """Per batch size: the medians over rounds of the wall and CPU ms per image, one at a time and in one
    batch, and how far the batch's best scores are from the single calls' (zero padding to the batch's largest
    image changes the features near a smaller image's right and bottom edges). CPU time is the steadier
    figure on a loaded machine: it leaves out the time other processes hold the cores."""
    pipeline = test_pipeline(detector)
    for image in images[:2]:  # warm-up: the first calls allocate
        predict(detector, pipeline, [image])
    rows = []
    for size in sizes:
        ms = {(side, clock): [] for side in ('single', 'batched') for clock in ('wall', 'cpu')}
        batch_wall, score_gap, detections = [], 0.0, []
        for round_index in range(rounds):
            start = (round_index * size) % len(images)
            batch = [images[(start + offset) % len(images)] for offset in range(size)]
            sides = {'single': lambda batch=batch: [predict(detector, pipeline, [one])[0] for one in batch],
                     'batched': lambda batch=batch: predict(detector, pipeline, batch)}
            order = ('single', 'batched') if round_index % 2 == 0 else ('batched', 'single')
            results = {}
            for side in order:
                wall, cpu, results[side] = timed(sides[side])
                ms[side, 'wall'].append(wall / size)
                ms[side, 'cpu'].append(cpu / size)
                if side == 'batched':
                    batch_wall.append(wall)
            detections.extend(len(result.pred_instances) for result in results['single'])
            pairs = zip(top_scores(results['batched']), top_scores(results['single']), strict=True)
            for mine, theirs in pairs:
                count = min(len(mine), len(theirs))
                if count:
                    score_gap = max(score_gap, float(np.abs(mine[:count] - theirs[:count]).max()))
        median = {key: statistics.median(values) for key, values in ms.items()}
        rows.append({'batch': size, **{f'{side}_{clock}_ms_per_image': round(value, 1)
                                       for (side, clock), value in median.items()},
                     'speedup_wall': round(median['single', 'wall'] / median['batched', 'wall'], 3),
                     'speedup_cpu': round(median['single', 'cpu'] / median['batched', 'cpu'], 3),
                     'batched_call_wall_ms': round(statistics.median(batch_wall), 1),
                     'detections_per_image': round(statistics.fmean(detections), 1),
                     'max_top20_score_gap': round(score_gap, 4),
                     'load_average': tuple(round(value, 2) for value in os.getloadavg())})
        print(rows[-1], flush=True)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Micro-batching for tools/serve.py: one batched model call '
                                                 'against one call per image (docs/serving.md)')
    parser.add_argument('--config', default=DEMO_CONFIG, help=f'default {DEMO_CONFIG}')
    parser.add_argument('--checkpoint', help='default: the config\'s model untrained (its cost per detection '
                                             'is the same; it keeps the most detections)')
    parser.add_argument('--data-root', help='images: a folder or a Penn-Fudan root; default: synthetic ones')
    parser.add_argument('--images', type=int, default=16, help='how many different images (default 16)')
    parser.add_argument('--img-scale', type=int, nargs=2, metavar=('WIDTH', 'HEIGHT'),
                        help="the model's input size (default: the config's)")
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction, default={},
                        help='key=value pairs, as tools/serve.py takes them')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[2, 4, 8])
    parser.add_argument('--rounds', type=int, default=5, help='batches timed per size (default 5)')
    parser.add_argument('--threads', type=int, default=int(os.environ.get('OMP_NUM_THREADS', 2)),
                        help='torch CPU threads (default $OMP_NUM_THREADS, else 2)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or save_untrained_checkpoint(
        args.config, Path(tempfile.mkdtemp(prefix='serve_batching_')) / 'untrained.pth')
    cfg = load_config(args.config, args.cfg_options, img_scale=args.img_scale)
    detector = PyTorchDetector(cfg, checkpoint, 'cpu')
    images = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
              for data in load_images(args.data_root, args.images)]
    print(f'{platform.node()}, {os.cpu_count()} CPUs, torch {torch.__version__} with {args.threads} threads, '
          f'{len(images)} images, input {args.img_scale or "as the config"}, options {args.cfg_options}, '
          f'load average {os.getloadavg()}', flush=True)
    compare(detector, images, args.batch_sizes, args.rounds)


if __name__ == '__main__':
    sys.exit(main())
