"""Export a trained Mask R-CNN or Faster R-CNN to ONNX, to run with tools/infer.py --backend onnxruntime.

Example: python tools/export_onnx.py configs/pennfudan_maskrcnn.py work_dirs/pennfudan_maskrcnn/best.pth \\
             --out work_dirs/pennfudan_maskrcnn/model.onnx
"""

import argparse
import sys

from custom.cli.arguments import KeyValueAction
from custom.deploy.export import export_onnx
from custom.errors import report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('--out', default='model.onnx', help='ONNX file to write (default: model.onnx)')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction,
                        help='override config settings, e.g. model.test_cfg.rcnn.score_thr=0.3')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = export_onnx(args.config, args.checkpoint, args.out, args.cfg_options)
    print(f'exported {args.config} + {args.checkpoint} -> {out} ({out.stat().st_size / 2**20:.1f} MiB); '
          f'run it with: python tools/infer.py --backend onnxruntime {out} IMAGE...')


if __name__ == '__main__':
    sys.exit(main())
