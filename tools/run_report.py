"""Write a short Markdown report (config summary, final/best metrics, curves) of a training run.

Runs custom/cli/run_report.py (as `python -m custom.cli.run_report` does); --help lists the flags.
"""

import sys

from custom.cli.run_report import main

if __name__ == '__main__':
    sys.exit(main())
