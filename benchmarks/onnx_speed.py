"""Inference latency of this project's Mask R-CNN in ONNX Runtime, PyTorch eager and torchvision side by side.

Run it in the benchmark environment (benchmarks/README.md), from the repo root:
    .venv-bench/bin/python -m benchmarks.onnx_speed --data-root ../shared/data/PennFudanPed \
        --images 4 --size 512x384 --warmup 2 --iters 5 --threads 2

One process times the three back to back on the same images, one image at a time, with the same thread count:
- PyTorch eager: configs/pennfudan_maskrcnn.py's model (random weights, as in torchvision_speed.py), from the
  data preprocessor to masks pasted into the image;
- ONNX Runtime: the same weights exported by custom/deploy/export.py, run by custom/deploy/onnx_runtime.py
  from the BGR image to pasted masks (resize, graph, box scaling, numpy mask pasting), and the graph alone;
- torchvision: maskrcnn_resnet50_fpn with the settings torchvision_speed.py matches to the project's model.
The images are resized to --size first and the test resize is set to that size, so no backend resizes.
Random weights keep every backend at its 100-detection cap, the worst case for the mask head.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnxruntime
import torch
from mmengine.config import Config

from benchmarks.torchvision_speed import (
    PROJECT_CONFIG,
    Sample,
    build_project_model,
    build_torchvision_model,
    load_samples,
    parse_size,
    project_batch,
    project_predict,
    require_torchvision,
    time_calls,
    torchvision_batch,
    torchvision_model_input_size,
    torchvision_predict,
)
from custom.deploy.export import export_onnx
from custom.deploy.onnx_runtime import OnnxDetector
from custom.errors import report_user_errors


@dataclass
class Latency:
    name: str
    ms_per_image: float
    detections_per_image: float


def export_same_weights(model: torch.nn.Module, size: tuple[int, int], folder: Path) -> Path:
    """The model's weights exported with the config whose test resize is `size` (so inputs of that size are
    not resized again)."""
    cfg = Config.fromfile(PROJECT_CONFIG)
    checkpoint = folder / 'random_weights.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': list(cfg.classes)}}},
               checkpoint)
    pipeline = [dict(step, scale=size) if step['type'] == 'Resize' else step
                for step in cfg.test_dataloader.dataset.pipeline]
    return export_onnx(PROJECT_CONFIG, checkpoint, folder / 'model.onnx',
                       {'test_dataloader.dataset.pipeline': pipeline})


def time_per_image(name: str, predict, inputs: list, warmup: int, iters: int) -> Latency:
    """Median over `iters` passes (after `warmup`) of one pass over all inputs, one at a time, per input."""
    seconds, counts = time_calls(lambda: sum(predict(item) for item in inputs), warmup, iters, 'cpu')
    count = len(inputs)
    return Latency(name, statistics.median(seconds) * 1000 / count, statistics.mean(counts) / count)


def format_report(latencies: list[Latency], setup: str) -> str:
    reference = latencies[0].ms_per_image
    lines = [setup, '', f'{"backend":<40}{"ms/image":>10}{"vs eager":>10}{"dets/img":>10}']
    for item in latencies:
        lines.append(f'{item.name:<40}{item.ms_per_image:>10.0f}{item.ms_per_image / reference:>9.2f}x'
                     f'{item.detections_per_image:>10.1f}')
    return '\n'.join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/PennFudanPed',
                        help='a Penn-Fudan-layout folder (PNGImages/, PedMasks/) to read the images from')
    parser.add_argument('--images', type=int, default=4, help='images timed one by one in each pass')
    parser.add_argument('--size', type=parse_size, default=(512, 384), help='input size WIDTHxHEIGHT')
    parser.add_argument('--warmup', type=int, default=2, help='untimed passes first')
    parser.add_argument('--iters', type=int, default=5, help='timed passes (medians are reported)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads of torch and ONNX Runtime')
    parser.add_argument('--skip-torchvision', action='store_true',
                        help='time only ONNX Runtime and PyTorch eager when torchvision cannot be imported')
    return parser.parse_args(argv)


def time_project(samples: list[Sample], size: tuple[int, int], warmup: int, iters: int,
                 threads: int) -> list[Latency]:
    """PyTorch eager, then ONNX Runtime with the same weights (whole detector, then the graph alone)."""
    torch.manual_seed(0)
    model = build_project_model('cpu').eval()
    with tempfile.TemporaryDirectory() as folder:
        detector = OnnxDetector(export_same_weights(model, size, Path(folder)), threads)
    input_name = detector.session.get_inputs()[0].name
    images = [sample.image for sample in samples]
    with torch.no_grad():
        eager = time_per_image('PyTorch eager (mmdet)', lambda batch: project_predict(model, batch),
                               [project_batch([sample]) for sample in samples], warmup, iters)
    return [eager,
            time_per_image('ONNX Runtime (image to pasted masks)', lambda image: len(detector(image)), images,
                           warmup, iters),
            time_per_image('ONNX Runtime (graph only)',
                           lambda image: len(detector.session.run(None, {input_name: image})[1]), images,
                           warmup, iters)]


def time_torchvision(samples: list[Sample], size: tuple[int, int], warmup: int, iters: int) -> Latency:
    model = build_torchvision_model('cpu').eval()
    torchvision_model_input_size(model, size)
    with torch.no_grad():
        return time_per_image('torchvision maskrcnn_r50_fpn', lambda batch: torchvision_predict(model, batch),
                              [torchvision_batch([sample], 'cpu') for sample in samples], warmup, iters)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torchvision = None if args.skip_torchvision else require_torchvision()  # fail before anything slow
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    samples = load_samples(args.data_root, args.images, args.size)
    latencies = time_project(samples, args.size, args.warmup, args.iters, args.threads)
    if torchvision is not None:
        latencies.append(time_torchvision(samples, args.size, args.warmup, args.iters))
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    versions = (f'torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, '
                f'torchvision {torchvision.__version__ if torchvision else "not run"}')
    setup = (f'cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average '
             f'{load} at the end), {args.threads} threads, {versions} | {len(samples)} images of '
             f'{args.size[0]}x{args.size[1]} from {args.data_root}, one at a time, {args.warmup} warm-up + '
             f'{args.iters} timed passes (medians)')
    print(format_report(latencies, setup))


if __name__ == '__main__':
    sys.exit(main())
