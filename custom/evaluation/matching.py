"""Matching of predictions to ground truth and precision/recall counting (numpy + pycocotools only).

One image is an :class:`ImageRecord`; boxes are ``[x1, y1, x2, y2]`` with x2/y2 exclusive (area = w * h,
as in COCO) and masks are compressed COCO RLE dicts. Matching follows COCO: per class, predictions in
descending score order each take the unmatched, non-ignored GT of highest IoU >= threshold; a prediction
that finds none but covers an ignored GT (crowd IoU = intersection / prediction area >= threshold) is
neither TP nor FP; ignored GTs never count as FN.
"""

from dataclasses import dataclass, field

import numpy as np
import pycocotools.mask as mask_utils

KINDS = ('bbox', 'segm')

# The score from which the analysis tools (error report, confusion matrix, run report) and tools/infer.py
# count a detection: MMDetection's confusion_matrix.py and its visualization hook count from 0.3 too. One
# default, so the tools agree on the same predictions; each prints the threshold it used.
DEFAULT_SCORE_THR = 0.3


@dataclass
class ImageRecord:
    """Ground truth and predictions of one image in plain numpy / RLE form."""

    img_id: str
    gt_bboxes: np.ndarray  # (G, 4) float x1y1x2y2
    gt_labels: np.ndarray  # (G,) int
    gt_ignore: np.ndarray  # (G,) bool
    pred_bboxes: np.ndarray  # (P, 4) float x1y1x2y2
    pred_scores: np.ndarray  # (P,) float
    pred_labels: np.ndarray  # (P,) int
    gt_masks: list[dict] | None = None  # G compressed RLEs
    pred_masks: list[dict] | None = None  # P compressed RLEs
    pred_mask_scores: np.ndarray | None = None  # (P,) scores used for segm; None = pred_scores
    img_path: str = ''
    height: int = 0
    width: int = 0

    def scores_for(self, kind: str) -> np.ndarray:
        if kind == 'segm' and self.pred_mask_scores is not None:
            return self.pred_mask_scores
        return self.pred_scores


@dataclass
class ImageMatch:
    """Result of matching one image's predictions (sorted by descending score) at one IoU threshold."""

    pred_order: np.ndarray  # (K,) indices into the record's predictions, descending score
    pred_scores: np.ndarray  # (K,)
    pred_labels: np.ndarray  # (K,)
    pred_gt: np.ndarray  # (K,) index of the matched GT, -1 when unmatched
    pred_iou: np.ndarray  # (K,) IoU with the matched GT (0 when unmatched)
    pred_ignored: np.ndarray  # (K,) bool: matched to an ignored GT -> neither TP nor FP
    gt_labels: np.ndarray  # (G,)
    gt_ignore: np.ndarray  # (G,) bool
    gt_matched: np.ndarray  # (G,) bool

    @property
    def pred_tp(self) -> np.ndarray:
        return self.pred_gt >= 0

    @property
    def pred_fp(self) -> np.ndarray:
        return (self.pred_gt < 0) & ~self.pred_ignored

    @property
    def gt_fn(self) -> np.ndarray:
        return ~self.gt_matched & ~self.gt_ignore


@dataclass
class Counts:
    """True positives, false positives and false negatives, with the ratios derived from them."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    matched_ious: list[float] = field(default_factory=list)

    def add(self, other: 'Counts') -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.matched_ious.extend(other.matched_ious)

    @property
    def precision(self) -> float:
        # No predictions: perfect only when there was nothing to find either.
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float(self.fn == 0)

    @property
    def recall(self) -> float:
        # No ground truth: perfect only when nothing was predicted either.
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float(self.fp == 0)

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.matched_ious)) if self.matched_ious else 0.0

    @property
    def mean_dice(self) -> float:
        # Per pair Dice = 2|A∩B| / (|A| + |B|) = 2 IoU / (1 + IoU).
        ious = np.asarray(self.matched_ious, dtype=np.float64)
        return float(np.mean(2 * ious / (1 + ious))) if ious.size else 0.0


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray, crowd_b: np.ndarray | None = None) -> np.ndarray:
    """IoU matrix (A, B) of x1y1x2y2 boxes; for columns with ``crowd_b`` true: intersection / area of a."""
    boxes_a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    boxes_b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    area_a = (boxes_a[:, 2] - boxes_a[:, 0]).clip(0) * (boxes_a[:, 3] - boxes_a[:, 1]).clip(0)
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]).clip(0) * (boxes_b[:, 3] - boxes_b[:, 1]).clip(0)
    left_top = np.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    right_bottom = np.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    wh = (right_bottom - left_top).clip(0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    if crowd_b is not None:
        crowd_b = np.asarray(crowd_b, dtype=bool)
        union = np.where(crowd_b[None, :], np.broadcast_to(area_a[:, None], union.shape), union)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(union > 0, inter / union, 0.0)


def mask_iou(masks_a: list[dict], masks_b: list[dict], crowd_b: np.ndarray | None = None) -> np.ndarray:
    """IoU matrix (A, B) of compressed RLE masks; ``crowd_b`` columns use intersection / area of a."""
    if not masks_a or not masks_b:
        return np.zeros((len(masks_a), len(masks_b)))
    crowd = [0] * len(masks_b) if crowd_b is None else [int(c) for c in crowd_b]
    return np.asarray(mask_utils.iou(list(masks_a), list(masks_b), crowd), dtype=np.float64).reshape(
        len(masks_a), len(masks_b)
    )


def iou_for(record: ImageRecord, kind: str, pred_index: np.ndarray) -> np.ndarray:
    """IoU (len(pred_index), G) of the chosen predictions with all GTs; ignored GTs get crowd IoU."""
    if kind == 'bbox':
        return box_iou(record.pred_bboxes[pred_index], record.gt_bboxes, record.gt_ignore)
    if kind == 'segm':
        if record.pred_masks is None or record.gt_masks is None:
            raise ValueError(
                f'{record.img_path or record.img_id}: segm matching needs predicted and GT masks'
            )
        return mask_iou([record.pred_masks[i] for i in pred_index], record.gt_masks, record.gt_ignore)
    raise ValueError(f'unknown kind {kind!r}; expected one of {KINDS}')


def match_image(record: ImageRecord, kind: str, iou_thr: float, score_thr: float = 0.0) -> ImageMatch:
    """Greedy COCO-style matching of the predictions scoring >= ``score_thr`` to the GT of one image."""
    scores = np.asarray(record.scores_for(kind), dtype=np.float64)
    kept = np.nonzero(scores >= score_thr)[0]
    order = kept[np.argsort(-scores[kept], kind='stable')]
    gt_labels = np.asarray(record.gt_labels, dtype=np.int64)
    gt_ignore = np.asarray(record.gt_ignore, dtype=bool)
    ious = iou_for(record, kind, order) if order.size and gt_labels.size else np.zeros((order.size, 0))

    pred_labels = np.asarray(record.pred_labels, dtype=np.int64)[order]
    pred_gt = np.full(order.size, -1, dtype=np.int64)
    pred_iou = np.zeros(order.size)
    pred_ignored = np.zeros(order.size, dtype=bool)
    gt_matched = np.zeros(gt_labels.size, dtype=bool)
    for k in range(order.size):
        same_class = gt_labels == pred_labels[k]
        candidates = same_class & ~gt_ignore & ~gt_matched & (ious[k] >= iou_thr)
        if candidates.any():
            best = int(np.argmax(np.where(candidates, ious[k], -1.0)))
            pred_gt[k], pred_iou[k], gt_matched[best] = best, ious[k, best], True
        elif (same_class & gt_ignore & (ious[k] >= iou_thr)).any():
            pred_ignored[k] = True
    return ImageMatch(
        order, scores[order], pred_labels, pred_gt, pred_iou, pred_ignored, gt_labels, gt_ignore, gt_matched
    )


def count_matches(match: ImageMatch, label: int | None = None) -> Counts:
    """TP/FP/FN (and IoUs of the TP pairs) of one match, for one class or all when ``label`` is None."""
    pred_sel = np.ones(match.pred_labels.size, dtype=bool) if label is None else match.pred_labels == label
    gt_sel = np.ones(match.gt_labels.size, dtype=bool) if label is None else match.gt_labels == label
    tp = match.pred_tp & pred_sel
    return Counts(
        tp=int(tp.sum()),
        fp=int((match.pred_fp & pred_sel).sum()),
        fn=int((match.gt_fn & gt_sel).sum()),
        matched_ious=[float(v) for v in match.pred_iou[tp]],
    )


def evaluate_records(
    records: list[ImageRecord], kind: str, iou_thr: float, score_thr: float, labels: list[int]
) -> tuple[Counts, dict[int, Counts]]:
    """Overall and per-class counts over all images."""
    overall = Counts()
    per_class = {label: Counts() for label in labels}
    for record in records:
        match = match_image(record, kind, iou_thr, score_thr)
        overall.add(count_matches(match))
        for label in labels:
            per_class[label].add(count_matches(match, label))
    return overall, per_class


@dataclass
class PRCurve:
    """Precision/recall at every score cut-off (descending), plus COCO-style 101-point AP."""

    scores: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    num_gt: int
    ap: float


def pr_curve(matches: list[ImageMatch], label: int | None = None) -> PRCurve:
    """PR curve of matches made with score threshold 0 (greedy matching makes every prefix a valid match)."""
    scores, tps, fps, num_gt = [], [], [], 0
    for match in matches:
        pred_sel = (
            np.ones(match.pred_labels.size, dtype=bool) if label is None else match.pred_labels == label
        )
        keep = pred_sel & ~match.pred_ignored
        scores.append(match.pred_scores[keep])
        tps.append(match.pred_tp[keep])
        fps.append(match.pred_fp[keep])
        gt_sel = np.ones(match.gt_labels.size, dtype=bool) if label is None else match.gt_labels == label
        num_gt += int((gt_sel & ~match.gt_ignore).sum())
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    order = np.argsort(-all_scores, kind='mergesort')
    tp_cum = np.cumsum(np.concatenate(tps)[order]) if scores else np.zeros(0)
    fp_cum = np.cumsum(np.concatenate(fps)[order]) if scores else np.zeros(0)
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1)
    recall = tp_cum / num_gt if num_gt else np.zeros_like(tp_cum, dtype=np.float64)
    return PRCurve(all_scores[order], precision, recall, num_gt, interpolated_ap(precision, recall))


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """COCO 101-point interpolated average precision."""
    if precision.size == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0, 1, 101)
    index = np.searchsorted(recall, points, side='left')
    values = np.where(index < envelope.size, envelope[np.minimum(index, envelope.size - 1)], 0.0)
    return float(values.mean())
