"""Export a trained Mask R-CNN or Faster R-CNN to ONNX, to run with tools/infer.py --backend onnxruntime.

Runs custom/cli/export_onnx.py (as `python -m custom.cli.export_onnx` does); --help lists the flags.
"""

import sys

from custom.cli.export_onnx import main

if __name__ == '__main__':
    sys.exit(main())
