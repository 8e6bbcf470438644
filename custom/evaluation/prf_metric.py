"""Precision / recall / F1 (+ mask IoU and Dice) as an mmengine metric, usable next to CocoMetric.

Config::

    val_evaluator = [
        dict(type='CocoMetric', metric=['bbox', 'segm'], ann_file=None),
        dict(type='PrecisionRecallMetric', metric=['bbox', 'segm'], iou_thrs=(0.5,), score_thr=0.5),
    ]

Ground truth comes from each data sample's ``instances`` (keep 'instances' in PackDetInputs meta_keys).
Metric names (prefix 'pr'): ``pr/bbox_precision@0.5``, ``pr/segm_f1@0.5``, ``pr/pedestrian_bbox_recall@0.5``,
``pr/segm_mask_iou`` and ``pr/segm_dice`` (mean over the mask pairs matched at the lowest IoU threshold).
"""

from collections.abc import Sequence

from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from custom.errors import ConfigError
from custom.evaluation.matching import KINDS, Counts, ImageRecord, evaluate_records
from custom.evaluation.records import class_names, record_from_sample


def metric_values(
    records: list[ImageRecord],
    kinds: Sequence[str],
    iou_thrs: Sequence[float],
    score_thr: float,
    classes: Sequence[str],
    classwise: bool = True,
) -> dict[str, float]:
    """All metric values (without the 'pr/' prefix) for the given records."""
    values: dict[str, float] = {}
    labels = list(range(len(classes)))
    for kind in kinds:
        for iou_thr in iou_thrs:
            overall, per_class = evaluate_records(records, kind, iou_thr, score_thr, labels)
            values.update(_ratios(f'{kind}_', f'@{iou_thr:g}', overall))
            if classwise:
                for label, counts in per_class.items():
                    values.update(_ratios(f'{classes[label]}_{kind}_', f'@{iou_thr:g}', counts))
            if kind == 'segm' and iou_thr == min(iou_thrs):
                values['segm_mask_iou'] = overall.mean_iou
                values['segm_dice'] = overall.mean_dice
    return values


def _ratios(head: str, tail: str, counts: Counts) -> dict[str, float]:
    return {
        f'{head}precision{tail}': counts.precision,
        f'{head}recall{tail}': counts.recall,
        f'{head}f1{tail}': counts.f1,
    }


@METRICS.register_module()
class PrecisionRecallMetric(BaseMetric):
    """Precision, recall and F1 at IoU thresholds and one score threshold, for boxes and/or masks.

    Args:
        metric: 'bbox', 'segm' or both.
        iou_thrs: IoU thresholds a prediction needs to match a GT.
        score_thr: predictions scoring below it are dropped before matching.
        classwise: also report every class separately.
    """

    default_prefix: str | None = 'pr'

    def __init__(
        self,
        metric: str | Sequence[str] = ('bbox', 'segm'),
        iou_thrs: float | Sequence[float] = (0.5,),
        score_thr: float = 0.5,
        classwise: bool = True,
        collect_device: str = 'cpu',
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.kinds = [metric] if isinstance(metric, str) else list(metric)
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            raise ConfigError(f'PrecisionRecallMetric: metric must be among {KINDS}, got {self.kinds}')
        self.iou_thrs = (
            [float(iou_thrs)] if isinstance(iou_thrs, (int, float)) else [float(t) for t in iou_thrs]
        )
        self.score_thr = float(score_thr)
        self.classwise = classwise

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(
                record_from_sample(sample, with_masks='segm' in self.kinds, index=len(self.results))
            )

    def compute_metrics(self, results: list) -> dict[str, float]:
        classes = class_names(results, (self.dataset_meta or {}).get('classes', ()))
        values = metric_values(results, self.kinds, self.iou_thrs, self.score_thr, classes, self.classwise)
        MMLogger.get_current_instance().info(
            'precision/recall (score >= %g): %s',
            self.score_thr,
            ', '.join(f'{k}={v:.4f}' for k, v in values.items()),
        )
        return values
