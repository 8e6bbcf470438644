"""The one place where command-line flags become config edits (tools/train.py, tools/test.py and the jobs).

The functions mirror what MMDetection's stock tools do with their flags, so the same
command lines work here; device-specific settings are adapted so the same config runs
on a GPU machine and on a CPU-only one.
"""

import re
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from custom.engine.config_checks import check_config
from custom.engine.distributed import adapt_distributed_to_cpu, join_cpu_process_group
from custom.errors import ConfigError

# The dataloaders each tool reads, so a machine with only the test data can test.
TRAIN_LOADERS = ('train_dataloader', 'val_dataloader')
TEST_LOADERS = ('test_dataloader',)


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
    drop_disabled_hooks(cfg)
    adapt_to_device(cfg)
    return cfg


def drop_disabled_hooks(cfg: Config) -> None:
    """Removes ``default_hooks`` entries set to None (``--cfg-options default_hooks.early_stopping=None``):
    mmengine's Runner accepts None only for its own six default hooks and fails an assert on any other."""
    hooks = cfg.get('default_hooks') or {}
    for name in [name for name, hook in hooks.items() if hook is None]:
        hooks.pop(name)


def adapt_to_device(cfg: Config) -> None:
    """Without CUDA: no pinned memory (needs an accelerator), gloo instead of nccl and a CPU DDP wrapper."""
    adapt_distributed_to_cpu(cfg)
    if torch.cuda.is_available():
        return
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(name):
            cfg[name]['pin_memory'] = False


def apply_train_options(cfg: Config, amp: bool = False, auto_scale_lr: bool = False,
                        resume: str | None = None) -> Config:
    """--amp, --auto-scale-lr and --resume [CHECKPOINT] ('auto' = latest in work_dir).

    AMP needs CUDA (mmengine's AmpOptimWrapper uses torch.cuda.amp): without a GPU it stops here with a
    clear error instead of an assertion deep inside the runner, and never silently trains in fp32.
    """
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if cfg.get('optim_wrapper', {}).get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        asked_by = '--amp' if amp else "optim_wrapper.type='AmpOptimWrapper' in the config"
        raise ConfigError(f'{asked_by}: mixed-precision training needs a CUDA GPU (mmengine\'s '
                          'AmpOptimWrapper uses torch.cuda.amp) and none is visible here; train in fp32 on '
                          'the CPU by leaving out --amp.')
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ConfigError('--auto-scale-lr needs auto_scale_lr = dict(enable=..., base_batch_size=N) '
                             'in the config: N is the total batch size its lr was chosen for.')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, latest_checkpoint(cfg.work_dir)
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    return cfg


def latest_checkpoint(work_dir: str | Path) -> str | None:
    """What --resume continues from: the file named in work_dir/last_checkpoint, else the highest-numbered
    epoch_N/iter_N checkpoint (mmengine writes last_checkpoint in place, so a kill can leave it empty)."""
    work_dir = Path(work_dir)
    marker = work_dir / 'last_checkpoint'
    named = marker.read_text().strip() if marker.is_file() else ''
    if named and Path(named).is_file():
        return named
    numbered = {p: re.fullmatch(r'(?:epoch|iter)_(\d+)\.pth', p.name) for p in work_dir.glob('*.pth')}
    saved = {p: int(m.group(1)) for p, m in numbered.items() if m}
    return str(max(saved, key=saved.get)) if saved else None


def apply_test_options(cfg: Config, checkpoint: str, show: bool = False, show_dir: str | None = None,
                       wait_time: float = 2.0) -> Config:
    """Loads `checkpoint` for testing; --show/--show-dir turn on drawing in DetVisualizationHook."""
    cfg.load_from = checkpoint
    if show or show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ConfigError('--show/--show-dir need default_hooks.visualization (DetVisualizationHook).')
        hook.update(draw=True, show=show, wait_time=wait_time, test_out_dir=show_dir)
    return cfg


def apply_tta(cfg: Config) -> Config:
    """--tta: wrap the model in DetTTAModel and test on original + flipped images, boxes merged by NMS."""
    if cfg.model.get('roi_head', {}).get('mask_head'):
        raise ConfigError('--tta: MMDetection 3.3\'s DetTTAModel merges boxes only and refuses masks; '
                          'use it with box-only configs such as configs/kitti_fasterrcnn.py')
    cfg.setdefault('tta_model', dict(type='DetTTAModel',
                                     tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)))
    if 'tta_pipeline' not in cfg:
        pipeline = list(cfg.test_dataloader.dataset.pipeline)
        pack = pipeline.pop()
        flips = [dict(type='RandomFlip', prob=1.0), dict(type='RandomFlip', prob=0.0)]
        meta_keys = (*pack.get('meta_keys', ()), 'flip', 'flip_direction')
        cfg.tta_pipeline = [*pipeline, dict(type='TestTimeAug', transforms=[
            flips, [dict(type='PackDetInputs', meta_keys=meta_keys)]])]
    cfg.model = dict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    return cfg


def build_runner(cfg: Config, loaders: tuple[str, ...]) -> Runner:
    """Checks the config's datasets in ``loaders`` (TRAIN_LOADERS or TEST_LOADERS), then builds the runner
    (a custom one when the config names `runner_type`)."""
    check_config(cfg, loaders)
    join_cpu_process_group(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS

        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def add_result_dump(runner: Runner, out_file: str) -> None:
    """--out: also dump raw predictions to a pickle (mmdet's DumpDetResults)."""
    if not out_file.endswith(('.pkl', '.pickle')):
        raise ConfigError(f'--out {out_file}: the results file must end with .pkl or .pickle')
    from mmdet.evaluation import DumpDetResults

    runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out_file))

