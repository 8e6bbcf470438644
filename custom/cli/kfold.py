"""k-fold cross-validation: train and test k folds of a config's training data, report mean and std AP.

    python tools/kfold.py configs/pennfudan_maskrcnn.py --folds 5 --seed 0 [--data-root DIR]
        [--work-dir DIR] [--tta] [--cfg-options key=value ...]

Writes <work-dir>/splits/fold{i}/{train,val}.txt, one training per fold in <work-dir>/fold{i}, its test
predictions on the fold's val images in <work-dir>/fold{i}/test/predictions.pkl (out-of-fold predictions:
tools/find_label_errors.py <work-dir> ranks likely label mistakes with them), and
<work-dir>/kfold_summary.json/.md with per-fold bbox/segm mAP and mAP_50, their mean and std.
"""

import argparse
import sys
from pathlib import Path

from custom.errors import report_user_errors
from custom.jobs.kfold import run_kfold


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='k-fold cross-validation of a config\'s training data')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--folds', type=int, default=5, help='number of folds k (default 5)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the fold shuffle')
    parser.add_argument('--data-root', help="data set folder; default: the config's train data_root")
    parser.add_argument('--classes', nargs='+', metavar='NAME',
                        help='class names of every dataset and head, as tools/train.py --classes')
    parser.add_argument('--work-dir', help='output folder; default work_dirs/<config name>_kfold<k>')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='config overrides for every fold, key=value pairs as in tools/train.py')
    parser.add_argument('--tta', action='store_true',
                        help='test each fold with tools/test.py --tta (the mirror image too): the AP the '
                             'models reach with it, twice the test time (for tools/find_label_errors.py the '
                             'predictions measured no better: docs/label_errors.md)')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    summary = run_kfold(args.config, folds=args.folds, seed=args.seed, data_root=args.data_root,
                        work_dir=args.work_dir, cfg_options=args.cfg_options, classes=args.classes,
                        tta=args.tta)
    for name in summary['metric_names']:
        print(f'{name}: {summary["mean"][name]:.3f} +- {summary["std"][name]:.3f} over {args.folds} folds')
    print(f'summary: {Path(summary["work_dir"]) / "kfold_summary.md"}')


if __name__ == '__main__':
    sys.exit(main())
