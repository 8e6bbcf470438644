"""Main job: train + evaluate on Penn-Fudan; offline without data it runs the embedded demo."""

import argparse
import sys
from pathlib import Path

from custom.data_tools.pennfudan_download import DEFAULT_ROOT
from custom.errors import report_user_errors
from custom.jobs.main_job import run_main_job


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--demo', action='store_true',
                        help='run the offline demo even when Penn-Fudan is available')
    parser.add_argument('--data-root', type=Path, default=DEFAULT_ROOT,
                        help='where Penn-Fudan is (or is downloaded to)')
    args = parser.parse_args(argv)
    run_main_job(force_demo=args.demo, data_root=args.data_root)


if __name__ == '__main__':
    sys.exit(main())
