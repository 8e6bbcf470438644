"""Confusion matrix of detections against ground truth, on the project's matcher (boxes or masks).

MMDetection's ``tools/analysis_tools/confusion_matrix.py`` is box-only, counts every GT a detection overlaps
(one detection can be a hit and a confusion at once) and counts ignore regions and ``difficult`` objects as
misses. Here, per image and at one IoU and score threshold:

1. ``match_image`` pairs detections with GT of their own class (COCO's greedy rule): the diagonal.
2. The detections still unmatched, in descending score, each take the unmatched GT of another class with the
   highest IoU >= the threshold: cell (GT class, detected class). One detection and one GT are used once.
3. A detection left over that covers an ignored GT of any class (crowd IoU, as in the matcher) is neither hit
   nor miss; any other is a false positive: row ``background``. A GT left unmatched is a miss: column
   ``background``. Ignored GT never count.

Rows are ground truth, columns detections, both ``classes + ['background']``; the background/background cell
stays 0.
"""

import numpy as np

from custom.evaluation.matching import DEFAULT_SCORE_THR, ImageRecord, iou_for, match_image

BACKGROUND = 'background'


def image_confusion(record: ImageRecord, kind: str, iou_thr: float, score_thr: float,
                    num_classes: int) -> np.ndarray:
    """(C+1, C+1) counts of one image; index ``num_classes`` is the background row/column."""
    counts = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    match = match_image(record, kind, iou_thr, score_thr)
    for k in np.nonzero(match.pred_tp)[0]:
        label = int(match.pred_labels[k])
        counts[label, label] += 1
    left = [k for k in range(match.pred_order.size) if not match.pred_tp[k] and not match.pred_ignored[k]]
    gt_free = ~match.gt_matched & ~match.gt_ignore
    if left and match.gt_labels.size:
        ious = iou_for(record, kind, match.pred_order[left])
    for row, k in enumerate(left):  # pred_order is already descending score
        pred_label = int(match.pred_labels[k])
        if match.gt_labels.size:
            candidates = gt_free & (ious[row] >= iou_thr)
            if candidates.any():
                best = int(np.argmax(np.where(candidates, ious[row], -1.0)))
                gt_free[best] = False
                counts[int(match.gt_labels[best]), pred_label] += 1
                continue
            if (match.gt_ignore & (ious[row] >= iou_thr)).any():
                continue
        counts[num_classes, pred_label] += 1
    for g in np.nonzero(gt_free)[0]:
        counts[int(match.gt_labels[g]), num_classes] += 1
    return counts


def confusion_matrix(records: list[ImageRecord], kind: str, num_classes: int, iou_thr: float = 0.5,
                     score_thr: float = DEFAULT_SCORE_THR) -> np.ndarray:
    """Sum of ``image_confusion`` over the images."""
    total = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for record in records:
        total += image_confusion(record, kind, iou_thr, score_thr, num_classes)
    return total
