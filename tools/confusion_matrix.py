"""Confusion matrix (boxes and/or masks) of a tools/test.py --out pickle, as CSV and PNG.

Runs custom/cli/confusion_matrix.py (as `python -m custom.cli.confusion_matrix` does); --help lists the flags.
"""

import sys

from custom.cli.confusion_matrix import main

if __name__ == '__main__':
    sys.exit(main())
