"""Cut a data set of any source into overlapping tiles for training on tiles (small objects in big images).

Writes OUT/images/<stem>_<x>_<y>.png and OUT/annotations/NAME.json (COCO instances), the layout of
configs/coco_json_maskrcnn.py. Objects are clipped to each tile and dropped (counted in a warning) when less
than --min-visible of them lies inside; ignore regions are kept clipped (iscrowd=1).

Examples::

    python tools/make_tiles.py pennfudan data/big_scenes --split splits/train.txt --tile 320x320 \\
        --overlap 0.2 --out data/big_tiles --name train
    python tools/make_tiles.py coco data/my_coco --split annotations/train.json --data-prefix img=images/ \\
        --tile 640x640 --out data/my_tiles --name train
"""

import argparse
import sys

from custom.cli.arguments import add_source_arguments, source_config_from_args
from custom.data_tools.tiling import DEFAULT_MIN_VISIBLE, tile_dataset
from custom.errors import report_user_errors
from custom.structures.tiles import DEFAULT_OVERLAP, parse_tile_size


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    parser.add_argument('--tile', required=True, metavar='WxH', help='tile size in pixels, e.g. 640x640')
    parser.add_argument('--overlap', type=float, default=DEFAULT_OVERLAP,
                        help='overlap of neighbouring tiles, a fraction of the tile size (default '
                             f'{DEFAULT_OVERLAP}, as --slice)')
    parser.add_argument('--min-visible', type=float, default=DEFAULT_MIN_VISIBLE,
                        help='keep an object piece when at least this fraction of the object (mask pixels, '
                             f'else box area) is inside the tile (default {DEFAULT_MIN_VISIBLE})')
    parser.add_argument('--out', required=True, help='output folder (images/, annotations/)')
    parser.add_argument('--name', default='tiles', help='annotation file name: OUT/annotations/NAME.json')
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    summary = tile_dataset(source_config_from_args(args), args.out, parse_tile_size(args.tile), args.overlap,
                           args.min_visible, args.name)
    print(f'{summary.annotations}: {summary.tiles} tiles of {summary.images} images, {summary.objects} '
          f'objects ({summary.dropped} pieces dropped)')


if __name__ == '__main__':
    sys.exit(main())
