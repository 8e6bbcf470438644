"""JudgedMetricEarlyStoppingHook in a real mmengine training loop on a toy model with scripted metrics."""

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner

import custom  # noqa: F401  (registers the hook)


class TinyModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        output = (self.weight * inputs).sum()
        return {'loss': output ** 2} if mode == 'loss' else [output.detach()]


class ScriptedMetric(BaseMetric):
    """Reports the next value of each script at every validation round (first key first)."""

    def __init__(self, scripts: dict[str, list[float]]) -> None:
        super().__init__()
        self.scripts, self.round = scripts, 0

    def process(self, data_batch, data_samples) -> None:
        self.results.append(0)

    def compute_metrics(self, results) -> dict:
        self.round += 1
        return {key: values[min(self.round, len(values)) - 1] for key, values in self.scripts.items()}


def train(tmp_path, scripts: dict[str, list[float]], max_epochs: int = 10, resume: bool = False,
          **hooks) -> Runner:
    loader = dict(dataset=[dict(inputs=torch.ones(1))] * 2, batch_size=1,
                  sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='default_collate'))
    checkpoint = dict(type='CheckpointHook', interval=100) | hooks.pop('checkpoint', {})
    runner = Runner(
        model=TinyModel(), work_dir=str(tmp_path), experiment_name=tmp_path.name, default_scope='mmdet',
        train_dataloader=loader, val_dataloader=loader, val_evaluator=Evaluator([ScriptedMetric(scripts)]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1), val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=checkpoint,
                           early_stopping=dict(type='JudgedMetricEarlyStoppingHook', **hooks)),
        visualizer=dict(type='Visualizer', vis_backends=[]), log_level='WARNING', resume=resume)
    runner.train()
    return runner


def test_a_stalled_judged_metric_stops_training_after_patience_rounds(tmp_path):
    # Best at round 2 (0.300); rounds 3 and 4 gain nothing, so patience 2 stops after epoch 4 of 10, although
    # the second metric keeps improving: save_best='auto' judges by the first.
    scripts = {'toy/segm_mAP': [0.1, 0.3, 0.3, 0.2, 0.9], 'toy/bbox_mAP': [0.1, 0.2, 0.3, 0.4]}
    runner = train(tmp_path, scripts, patience=2, checkpoint=dict(save_best='auto'))
    assert runner.epoch == 4
    hook = next(h for h in runner.hooks if type(h).__name__ == 'JudgedMetricEarlyStoppingHook')
    assert hook.monitor == 'toy/segm_mAP' and hook.best_score == pytest.approx(0.3)
    assert runner.message_hub.get_info('early_stopping') == dict(monitor='toy/segm_mAP', best_score=0.3,
                                                                 wait_count=2)


def test_the_metric_save_best_names_is_watched_and_a_gain_resets_the_wait(tmp_path):
    # bbox gains at rounds 2 and 4 (each >= 0.001, the AP rounding step), then stalls: stop after epoch 6.
    runner = train(tmp_path, {'toy/segm_mAP': [0.5], 'toy/bbox_mAP': [0.1, 0.2, 0.2, 0.201, 0.201, 0.2011]},
                   patience=2, checkpoint=dict(save_best='toy/bbox_mAP'))
    assert runner.epoch == 6


def test_a_metric_that_keeps_improving_runs_every_epoch(tmp_path):
    runner = train(tmp_path, {'toy/segm_mAP': [0.1, 0.2, 0.3, 0.4]}, max_epochs=4, patience=1,
                   checkpoint=dict(save_best='auto'))
    assert runner.epoch == 4


def test_the_wait_survives_resume(tmp_path):
    # mmengine writes epoch N's checkpoint before epoch N's validation, so epoch_4.pth holds the wait after
    # round 3: best 0.3 at round 2, one round without a gain. Resumed, round 5 makes it 2 = patience.
    first = train(tmp_path, {'toy/segm_mAP': [0.1, 0.3, 0.3, 0.3]}, max_epochs=4, patience=2,
                  checkpoint=dict(interval=1))
    assert first.epoch == 4 and (tmp_path / 'epoch_4.pth').is_file()
    resumed = train(tmp_path, {'toy/segm_mAP': [0.3]}, resume=True, patience=2, checkpoint=dict(interval=1))
    assert resumed.epoch == 5  # the kept wait stops here; a fresh one would have run to epoch 7


def test_a_test_only_run_does_not_build_the_training_loop(tmp_path):
    """mmengine's EarlyStoppingHook.before_run would build it (loading the training data) in tools/test.py."""
    loader = dict(dataset=[dict(inputs=torch.ones(1))] * 2, batch_size=1,
                  sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='default_collate'))
    runner = Runner(
        model=TinyModel(), work_dir=str(tmp_path), experiment_name=tmp_path.name, default_scope='mmdet',
        train_dataloader=loader, train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        test_dataloader=loader, test_evaluator=Evaluator([ScriptedMetric({'toy/segm_mAP': [0.5]})]),
        test_cfg=dict(), default_hooks=dict(early_stopping=dict(type='JudgedMetricEarlyStoppingHook')),
        visualizer=dict(type='Visualizer', vis_backends=[]), log_level='WARNING')
    assert runner.test() == {'toy/segm_mAP': 0.5}
    assert isinstance(runner._train_loop, dict)  # still the config: never built
