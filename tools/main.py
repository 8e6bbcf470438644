"""Main job: train + evaluate on Penn-Fudan; offline without data it runs the embedded demo.

Runs custom/cli/main.py (as `python -m custom.cli.main` does); --help lists the flags.
"""

import sys

from custom.cli.main import main

if __name__ == '__main__':
    sys.exit(main())
