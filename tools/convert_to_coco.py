"""Write a COCO instances json for a Penn-Fudan, VOC-XML or KITTI folder.

Runs custom/cli/convert_to_coco.py (as `python -m custom.cli.convert_to_coco` does); --help lists the flags.
"""

import sys

from custom.cli.convert_to_coco import main

if __name__ == '__main__':
    sys.exit(main())
