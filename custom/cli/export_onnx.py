"""Export a trained Mask R-CNN or Faster R-CNN to ONNX, to run with tools/infer.py --backend onnxruntime.

Example: python tools/export_onnx.py configs/pennfudan_maskrcnn.py work_dirs/pennfudan_maskrcnn/best.pth \\
             --out work_dirs/pennfudan_maskrcnn/model.onnx --verify data/PennFudanPed/PNGImages
"""

import argparse
import sys
from pathlib import Path

import cv2

from custom.apis.inference import PyTorchDetector, expand_inputs
from custom.cli.arguments import add_data_arguments, data_options
from custom.deploy.export import export_onnx
from custom.deploy.onnx_runtime import OnnxDetector
from custom.deploy.parity import MAX_SCORE_DIFF, MIN_BOX_IOU, MIN_MASK_IOU, Agreement, agreement
from custom.engine.runtime import load_config
from custom.errors import DataError, report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('--out', default='model.onnx', help='ONNX file to write (default: model.onnx)')
    add_data_arguments(parser)  # the config as trained (--classes when training had them)
    parser.add_argument('--verify', nargs='+', metavar='IMAGE',
                        help='then run PyTorch and ONNX Runtime on these images (or folders of images) and '
                             f'check that they agree: box IoU > {MIN_BOX_IOU}, scores within '
                             f'{MAX_SCORE_DIFF}, mask IoU > {MIN_MASK_IOU}; exit status 1 when they do not')
    return parser.parse_args(argv)


def verify(args: argparse.Namespace, model: Path) -> list[tuple[Path, Agreement]]:
    """Both backends on every image of args.verify (CPU), and how well they agree on each."""
    cfg = load_config(args.config, args.cfg_options, **data_options(args))
    pytorch = PyTorchDetector(cfg, args.checkpoint, 'cpu')
    onnxruntime = OnnxDetector(model)
    results = []
    for path in expand_inputs(args.verify).files:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(path, 'cannot read the image (videos are not verified)')
        results.append((path, agreement(pytorch(image), onnxruntime(image))))
    return results


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = export_onnx(args.config, args.checkpoint, args.out, args.cfg_options, **data_options(args))
    print(f'exported {args.config} + {args.checkpoint} -> {out} ({out.stat().st_size / 2**20:.1f} MiB); '
          f'run it with: python tools/infer.py --backend onnxruntime {out} IMAGE...')
    if not args.verify:
        return 0
    results = verify(args, out)
    found = [result for _, result in results]
    print(f'verified on {len(results)} images: {sum(r.expected for r in found)} detections from PyTorch, '
          f'{sum(r.actual for r in found)} from ONNX Runtime; worst: box IoU '
          f'{min(r.min_box_iou for r in found):.5f}, score difference '
          f'{max(r.max_score_diff for r in found):.1e}, mask IoU {min(r.min_mask_iou for r in found):.5f}')
    failed = [(path, result) for path, result in results if not result.ok]
    for path, result in failed:
        masks = {'expected': 'only PyTorch gives masks (the ONNX file has no mask output); ',
                 'actual': 'only ONNX Runtime gives masks; '}.get(result.masks_only_in, '')
        print(f'error: {path}: ONNX Runtime differs from PyTorch: {masks}{result}', file=sys.stderr)
    return int(bool(failed))


if __name__ == '__main__':
    sys.exit(main())
