"""Write a COCO instances json for a Penn-Fudan, VOC-XML or KITTI folder.

Examples::

    python tools/convert_to_coco.py pennfudan data/PennFudanPed --split splits/val.txt --out val.json
    python tools/convert_to_coco.py voc data/VOCdevkit/VOC2012 --split ImageSets/Segmentation/val.txt \\
        --with-mask --classes pedestrian --class-map person=pedestrian --out voc_val.json
    python tools/convert_to_coco.py kitti data/kitti/training --classes Car Pedestrian --out kitti.json
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from custom.coco_export import MASK_FORMATS, build_source_dataset, dataset_to_coco  # noqa: E402
from custom.datasets.sources import SOURCE_TYPES  # noqa: E402
from custom.errors import exit_on_user_error  # noqa: E402


def parse_class_map(pairs: list[str]) -> dict[str, str]:
    """``['person=pedestrian', 'Pedestrian=pedestrian']`` -> dict."""
    class_map = {}
    for pair in pairs:
        source, sep, target = pair.partition('=')
        if not sep or not source or not target:
            raise argparse.ArgumentTypeError(f'--class-map entries look like source=target, got {pair!r}')
        class_map[source] = target
    return class_map


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument('source', choices=sorted(SOURCE_TYPES), help='on-disk format of ROOT')
    parser.add_argument('root', help='dataset folder (data_root)')
    parser.add_argument(
        '--split', default='', help='list file of image stems, relative to ROOT; default: all'
    )
    parser.add_argument('--classes', nargs='+', help="class names (default: the dataset type's own)")
    parser.add_argument('--class-map', nargs='+', default=[], metavar='SRC=DST', help='rename source classes')
    parser.add_argument('--with-mask', action='store_true', help='voc: read SegmentationObject/ masks')
    parser.add_argument('--mask-format', choices=MASK_FORMATS, default='rle')
    parser.add_argument('--out', required=True, help='output json path')
    args = parser.parse_args(argv)

    try:
        class_map = parse_class_map(args.class_map)
    except argparse.ArgumentTypeError as err:
        parser.error(str(err))
    dataset = build_source_dataset(
        args.source, args.root, args.split, args.classes, class_map, args.with_mask
    )
    coco = dataset_to_coco(dataset, args.mask_format)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coco))
    print(
        f'{out}: {len(coco["images"])} images, {len(coco["annotations"])} annotations, '
        f'categories {[c["name"] for c in coco["categories"]]}'
    )


if __name__ == '__main__':
    exit_on_user_error(main)
