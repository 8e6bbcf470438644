"""Overlapping tiles of a data set of any source, for training on tiles: tile images plus one COCO json.

``tile_dataset`` reads a source as the project loads it (the dataset class of its config entry, in test mode:
nothing filtered) and cuts each image along the grid sliced inference uses (custom/structures/tiles.py).
Each object becomes, in every tile that holds part of it, the part inside the tile (mask cropped; box = the
cropped mask's extent, or for a box-only object the box clipped to the tile), kept when at least
``min_visible`` of it lies inside (its mask's pixels, or its box's area without a mask) and dropped otherwise;
dropped pieces are counted in one warning. Ignore regions (COCO crowd, difficult, DontCare) are kept clipped,
whatever their visible fraction, with iscrowd=1, so a model trained on tiles is neither rewarded nor punished
there. Tiles without objects are written too (the training config's filter_empty_gt decides).

Written as the COCO export writes any source (``data_list_to_coco``): ``<out>/images/<stem>_<x1>_<y1>.png``
and ``<out>/annotations/<name>.json``, the layout configs/coco_json_maskrcnn.py reads (data_prefix
img='images/', ann_file='annotations/<name>.json').
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from tqdm import tqdm

from custom.data_tools.coco_export import data_list_to_coco
from custom.datasets.builder import dataset_as_read
from custom.errors import ConfigError, DataError
from custom.files import write_atomic, write_image
from custom.structures.masks import mask_extent_box, mask_to_rle, to_rle
from custom.structures.tiles import DEFAULT_OVERLAP, TileSize, tile_boxes

DEFAULT_MIN_VISIBLE = 0.5


@dataclass
class TilingSummary:
    images: int
    tiles: int
    objects: int  # object pieces written (ignore regions included)
    dropped: int  # pieces below min_visible
    annotations: Path


def clip_instance(instance: dict, mask: np.ndarray | None, tile: tuple[int, int, int, int],
                  min_visible: float) -> tuple[dict | None, bool]:
    """The part of one instance inside ``tile`` in tile coordinates (None when nothing of it is inside or
    the part is dropped), and whether it was dropped by the ``min_visible`` rule. ``mask`` is the instance's
    full-image bool mask, None for a box-only object."""
    x1, y1, x2, y2 = tile
    ignored = bool(instance.get('ignore_flag', 0))
    piece = {'bbox_label': instance['bbox_label'], 'ignore_flag': int(ignored)}
    if mask is not None and mask.any():
        crop = mask[y1:y2, x1:x2]
        inside = int(crop.sum())
        if inside == 0:
            return None, False
        fraction = inside / int(mask.sum())
        piece.update(bbox=mask_extent_box(crop), mask=mask_to_rle(crop))
    else:
        bx1, by1, bx2, by2 = (float(v) for v in instance['bbox'])
        cx1, cy1, cx2, cy2 = max(bx1, x1), max(by1, y1), min(bx2, x2), min(by2, y2)
        if cx2 <= cx1 or cy2 <= cy1:
            return None, False
        area = (bx2 - bx1) * (by2 - by1)
        fraction = (cx2 - cx1) * (cy2 - cy1) / area if area > 0 else 1.0
        piece['bbox'] = [cx1 - x1, cy1 - y1, cx2 - x1, cy2 - y1]
    if not ignored and fraction < min_visible:
        return None, True
    return piece, False


def tile_image(info: dict, image: np.ndarray, tile: TileSize, overlap: float,
               min_visible: float) -> tuple[list[tuple[tuple[int, int, int, int], list[dict]]], int]:
    """[(tile box, its instances)] of one image in the middle format, and the number of dropped pieces."""
    height, width = image.shape[:2]
    masks = []
    for instance in info['instances']:
        mask = instance.get('mask')
        masks.append(None if mask is None else
                     mask_utils.decode(to_rle(mask, height, width, info['img_path'])).astype(bool))
    tiles, dropped = [], 0
    for box in tile_boxes(width, height, tile, overlap):
        pieces = []
        for instance, mask in zip(info['instances'], masks, strict=True):
            piece, was_dropped = clip_instance(instance, mask, box, min_visible)
            dropped += was_dropped
            if piece is not None:
                pieces.append(piece)
        tiles.append((box, pieces))
    return tiles, dropped


def tile_dataset(dataset_cfg: dict, out: str | Path, tile: TileSize, overlap: float = DEFAULT_OVERLAP,
                 min_visible: float = DEFAULT_MIN_VISIBLE, name: str = 'tiles') -> TilingSummary:
    """Tiles of every image of a config entry's dataset under ``out`` (see the module docstring)."""
    if not 0 <= min_visible <= 1:
        raise ConfigError(f'--min-visible is a fraction in [0, 1], got {min_visible}')
    dataset = dataset_as_read(dataset_cfg)
    out = Path(out)
    image_dir = out / 'images'
    image_dir.mkdir(parents=True, exist_ok=True)
    data_list, dropped, taken = [], 0, set()
    for index in tqdm(range(len(dataset)), desc='tiling', unit='image', disable=len(dataset) < 20):
        info = dataset.get_data_info(index)
        image = cv2.imread(info['img_path'], cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(info['img_path'], 'cannot read the image (corrupt or unsupported format)')
        stem = Path(info['img_path']).stem
        if stem in taken:  # two folders' x.png: the tiles' names would collide
            stem = f'{stem}_{index}'
        taken.add(stem)
        tiles, image_dropped = tile_image(info, image, tile, overlap, min_visible)
        dropped += image_dropped
        for (x1, y1, x2, y2), pieces in tiles:
            path = image_dir / f'{stem}_{x1}_{y1}.png'
            write_image(path, image[y1:y2, x1:x2])
            data_list.append(dict(img_path=str(path), img_id=path.stem, height=y2 - y1, width=x2 - x1,
                                  instances=pieces))
    coco = data_list_to_coco(data_list, dataset.metainfo['classes'], 'rle', image_dir)
    coco['info']['description'] = (f'tiles {tile.width}x{tile.height}, overlap {overlap}, min_visible '
                                   f'{min_visible} (custom.data_tools.tiling)')
    annotations = out / 'annotations' / f'{name}.json'
    write_atomic(annotations, json.dumps(coco).encode())
    if dropped:
        print(f'warning: {dropped} object pieces dropped: less than {min_visible:g} of the object inside the '
              'tile (--min-visible)', file=sys.stderr)
    return TilingSummary(len(dataset), len(data_list), len(coco['annotations']), dropped, annotations)
