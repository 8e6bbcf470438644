"""Count what a human changed between a model's drafts and the corrected files (added, removed, moved,
relabelled, unchanged), per image and in total.

Runs custom/cli/draft_changes.py (as `python -m custom.cli.draft_changes` does); --help lists the flags.
"""

import sys

from custom.cli.draft_changes import main

if __name__ == '__main__':
    sys.exit(main())
