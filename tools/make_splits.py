"""Write seeded train/val split files for a data set of any source.

Runs custom/cli/make_splits.py (as `python -m custom.cli.make_splits` does); --help lists the flags.
"""

import sys

from custom.cli.make_splits import main

if __name__ == '__main__':
    sys.exit(main())
