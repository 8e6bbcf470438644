"""How closely one backend's detections follow another's on the same image: an exported model against
PyTorch (tools/export_onnx.py --verify), and the benchmarks' models against torchvision's."""

from dataclasses import dataclass

import numpy as np

from custom.evaluation.matching import box_iou, mask_iou
from custom.structures.detections import Detections
from custom.structures.masks import mask_to_rle

# The agreement an export must reach: box IoU above, score difference below, mask IoU above.
MIN_BOX_IOU, MAX_SCORE_DIFF, MIN_MASK_IOU = 0.99, 1e-3, 0.98


@dataclass(repr=False)
class Agreement:
    """Detection counts of both backends and, for each expected detection and its partner, the box IoU (0 for
    a detection left without its own partner), the score difference and the mask IoU (1 when neither backend
    gives masks, 0 when only one does). ``masks_only_in`` names the side ('expected' or 'actual') that alone
    gives masks, whatever the number of detections: an export that lost its mask output never agrees.

    The worst values (``min_box_iou``, ...) are perfect when there is nothing to pair; ``paired`` picks the
    pairs that overlap enough, for checks that tolerate a few missing partners (benchmarks/)."""

    expected: int
    actual: int
    box_ious: np.ndarray
    score_diffs: np.ndarray
    mask_ious: np.ndarray
    masks_only_in: str = ''

    @classmethod
    def combined(cls, agreements: list['Agreement']) -> 'Agreement':
        """Several images' agreements as one: counts added, pairs concatenated."""
        return cls(sum(a.expected for a in agreements), sum(a.actual for a in agreements),
                   *(np.concatenate([getattr(a, name) for a in agreements] or [np.zeros(0)])
                     for name in ('box_ious', 'score_diffs', 'mask_ious')),
                   ' and '.join(sorted({a.masks_only_in for a in agreements} - {''})))

    @property
    def min_box_iou(self) -> float:
        # Without pairs: perfect when both are empty, 0 when one backend found what the other did not.
        return float(self.box_ious.min()) if len(self.box_ious) else float(self.expected == self.actual)

    @property
    def max_score_diff(self) -> float:
        return float(self.score_diffs.max(initial=0.0))

    @property
    def min_mask_iou(self) -> float:
        return float(self.mask_ious.min(initial=1.0))

    def paired(self, min_box_iou: float) -> np.ndarray:
        """(expected,) bool: the detections paired with their own partner at a box IoU of at least this."""
        return self.box_ious >= min_box_iou

    @property
    def ok(self) -> bool:
        return (self.expected == self.actual and self.min_box_iou > MIN_BOX_IOU and not self.masks_only_in
                and self.max_score_diff < MAX_SCORE_DIFF and self.min_mask_iou > MIN_MASK_IOU)

    def __repr__(self) -> str:
        masks = f', masks_only_in={self.masks_only_in!r}' if self.masks_only_in else ''
        return (f'Agreement(expected={self.expected}, actual={self.actual}, min_box_iou={self.min_box_iou}, '
                f'max_score_diff={self.max_score_diff}, min_mask_iou={self.min_mask_iou}{masks})')


def agreement(expected: Detections, actual: Detections) -> Agreement:
    """Pairs each expected detection with the actual one of the same label it overlaps most; of several
    sharing one partner, the one overlapping it most keeps it and the others show a box IoU of 0."""
    count = len(expected)
    with_masks = expected.masks is not None, actual.masks is not None
    masks_only_in = {(True, False): 'expected', (False, True): 'actual'}.get(with_masks, '')
    if not count or not len(actual):
        return Agreement(count, len(actual), np.zeros(count), np.zeros(count),
                         np.full(count, 0.0 if masks_only_in else 1.0), masks_only_in)
    ious = box_iou(expected.bboxes, actual.bboxes)
    ious[expected.labels[:, None] != actual.labels[None, :]] = 0
    match = ious.argmax(axis=1)
    box_ious = ious[np.arange(count), match]
    for partner in np.unique(match):
        sharing = np.flatnonzero(match == partner)
        box_ious[sharing[sharing != sharing[box_ious[sharing].argmax()]]] = 0.0
    score_diffs = np.abs(expected.scores - actual.scores[match]).astype(np.float64)
    mask_ious = np.full(count, 0.0 if masks_only_in else 1.0)
    if all(with_masks):
        mask_ious = np.array([pair_mask_iou(expected.masks[i], actual.masks[j]) for i, j in enumerate(match)])
    return Agreement(count, len(actual), box_ious, score_diffs, mask_ious, masks_only_in)


def pair_mask_iou(expected: np.ndarray, actual: np.ndarray) -> float:
    """IoU of two (H, W) masks; two empty masks agree (IoU 1). Both backends leave a mask empty when its box
    is thinner than a pixel: on the 170 real Penn-Fudan images the demo checkpoint has two such detections."""
    if not expected.any() and not actual.any():
        return 1.0
    return float(mask_iou([mask_to_rle(expected)], [mask_to_rle(actual)])[0, 0])
