"""Train a detector from a config; same flags as MMDetection's tools/train.py.

Runs custom/cli/train.py (as `python -m custom.cli.train` does); --help lists the flags.
"""

import sys

from custom.cli.train import main

if __name__ == '__main__':
    sys.exit(main())
