"""Check a data set before training: every problem of every image, as 'severity: path: problem'.

    python tools/validate_dataset.py pennfudan data/PennFudanPed --split splits/train.txt
    python tools/validate_dataset.py voc data/VOCdevkit/VOC2012 --classes person --with-mask
    python tools/validate_dataset.py kitti data/kitti --split ImageSets/train.txt --classes pedestrian \
        --data-prefix img=training/image_2/ ann=training/label_2/ --class-map Pedestrian=pedestrian
    python tools/validate_dataset.py coco data/my_coco --split annotations/train.json \
        --data-prefix img=images/
    python tools/validate_dataset.py labelme data/my_labelme --classes person car
    python tools/validate_dataset.py --config configs/mixed_pedestrian_maskrcnn.py
    python tools/validate_dataset.py coco data/big_coco --split annotations/train.json --workers 4

Ends with 'N images checked: E errors, W warnings'; exit status 1 when there are errors.
"""

import argparse
import sys

from custom.cli.arguments import KeyValueAction, add_source_arguments, source_config_from_args
from custom.data_tools.validation import print_report, validate_config, validate_source
from custom.engine.runtime import load_config
from custom.errors import report_user_errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Validate a data set (or every data set of a config)')
    add_source_arguments(parser, required=False)
    parser.add_argument('--config', help='validate every data set this config trains, validates and tests on '
                                         '(with --classes and --data-root: as tools/train.py would set them)')
    parser.add_argument('--data-root', help='with --config: the data folder of every dataset of the config')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction, help='override config settings')
    parser.add_argument('--errors-only', action='store_true', help='do not print warnings (still counted)')
    parser.add_argument('--workers', type=int, default=1,
                        help="parse and decode the images in this many processes (the project's data sets; "
                             'default 1): for tens of thousands of images on a machine with free cores '
                             '(2 on an idle 2-core CPU: 50,000 images in 35-50 s instead of 55-67 s, '
                             'docs/benchmarks.md)')
    args = parser.parse_args(argv)
    if bool(args.config) == bool(args.source and args.root):
        parser.error('give either SOURCE ROOT or --config CONFIG')
    if args.workers < 1:
        parser.error(f'--workers must be at least 1, got {args.workers}')
    return args


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.config:
        cfg = load_config(args.config, args.cfg_options, data_root=args.data_root, classes=args.classes)
        reports = validate_config(cfg, args.config, args.workers)
    else:
        reports = [validate_source(source_config_from_args(args), f'{args.source} {args.root}', args.workers)]
    return print_report(reports, sys.stdout, show_warnings=not args.errors_only)


if __name__ == '__main__':
    sys.exit(main())
