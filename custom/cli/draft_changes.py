"""What a human changed between a model's drafts and the corrected files: objects kept unchanged, moved,
relabelled, removed and added, per image and in total (custom/data_engine/changes.py says how objects are
matched). The two sides may be any sources the project reads, in the same format or not.

    # Label Studio: the tasks with predictions you imported against Label Studio's JSON export
    python tools/draft_changes.py labelstudio data/new labelstudio data/new \
        --drafts-split drafts.json --drafts-options results=predictions --corrected-split export.json
    # CVAT: the COCO drafts against CVAT's "COCO 1.0" export of the task
    python tools/draft_changes.py coco data/new coco data/new --drafts-split drafts.json \
        --corrected-split annotations/instances_default.json --corrected-prefix img=images/
    # labelme corrects the drafts in place: compare a copy of the drafts folder with the folder
    python tools/draft_changes.py labelme data/new_drafts labelme data/new --json changes.json

Prints a table (one row per image with --per-image) and the total; --json writes the same as JSON.
"""

import argparse
import json
import sys
from pathlib import Path

from custom.cli.arguments import SOURCE_TYPES, KeyValueAction, source_config
from custom.data_engine.changes import MATCH_IOU, UNCHANGED_IOU, changes_between
from custom.errors import ConfigError, report_user_errors
from custom.files import write_atomic

SIDES = ('drafts', 'corrected')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count what a human changed between drafts and corrections')
    for side in SIDES:
        parser.add_argument(f'{side}_source', choices=sorted(SOURCE_TYPES), metavar=f'{side.upper()}_SOURCE',
                            help=f'on-disk format of the {side} ({", ".join(sorted(SOURCE_TYPES))})')
        parser.add_argument(f'{side}_root', metavar=f'{side.upper()}_ROOT', help=f'data folder of the {side}')
    for side in SIDES:
        group = parser.add_argument_group(f'the {side}')
        group.add_argument(f'--{side}-split', default='', metavar='FILE',
                           help='split file relative to the root (or any path); coco, via, labelstudio: the '
                                'annotation json')
        group.add_argument(f'--{side}-prefix', nargs='+', action=KeyValueAction, default={},
                           metavar='KEY=FOLDER', help='folders relative to the root, e.g. img=images/')
        group.add_argument(f'--{side}-options', nargs='+', action=KeyValueAction, default={},
                           metavar='KEY=VALUE',
                           help='further arguments of the dataset class, e.g. results=predictions '
                                '(labelstudio), class_attribute=class group_attribute=group (via)')
    parser.add_argument('--classes', nargs='+', help="class names of both sides (default: each format's own)")
    parser.add_argument('--class-map', nargs='+', action=KeyValueAction, default={}, metavar='SRC=DST',
                        help='rename classes of both sides before matching --classes')
    parser.add_argument('--match-iou', type=float, default=MATCH_IOU,
                        help=f'a draft and a corrected object are the same object from this IoU (default '
                             f'{MATCH_IOU})')
    parser.add_argument('--unchanged-iou', type=float, default=UNCHANGED_IOU,
                        help=f'a matched object of the same class is unchanged from this IoU, else moved '
                             f'(default {UNCHANGED_IOU})')
    parser.add_argument('--per-image', action='store_true', help='a row per image, not only the total')
    parser.add_argument('--json', metavar='FILE', help='also write the counts as JSON')
    return parser.parse_args(argv)


def side_config(args: argparse.Namespace, side: str) -> dict:
    """The dataset config of one side's flags."""
    return source_config(getattr(args, f'{side}_source'), getattr(args, f'{side}_root'),
                         getattr(args, f'{side}_split'), args.classes, args.class_map,
                         getattr(args, f'{side}_prefix'), options=getattr(args, f'{side}_options'))


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 0 < args.match_iou <= args.unchanged_iou <= 1:
        raise ConfigError(f'need 0 < --match-iou ({args.match_iou}) <= --unchanged-iou '
                          f'({args.unchanged_iou}) <= 1')
    counts, classes = changes_between(side_config(args, 'drafts'), side_config(args, 'corrected'),
                                      match_iou=args.match_iou, unchanged_iou=args.unchanged_iou)
    print(f'classes: {", ".join(classes)}')
    print(counts.table(per_image=args.per_image))
    if args.json:
        write_atomic(Path(args.json), json.dumps(dict(counts.to_json(), classes=classes), indent=1).encode())
        print(f'written: {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
