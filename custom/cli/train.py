"""Train a detector from a config; same flags as MMDetection's tools/train.py."""

import argparse
import sys

from custom.cli.arguments import parse_runner_args, runner_config
from custom.engine.checkpoints import fine_tuning_summary
from custom.engine.distributed import leave_process_group
from custom.engine.runtime import TRAIN_LOADERS, apply_train_options, build_runner
from custom.errors import report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint; without a value, from the latest in work_dir '
                             '(none there: a warning, and training starts as it would without --resume)')
    return parse_runner_args(parser, argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = runner_config(args)
    apply_train_options(cfg, amp=args.amp, auto_scale_lr=args.auto_scale_lr, resume=args.resume)
    runner = build_runner(cfg, TRAIN_LOADERS)
    if cfg.get('load_from') and not cfg.get('resume'):
        summary = fine_tuning_summary(runner.model, cfg.load_from)
        if summary:
            runner.logger.warning(summary)
    runner.train()
    leave_process_group()


if __name__ == '__main__':
    sys.exit(main())
