"""Find likely label mistakes: a ranked review queue and a review page from predictions the model did not
train on (k-fold's out-of-fold predictions, or a held-out split).

Runs custom/cli/find_label_errors.py (as `python -m custom.cli.find_label_errors` does); --help lists the
flags.
"""

import sys

from custom.cli.find_label_errors import main

if __name__ == '__main__':
    sys.exit(main())
