"""Write a COCO instances json for a data set of any source (Penn-Fudan, VOC-XML, KITTI, labelme, VIA, COCO).

Examples::

    python tools/convert_to_coco.py pennfudan data/PennFudanPed --split splits/val.txt --out val.json
    python tools/convert_to_coco.py voc data/VOCdevkit/VOC2012 --split ImageSets/Segmentation/val.txt \\
        --with-mask --classes pedestrian --class-map person=pedestrian --out voc_val.json
    python tools/convert_to_coco.py voc my_labels --data-prefix img=images/ ann=annotations/ --out labels.json
    python tools/convert_to_coco.py kitti data/kitti/training --classes Car Pedestrian --out kitti.json
    python tools/convert_to_coco.py labelme data/my_labelme --classes person car --out labelme.json
"""

import argparse
import json
import sys
from pathlib import Path

from custom.cli.arguments import add_source_arguments, source_config_from_args
from custom.data_tools.coco_export import MASK_FORMATS, export_dataset
from custom.errors import report_user_errors


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    parser.add_argument('--mask-format', choices=MASK_FORMATS, default='rle')
    parser.add_argument('--out', required=True, help='output json path')
    args = parser.parse_args(argv)
    coco = export_dataset(source_config_from_args(args), args.mask_format)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coco))
    print(f'{out}: {len(coco["images"])} images, {len(coco["annotations"])} annotations, '
          f'categories {[c["name"] for c in coco["categories"]]}')


if __name__ == '__main__':
    sys.exit(main())
