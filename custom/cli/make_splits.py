"""Write seeded train/val split files for a data set of any source.

    python tools/make_splits.py pennfudan data/PennFudanPed --train 120 --val 50 --seed 0
    python tools/make_splits.py voc data/my_voc --val-fraction 0.2 --out-dir data/my_voc/ImageSets/Main
    python tools/make_splits.py via data/balloon --split train/via_region_data.json \\
        --data-prefix img=train/ --classes balloon --val-fraction 0.2   # names for the config's split_file

Without --train/--val/--val-fraction: Penn-Fudan gets the project's default split (120/50, seed 0), other
sources a fifth of their images for validation. Files go to ROOT/splits/ unless --out-dir says otherwise.
"""

import argparse
import sys
from pathlib import Path

from custom.cli.arguments import add_source_arguments, source_config_from_args
from custom.data_tools.splitting import classes_missing_from_train, source_images, write_splits
from custom.datasets.pennfudan import DEFAULT_SPLIT
from custom.datasets.splits import counts_from_fraction
from custom.errors import report_user_errors

DEFAULT_VAL_FRACTION = 0.2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    parser.add_argument('--train', type=int, help='number of training images')
    parser.add_argument('--val', type=int, help='number of validation images')
    parser.add_argument('--val-fraction', type=float, default=None,
                        help='instead of --train/--val: use every image, this fraction for val')
    parser.add_argument('--seed', type=int, default=DEFAULT_SPLIT['seed'], help='shuffle seed (default 0)')
    parser.add_argument('--out-dir', type=Path, default=None, help='where to write (default ROOT/splits)')
    args = parser.parse_args(argv)
    if (args.train is None) != (args.val is None):
        parser.error('give --train and --val together (or --val-fraction)')
    return args


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    images = source_images(source_config_from_args(args), with_classes=True)
    n_train, n_val = args.train, args.val
    if n_train is None:
        if args.val_fraction is None and args.source == 'pennfudan':
            n_train, n_val = DEFAULT_SPLIT['n_train'], DEFAULT_SPLIT['n_val']
        else:
            fraction = args.val_fraction or DEFAULT_VAL_FRACTION
            n_train, n_val = counts_from_fraction(len(images.stems), fraction)
    out_dir = args.out_dir or Path(args.root) / 'splits'
    written = write_splits(images, out_dir, n_train=n_train, n_val=n_val, seed=args.seed)
    listed = {name: path.read_text(encoding='utf-8').split() for name, path in written.items()}
    for name, path in written.items():
        print(f'wrote {path} ({len(listed[name])} {name} images, seed {args.seed})')
    missing = classes_missing_from_train(images, listed['train'], listed['val'])
    if missing:
        print(f'warning: {written["train"]}: classes {", ".join(map(repr, missing))} have objects only in '
              'the validation images, none to train on: split with another --seed, or label more images of '
              'them', file=sys.stderr)


if __name__ == '__main__':
    sys.exit(main())
