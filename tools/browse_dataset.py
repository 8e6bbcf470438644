"""Draw a config's data as the model gets it: ground truth after the pipeline, to PNGs or a contact sheet.

Runs custom/cli/browse_dataset.py (as `python -m custom.cli.browse_dataset` does); --help lists the flags.
"""

import sys

from custom.cli.browse_dataset import main

if __name__ == '__main__':
    sys.exit(main())
