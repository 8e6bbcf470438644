"""ValLossHook and the annotated evaluation pipeline it loads the validation images with."""

from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import RuntimeInfoHook
from mmengine.logging import MessageHub
from mmengine.runner import LogProcessor, Runner

from custom.datasets.pipelines import annotated_eval_pipeline
from custom.engine.hooks import ValLossHook
from custom.errors import ConfigError
from tests.helpers.tool_runs import DEMO_CONFIG, REPO, tiny_overrides


def test_eval_pipeline_gets_the_training_annotation_step_right_after_the_image():
    cfg = Config.fromfile(REPO / DEMO_CONFIG)
    pipeline = annotated_eval_pipeline(cfg, 'val')
    steps = [step['type'] for step in pipeline]
    assert steps == ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'PackDetInputs']
    assert pipeline[1] == dict(type='LoadAnnotations', with_bbox=True, with_mask=True)
    assert pipeline[2] == cfg.val_dataloader.dataset.pipeline[1]  # the val resize, not the training flip
    assert cfg.val_dataloader.dataset.pipeline[1]['type'] == 'Resize'  # the config itself is left as it was
    cfg.val_dataloader.dataset.pipeline = [dict(type='PackDetInputs')]
    with pytest.raises(ConfigError, match='no LoadImage'):
        annotated_eval_pipeline(cfg, 'val')


@pytest.mark.slow
def test_val_loss_comes_after_the_metrics_repeatably_and_leaves_the_train_rng_alone(pennfudan_root, tmp_path):
    cfg = Config.fromfile(REPO / DEMO_CONFIG)
    cfg.merge_from_dict(tiny_overrides(pennfudan_root))
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    hook = ValLossHook()
    rng = torch.get_rng_state()
    first = {'coco/segm_mAP': 0.1}
    hook.after_val_epoch(runner, first)
    assert torch.equal(torch.get_rng_state(), rng)  # the RoI samplers drew in a forked RNG
    assert list(first)[:2] == ['coco/segm_mAP', 'val/loss']  # save_best='auto' still sees the mAP first
    parts = {key: value for key, value in first.items() if key.startswith('val/loss_')}
    assert set(parts) == {'val/loss_rpn_cls', 'val/loss_rpn_bbox', 'val/loss_cls', 'val/loss_bbox',
                          'val/loss_mask'}
    assert first['val/loss'] == pytest.approx(sum(parts.values()), rel=1e-6) and first['val/loss'] > 0
    torch.rand(5)  # training moves the global RNG on between rounds; the validation loss ignores it
    second = {}
    hook.after_val_epoch(runner, second)
    assert second == {key: value for key, value in first.items() if key.startswith('val/')}
    # Loader workers (which draw a seed from the global RNG) change nothing, in the first round or later.
    runner.cfg.val_dataloader.update(num_workers=1, persistent_workers=True)
    with_workers = ValLossHook()
    for _ in range(2):
        third = {}
        with_workers.after_val_epoch(runner, third)
        assert third == pytest.approx(second, rel=1e-6)


def test_each_round_logs_its_own_val_loss_not_a_mean_over_earlier_rounds():
    """RuntimeInfoHook stores each round's metrics in the message hub, and mmengine's LogProcessor logs a key
    with 'loss' in it as the mean of its last 10 values: the hook drops earlier rounds before each one."""
    runner = SimpleNamespace(message_hub=MessageHub.get_instance('val_loss_rounds'))
    hook, runtime_info = ValLossHook(), RuntimeInfoHook()
    for value in (3.0, 1.0):
        hook.before_val_epoch(runner)
        stale = LogProcessor()._collect_scalars([], runner, 'val')  # what the round's iteration lines show
        assert 'val/loss' not in stale
        runtime_info.after_val_epoch(runner, {'coco/segm_mAP': 0.1, 'val/loss': value})
        logged = LogProcessor()._collect_scalars([], runner, 'val')  # the round's last line, every backend
        assert logged['val/loss'] == value
