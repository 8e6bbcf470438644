"""Run a trained detector on images, folders or videos; writes overlays and results.json."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom.inference import run_inference  # noqa: E402
from custom.runtime import exit_on_user_error  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Inference on images, image folders or video files')
    parser.add_argument('config', help='config file the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('inputs', nargs='+', help='image files, folders of images, or video files')
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where overlays and results.json go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='keep detections scoring at least this')
    parser.add_argument('--device', help="e.g. 'cuda:0' or 'cpu' (default: GPU when available)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    results = run_inference(args.config, args.checkpoint, args.inputs, args.out_dir, args.score_thr,
                            args.device)
    found = sum(len(item['detections']) for item in results['items'])
    print(f'{len(results["items"])} images/frames, {found} detections -> {args.out_dir}/results.json')


if __name__ == '__main__':
    exit_on_user_error(main)
