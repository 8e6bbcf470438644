"""Run a trained detector on images, folders or videos; writes overlays and results.json."""

import argparse
import sys

from custom.apis.inference import run_inference
from custom.errors import report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Inference on images, image folders or video files')
    parser.add_argument('config', help='config file the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('inputs', nargs='+', help='image files, folders of images, or video files')
    parser.add_argument('--out-dir', default='work_dirs/infer', help='where overlays and results.json go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='keep detections scoring at least this')
    parser.add_argument('--device', help="e.g. 'cuda:0' or 'cpu' (default: GPU when available)")
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = run_inference(args.config, args.checkpoint, args.inputs, args.out_dir, args.score_thr,
                            args.device)
    found = sum(len(item['detections']) for item in results['items'])
    print(f'{len(results["items"])} images/frames, {found} detections -> {args.out_dir}/results.json')


if __name__ == '__main__':
    sys.exit(main())
