"""--amp and --auto-scale-lr with the Penn-Fudan config (base_batch_size=2, lr 0.0025)."""

import pytest
import torch

from custom.engine.runtime import TRAIN_LOADERS, apply_train_options, build_runner, load_config
from custom.errors import ConfigError
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool, tiny_options

PENNFUDAN_CONFIG = 'configs/pennfudan_maskrcnn.py'


def pennfudan_cfg(data_root, tmp_path, batch_size: int = 2):
    overrides = {'train_dataloader.batch_size': batch_size, 'train_dataloader.num_workers': 0,
                 'train_dataloader.persistent_workers': False}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        overrides[f'{loader}.dataset.data_root'] = f'{data_root}/'
    return load_config(PENNFUDAN_CONFIG, overrides, str(tmp_path / 'work'))


def learning_rates_after_train_setup(cfg) -> tuple[set[float], set[float]]:
    """(lr, initial_lr) of every param group after the runner's own train() setup order:
    optim wrapper built, then scale_lr, then the param schedulers (which record initial_lr)."""
    runner = build_runner(cfg, TRAIN_LOADERS)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    scaled = {group['lr'] for group in runner.optim_wrapper.optimizer.param_groups}
    runner.param_schedulers = runner.build_param_scheduler(runner.param_schedulers)
    initial = {group['initial_lr'] for group in runner.optim_wrapper.optimizer.param_groups}
    return scaled, initial


def test_auto_scale_lr_doubles_the_pennfudan_lr_for_a_batch_of_4(pennfudan_root, tmp_path):
    cfg = pennfudan_cfg(pennfudan_root, tmp_path, batch_size=4)
    assert cfg.optim_wrapper.optimizer.lr == 0.0025 and cfg.auto_scale_lr.base_batch_size == 2
    apply_train_options(cfg, auto_scale_lr=True)
    assert learning_rates_after_train_setup(cfg) == ({0.005}, {0.005})


def test_without_auto_scale_lr_a_batch_of_4_keeps_the_configured_lr(pennfudan_root, tmp_path):
    cfg = pennfudan_cfg(pennfudan_root, tmp_path, batch_size=4)
    apply_train_options(cfg, auto_scale_lr=False)
    assert learning_rates_after_train_setup(cfg) == ({0.0025}, {0.0025})


def test_auto_scale_lr_without_a_base_batch_size_is_refused(pennfudan_root, tmp_path):
    cfg = pennfudan_cfg(pennfudan_root, tmp_path)
    del cfg.auto_scale_lr['base_batch_size']
    with pytest.raises(ValueError, match='base_batch_size'):
        apply_train_options(cfg, auto_scale_lr=True)


def test_amp_rewrites_the_optim_wrapper_to_amp_with_dynamic_loss_scale_on_a_gpu_machine(
        pennfudan_root, tmp_path, monkeypatch):
    cfg = pennfudan_cfg(pennfudan_root, tmp_path)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    apply_train_options(cfg, amp=True)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.optimizer.lr == 0.0025  # the rest of the wrapper is kept


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the behaviour without a GPU')
def test_amp_without_a_gpu_stops_before_building_anything_with_a_clear_message(pennfudan_root, tmp_path):
    cfg = pennfudan_cfg(pennfudan_root, tmp_path)
    with pytest.raises(ConfigError, match='--amp: mixed-precision training needs a CUDA GPU'):
        apply_train_options(cfg, amp=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the behaviour without a GPU')
def test_amp_optim_wrapper_written_in_a_config_is_refused_too_without_a_gpu(pennfudan_root, tmp_path):
    cfg = pennfudan_cfg(pennfudan_root, tmp_path)
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    with pytest.raises(ConfigError, match="optim_wrapper.type='AmpOptimWrapper'"):
        apply_train_options(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the behaviour without a GPU')
def test_train_tool_with_amp_on_a_cpu_machine_exits_1_with_one_error_line(pennfudan_root, tmp_path):
    process = run_tool('train.py', DEMO_CONFIG, '--amp', '--work-dir', str(tmp_path / 'work'),
                       '--cfg-options', *tiny_options(pennfudan_root), check=False)
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1].startswith('error: --amp: mixed-precision training needs')
    assert 'Traceback' not in process.stderr
    assert not (tmp_path / 'work').exists() or not list((tmp_path / 'work').rglob('*.pth'))
