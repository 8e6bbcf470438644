"""Hooks a training or test run loads from its config (plugins)."""

from custom.hooks.progress import ProgressBarHook

__all__ = ['ProgressBarHook']
