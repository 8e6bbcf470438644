"""The one place where command-line flags become config edits (tools/train.py, tools/test.py and the jobs).

The functions mirror what MMDetection's stock tools do with their flags, so the same
command lines work here; device-specific settings are adapted so the same config runs
on a GPU machine and on a CPU-only one.
"""

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from custom.datasets.builder import configured_datasets, step_type
from custom.engine.cfg_options import check_cfg_options
from custom.engine.config_checks import check_config, set_num_classes
from custom.engine.distributed import adapt_distributed_to_cpu, join_cpu_process_group
from custom.errors import ConfigError, MissingFileError

# The dataloaders each tool reads, so a machine with only the test data can test.
TRAIN_LOADERS = ('train_dataloader', 'val_dataloader')
TEST_LOADERS = ('test_dataloader',)


def read_config(config: str | Path) -> Config:
    """The config file a user named (MissingFileError naming it when there is none), with the ``data_root``
    and ``classes`` it sets at its top applied everywhere (``top_level_data``)."""
    if not Path(config).is_file():
        raise MissingFileError(f'{config}: no such config file')
    cfg = Config.fromfile(str(config))
    return apply_data_options(cfg, *top_level_data(cfg, config))


def top_level_data(cfg: Config, config: str | Path) -> tuple[str | None, tuple[str, ...] | None]:
    """The ``data_root`` and ``classes`` a config sets at its top that no dataset of it has (None: nothing to
    change).

    Every dataset base defines both at its top and uses them in its loaders when the file is read, so a leaf
    that sets them (a user's config over ``custom::labelme_maskrcnn.py``) would otherwise change nothing. When
    all datasets share one root (one set of classes), the leaf's value replaces it everywhere, heads included;
    a config of several sources must set each dataset's own, and gets an error saying so.
    """
    found, wanted = _data_values(cfg)
    datasets = len(list(configured_datasets(cfg)))
    changes = {}
    for key, value in wanted.items():
        if value is None or not datasets or value in found[key]:
            continue
        if len(found[key]) > 1:
            raise ConfigError(f'{config}: {key} = {value!r} at the top of the config matches none of its '
                              f'{datasets} datasets, which have {len(found[key])} different ones: set '
                              f'each dataset\'s own {key} (or --{key.replace("_", "-")} for all of them)')
        changes[key] = value
    return changes.get('data_root'), changes.get('classes')


def _data_values(cfg: Config) -> tuple[dict[str, set], dict[str, object]]:
    """The data roots and class tuples the config's datasets have, and the config's top-level ones."""
    datasets = [dataset for _, dataset in configured_datasets(cfg)]
    found = {'data_root': {dataset.get('data_root') for dataset in datasets},
             'classes': {tuple((dataset.get('metainfo') or {}).get('classes') or ()) for dataset in datasets}}
    wanted = {'data_root': cfg.get('data_root'), 'classes': cfg.get('classes')}
    wanted['classes'] = tuple(wanted['classes']) if wanted['classes'] else None
    return found, wanted


def describe_data_at_top(cfg: Config) -> None:
    """Makes the top-level ``data_root`` and ``classes`` say what the datasets read after every option, so the
    config a run dumps reads back the same (``top_level_data`` finds nothing to change): the datasets' one
    value, or no top-level key when they have several and it matches none."""
    found, wanted = _data_values(cfg)
    for key, value in wanted.items():
        if value is None:
            continue
        if len(found[key]) == 1:
            cfg[key] = next(iter(found[key]))
        elif value not in found[key]:
            cfg.pop(key)


def merged_config(config: str | Path, cfg_options: dict | None = None, launcher: str = 'none',
                  data_root: str | Path | None = None, classes: Sequence[str] | None = None,
                  img_scale: Sequence[int] | None = None) -> Config:
    """Reads a config and applies --launcher, --cfg-options (checked first: ``custom/engine/cfg_options.py``),
    then --data-root, --classes and --img-scale (``apply_data_options``): the settings a run is made of,
    before the work dir and this machine's adaptations (``load_config``)."""
    cfg = read_config(config)
    cfg.launcher = launcher
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    apply_data_options(cfg, data_root, classes, img_scale)
    describe_data_at_top(cfg)
    return cfg


def load_config(config: str | Path, cfg_options: dict | None = None, work_dir: str | None = None,
                launcher: str = 'none', data_root: str | Path | None = None,
                classes: Sequence[str] | None = None, img_scale: Sequence[int] | None = None) -> Config:
    """The config a tool runs: ``merged_config`` with the work_dir picked (CLI > config > work_dirs/<name>),
    hooks set to None dropped and the loaders adapted to this machine."""
    cfg = merged_config(config, cfg_options, launcher, data_root, classes, img_scale)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = str(Path('work_dirs') / Path(config).stem)
    drop_disabled_hooks(cfg)
    adapt_to_device(cfg)
    return cfg


def apply_data_options(cfg: Config, data_root: str | Path | None = None, classes: Sequence[str] | None = None,
                       img_scale: Sequence[int] | None = None) -> Config:
    """--data-root, --classes and --img-scale, each set everywhere the config uses it, so no loader, head or
    pipeline is left with the file's value.

    data_root: every dataset of every loader (through Concat/Repeat wrappers). classes: those datasets'
    metainfo (a palette of another length is dropped; MMDetection draws one) and every head's number of
    classes (``set_num_classes``). img_scale (width, height): every ``Resize`` step of every pipeline resizes
    to it; the sizes of other resize steps (``RandomResize`` ranges) shrink or grow by the same factor.
    """
    datasets = [dataset for _, dataset in configured_datasets(cfg)]
    if data_root is not None:
        root = f'{str(data_root).rstrip("/")}/'
        for dataset in datasets:
            dataset['data_root'] = root
        cfg.data_root = root
    if classes is not None:
        classes = tuple(classes)
        for dataset in datasets:
            metainfo = dict(dataset.get('metainfo') or {}, classes=classes)
            if len(metainfo.get('palette') or classes) != len(classes):
                metainfo.pop('palette')
            dataset['metainfo'] = metainfo
            _drop_renames_to_other_classes(dataset, classes)
        cfg.classes = classes
        set_num_classes(cfg.model, len(classes))
    if img_scale is not None:
        pipelines = [dataset.get('pipeline') or [] for dataset in datasets]
        pipelines += [cfg.get(name) or [] for name in ('train_pipeline', 'test_pipeline', 'tta_pipeline')]
        resize_steps(pipelines, tuple(img_scale))
        cfg.image_scale = tuple(img_scale)
    return cfg


def _drop_renames_to_other_classes(dataset: dict, classes: tuple[str, ...]) -> None:
    """A config's class_map renames source classes to its own (VOC's person -> pedestrian); with other
    --classes those renames lead nowhere, so they go, and a log line says which."""
    class_map = dataset.get('class_map') or {}
    dropped = {source: target for source, target in class_map.items() if target not in classes}
    if dropped:
        dataset['class_map'] = {source: target for source, target in class_map.items() if target in classes}
        listed = ', '.join(f'{source}->{target}' for source, target in dropped.items())
        print_log(f'--classes: the class_map renames {listed} lead to no class of {classes}, so they are '
                  'dropped', logger='current', level=logging.WARNING)


def resize_steps(pipelines: list[list], size: tuple[int, int]) -> None:
    """Every ``Resize`` step of the pipelines (nested ``TestTimeAug`` lists too) resizes to ``size``; the
    scales of other resize steps (``RandomResize`` ranges) are multiplied by the factor that takes the first
    Resize's scale to ``size``."""
    # By identity: loaders can share one pipeline, and a range must shrink once.
    steps = list({id(step): step for pipeline in pipelines for step in _walk_steps(pipeline)}.values())
    resizes = [step for step in steps if step_type(step).split('.')[-1] == 'Resize' and step.get('scale')]
    factor = max(size) / max(resizes[0]['scale']) if resizes else None
    for step in steps:
        if step in resizes:
            step['scale'] = size
        elif step_type(step).endswith('Resize') and step.get('scale') and factor:
            step['scale'] = _scaled(step['scale'], factor)


def _walk_steps(pipeline: list):
    for step in pipeline:
        if isinstance(step, dict):
            yield step
            yield from _walk_steps(step.get('transforms') or [])
        elif isinstance(step, list):  # TestTimeAug's transforms: a list of lists of steps
            yield from _walk_steps(step)


def _scaled(scale, factor: float):
    if isinstance(scale, list | tuple) and scale and isinstance(scale[0], list | tuple):
        return [_scaled(item, factor) for item in scale]
    return tuple(round(side * factor) for side in scale)


def drop_disabled_hooks(cfg: Config) -> None:
    """Removes ``default_hooks`` entries set to None (``--cfg-options default_hooks.early_stopping=None``):
    mmengine's Runner accepts None only for its own six default hooks and fails an assert on any other."""
    hooks = cfg.get('default_hooks') or {}
    for name in [name for name, hook in hooks.items() if hook is None]:
        hooks.pop(name)


def adapt_to_device(cfg: Config) -> None:
    """Loader workers at most the machine's cores (a 4-worker config on 2 cores only competes with the model);
    without CUDA: no pinned memory (needs an accelerator), gloo instead of nccl and a CPU DDP wrapper."""
    adapt_distributed_to_cpu(cfg)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if not loader:
            continue
        if loader.get('num_workers', 0) > cores:
            loader['num_workers'] = cores
        if not torch.cuda.is_available():
            loader['pin_memory'] = False


def apply_train_options(cfg: Config, amp: bool = False, auto_scale_lr: bool = False,
                        resume: str | None = None) -> Config:
    """--amp, --auto-scale-lr and --resume [CHECKPOINT] ('auto' = latest in work_dir), and intervals that fit
    the schedule (``fit_intervals_to_schedule``).

    AMP needs CUDA (mmengine's AmpOptimWrapper uses torch.cuda.amp): without a GPU it stops here with a
    clear error instead of an assertion deep inside the runner, and never silently trains in fp32.

    --resume without a checkpoint in the work dir warns in one line and trains as the same command without
    --resume would (the config's ``load_from`` kept): a restart script that always passes --resume works on
    its first launch too, as with MMDetection's tools. Before, the flag set ``load_from`` to None, so mmengine
    logged "Auto resumed from the latest checkpoint None" and a fine-tuning config trained from random
    weights. A typo in the work dir is visible in the warning, which names it.
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
        found = latest_checkpoint(cfg.work_dir)
        if found is None:
            cfg.resume = False
            print_log(f'--resume: no checkpoint in {cfg.work_dir}, training from the start', logger='current',
                      level=logging.WARNING)
        else:
            cfg.resume, cfg.load_from = True, found
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    fit_intervals_to_schedule(cfg)
    return cfg


def fit_intervals_to_schedule(cfg: Config) -> None:
    """A validation or checkpoint interval (or a first validation, ``val_begin``) beyond the end of training
    becomes the training's length, said in one log line each.

    The case: a config that derives its intervals from its ``max_epochs`` variable (the CPU demo validates and
    saves every 24 epochs) trained with ``--cfg-options train_cfg.max_epochs=4``. mmengine 0.10 validates the
    last epoch anyway and saves it with ``save_last=True``, but the run's dumped config (what run reports and
    the sweep read) would claim an interval of 24, a ``val_begin`` past the end silently skips every
    validation, and a hook with ``save_last=False`` saves nothing. Iteration-based loops (``max_iters``) are
    fitted in iterations; a checkpoint hook counting in the other unit is left alone.
    """
    loop = cfg.get('train_cfg') or {}
    unit = next((unit for unit in ('max_epochs', 'max_iters') if unit in loop), None)
    if unit is None:
        return
    length, step = loop[unit], {'max_epochs': 'epoch', 'max_iters': 'iteration'}[unit]
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    fitted = [(loop, 'val_interval', 'train_cfg', 'validated'), (loop, 'val_begin', 'train_cfg', 'validated')]
    if checkpoint.get('by_epoch', True) == (unit == 'max_epochs'):
        fitted.append((checkpoint, 'interval', 'default_hooks.checkpoint', 'saved'))
    for settings, key, where, done in fitted:
        value = settings.get(key)
        if isinstance(value, int) and value > length:
            settings[key] = length
            print_log(f'{where}.{key}={value} is beyond the end of training (train_cfg.{unit}={length}): set '
                      f'to {length}, so the last {step} is {done}', logger='current')


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


def has_mask_head(cfg: Config) -> bool:
    return bool(cfg.model.get('roi_head', {}).get('mask_head'))


def apply_tta(cfg: Config) -> Config:
    """--tta of a box-only model: wrap the model in DetTTAModel and test on original + flipped images, boxes
    merged by NMS. (tools/test.py --tta runs a model with masks through custom/apis/augmentation.py.)"""
    if has_mask_head(cfg):
        raise ConfigError('--tta: MMDetection 3.3\'s DetTTAModel merges boxes only and refuses masks; '
                          'a model with masks runs custom/apis/augmentation.py (tools/test.py --tta)')
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


def result_dump(out_file: str | Path):
    """--out: the metric that dumps raw predictions to a pickle (mmdet's DumpDetResults)."""
    if not str(out_file).endswith(('.pkl', '.pickle')):
        raise ConfigError(f'--out {out_file}: the results file must end with .pkl or .pickle')
    from mmdet.evaluation import DumpDetResults

    return DumpDetResults(out_file_path=str(out_file))


def add_result_dump(runner: Runner, out_file: str) -> None:
    """--out: also dump raw predictions to a pickle (mmdet's DumpDetResults)."""
    dump = result_dump(out_file)  # a bad file name fails before the runner is touched
    runner.test_evaluator.metrics.append(dump)

