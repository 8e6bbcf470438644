"""Download (or reuse) PennFudanPed.zip, unpack it into data/ and write the train/val splits.

    python tools/download_pennfudan.py                      # official URL, data/PennFudanPed, 120/50 split
    python tools/download_pennfudan.py --zip ~/PennFudanPed.zip   # offline: use a zip you already have
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom.download import DownloadError  # noqa: E402
from custom.errors import DataError  # noqa: E402
from custom.pennfudan_download import (  # noqa: E402
    DEFAULT_ROOT,
    OFFICIAL_IMAGE_COUNT,
    OFFICIAL_URL,
    PUBLISHED_MD5,
    prepare_pennfudan,
)


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
    parser.add_argument('--train', type=int, default=120, help='images in splits/train.txt')
    parser.add_argument('--val', type=int, default=50, help='images in splits/val.txt')
    parser.add_argument('--seed', type=int, default=0, help='shuffle seed of the split')
    parser.add_argument('--timeout', type=float, default=30, help='network timeout in seconds')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    official = args.sha256 is None
    try:
        prepare_pennfudan(args.root, zip_path=args.zip, url=args.url, sha256=args.sha256,
                          md5=PUBLISHED_MD5 if official else None,
                          expected_images=OFFICIAL_IMAGE_COUNT if official else None,
                          n_train=args.train, n_val=args.val, seed=args.seed, timeout=args.timeout)
    except (DownloadError, DataError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
