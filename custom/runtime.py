"""Config handling shared by tools/train.py, tools/test.py and the main job.

The functions mirror what MMDetection's stock tools do with their flags, so the same
command lines work here; device-specific settings are adapted so the same config runs
on a GPU machine and on a CPU-only one.
"""

import sys
from collections.abc import Callable
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from custom.checkpoints import UnsafeCheckpointError
from custom.config_checks import ConfigError, check_config
from custom.download import DownloadError
from custom.errors import DataError

# Mistakes in the user's data, config or files: reported as one clear message, without a traceback.
USER_ERRORS = (DataError, ConfigError, DownloadError, UnsafeCheckpointError, FileNotFoundError)


def exit_on_user_error(main: Callable[[], None]) -> None:
    """Runs a tool's main(); a user error prints 'error: <file>: <problem>' and exits with status 1."""
    try:
        main()
    except USER_ERRORS as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)


def load_config(config: str | Path, cfg_options: dict | None = None, work_dir: str | None = None,
                launcher: str = 'none') -> Config:
    """Reads a config, applies --cfg-options and picks the work_dir (CLI > config > work_dirs/<name>)."""
    cfg = Config.fromfile(str(config))
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = str(Path('work_dirs') / Path(config).stem)
    adapt_to_device(cfg)
    return cfg


def adapt_to_device(cfg: Config) -> None:
    """Without CUDA: no pinned memory (it needs an accelerator) and gloo instead of nccl."""
    if torch.cuda.is_available():
        return
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(name):
            cfg[name]['pin_memory'] = False
    if cfg.get('env_cfg', {}).get('dist_cfg'):
        cfg.env_cfg.dist_cfg.backend = 'gloo'


def apply_train_options(cfg: Config, amp: bool = False, auto_scale_lr: bool = False,
                        resume: str | None = None) -> Config:
    """--amp, --auto-scale-lr and --resume [CHECKPOINT] ('auto' = latest in work_dir)."""
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs auto_scale_lr = dict(enable=..., base_batch_size=N) '
                             'in the config: N is the total batch size its lr was chosen for.')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    return cfg


def apply_test_options(cfg: Config, checkpoint: str, show: bool = False, show_dir: str | None = None,
                       wait_time: float = 2.0) -> Config:
    """Loads `checkpoint` for testing; --show/--show-dir turn on drawing in DetVisualizationHook."""
    cfg.load_from = checkpoint
    if show or show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ValueError('--show/--show-dir need default_hooks.visualization (DetVisualizationHook).')
        hook.update(draw=True, show=show, wait_time=wait_time, test_out_dir=show_dir)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Checks the config, then builds the runner (a custom one when the config names `runner_type`)."""
    check_config(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS

        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def add_result_dump(runner: Runner, out_file: str) -> None:
    """--out: also dump raw predictions to a pickle (mmdet's DumpDetResults)."""
    if not out_file.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out {out_file}: the results file must end with .pkl or .pickle')
    from mmdet.evaluation import DumpDetResults

    runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out_file))

