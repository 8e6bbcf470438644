"""Serve a trained detector over HTTP: an API, a page to try it, API docs (docs/serving.md).

Runs custom/cli/serve.py (as `python -m custom.cli.serve` does); --help lists the flags.
"""

import sys

from custom.cli.serve import main

if __name__ == '__main__':
    sys.exit(main())
