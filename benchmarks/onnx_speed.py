"""Inference latency of this project's Mask R-CNN in ONNX Runtime, OpenVINO, PyTorch eager and torchvision.

All three need the benchmark environment (benchmarks/README.md); from the repo root:
    .venv-bench/bin/python -m benchmarks.onnx_speed --data-root ../shared/data/PennFudanPed \
        --images 4 --size 512x384 --warmup 2 --iters 5 --threads 2
The project's own backends (PyTorch eager, ONNX Runtime, OpenVINO) also run in the project's .venv:
    .venv/bin/python -m benchmarks.onnx_speed --skip-torchvision --data-root ../shared/data/PennFudanPed ...

One process times them back to back on the same images, one image at a time, with the same thread count:
- PyTorch eager: configs/pennfudan_maskrcnn.py's model at the config's own settings (random weights), from the
  data preprocessor to masks pasted into the image, as the project's Detections;
- ONNX Runtime: the same weights exported by custom/deploy/export.py, run by custom/deploy/onnx_runtime.py
  from the BGR image to pasted masks (resize, graph, box scaling, numpy mask pasting), and the graph alone;
- OpenVINO: the same file run by custom/deploy/openvino_runtime.py (float32), whole and graph alone, and the
  graph in bfloat16 (OpenVINO's default where the CPU has it), with how well its detections agree;
- torchvision: maskrcnn_resnet50_fpn with the settings torchvision_speed.py matches to the project's model
  (its own random weights), to thresholded masks as the project's Detections.
The images are resized to --size first and the test resize is set to that size, so no backend resizes.
Random weights keep every backend at its 100-detection cap, the worst case for the mask head.
Then images/s with --batch images per call: PyTorch eager predicts them as one batch; the exported graph takes
one image, so ONNX Runtime and OpenVINO run them one after another, and OpenVINO also keeps them all in flight
at once (its THROUGHPUT mode: parallel streams; graph only).
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import openvino
import torch
from mmengine.config import Config

from benchmarks.matched_models import (
    PROJECT_CONFIG,
    build_project_model,
    build_torchvision_model,
    require_torchvision,
)
from benchmarks.torchvision_speed import (
    PROJECT,
    TORCHVISION,
    Sample,
    Side,
    load_samples,
    parse_size,
    project_side,
    torchvision_side,
)
from custom.deploy.export import export_onnx
from custom.deploy.onnx_runtime import OnnxDetector
from custom.deploy.openvino_runtime import OpenVinoDetector, keep_signal_stack
from custom.deploy.parity import Agreement, agreement
from custom.errors import report_user_errors


@dataclass
class Latency:
    name: str
    ms_per_image: float
    detections_per_image: float
    cpu_ms_per_image: float = 0.0  # CPU time of this process (all its threads): steadier on a busy machine


def export_same_weights(model: torch.nn.Module, size: tuple[int, int], folder: Path,
                        fixed_size: bool = False) -> Path:
    """The model's weights exported with the config whose test resize is `size` (so inputs of that size are
    not resized again); with ``fixed_size``, that size is the graph's fixed input size."""
    cfg = Config.fromfile(PROJECT_CONFIG)
    checkpoint = folder / 'random_weights.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': list(cfg.classes)}}},
               checkpoint)
    pipeline = [dict(step, scale=size) if step['type'] == 'Resize' else step
                for step in cfg.test_dataloader.dataset.pipeline]
    return export_onnx(PROJECT_CONFIG, checkpoint, folder / 'model.onnx',
                       {'test_dataloader.dataset.pipeline': pipeline}, fixed_size=fixed_size)


def time_per_image(name: str, predict: Callable[[Any], int], inputs: list, warmup: int,
                   iters: int) -> Latency:
    """Median over `iters` passes (after `warmup`) of one pass over all inputs, one at a time, per input;
    predict(input) returns the number of detections."""
    for _ in range(warmup):
        for item in inputs:
            predict(item)
    seconds, cpu_seconds, counts = [], [], []
    for _ in range(iters):
        start, cpu_start = time.perf_counter(), time.process_time()
        counts.append(sum(predict(item) for item in inputs))
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    count = len(inputs)
    return Latency(name, statistics.median(seconds) * 1000 / count, statistics.mean(counts) / count,
                   statistics.median(cpu_seconds) * 1000 / count)


def detections_of(side: Side) -> int:
    """One image through one model, to the project's Detections; their number."""
    return len(side.predict_detections()[0])


def format_report(latencies: list[Latency], setup: str) -> str:
    reference = latencies[0].ms_per_image
    lines = [setup, '', f'{"backend":<42}{"ms/image":>10}{"vs eager":>10}{"CPU ms":>10}{"dets/img":>10}']
    for item in latencies:
        lines.append(f'{item.name:<42}{item.ms_per_image:>10.0f}{item.ms_per_image / reference:>9.2f}x'
                     f'{item.cpu_ms_per_image:>10.0f}{item.detections_per_image:>10.1f}')
    return '\n'.join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        epilog='PyTorch eager and ONNX Runtime run in the project\'s .venv; the torchvision column needs '
               'torchvision beside mmdet, in .venv-bench (bash benchmarks/setup_env.sh, see '
               'benchmarks/README.md). Without torchvision, pass --skip-torchvision; otherwise the tool '
               'stops with an error.')
    parser.add_argument('--data-root', default='data/PennFudanPed',
                        help='a Penn-Fudan-layout folder (PNGImages/, PedMasks/) to read the images from')
    parser.add_argument('--images', type=int, default=4, help='images timed one by one in each pass')
    parser.add_argument('--size', type=parse_size, default=(512, 384), help='input size WIDTHxHEIGHT')
    parser.add_argument('--warmup', type=int, default=2, help='untimed passes first')
    parser.add_argument('--iters', type=int, default=5, help='timed passes (medians are reported)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads of torch and ONNX Runtime')
    parser.add_argument('--batch', type=int, default=8, help='images per call of the images/s table')
    parser.add_argument('--skip-torchvision', action='store_true',
                        help='time only the project\'s PyTorch eager and ONNX Runtime: runs without '
                             'torchvision (in the project\'s .venv)')
    args = parser.parse_args(argv)
    if args.size is None:
        parser.error('--size native: the export needs one input size; give WIDTHxHEIGHT')
    return args


@dataclass
class Throughput:
    name: str
    images_per_s: dict[int, float]  # batch size -> images per second


def images_per_second(run_batch: Callable[[list], Any], images: list, warmup: int, iters: int) -> float:
    """Images per second of ``run_batch(images)`` (one call on all of them), from the median of ``iters``
    timed calls after ``warmup``."""
    for _ in range(warmup):
        run_batch(images)
    seconds = []
    for _ in range(iters):
        start = time.perf_counter()
        run_batch(images)
        seconds.append(time.perf_counter() - start)
    return len(images) / statistics.median(seconds)


def openvino_in_flight(path: Path, threads: int) -> Callable[[list[np.ndarray]], list]:
    """The exported graph compiled for throughput: a call runs every image with all requests in flight."""
    settings = {'INFERENCE_PRECISION_HINT': 'f32', 'PERFORMANCE_HINT': 'THROUGHPUT'}
    if threads:
        settings['INFERENCE_NUM_THREADS'] = threads
    with keep_signal_stack():  # see custom/deploy/openvino_runtime.py
        compiled = openvino.Core().compile_model(str(path), 'CPU', settings)
    queue = openvino.AsyncInferQueue(compiled)

    def run(images: list[np.ndarray]) -> list:
        results = [None] * len(images)
        queue.set_callback(lambda request, index: results.__setitem__(index, request.results))
        for index, image in enumerate(images):
            queue.start_async([image], index)
        queue.wait_all()
        return results

    return run


def time_project(samples: list[Sample], size: tuple[int, int], warmup: int, iters: int, threads: int,
                 batch: int) -> tuple[list[Latency], list[Throughput], str]:
    """PyTorch eager, then ONNX Runtime and OpenVINO with the same weights (whole detector, then the graph
    alone); then images/s at 1 and ``batch`` images per call; and how the bfloat16 graph agrees."""
    torch.manual_seed(0)
    model = build_project_model('cpu', match_torchvision=False).eval()
    with tempfile.TemporaryDirectory() as folder:
        exported = export_same_weights(model, size, Path(folder))
        detector, vino = OnnxDetector(exported, threads), OpenVinoDetector(exported, threads)
        bf16 = OpenVinoDetector(exported, threads, precision='bf16')
        in_flight = openvino_in_flight(exported, threads)
    images = [sample.image for sample in samples]
    with torch.no_grad():
        eager = time_per_image('PyTorch eager (mmdet)', detections_of,
                               [project_side(PROJECT, model, [sample], 'cpu') for sample in samples],
                               warmup, iters)
    latencies = [eager]
    runtimes = (('ONNX Runtime', detector), ('OpenVINO float32', vino), ('OpenVINO bfloat16', bf16))
    for name, runtime in runtimes:
        latencies += [
            time_per_image(f'{name} (image to pasted masks)', lambda image, r=runtime: len(r(image)), images,
                           warmup, iters),
            time_per_image(f'{name} (graph only)', lambda image, r=runtime: len(r.run_graph(image)[1]),
                           images, warmup, iters)]
    low = Agreement.combined([agreement(vino(image), bf16(image)) for image in images])
    paired = float(np.mean(low.box_ious >= 0.5)) if low.expected else 1.0
    summary = (f'OpenVINO bfloat16 against float32 on the {len(images)} images: {paired:.0%} of the '
               f'{low.expected} detections keep a partner of box IoU >= 0.5; {low}')

    eager_per_second = {}
    with torch.no_grad():
        for size in (1, batch):
            side = project_side(PROJECT, model, (samples * size)[:size], 'cpu')
            eager_per_second[size] = images_per_second(lambda _, s=side: s.predict_detections(),
                                                       [None] * size, warmup, iters)
    throughputs = [Throughput('PyTorch eager (mmdet), one batch', eager_per_second)]
    batched = (images * batch)[:batch]
    for name, runtime in (('ONNX Runtime', detector), ('OpenVINO float32', vino)):
        throughputs.append(Throughput(f'{name}, one image after another', {
            size: images_per_second(lambda chunk, r=runtime: [r(image) for image in chunk], batched[:size],
                                    warmup, iters) for size in (1, batch)}))
    throughputs.append(Throughput('OpenVINO float32, all in flight (graph only)', {
        size: images_per_second(in_flight, batched[:size], warmup, iters) for size in (1, batch)}))
    return latencies, throughputs, summary


def format_throughput(throughputs: list[Throughput], batch: int) -> str:
    lines = [f'{"backend":<48}{"img/s, 1":>10}{f"img/s, {batch}":>12}']
    for item in throughputs:
        lines.append(f'{item.name:<48}{item.images_per_s[1]:>10.2f}{item.images_per_s[batch]:>12.2f}')
    return '\n'.join(lines)


def time_torchvision(samples: list[Sample], warmup: int, iters: int) -> Latency:
    """torchvision's model at the matched settings, without resizing (matched_models.py)."""
    model = build_torchvision_model('cpu').eval()
    with torch.no_grad():
        return time_per_image(TORCHVISION, detections_of,
                              [torchvision_side(model, [sample], 'cpu') for sample in samples], warmup, iters)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Fail before anything slow.
    torchvision = None if args.skip_torchvision else require_torchvision(
        'onnx_speed', instead='; or pass --skip-torchvision to time only PyTorch eager and ONNX Runtime here')
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    samples = load_samples(args.data_root, args.images, args.size)
    latencies, throughputs, bf16_summary = time_project(samples, args.size, args.warmup, args.iters,
                                                        args.threads, args.batch)
    if torchvision is not None:
        latencies.append(time_torchvision(samples, args.warmup, args.iters))
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    versions = (f'torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, openvino '
                f'{openvino.__version__.split("-")[0]}, torchvision '
                f'{torchvision.__version__ if torchvision else "not run"}')
    setup = (f'cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average '
             f'{load} at the end), {args.threads} threads, {versions} | {len(samples)} images of '
             f'{args.size[0]}x{args.size[1]} from {args.data_root}, one at a time, {args.warmup} warm-up + '
             f'{args.iters} timed passes (medians)')
    print(format_report(latencies, setup))
    print()
    print(format_throughput(throughputs, args.batch))
    print()
    print(bf16_summary)


if __name__ == '__main__':
    sys.exit(main())
