"""Evaluate a checkpoint on a config's test set; same flags as MMDetection's tools/test.py."""

import argparse
import sys

from custom.cli.arguments import parse_runner_args, runner_config
from custom.engine.checkpoints import check_checkpoint_fits
from custom.engine.distributed import leave_process_group
from custom.engine.runtime import (
    TEST_LOADERS,
    add_result_dump,
    apply_test_options,
    apply_tta,
    build_runner,
)
from custom.errors import report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file (.pkl) for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results in a window')
    parser.add_argument('--show-dir', help='directory (inside work_dir) where painted images are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (flips; box-only models)')
    return parse_runner_args(parser, argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = runner_config(args)
    apply_test_options(cfg, args.checkpoint, show=args.show, show_dir=args.show_dir, wait_time=args.wait_time)
    if args.tta:
        apply_tta(cfg)
    runner = build_runner(cfg, TEST_LOADERS)
    check_checkpoint_fits(runner.model, args.checkpoint, args.config)  # mmengine would load it in part
    if args.out:
        add_result_dump(runner, args.out)
    runner.test()
    leave_process_group()


if __name__ == '__main__':
    sys.exit(main())
