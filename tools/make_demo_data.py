"""Generate a small synthetic pedestrian data set in the Penn-Fudan layout (for CPU demos and tests).

Runs custom/cli/make_demo_data.py (as `python -m custom.cli.make_demo_data` does); --help lists the flags.
"""

import sys

from custom.cli.make_demo_data import main

if __name__ == '__main__':
    sys.exit(main())
