"""The overlapping tile grid of an image, shared by sliced inference (custom/apis/slicing.py) and tiling for
training (custom/data_tools/tiling.py), so both cut an image the same way.

The grid is SAHI's (``sahi.slicing.get_slice_bboxes``): tiles of the given size from the top-left corner,
neighbours overlapping by ``int(overlap * size)`` pixels, the last tile of a row or column moved back inside
the image so every tile has the full size; an image smaller than a tile is one tile, the image itself.
"""

import re
from typing import NamedTuple

from sahi.slicing import get_slice_bboxes

from custom.errors import ConfigError

# SAHI's default overlap, for sliced inference and for the tiles a model trains on alike.
DEFAULT_OVERLAP = 0.2


class TileSize(NamedTuple):
    width: int
    height: int


def parse_tile_size(text: str) -> TileSize:
    """'640x480' (or '640') -> TileSize(640, 480); ConfigError on anything else."""
    match = re.fullmatch(r'\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*', text)
    if not match or int(match[1]) < 1 or (match[2] is not None and int(match[2]) < 1):
        raise ConfigError(f'a tile size is WIDTHxHEIGHT in pixels (e.g. 640x640), got {text!r}')
    width = int(match[1])
    return TileSize(width, int(match[2]) if match[2] else width)


def check_overlap(overlap: float) -> float:
    if not 0 <= overlap < 1:
        raise ConfigError(f'the tile overlap is a fraction of the tile size in [0, 1), got {overlap}')
    return overlap


def tile_boxes(width: int, height: int, tile: TileSize, overlap: float) -> list[tuple[int, int, int, int]]:
    """The tiles of a width x height image as (x1, y1, x2, y2), x2/y2 exclusive, row by row."""
    check_overlap(overlap)
    boxes = get_slice_bboxes(height, width, slice_height=tile.height, slice_width=tile.width,
                             auto_slice_resolution=False, overlap_height_ratio=overlap,
                             overlap_width_ratio=overlap)
    return [tuple(int(v) for v in box) for box in boxes]
