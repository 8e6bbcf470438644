"""Check a data set before training: every problem of every image, as 'severity: path: problem'.

    python tools/validate_dataset.py pennfudan data/PennFudanPed --split splits/train.txt
    python tools/validate_dataset.py voc data/VOCdevkit/VOC2012 --classes person --with-mask
    python tools/validate_dataset.py kitti data/kitti --split ImageSets/train.txt --classes pedestrian \
        --data-prefix img=training/image_2/ ann=training/label_2/ --class-map Pedestrian=pedestrian
    python tools/validate_dataset.py --config configs/mixed_pedestrian_maskrcnn.py

Ends with 'N images checked: E errors, W warnings'; exit status 1 when there are errors.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmengine.config import Config, DictAction  # noqa: E402

from custom.datasets.sources import SOURCE_TYPES, source_config  # noqa: E402
from custom.errors import exit_on_user_error  # noqa: E402
from custom.validation import print_report, validate_config, validate_source  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Validate a data set (or every data set of a config)')
    parser.add_argument('source', nargs='?', choices=sorted(SOURCE_TYPES), help='format of the data set')
    parser.add_argument('root', nargs='?', help='data set root folder')
    parser.add_argument('--split', default='', help='split file relative to root (default: every image)')
    parser.add_argument('--classes', nargs='+', help="class names (default: the format's own classes)")
    parser.add_argument('--class-map', nargs='+', action=DictAction, default={},
                        help='source name -> class name, e.g. person=pedestrian')
    parser.add_argument('--data-prefix', nargs='+', action=DictAction, default={},
                        help='folders relative to root, e.g. img=JPEGImages/ ann=Annotations/')
    parser.add_argument('--with-mask', action='store_true', help='VOC: also check SegmentationObject masks')
    parser.add_argument('--config', help='validate every data set this config trains, validates and tests on')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--errors-only', action='store_true', help='do not print warnings (still counted)')
    args = parser.parse_args()
    if bool(args.config) == bool(args.source and args.root):
        parser.error('give either SOURCE ROOT or --config CONFIG')
    return args


def main() -> int:
    args = parse_args()
    if args.config:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        reports = validate_config(cfg, args.config)
    else:
        dataset_cfg = source_config(args.source, args.root, args.split, args.classes, args.class_map,
                                    args.data_prefix, args.with_mask)
        reports = [validate_source(dataset_cfg, f'{args.source} {args.root}')]
    return print_report(reports, sys.stdout, show_warnings=not args.errors_only)


if __name__ == '__main__':
    exit_on_user_error(main)
