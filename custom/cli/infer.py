"""Run a trained detector on images, folders or videos; writes overlays and results.json.

    infer.py CONFIG CHECKPOINT INPUT...                  PyTorch (MMDetection), on the GPU when there is one
    infer.py --backend onnxruntime MODEL.onnx INPUT...   ONNX Runtime on the CPU (tools/export_onnx.py)
    infer.py --backend openvino MODEL.onnx INPUT...      OpenVINO on the CPU, the same file and detections

An input that cannot be read is named in a warning and skipped (exit status 1 at the end); what the folders
hold besides images is counted as ignored. results.json is rewritten as the run goes, so a run killed midway
keeps what it did ('complete': false).
"""

import argparse
import sys

from custom.apis.inference import run_inference
from custom.cli.arguments import detector_and_inputs, model_and_inputs_parser
from custom.errors import report_user_errors
from custom.evaluation.matching import DEFAULT_SCORE_THR


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = model_and_inputs_parser('Inference on images, image folders or video files',
                                     'image files, folders of images, or video files')
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where overlays and results.json go')
    parser.add_argument('--score-thr', type=float, default=DEFAULT_SCORE_THR,
                        help=f'keep detections scoring at least this (default {DEFAULT_SCORE_THR})')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    """Exit status 1 when an input could not be read (each is named in a warning and skipped; results.json
    holds the others), as cp does when it cannot copy some of the files."""
    args = parse_args(argv)
    detector, inputs, header = detector_and_inputs(args)
    results = run_inference(detector, inputs, args.out_dir, args.score_thr, header)
    found = sum(len(item['detections']) for item in results['items'])
    print(f'{len(results["items"])} images/frames, {found} detections; skipped (unreadable): '
          f'{len(results["skipped"])}; ignored (not images): {len(results["ignored"])} -> '
          f'{args.out_dir}/results.json')
    return int(bool(results['skipped']))


if __name__ == '__main__':
    sys.exit(main())
