"""Hooks a training or test run loads from its config (plugins)."""

from custom.hooks.early_stopping import JudgedMetricEarlyStoppingHook
from custom.hooks.progress import ProgressBarHook
from custom.hooks.val_loss import ValLossHook

__all__ = ['JudgedMetricEarlyStoppingHook', 'ProgressBarHook', 'ValLossHook']
