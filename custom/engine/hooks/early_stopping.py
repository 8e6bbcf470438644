"""JudgedMetricEarlyStoppingHook: stop training when the metric the best checkpoint is chosen by stalls.

mmengine's EarlyStoppingHook needs the metric's name in every config and its default ``min_delta`` (0.1) is a
tenth of the whole mAP range. This subclass watches, by default, the metric the CheckpointHook keeps the best
checkpoint by: its ``save_best`` key when it names one, else (``save_best='auto'``) the first metric the
evaluator reports, as the CheckpointHook itself decides. The dataset bases list the judged metric first
(``coco/segm_mAP`` with masks, ``coco/bbox_mAP`` for boxes only), so every config stops on the number its best
checkpoint is chosen by, without naming it.

``patience`` counts validation rounds (one every ``train_cfg.val_interval`` epochs) without an improvement of
at least ``min_delta``; the wait survives ``--resume`` (kept in the message hub, which checkpoints carry;
mmengine writes epoch N's checkpoint before epoch N's validation, so a resumed run continues from the wait
after round N-1 and repeats nothing).
Configured in configs/_base_/default_runtime.py as ``default_hooks.early_stopping``.
"""

from mmdet.registry import HOOKS
from mmengine.hooks import CheckpointHook, EarlyStoppingHook

AUTO = 'auto'
STATE_KEY = 'early_stopping'  # message-hub runtime info: monitor, best_score, wait_count


def judged_metric(runner, metrics: dict) -> str:
    """The CheckpointHook's ``save_best`` key when it names one, else the first metric (its 'auto')."""
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and hook.save_best and hook.save_best[0] != AUTO:
            return hook.save_best[0]
    return next(iter(metrics))


@HOOKS.register_module()
class JudgedMetricEarlyStoppingHook(EarlyStoppingHook):
    """EarlyStoppingHook whose ``monitor='auto'`` is the metric the best checkpoint is chosen by.

    Args:
        monitor: a metric name such as 'coco/bbox_mAP' or 'val/loss', or 'auto' (see the module docstring).
        patience: validation rounds without improvement after which training stops.
        min_delta: the smallest change that counts as an improvement. CocoMetric rounds AP to 3 decimals, so
            0.0005 counts every reported gain (0.001 and up) and no tie; a tie must not reset the wait.
        **kwargs: ``rule``, ``strict``, ``check_finite``, ``stopping_threshold`` of EarlyStoppingHook.
    """

    def __init__(self, monitor: str = AUTO, patience: int = 5, min_delta: float = 0.0005, **kwargs) -> None:
        self._settings = dict(patience=patience, min_delta=min_delta, **kwargs)
        if monitor == AUTO:
            self.monitor, self.patience = AUTO, patience  # the rest is set up at the first round
        else:
            super().__init__(monitor, **self._settings)

    def before_run(self, runner) -> None:
        """Nothing: mmengine's check reads ``runner.train_loop``, which builds the training loop with its
        dataloader and data set even in a test-only run (tools/test.py); the check runs in before_train."""

    def before_train(self, runner) -> None:
        super().before_run(runner)

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        if not metrics:
            return
        if self.monitor == AUTO:
            super().__init__(judged_metric(runner, metrics), **self._settings)
            runner.logger.info(f'early stopping: watching {self.monitor} ({self.rule} is better), stops'
                               f' after {self.patience} validation rounds without a gain of '
                               f'{abs(self.min_delta):g}')
        saved = runner.message_hub.get_info(STATE_KEY)
        if saved and saved['monitor'] == self.monitor:  # restored by --resume
            self.best_score, self.wait_count = saved['best_score'], saved['wait_count']
        super().after_val_epoch(runner, metrics)
        state = dict(monitor=self.monitor, best_score=float(self.best_score), wait_count=int(self.wait_count))
        runner.message_hub.update_info(STATE_KEY, state)
