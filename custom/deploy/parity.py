"""How closely an exported model's detections follow PyTorch's on the same image."""

from dataclasses import dataclass

import numpy as np

from custom.evaluation.matching import box_iou, mask_iou
from custom.structures.detections import Detections
from custom.structures.masks import mask_to_rle

# The agreement an export must reach: box IoU above, score difference below, mask IoU above.
MIN_BOX_IOU, MAX_SCORE_DIFF, MIN_MASK_IOU = 0.99, 1e-3, 0.98


@dataclass
class Agreement:
    """One image: detection counts of both backends and the worst matched pair (perfect values when empty)."""

    expected: int
    actual: int
    min_box_iou: float = 1.0
    max_score_diff: float = 0.0
    min_mask_iou: float = 1.0

    @property
    def ok(self) -> bool:
        return (self.expected == self.actual and self.min_box_iou > MIN_BOX_IOU
                and self.max_score_diff < MAX_SCORE_DIFF and self.min_mask_iou > MIN_MASK_IOU)


def agreement(expected: Detections, actual: Detections) -> Agreement:
    """Pairs each expected detection with the actual one of the same label it overlaps most; a detection left
    without its own partner (two sharing one, or counts that differ) shows as a box IoU of 0."""
    result = Agreement(len(expected), len(actual))
    if not len(expected) or not len(actual):
        result.min_box_iou = float(len(expected) == len(actual))
        return result
    ious = box_iou(expected.bboxes, actual.bboxes)
    ious[expected.labels[:, None] != actual.labels[None, :]] = 0
    match = ious.argmax(axis=1)
    paired = ious[np.arange(len(match)), match]
    result.min_box_iou = float(paired.min()) if len(set(match)) == len(match) else 0.0
    result.max_score_diff = float(np.abs(expected.scores - actual.scores[match]).max())
    if expected.masks is not None and actual.masks is not None:
        result.min_mask_iou = min(pair_mask_iou(expected.masks[i], actual.masks[j])
                                  for i, j in enumerate(match))
    return result


def pair_mask_iou(expected: np.ndarray, actual: np.ndarray) -> float:
    """IoU of two (H, W) masks; two empty masks agree (IoU 1). Both backends leave a mask empty when its box
    is thinner than a pixel: on the 170 real Penn-Fudan images the demo checkpoint has two such detections."""
    if not expected.any() and not actual.any():
        return 1.0
    return float(mask_iou([mask_to_rle(expected)], [mask_to_rle(actual)])[0, 0])
