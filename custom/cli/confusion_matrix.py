"""Confusion matrix (boxes and/or masks) of a tools/test.py --out pickle, as CSV and PNG.

Usage: python tools/confusion_matrix.py preds.pkl --config CFG --out-dir DIR [--kind segm bbox]
       [--iou-thr 0.5] [--score-thr 0.3]
Rows are ground truth, columns detections, with a background row (false positives) and column (misses);
ignore regions and `difficult` objects are neither hits nor misses (custom/evaluation/confusion.py).
"""

import argparse
import sys

from custom.analysis.confusion_report import write_confusion_matrices
from custom.cli.arguments import add_prediction_arguments, records_from_args
from custom.errors import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_prediction_arguments(parser)
    parser.add_argument('--kind', nargs='+', default=['bbox'], choices=['bbox', 'segm'])
    args = parser.parse_args(argv)
    records, classes = records_from_args(args, 'segm' in args.kind)
    written = write_confusion_matrices(records, classes, args.kind, args.out_dir, args.iou_thr,
                                       args.score_thr)
    for kind, info in written.items():
        print(f'{kind} (IoU >= {args.iou_thr:g}, score >= {args.score_thr:g}): {info["csv"]} {info["png"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
