"""Conversion of mmdet data samples, test-result pickles and middle-format instances to ImageRecords."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from custom.errors import DataError
from custom.evaluation.matching import ImageRecord
from custom.structures.masks import to_numpy, to_rle


def masks_to_rles(masks: Any, height: int, width: int, where: str) -> list[dict]:
    """List of compressed RLEs from a (N, H, W) tensor/array or a sequence of per-instance masks."""
    if not isinstance(masks, (list, tuple)):
        masks = list(to_numpy(masks))
    return [to_rle(mask, height, width, where) for mask in masks]


def record_from_sample(
    sample: dict, with_masks: bool, index: int = 0, instances: Sequence[dict] | None = None
) -> ImageRecord:
    """ImageRecord from one data sample dict (what metrics get, and what DumpDetResults pickles).

    ``sample['pred_instances']`` holds bboxes/scores/labels (+ masks, mask_scores); ground truth is taken from
    ``instances`` when given, else from ``sample['instances']`` (PackDetInputs meta key, middle format).
    """
    where = str(sample.get('img_path') or sample.get('img_id', f'sample {index}'))
    if 'pred_instances' not in sample:
        raise DataError(where, 'data sample has no pred_instances')
    if instances is None:
        if 'instances' not in sample:
            raise DataError(
                where, "no ground truth: add 'instances' to PackDetInputs meta_keys or pass a dataset config"
            )
        instances = sample['instances']
    height, width = (
        int(v) for v in sample.get('ori_shape', (sample.get('height', 0), sample.get('width', 0)))
    )
    pred = sample['pred_instances']
    record = ImageRecord(
        img_id=str(sample.get('img_id', index)),
        img_path=str(sample.get('img_path', '')),
        height=height,
        width=width,
        pred_bboxes=to_numpy(pred['bboxes']).astype(np.float64).reshape(-1, 4),
        pred_scores=to_numpy(pred['scores']).astype(np.float64).reshape(-1),
        pred_labels=to_numpy(pred['labels']).astype(np.int64).reshape(-1),
        **gt_arrays(instances, height, width, with_masks, where),
    )
    if 'mask_scores' in pred:
        record.pred_mask_scores = to_numpy(pred['mask_scores']).astype(np.float64).reshape(-1)
    if with_masks:
        if 'masks' not in pred:
            raise DataError(where, 'segm evaluation needs pred_instances.masks (the model predicts no masks)')
        record.pred_masks = masks_to_rles(pred['masks'], height, width, where)
    return record


def gt_arrays(instances: Sequence[dict], height: int, width: int, with_masks: bool, where: str) -> dict:
    """ImageRecord GT fields from middle-format instances (bbox x1y1x2y2, bbox_label, ignore_flag, mask)."""
    boxes, labels, ignore, masks = [], [], [], []
    for i, instance in enumerate(instances):
        if 'bbox' not in instance or 'bbox_label' not in instance:
            raise DataError(where, f'instance {i} lacks bbox or bbox_label')
        boxes.append([float(v) for v in instance['bbox']])
        labels.append(int(instance['bbox_label']))
        ignore.append(bool(instance.get('ignore_flag', 0)))
        if with_masks:
            if instance.get('mask') is None:
                raise DataError(where, f'instance {i} has no mask; segm evaluation needs GT masks')
            masks.append(to_rle(instance['mask'], height, width, where))
    return dict(
        gt_bboxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        gt_labels=np.asarray(labels, dtype=np.int64),
        gt_ignore=np.asarray(ignore, dtype=bool),
        gt_masks=masks if with_masks else None,
    )


def class_names(records: Sequence[ImageRecord], classes: Sequence[str] = ()) -> list[str]:
    """The given class names, or 'class<i>' names covering every label that occurs in the records."""
    if classes:
        return list(classes)
    top = max(
        [int(r.gt_labels.max(initial=-1)) for r in records]
        + [int(r.pred_labels.max(initial=-1)) for r in records]
        + [-1]
    )
    return [f'class{i}' for i in range(top + 1)]
