"""Report of a training run: report.md and a self-contained report.html (config, metrics, curves with the
validation loss; with --predictions also confusion matrices and the worst images).

Usage: python tools/run_report.py work_dirs/mask-rcnn_pennfudan [--config CFG] [--out report.md]
       [--predictions preds.pkl [--split test] [--iou-thr 0.5] [--score-thr 0.3] [--worst 6]]
The predictions come from `tools/test.py CONFIG CHECKPOINT --out preds.pkl` (only pickles you wrote).
"""

import argparse
import sys

from custom.analysis.run_report import write_run_report
from custom.errors import report_user_errors
from custom.evaluation.matching import DEFAULT_SCORE_THR


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('work_dir')
    parser.add_argument('--config', help='config of the run (default: the one mmengine dumped into work_dir)')
    parser.add_argument('--out', help='report path (default: <work_dir>/report.md; report.html beside it)')
    parser.add_argument('--predictions', help='tools/test.py --out pickle: confusion matrices, worst images')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'],
                        help='dataloader of the config the predictions were made on')
    parser.add_argument('--iou-thr', type=float, default=0.5)
    parser.add_argument('--score-thr', type=float, default=DEFAULT_SCORE_THR,
                        help=f'detections counted from this score (default {DEFAULT_SCORE_THR})')
    parser.add_argument('--worst', type=int, default=6, help='number of worst images shown')
    args = parser.parse_args(argv)
    path = write_run_report(args.work_dir, args.config, args.out, args.predictions, args.split, args.iou_thr,
                            args.score_thr, args.worst)
    print(path)
    print(path.with_suffix('.html'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
