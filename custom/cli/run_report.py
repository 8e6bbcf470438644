"""Write a short Markdown report (config summary, final/best metrics, curves) of a training run.

Usage: python tools/run_report.py work_dirs/mask-rcnn_pennfudan [--config CFG] [--out report.md]
"""

import argparse
import sys

from custom.analysis.run_report import write_run_report
from custom.errors import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('work_dir')
    parser.add_argument('--config', help='config of the run (default: the one mmengine dumped into work_dir)')
    parser.add_argument('--out', help='report path (default: <work_dir>/report.md)')
    args = parser.parse_args(argv)
    path = write_run_report(args.work_dir, args.config, args.out)
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
