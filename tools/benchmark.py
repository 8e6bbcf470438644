"""Training throughput and inference latency: this project's Mask R-CNN vs torchvision's, in one run.

Needs torchvision beside mmdet: run it with the bench environment (bash tools/setup_bench_env.sh), e.g.
    .venv-bench/bin/python tools/benchmark.py --data-root /work/shared/data/PennFudanPed \
        --images 2 --size 512x384 --batch 2 --warmup 2 --iters 5
See docs/benchmarks.md for the figures measured so far.
"""

import argparse
import platform
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from custom.benchmark import (  # noqa: E402
    BenchmarkError,
    batches,
    build_project_model,
    build_torchvision_model,
    format_report,
    load_samples,
    project_batch,
    project_predict,
    project_train_step,
    require_torchvision,
    time_data_loading,
    time_model,
    torchvision_batch,
    torchvision_model_input_size,
    torchvision_predict,
    torchvision_train_step,
)
from custom.errors import exit_on_user_error  # noqa: E402


def parse_size(text: str) -> tuple[int, int]:
    """'512x384' -> (512, 384): width x height in pixels."""
    try:
        width, height = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: expected WIDTHxHEIGHT, e.g. 512x384') from None
    return width, height


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/PennFudanPed',
                        help='a Penn-Fudan-layout folder (PNGImages/, PedMasks/) to read the images from')
    parser.add_argument('--images', type=int, default=2, help='images used for the model timings')
    parser.add_argument('--size', type=parse_size, default=(512, 384), help='input size WIDTHxHEIGHT')
    parser.add_argument('--batch', type=int, default=2, help='images per step')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--iters', type=int, default=5, help='timed iterations (medians are reported)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--workers', type=int, default=None,
                        help='DataLoader workers for the data-time measurement (default: the config\'s)')
    parser.add_argument('--loader-iters', type=int, default=5,
                        help='iterations of the data-time measurement; 0 skips it')
    parser.add_argument('--skip-torchvision', action='store_true',
                        help='time only this project\'s model when torchvision cannot be imported')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        torchvision_version = require_torchvision().__version__  # fail before anything slow
    except BenchmarkError as error:
        if not args.skip_torchvision:
            raise
        torchvision_version, missing = 'unavailable', str(error).split('. ')[0]
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise BenchmarkError('--device cuda: no CUDA GPU is visible here; use --device cpu')
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    samples = load_samples(args.data_root, args.images, args.size)
    batch = batches(samples, args.batch)[0]
    device_name = torch.cuda.get_device_name() if args.device.startswith('cuda') else platform.processor()
    setup = (f'device {args.device} ({device_name or platform.machine()}), torch {torch.__version__}, '
             f'torchvision {torchvision_version}, {torch.get_num_threads()} threads | '
             f'{len(batch)} images of {args.size[0]}x{args.size[1]} from {args.data_root}, '
             f'batch {len(batch)}, '
             f'{args.warmup} warm-up + {args.iters} timed iterations (medians)')

    project = build_project_model(args.device)
    timings = [time_model('project (mmdet Mask R-CNN)', project, project_train_step, project_predict,
                          project_batch(batch), len(batch), args.warmup, args.iters, args.device)]
    del project
    if torchvision_version != 'unavailable':
        reference = build_torchvision_model(args.device)
        torchvision_model_input_size(reference, args.size)
        timings.append(time_model('torchvision maskrcnn_r50_fpn', reference, torchvision_train_step,
                                  torchvision_predict, torchvision_batch(batch, args.device), len(batch),
                                  args.warmup, args.iters, args.device))
        del reference
    else:
        setup += f'\ntorchvision not measured (--skip-torchvision): {missing}'
    loader = None
    if args.loader_iters > 0:
        loader = time_data_loading(args.data_root, args.size, args.batch, args.loader_iters, args.workers,
                                   args.device)
    print(format_report(timings, loader, setup))


if __name__ == '__main__':
    exit_on_user_error(main)
