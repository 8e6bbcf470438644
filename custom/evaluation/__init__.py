"""Evaluation: precision/recall/F1 metric and the matching core it shares with the analysis tools."""

from custom.evaluation.prf_metric import PrecisionRecallMetric

__all__ = ['PrecisionRecallMetric']
