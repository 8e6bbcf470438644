"""Evaluation plugins: per-class COCO AP, precision/recall/F1, confusion counts and their shared matcher."""

from custom.evaluation.coco_metric import PerClassCocoMetric
from custom.evaluation.prf_metric import PrecisionRecallMetric

__all__ = ['PerClassCocoMetric', 'PrecisionRecallMetric']
