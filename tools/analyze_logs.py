"""Plot loss, learning-rate and metric curves of a training run.

Runs custom/cli/analyze_logs.py (as `python -m custom.cli.analyze_logs` does); --help lists the flags.
"""

import sys

from custom.cli.analyze_logs import main

if __name__ == '__main__':
    sys.exit(main())
