"""Download (or reuse) PennFudanPed.zip, unpack it into data/ and write the train/val splits.

    python tools/download_pennfudan.py                      # official URL, data/PennFudanPed, 120/50 split
    python tools/download_pennfudan.py --zip ~/PennFudanPed.zip   # offline: use a zip you already have

Existing splits/train.txt and splits/val.txt are kept (e.g. ones made with tools/make_splits.py); they are
written when missing (default 120 train / 50 val, seed 0) or rewritten when --train, --val or --seed is given.
"""

import argparse
import sys
from pathlib import Path

from custom.data_tools.pennfudan_download import (
    DEFAULT_ROOT,
    OFFICIAL_IMAGE_COUNT,
    OFFICIAL_URL,
    PUBLISHED_MD5,
    prepare_pennfudan,
)
from custom.datasets.pennfudan import DEFAULT_SPLIT
from custom.errors import report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', type=Path, default=DEFAULT_ROOT, help='where the dataset ends up')
    parser.add_argument('--zip', type=Path, default=None,
                        help='use this archive instead of downloading '
                             '(default: <root parent>/PennFudanPed.zip when present)')
    parser.add_argument('--url', default=OFFICIAL_URL, help='download URL (a mirror of the official zip)')
    parser.add_argument('--sha256', default=None,
                        help='expected sha256 of the zip; replaces the published md5 and the 170-image check')
    parser.add_argument('--train', type=int, default=None,
                        help='images in splits/train.txt (default 120); given: rewrite existing splits')
    parser.add_argument('--val', type=int, default=None,
                        help='images in splits/val.txt (default 50); given: rewrite existing splits')
    parser.add_argument('--seed', type=int, default=None,
                        help='shuffle seed of the split (default 0); given: rewrite existing splits')
    parser.add_argument('--timeout', type=float, default=30, help='network timeout in seconds')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    official = args.sha256 is None
    split_flags = (args.train, args.val, args.seed)
    prepare_pennfudan(args.root, zip_path=args.zip, url=args.url, sha256=args.sha256,
                      md5=PUBLISHED_MD5 if official else None,
                      expected_images=OFFICIAL_IMAGE_COUNT if official else None,
                      n_train=DEFAULT_SPLIT['n_train'] if args.train is None else args.train,
                      n_val=DEFAULT_SPLIT['n_val'] if args.val is None else args.val,
                      seed=DEFAULT_SPLIT['seed'] if args.seed is None else args.seed, timeout=args.timeout,
                      rewrite_splits=any(flag is not None for flag in split_flags))
    return 0


if __name__ == '__main__':
    sys.exit(main())
