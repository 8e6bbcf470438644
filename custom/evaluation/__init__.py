"""Evaluation: COCO AP per class, precision/recall/F1 metric and the matching core it shares with the analysis
tools."""

from custom.evaluation.coco_metric import PerClassCocoMetric
from custom.evaluation.prf_metric import PrecisionRecallMetric

__all__ = ['PerClassCocoMetric', 'PrecisionRecallMetric']
