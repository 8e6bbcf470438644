"""Write seeded train/val split files for a Penn-Fudan style folder.

Example: python tools/make_splits.py data/PennFudanPed --train 120 --val 50 --seed 0
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom.datasets.splits import counts_from_fraction, list_stems, write_splits  # noqa: E402
from custom.errors import exit_on_user_error  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('root', type=Path, help='dataset folder holding PNGImages/')
    parser.add_argument('--train', type=int, default=120, help='number of training images (default 120)')
    parser.add_argument('--val', type=int, default=50, help='number of validation images (default 50)')
    parser.add_argument('--val-fraction', type=float, default=None,
                        help='instead of --train/--val: use every image, this fraction for val')
    parser.add_argument('--seed', type=int, default=0, help='shuffle seed (default 0)')
    parser.add_argument('--out-dir', type=Path, default=None, help='where to write (default ROOT/splits)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    n_train, n_val = args.train, args.val
    if args.val_fraction is not None:
        n_train, n_val = counts_from_fraction(len(list_stems(args.root)), args.val_fraction)
    written = write_splits(args.root, args.out_dir, n_train=n_train, n_val=n_val, seed=args.seed)
    for name, path in written.items():
        count = len(path.read_text(encoding='utf-8').split())
        print(f'wrote {path} ({count} {name} images, seed {args.seed})')


if __name__ == '__main__':
    exit_on_user_error(main)
