"""Polygon masks of the json sources (COCO, labelme, VIA): drawn shapes as polygons, the checks every polygon
passes, and the box around an instance's polygons.

Masks stay polygons (COCO's ``[[x1, y1, x2, y2, ...], ...]``, several parts for one instance) rather than RLE,
as mmdet's CocoDataset keeps them: ``LoadAnnotations`` rasterises them with ``poly2mask=True`` and keeps them
as ``PolygonMasks`` with ``poly2mask=False`` (RTMDet-Ins), so these sources suit both kinds of pipeline.
"""

import math
from collections.abc import Sequence
from pathlib import Path

import pycocotools.mask as mask_utils

from custom.datasets.images import clip_box
from custom.errors import DataError

# Vertices of a circle or ellipse outline: a 64-gon stays within 0.12% of the radius of the curve
# (r * (1 - cos(pi / 64))), half a pixel for a radius of 400 px.
ELLIPSE_VERTICES = 64
NUMBER_TYPES = frozenset({int, float})  # a json's numbers; bool, str and None are refused


def rectangle_polygon(x1: float, y1: float, x2: float, y2: float) -> list[float]:
    """The four corners of a box, clockwise from (x1, y1)."""
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def ellipse_polygon(cx: float, cy: float, rx: float, ry: float, theta: float = 0.0) -> list[float]:
    """``ELLIPSE_VERTICES`` points on an ellipse with radii ``rx``/``ry`` rotated by ``theta`` radians."""
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    coords = []
    for i in range(ELLIPSE_VERTICES):
        a = 2 * math.pi * i / ELLIPSE_VERTICES
        x, y = rx * math.cos(a), ry * math.sin(a)
        coords += [cx + x * cos_t - y * sin_t, cy + x * sin_t + y * cos_t]
    return coords


def checked_polygon(coords: Sequence, width: int, height: int, path: str | Path, where: str) -> list[float]:
    """``coords`` (flat x, y, x, y, ...) as floats; DataError naming ``where`` when it has fewer than 3
    points, is not numbers, or covers no pixel of the image (points on one line, a shape retracing itself, a
    polygon outside the image): mmdet would turn such an instance into an ignored one without a word."""
    # type() rather than isinstance: True is an int to isinstance; map() keeps the loops in C (twice as fast,
    # and a 50,000-image data set checks half a million polygons)
    if not (isinstance(coords, (list, tuple)) and set(map(type, coords)) <= NUMBER_TYPES
            and all(map(math.isfinite, coords))):
        raise DataError(path, f'{where}: polygon coordinates must be a list of numbers, got {coords!r:.80}')
    if len(coords) % 2:
        raise DataError(path, f'{where}: polygon has an odd number of coordinates ({len(coords)})')
    if len(coords) < 6:
        raise DataError(path, f'{where}: polygon with {len(coords) // 2} points (a polygon needs at least 3)')
    coords = list(map(float, coords))
    if not mask_utils.area(mask_utils.frPyObjects([coords], height, width))[0]:
        raise DataError(path, f'{where}: polygon covers no pixel of the {width}x{height} image (points on '
                              'one line, or outside the image)')
    return coords


def polygons_box(polygons: Sequence[Sequence[float]], width: int, height: int) -> list[float]:
    """``[x1, y1, x2, y2]`` around the points of every part, clipped to the image."""
    xs = [x for polygon in polygons for x in polygon[0::2]]
    ys = [y for polygon in polygons for y in polygon[1::2]]
    return clip_box([min(xs), min(ys), max(xs), max(ys)], width, height)
