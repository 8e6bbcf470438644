"""Evaluate a checkpoint on a config's test set; same flags as MMDetection's tools/test.py.

Runs custom/cli/test.py (as `python -m custom.cli.test` does); --help lists the flags.
"""

import sys

from custom.cli.test import main

if __name__ == '__main__':
    sys.exit(main())
