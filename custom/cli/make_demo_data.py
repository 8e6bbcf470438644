"""Generate a small synthetic pedestrian data set in the Penn-Fudan layout (for CPU demos and tests).

Example: python tools/make_demo_data.py data/DemoPed --images 40 --size 160 128 --seed 0 --val 10
"""

import argparse
import sys
from pathlib import Path

from custom.data_tools.demo_data import generate_demo_dataset
from custom.errors import report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out_dir', type=Path, help='folder to create (PNGImages/, PedMasks/, Annotation/)')
    parser.add_argument('--images', type=int, default=40, help='number of images (default 40)')
    parser.add_argument('--size', type=int, nargs=2, default=(160, 128), metavar=('WIDTH', 'HEIGHT'),
                        help='image size in px (default 160 128)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--val', type=int, default=None,
                        help='also write splits/train.txt and splits/val.txt with this many val images '
                             '(default: a quarter of the images); 0 = no split files')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    n_val = max(1, args.images // 4) if args.val is None else args.val
    summary = generate_demo_dataset(args.out_dir, n_images=args.images, size=tuple(args.size), seed=args.seed,
                                    n_val=n_val or None)
    print(f'wrote {summary.n_images} images with {summary.n_instances} pedestrians to {summary.root}')
    for name, path in (summary.splits or {}).items():
        print(f'wrote {path} ({len(path.read_text().split())} {name} images)')


if __name__ == '__main__':
    sys.exit(main())
