"""Hooks a training or test run loads from its config (registered by `import custom`)."""

from custom.engine.hooks.early_stopping import JudgedMetricEarlyStoppingHook
from custom.engine.hooks.progress import ProgressBarHook
from custom.engine.hooks.val_loss import ValLossHook

__all__ = ['JudgedMetricEarlyStoppingHook', 'ProgressBarHook', 'ValLossHook']
