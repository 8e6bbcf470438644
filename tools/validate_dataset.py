"""Check a data set before training: every problem of every image, as 'severity: path: problem'.

Runs custom/cli/validate_dataset.py (as `python -m custom.cli.validate_dataset` does); --help lists the flags.
"""

import sys

from custom.cli.validate_dataset import main

if __name__ == '__main__':
    sys.exit(main())
