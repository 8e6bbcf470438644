"""Per-image error report (missed objects, false positives) and PR curves from a tools/test.py --out pickle.

Usage: python tools/error_report.py results.pkl --out-dir work_dirs/run/errors [--config CFG] [--kind segm]
Ground truth comes from the pickle's 'instances' (PackDetInputs meta_keys) or, with --config, from the
config's test dataset.
"""

import argparse
import sys
from pathlib import Path

from custom.analysis.error_report import write_error_report
from custom.analysis.pr_curve import write_pr_curves
from custom.cli.arguments import add_prediction_arguments, records_from_args
from custom.errors import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_prediction_arguments(parser)
    parser.add_argument('--kind', default='bbox', choices=['bbox', 'segm'])
    parser.add_argument('--worst', type=int, default=10, help='number of overlay images to draw')
    parser.add_argument('--no-pr', action='store_true', help='skip the PR curve plot')
    args = parser.parse_args(argv)
    records, classes = records_from_args(args, args.kind == 'segm')
    report = write_error_report(
        records, classes, args.out_dir, args.kind, args.iou_thr, args.score_thr, args.worst
    )
    if not args.no_pr:
        write_pr_curves(records, [args.kind], args.iou_thr, classes, args.out_dir)
    summary = report['summary']
    print(
        f'{summary["images"]} images, IoU >= {args.iou_thr:g}, score >= {args.score_thr:g}: '
        f'TP {summary["tp"]}, FP {summary["fp"]}, FN {summary["fn"]}; '
        f'report in {Path(args.out_dir) / "errors.md"}'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
