"""Is an ONNX model exported with a fixed input size faster on tiles than the dynamic-size export?

Sliced inference (docs/sliced_inference.md) feeds the model tiles of one size, so an export with a fixed
height and width (``export_onnx(..., fixed_size=True)``: the shapes are constants, which the runtimes can fold
and plan for) might run faster than the default export, whose height and width are dynamic axes. This script
exports the same random weights of configs/pennfudan_maskrcnn.py both ways at the tile size, checks that both
give the same detections, and times the graph alone in ONNX Runtime and OpenVINO on tile-sized crops of
Penn-Fudan images, the two exports alternating, ``--rounds`` times (each round's median wall and CPU time
per image are printed: CPU time is steadier on a busy machine).

    OMP_NUM_THREADS=1 python -m benchmarks.onnx_fixed_size --data-root ../shared/data/PennFudanPed \
        --size 256x256 --threads 1
"""

import argparse
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from benchmarks.matched_models import build_project_model
from benchmarks.onnx_speed import export_same_weights, time_per_image
from benchmarks.torchvision_speed import load_samples, parse_size
from custom.deploy.onnx_runtime import OnnxDetector
from custom.deploy.openvino_runtime import OpenVinoDetector
from custom.errors import report_user_errors


def main_table(data_root: str, size: tuple[int, int], images: int, threads: int, rounds: int) -> str:
    torch.manual_seed(0)
    model = build_project_model('cpu', match_torchvision=False).eval()
    folder = Path(tempfile.mkdtemp())
    exports = {}
    for name, fixed in (('dynamic', False), ('fixed', True)):
        (folder / name).mkdir()
        exports[name] = export_same_weights(model, size, folder / name, fixed_size=fixed)
    inputs = [sample.image for sample in load_samples(data_root, images, size)]
    runtimes = {f'{runtime.RUNTIME} {name}': runtime(path, threads)
                for runtime in (OnnxDetector, OpenVinoDetector) for name, path in exports.items()}
    lines = []
    for runtime in (OnnxDetector, OpenVinoDetector):
        dynamic, fixed = (runtimes[f'{runtime.RUNTIME} {name}'].run_graph(inputs[0]) for name in exports)
        same = len(dynamic[1]) == len(fixed[1]) and np.allclose(dynamic[0], fixed[0], atol=1e-3)
        lines.append(f'{runtime.RUNTIME}: {len(dynamic[1])} and {len(fixed[1])} detections, '
                     f'{"the same boxes" if same else "DIFFERENT boxes"} (dynamic, fixed)')
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runtimes}
    for _ in range(rounds):
        for name, runtime in runtimes.items():
            latency = time_per_image(name, lambda image, r=runtime: len(r.run_graph(image)[1]), inputs, 1, 3)
            times[name].append((latency.ms_per_image, latency.cpu_ms_per_image))
    load = ', '.join(f'{value:.2f}' for value in os.getloadavg())
    lines += ['', f'{size[0]}x{size[1]}, {images} images, {threads} thread(s), {platform.node()} '
                  f'({os.cpu_count()} cores), load average {load} at the end', '',
              '| export, runtime | ms per image, each round | median | CPU ms, each round | median |',
              '| --- | --- | ---: | --- | ---: |']
    for name, values in times.items():
        wall, cpu = zip(*values, strict=True)
        lines.append(f'| {name} | {", ".join(f"{v:.0f}" for v in wall)} | {np.median(wall):.0f} | '
                     f'{", ".join(f"{v:.0f}" for v in cpu)} | {np.median(cpu):.0f} |')
    return '\n'.join(lines)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', default='data/PennFudanPed')
    parser.add_argument('--size', type=parse_size, default=(256, 256), help='tile size WIDTHxHEIGHT')
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    print(main_table(args.data_root, args.size, args.images, args.threads, args.rounds))


if __name__ == '__main__':
    sys.exit(main())
