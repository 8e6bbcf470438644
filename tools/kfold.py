"""k-fold cross-validation: train and test k folds of a config's training data, report mean and std AP.

Runs custom/cli/kfold.py (as `python -m custom.cli.kfold` does); --help lists the flags.
"""

import sys

from custom.cli.kfold import main

if __name__ == '__main__':
    sys.exit(main())
