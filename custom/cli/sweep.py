"""Train a list of configs and/or a grid of config values, one run after another or one per GPU, and rank
them in a leaderboard (Markdown, CSV, and a plot of AP against inference time).

    python tools/sweep.py CONFIG [CONFIG ...] [--grid KEY=V1,V2 ...] [--cfg-options KEY=VALUE ...]
        [--work-dir work_dirs/sweep] [--gpus N] [--retry-failed]

Each run trains in <work-dir>/<run name>@<digest of its merged config>/. Running the same command again
skips finished runs, resumes a stopped one from its latest checkpoint, and skips failed ones (their error
stays in the leaderboard) unless --retry-failed; other settings (--cfg-options, an edited config) are new
runs (custom/jobs/sweep.py says why). Exit status 1 when a run failed; the leaderboard is written either way.
"""

import argparse
import sys

from custom.cli.arguments import KeyValueAction
from custom.errors import report_user_errors
from custom.jobs.sweep import run_sweep


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train several configs / settings and rank them')
    parser.add_argument('configs', nargs='+', help='config files, each trained at every grid point')
    parser.add_argument('--grid', nargs='+', action=KeyValueAction, default={}, metavar='KEY=V1,V2',
                        help='config values to try, every combination: e.g. '
                             'optim_wrapper.optimizer.lr=0.01,0.02 train_cfg.max_epochs=6,12; a tuple is one '
                             'value ("key=[(640,480),(800,600)]")')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='config overrides for every run, key=value pairs as in tools/train.py')
    parser.add_argument('--work-dir', default='work_dirs/sweep',
                        help='sweep folder (default work_dirs/sweep)')
    parser.add_argument('--gpus', type=int, default=0,
                        help='train this many runs at once, each on one GPU (default 0: one after another '
                             'on the devices as they are)')
    parser.add_argument('--retry-failed', action='store_true', help='train runs that failed before again')
    args = parser.parse_args(argv)
    malformed = [option for option in args.cfg_options if '=' not in option]
    if malformed:
        parser.error(f'--cfg-options takes key=value pairs, got {malformed[0]!r}')
    return args


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = run_sweep(args.configs, grid=args.grid, cfg_options=args.cfg_options, work_dir=args.work_dir,
                     gpus=args.gpus, retry_failed=args.retry_failed)
    failed = [row['name'] for row in rows if row['status'] == 'failed']
    if failed:
        print(f'{len(failed)} of {len(rows)} runs failed: {", ".join(failed)}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
