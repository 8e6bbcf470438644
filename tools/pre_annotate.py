"""Pre-annotate images with a trained model: drafts to correct in labelme, CVAT (COCO), Label Studio or VIA.

Runs custom/cli/pre_annotate.py (as `python -m custom.cli.pre_annotate` does); --help lists the flags.
"""

import sys

from custom.cli.pre_annotate import main

if __name__ == '__main__':
    sys.exit(main())
