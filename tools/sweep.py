"""Sweep: train several configs and settings, then rank them in a leaderboard.

Runs custom/cli/sweep.py (as `python -m custom.cli.sweep` does); --help lists the flags.
"""

import sys

from custom.cli.sweep import main

if __name__ == '__main__':
    sys.exit(main())
