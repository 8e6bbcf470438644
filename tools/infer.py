"""Run a trained detector on images, folders or videos; writes overlays and results.json.

Runs custom/cli/infer.py (as `python -m custom.cli.infer` does); --help lists the flags.
"""

import sys

from custom.cli.infer import main

if __name__ == '__main__':
    sys.exit(main())
