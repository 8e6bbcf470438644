"""Find likely label mistakes: a ranked review queue of annotations that predictions the model did not train
on contradict (missing objects, spurious annotations, bad outlines, wrong classes), and a page to review it.

After k-fold (its out-of-fold predictions: every image predicted by the fold model that did not train on it):
    python tools/find_label_errors.py work_dirs/pennfudan_maskrcnn_kfold5 --out-dir work_dirs/label_review
Or with a model's predictions on a split it did not train on (tools/test.py CONFIG CHECKPOINT --out p.pkl):
    python tools/find_label_errors.py p.pkl --config CONFIG --split val --out-dir work_dirs/label_review

Writes label_errors.csv and label_errors.json (the queue, highest score first, and every image's quality),
review.html with crops/ (open it from disk), and with --drafts the queue's images for correction in a
labelling tool. The scores and their formulas: docs/label_errors.md.
"""

import argparse
import sys
from pathlib import Path

from custom.analysis.label_errors import (
    KINDS,
    Settings,
    find_label_errors,
    write_correction_drafts,
    write_queue,
)
from custom.analysis.label_errors_page import write_review_page
from custom.analysis.predictions import has_masks, kfold_prediction_files, load_kfold_records
from custom.cli.arguments import add_prediction_arguments, records_from_args
from custom.datasets.drafts import DRAFT_FORMATS
from custom.errors import report_user_errors
from custom.evaluation.records import class_names

DEFAULT_MIN_SCORE = 0.3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_prediction_arguments(parser, 'a tools/kfold.py work dir (out-of-fold predictions), or a pickle '
                                     'written by tools/test.py --out on images the model did not train on')
    parser.add_argument('--kind', default='auto', choices=['auto', 'segm', 'bbox'],
                        help='compare masks (segm) or boxes; auto: masks when the predictions have them')
    parser.add_argument('--min-score', type=float, default=DEFAULT_MIN_SCORE,
                        help=f'rows scoring below this stay out of the queue (default {DEFAULT_MIN_SCORE}); '
                             'every image keeps its quality in the JSON')
    parser.add_argument('--drafts', nargs='+', default=[], choices=DRAFT_FORMATS, metavar='FORMAT',
                        help='also write the queue\'s images for correction in a labelling tool '
                             f'({", ".join(DRAFT_FORMATS)}) under <out-dir>/drafts/: every annotation, and '
                             'beside it each suggestion as a shape labelled <kind>?<class>')
    return parser.parse_args(argv)


def load_inputs(args: argparse.Namespace) -> tuple[list, list[str], str, str]:
    """(records, class names, kind, what the predictions are) of a k-fold work dir or a pickle."""
    path = Path(args.predictions)
    if path.is_dir():
        files = kfold_prediction_files(path)
        kind = args.kind if args.kind != 'auto' else ('segm' if has_masks(files[0][0]) else 'bbox')
        records, classes = load_kfold_records(path, kind == 'segm')
        classes = class_names(records, classes)
        source = (f'Out-of-fold predictions of the k-fold run {path} ({len(files)} folds): each image '
                  'predicted by the fold model that did not train on it')
        return records, classes, kind, source
    kind = args.kind if args.kind != 'auto' else ('segm' if has_masks(path) else 'bbox')
    records, classes = records_from_args(args, kind == 'segm')
    where = f'the {args.split} split of {args.config}' if args.config else 'the images in the pickle'
    source = (f'Predictions {path} on {where}: trustworthy only if the model did not train on these images '
              '(a held-out split)')
    if args.split == 'train' and args.config:
        print(f'warning: {source}; a model agrees with the labels it trained on, mistakes included',
              file=sys.stderr)
    return records, classes, kind, source


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    records, classes, kind, source = load_inputs(args)
    errors = find_label_errors(records, classes, Settings(kind, args.iou_thr, args.score_thr), source)
    out_dir = Path(args.out_dir)
    paths = write_queue(errors, out_dir, args.min_score)
    rows = errors.queue(args.min_score)
    page = write_review_page(errors, rows, out_dir)
    drafts = write_correction_drafts(errors, rows, args.drafts, out_dir) if args.drafts else []
    counts = ', '.join(f'{sum(row.kind == k for row in rows)} {k}' for k in KINDS)
    print(f'{source}.')
    print(f'{len(records)} images, {len(errors.suspects)} objects scored ({kind} IoU); {len(rows)} suspects '
          f'scoring >= {args.min_score:g}: {counts}')
    for path in (*paths.values(), page, *drafts):
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
