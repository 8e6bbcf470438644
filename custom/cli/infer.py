"""Run a trained detector on images, folders or videos; writes overlays and results.json.

    infer.py CONFIG CHECKPOINT INPUT...                  PyTorch (MMDetection), on the GPU when there is one
    infer.py --backend onnxruntime MODEL.onnx INPUT...   ONNX Runtime on the CPU (tools/export_onnx.py)

An input that cannot be read is named in a warning and skipped (exit status 1 at the end); what the folders
hold besides images is counted as ignored. results.json is rewritten as the run goes, so a run killed midway
keeps what it did ('complete': false).
"""

import argparse
import sys

from custom.apis.inference import Detector, PyTorchDetector, run_inference
from custom.cli.arguments import add_data_arguments, data_options
from custom.deploy.onnx_runtime import OnnxDetector
from custom.engine.runtime import load_config
from custom.errors import ConfigError, report_user_errors
from custom.evaluation.matching import DEFAULT_SCORE_THR

BACKENDS = ('pytorch', 'onnxruntime')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Inference on images, image folders or video files',
        usage='%(prog)s [--backend pytorch] CONFIG CHECKPOINT INPUT... [options]\n'
              '       %(prog)s --backend onnxruntime MODEL.onnx INPUT... [options]')
    parser.add_argument('paths', nargs='+', metavar='PATH',
                        help='pytorch: the config the checkpoint was trained with, the checkpoint (.pth), '
                             'then the inputs; onnxruntime: the exported model (.onnx), then the inputs. '
                             'Inputs are image files, folders of images, or video files')
    parser.add_argument('--backend', choices=BACKENDS, default='pytorch',
                        help='pytorch: MMDetection on CONFIG + CHECKPOINT; onnxruntime: an ONNX file written '
                             'by tools/export_onnx.py, run by ONNX Runtime on the CPU')
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where overlays and results.json go')
    parser.add_argument('--score-thr', type=float, default=DEFAULT_SCORE_THR,
                        help=f'keep detections scoring at least this (default {DEFAULT_SCORE_THR})')
    parser.add_argument('--device', help="pytorch: e.g. 'cuda:0' or 'cpu' (default: GPU when available)")
    parser.add_argument('--threads', type=int,
                        help='onnxruntime: CPU threads (default: $OMP_NUM_THREADS, else all cores)')
    add_data_arguments(parser)  # pytorch: the config as trained (--classes when training had them)
    return parser.parse_args(argv)


def build_detector(args: argparse.Namespace) -> tuple[Detector, list[str], dict]:
    """The detector the backend names, the input paths, and the results.json header that says what ran."""
    model_paths = 2 if args.backend == 'pytorch' else 1
    if len(args.paths) <= model_paths:
        wanted = 'CONFIG CHECKPOINT' if args.backend == 'pytorch' else 'MODEL.onnx'
        raise ConfigError(f'--backend {args.backend} takes {wanted} and then at least one input')
    inputs = args.paths[model_paths:]
    if args.backend == 'pytorch':
        config, checkpoint = args.paths[:2]
        if checkpoint.endswith('.onnx'):
            raise ConfigError(f'{checkpoint} is an ONNX model: run it with --backend onnxruntime '
                              f'{checkpoint} INPUT... (no config)')
        cfg = load_config(config, args.cfg_options, **data_options(args))
        return PyTorchDetector(cfg, checkpoint, args.device), inputs, {
            'backend': 'pytorch', 'config': config, 'checkpoint': checkpoint}
    model = args.paths[0]
    return OnnxDetector(model, args.threads), inputs, {'backend': 'onnxruntime', 'model': model}


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    """Exit status 1 when an input could not be read (each is named in a warning and skipped; results.json
    holds the others), as cp does when it cannot copy some of the files."""
    args = parse_args(argv)
    detector, inputs, header = build_detector(args)
    results = run_inference(detector, inputs, args.out_dir, args.score_thr, header)
    found = sum(len(item['detections']) for item in results['items'])
    print(f'{len(results["items"])} images/frames, {found} detections; skipped (unreadable): '
          f'{len(results["skipped"])}; ignored (not images): {len(results["ignored"])} -> '
          f'{args.out_dir}/results.json')
    return int(bool(results['skipped']))


if __name__ == '__main__':
    sys.exit(main())
