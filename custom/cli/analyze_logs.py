"""Plot loss, learning-rate and metric curves of a training run.

Usage: python tools/analyze_logs.py work_dirs/mask-rcnn_pennfudan [--out-dir DIR] [--keys coco/bbox_mAP ...]
"""

import argparse
import sys

from custom.analysis.log_curves import plot_run_curves
from custom.errors import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('work_dir', help='work_dir, one <timestamp> run folder, a scalars.json or a .log')
    parser.add_argument('--out-dir', help='where the PNGs go (default: <work_dir>/plots)')
    parser.add_argument('--keys', nargs='+', help='metric names to plot (default: all logged metrics)')
    args = parser.parse_args(argv)
    written = plot_run_curves(args.work_dir, args.out_dir, args.keys)
    for info in written.values():
        print(f'{info["path"]}: {", ".join(f"{k} ({len(v[0])} points)" for k, v in info["curves"].items())}')
    if not written:
        print('nothing to plot: no losses or metrics in the log', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
