"""ProgressBarHook: a tqdm bar over validation/test iterations (and optionally each training epoch).

Enable in a config with ``custom_hooks = [dict(type='ProgressBarHook')]``. The bar appears only on the
main rank and only when both stdout and stderr are terminals, so redirected logs and CI output stay free
of carriage-return noise; ``enabled=True/False`` overrides that check.
"""

import sys
from typing import TextIO

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from tqdm import tqdm

from custom.errors import ConfigError

MODES = ('train', 'val', 'test')


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """One bar per val/test run (and per training epoch when 'train' is in ``modes``)."""

    priority = 'VERY_LOW'

    def __init__(self, modes: tuple[str, ...] = ('val', 'test'), enabled: bool | None = None,
                 file: TextIO | None = None) -> None:
        unknown = sorted(set(modes) - set(MODES))
        if unknown:
            raise ConfigError(f'ProgressBarHook modes must be among {MODES}, got {unknown}')
        self.modes = tuple(modes)
        self.enabled = enabled
        self.file = file
        self._bars: dict[str, tqdm] = {}

    def is_enabled(self) -> bool:
        """The explicit ``enabled`` flag, else: main rank with stdout and stderr on a terminal."""
        if self.enabled is not None:
            return self.enabled
        return is_main_process() and sys.stdout.isatty() and sys.stderr.isatty()

    def _before_epoch(self, runner, mode: str = 'train') -> None:
        if mode not in self.modes or not self.is_enabled():
            return
        self._close(mode)
        loader = getattr(runner, f'{mode}_dataloader')
        total = len(loader) if hasattr(loader, '__len__') else None
        desc = f'train epoch {runner.epoch + 1}' if mode == 'train' else mode
        # nested under a training epoch's bar, a val bar disappears when done
        self._bars[mode] = tqdm(total=total, desc=desc, unit='batch', file=self.file or sys.stderr,
                                dynamic_ncols=True, leave=not self._bars)

    def _after_iter(self, runner, batch_idx: int, data_batch=None, outputs=None, mode: str = 'train') -> None:
        bar = self._bars.get(mode)
        if bar is not None:
            bar.update(1)

    def _after_epoch(self, runner, mode: str = 'train') -> None:
        self._close(mode)

    def after_run(self, runner) -> None:
        for mode in list(self._bars):
            self._close(mode)

    def _close(self, mode: str) -> None:
        bar = self._bars.pop(mode, None)
        if bar is not None:
            bar.close()
