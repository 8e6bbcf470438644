"""Per-image error report (missed objects, false positives) and PR curves from a tools/test.py --out pickle.

Runs custom/cli/error_report.py (as `python -m custom.cli.error_report` does); --help lists the flags.
"""

import sys

from custom.cli.error_report import main

if __name__ == '__main__':
    sys.exit(main())
