"""Cut a data set of any source into overlapping tiles (COCO json + tile images) for training on tiles.

Runs custom/cli/make_tiles.py (as `python -m custom.cli.make_tiles` does); --help lists the flags.
"""

import sys

from custom.cli.make_tiles import main

if __name__ == '__main__':
    sys.exit(main())
