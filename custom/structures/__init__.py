"""Mask and box conversions shared by datasets, evaluation, inference and export."""
