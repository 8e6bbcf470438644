"""Download (or reuse) PennFudanPed.zip, unpack it into data/ and write the train/val splits.

Runs custom/cli/download_pennfudan.py (as `python -m custom.cli.download_pennfudan` does); --help: flags.
"""

import sys

from custom.cli.download_pennfudan import main

if __name__ == '__main__':
    sys.exit(main())
