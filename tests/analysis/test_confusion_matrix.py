"""Confusion matrix on the project's matcher: hand-counted cases with ignore regions, boxes and masks."""

import csv

import cv2
import numpy as np

from custom.analysis.confusion_report import write_confusion_matrices
from custom.evaluation.confusion import confusion_matrix
from custom.evaluation.matching import ImageRecord
from custom.structures.masks import mask_to_rle

CLASSES = ['person', 'car']
PERSON, CAR = 0, 1


def box_record(gt: list[tuple], preds: list[tuple]) -> ImageRecord:
    """gt: (box, label, ignored); preds: (box, score, label); boxes x1y1x2y2."""
    return ImageRecord(img_id='img', gt_bboxes=np.array([g[0] for g in gt], dtype=float).reshape(-1, 4),
                       gt_labels=np.array([g[1] for g in gt], dtype=np.int64),
                       gt_ignore=np.array([g[2] for g in gt], dtype=bool),
                       pred_bboxes=np.array([p[0] for p in preds], dtype=float).reshape(-1, 4),
                       pred_scores=np.array([p[1] for p in preds], dtype=float),
                       pred_labels=np.array([p[2] for p in preds], dtype=np.int64))


HAND_COUNTED = box_record(
    gt=[([0, 0, 10, 10], PERSON, False),    # found by the 0.9 person
        ([20, 0, 30, 10], CAR, False),      # detected as a person
        ([40, 0, 50, 10], PERSON, False),   # missed (its car detection scores under the threshold)
        ([60, 0, 80, 20], PERSON, True),    # ignore region: the car detection inside it counts nowhere
        ([20, 20, 30, 30], CAR, False)],    # found by the car; the person on it comes too late
    preds=[([0, 0, 10, 10], 0.9, PERSON),
           ([0, 0, 10, 10], 0.85, PERSON),  # duplicate: the GT is used once -> false positive
           ([20, 0, 30, 10], 0.8, PERSON),
           ([60, 0, 70, 10], 0.7, CAR),
           ([0, 30, 10, 40], 0.6, CAR),     # on nothing -> false positive
           ([20, 20, 30, 30], 0.5, CAR),
           ([20, 20, 30, 30], 0.4, PERSON),
           ([40, 0, 50, 10], 0.2, CAR)])


def test_hand_counted_boxes_with_an_ignore_region_a_confusion_a_duplicate_and_a_miss():
    matrix = confusion_matrix([HAND_COUNTED], 'bbox', len(CLASSES), iou_thr=0.5, score_thr=0.3)
    #                          detected: person car background
    assert matrix.tolist() == [[1, 0, 1],    # GT person
                               [1, 1, 0],    # GT car
                               [2, 1, 0]]    # background
    # Every counted detection is in exactly one column, every non-ignored GT in exactly one row.
    assert matrix[:, :2].sum() == 6 and matrix[:2].sum() == 4


def test_without_the_ignore_flag_the_same_detection_is_a_false_positive_and_the_gt_a_miss():
    gt = [([60, 0, 80, 20], PERSON, False)]
    preds = [([60, 0, 70, 10], 0.7, CAR)]
    assert confusion_matrix([box_record(gt, preds)], 'bbox', 2).tolist() == [[0, 0, 1], [0, 0, 0], [0, 1, 0]]
    ignored = [(gt[0][0], PERSON, True)]
    assert confusion_matrix([box_record(ignored, preds)], 'bbox', 2).sum() == 0


def test_the_iou_threshold_decides_between_a_hit_and_a_miss_plus_false_positive():
    record = box_record([([0, 0, 10, 10], PERSON, False)], [([0, 0, 10, 6], 0.9, PERSON)])  # IoU 0.6
    assert confusion_matrix([record], 'bbox', 2, iou_thr=0.5).tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert confusion_matrix([record], 'bbox', 2, iou_thr=0.7).tolist() == [[0, 0, 1], [0, 0, 0], [1, 0, 0]]


def test_masks_are_matched_by_mask_iou_where_the_boxes_agree():
    height, width = 40, 40
    gt_mask = np.zeros((height, width), dtype=np.uint8)
    gt_mask[0:30, 0:20] = 1
    pred_mask = np.zeros_like(gt_mask)
    pred_mask[0:10, 0:20] = 1
    pred_mask[29, 0] = 1  # same extent as the GT, a third of its pixels: box IoU 1, mask IoU about 0.34
    record = box_record([([0, 0, 20, 30], PERSON, False)], [([0, 0, 20, 30], 0.9, PERSON)])
    record.gt_masks, record.pred_masks = [mask_to_rle(gt_mask)], [mask_to_rle(pred_mask)]
    record.height, record.width = height, width
    assert confusion_matrix([record], 'bbox', 2).tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert confusion_matrix([record], 'segm', 2).tolist() == [[0, 0, 1], [0, 0, 0], [1, 0, 0]]


def test_csv_and_png_hold_the_counts_with_background_row_and_column(tmp_path):
    written = write_confusion_matrices([HAND_COUNTED, HAND_COUNTED], CLASSES, ['bbox'], tmp_path, 0.5, 0.3)
    rows = list(csv.reader(written['bbox']['csv'].open()))
    assert rows[0] == ['ground truth \\ detected', 'person', 'car', 'background']
    assert rows[1:] == [['person', '2', '0', '2'], ['car', '2', '2', '0'], ['background', '4', '2', '0']]
    image = cv2.imread(str(written['bbox']['png']))
    assert image is not None and image.shape[0] > 200 and image.std() > 10
