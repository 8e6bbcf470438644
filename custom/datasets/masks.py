"""Conversions between binary instance masks and the middle format's box and RLE fields."""

import numpy as np
import pycocotools.mask as mask_utils


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a binary HxW mask, with ``counts`` as str (JSON friendly)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode('ascii')}


def mask_extent_box(mask: np.ndarray) -> list[float] | None:
    """Box ``[x1, y1, x2, y2]`` around the mask's pixels (x2, y2 exclusive), None when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
