"""Conversions between binary instance masks and the middle format's box and RLE fields, and reading of
instance-index PNGs."""

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image, UnidentifiedImageError

from custom.errors import DataError


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a binary HxW mask, with ``counts`` as str (JSON friendly)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode('ascii')}


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """Outer contours of a binary mask as COCO polygons ``[x1, y1, x2, y2, ...]`` (3+ points each), one per
    piece; holes are lost. The outlines run along the pixels' edges, so pycocotools rasterises a polygon back
    to exactly the pixels it outlines (OpenCV's contours run through the edge pixels' centres, half a pixel
    inside): the contours of the mask doubled in size pass through sub-pixels whose index halved and rounded
    up is the edge's coordinate (a left edge's sub-pixel index is even, a right edge's odd)."""
    doubled = np.kron(mask.astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(doubled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        points = -(-contour.reshape(-1, 2) // 2)  # ceil(index / 2)
        points = points[np.any(points != np.roll(points, 1, axis=0), axis=1)]  # repeated corners
        if len(points) >= 3:
            polygons.append(points.reshape(-1).astype(float).tolist())
    return polygons


def mask_extent_box(mask: np.ndarray) -> list[float] | None:
    """Box ``[x1, y1, x2, y2]`` around the mask's pixels (x2, y2 exclusive), None when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def to_numpy(value: Any) -> np.ndarray:
    """numpy array from a numpy array, a (CPU or GPU) torch tensor or a list."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def to_rle(mask: Any, height: int, width: int, where: str | Path) -> dict:
    """Compressed RLE (str counts) from an RLE dict (str, bytes or list counts), polygons or a binary mask.

    ``height``/``width`` are needed for polygons only; ``where`` names the file in a DataError.
    """
    if isinstance(mask, dict) and 'counts' in mask:
        if isinstance(mask['counts'], list):  # uncompressed RLE
            mask = mask_utils.frPyObjects(mask, *mask['size'])
        return _json_rle(mask)
    if isinstance(mask, list):  # polygons [[x, y, x, y, ...], ...]
        if not height or not width:
            raise DataError(where, 'polygon mask needs the image height and width')
        return _json_rle(mask_utils.merge(mask_utils.frPyObjects(mask, height, width)))
    array = to_numpy(mask)
    if array.ndim != 2:
        raise DataError(where, f'cannot read a mask of type {type(mask).__name__} with shape {array.shape}')
    return mask_to_rle(array)


def _json_rle(rle: dict) -> dict:
    counts = rle['counts']
    return {
        'size': [int(s) for s in rle['size']],
        'counts': counts.decode('ascii') if isinstance(counts, bytes) else counts,
    }


def read_index_png(path: str | Path, modes: tuple[str, ...], expected: str) -> np.ndarray:
    """Pixel values (HxW) of a single-channel instance-index PNG whose mode is one of ``modes``.

    Raises DataError naming the file when it is missing, unreadable or corrupt, or of another mode
    (``expected`` describes the wanted image, e.g. 'expected a palette PNG of object indices').
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, 'mask file not found')
    try:
        with Image.open(path) as img:
            if img.mode not in modes:
                raise DataError(path, f'{expected}, got mode {img.mode}')
            return np.array(img)
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(path, f'cannot read mask ({err})') from None
