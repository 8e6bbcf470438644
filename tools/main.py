"""Main job: train + evaluate on Penn-Fudan; offline without data it runs the embedded demo."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom.main_job import main  # noqa: E402
from custom.runtime import exit_on_user_error  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--demo', action='store_true',
                        help='run the offline demo even when Penn-Fudan is available')
    parser.add_argument('--data-root', type=Path, default=Path('data/PennFudanPed'),
                        help='where Penn-Fudan is (or is downloaded to)')
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    exit_on_user_error(lambda: main(force_demo=args.demo, data_root=args.data_root))
