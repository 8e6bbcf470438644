"""Evaluate a checkpoint on a config's test set; same flags as MMDetection's tools/test.py.

With --slice WxH the checkpoint runs sliced inference (custom/apis/slicing.py) on each test image at its own
size, and with --tta on a model with masks test-time augmentation (custom/apis/augmentation.py; MMDetection's
DetTTAModel merges boxes only, so box-only models keep it); then the config's test evaluator (COCO AP,
AP_small, ...) scores the merged detections (custom/apis/evaluation.py), and the metrics are printed and
written to <work_dir>/sliced_test.json (tta_test.json with --tta alone).
"""

import argparse
import json
import sys
from pathlib import Path

from mmengine.config import Config

from custom.cli.arguments import (
    add_slice_arguments,
    add_tta_argument,
    parse_runner_args,
    runner_config,
    slice_settings_from_args,
)
from custom.engine.checkpoints import check_checkpoint_fits
from custom.engine.distributed import leave_process_group
from custom.engine.runtime import (
    TEST_LOADERS,
    add_result_dump,
    apply_test_options,
    apply_tta,
    build_runner,
    has_mask_head,
)
from custom.errors import ConfigError, report_user_errors
from custom.files import write_atomic
from custom.jobs.steps import SLICED_RESULTS, TTA_RESULTS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file (.pkl) for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results in a window')
    parser.add_argument('--show-dir', help='directory (inside work_dir) where painted images are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    add_tta_argument(parser)  # a box-only model runs MMDetection's DetTTAModel, a model with masks ours
    parser.add_argument('--device', help="--slice: e.g. 'cuda:0' or 'cpu' (default: GPU when available)")
    add_slice_arguments(parser)
    return parse_runner_args(parser, argv)


def test_in_process(args: argparse.Namespace, cfg: Config) -> None:
    """--slice, or --tta with masks: the checkpoint's merged detections on every test image, scored by the
    test evaluator."""
    from custom.apis.augmentation import TTA_SUMMARY, AugmentedDetector
    from custom.apis.evaluation import evaluate_detector
    from custom.apis.inference import PyTorchDetector
    from custom.apis.slicing import SlicedDetector

    settings = slice_settings_from_args(args)
    flags = {'--show': args.show, '--show-dir': args.show_dir, '--launcher': args.launcher != 'none'}
    if refused := [flag for flag, value in flags.items() if value]:
        what = '--slice' if settings else '--tta with masks'
        raise ConfigError(f'{what} evaluates in this process, image by image: not with {", ".join(refused)}')
    detector = PyTorchDetector(cfg, args.checkpoint, args.device)
    if args.tta:
        detector = AugmentedDetector([detector])
    if settings is not None:
        detector = SlicedDetector(detector, settings)
    work_dir = Path(cfg.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(work_dir / Path(args.config).name))  # as the runner does: the config as evaluated
    evaluation = evaluate_detector(detector, cfg, dump=args.out)
    out = work_dir / (SLICED_RESULTS if settings else TTA_RESULTS)
    write_atomic(out, json.dumps({
        'config': args.config, 'checkpoint': args.checkpoint,
        'slice': settings.summary() if settings else None, 'tta': TTA_SUMMARY if args.tta else None,
        'images': evaluation.images, 'seconds_per_image': evaluation.seconds_per_image,
        'metrics': evaluation.metrics}, indent=1).encode())
    for name, value in evaluation.metrics.items():
        print(f'{name}: {value}')
    print(f'{evaluation.seconds_per_image:.3f} s per image; written to {out}')


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg = runner_config(args)
    if args.slice is not None or (args.tta and has_mask_head(cfg)):
        test_in_process(args, cfg)
        return
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
