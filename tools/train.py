"""Train a detector from a config; same flags as MMDetection's tools/train.py."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom.runtime import (  # noqa: E402
    add_runner_arguments,
    apply_train_options,
    build_runner,
    exit_on_user_error,
    load_config,
    parse_runner_args,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint; without a value, from the latest in work_dir')
    add_runner_arguments(parser)
    return parse_runner_args(parser)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    apply_train_options(cfg, amp=args.amp, auto_scale_lr=args.auto_scale_lr, resume=args.resume)
    build_runner(cfg).train()


if __name__ == '__main__':
    exit_on_user_error(main)
