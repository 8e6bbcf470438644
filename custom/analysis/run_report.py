"""Short Markdown report of a training run: config summary, final/best metrics, links to the curves."""

from pathlib import Path
from typing import Any

from custom.analysis.log_curves import RunLog, is_val_loss, load_run_log, plot_run_curves, series
from custom.errors import DataError


def find_config(work_dir: Path) -> Path | None:
    """The config mmengine dumped into the work_dir (``<name>.py``), else the newest vis_data/config.py."""
    dumped = sorted(work_dir.glob('*.py'))
    if dumped:
        return dumped[0]
    copies = sorted(work_dir.glob('*/vis_data/config.py'))
    return copies[-1] if copies else None


def _get(cfg: Any, dotted: str, default: Any = None) -> Any:
    value = cfg
    for key in dotted.split('.'):
        if not hasattr(value, 'get'):
            return default
        value = value.get(key)
        if value is None:
            return default
    return value


def config_summary(config_file: str | Path) -> dict[str, Any]:
    """The settings a reader wants first: model, classes, data, schedule, optimiser, batch size."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config_file))
    train_dataset = _get(cfg, 'train_dataloader.dataset', {})
    while _get(train_dataset, 'dataset') is not None:  # unwrap RepeatDataset / ClassBalancedDataset
        train_dataset = train_dataset['dataset']
    classes = _get(cfg, 'metainfo.classes') or _get(train_dataset, 'metainfo.classes')
    schedulers = _get(cfg, 'param_scheduler', [])
    schedulers = schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]
    summary = {
        'model': _get(cfg, 'model.type'),
        'backbone': _get(cfg, 'model.backbone.type'),
        'depth': _get(cfg, 'model.backbone.depth'),
        'num_classes (bbox head)': _get(cfg, 'model.roi_head.bbox_head.num_classes'),
        'classes': ', '.join(classes) if classes else None,
        'train dataset': _get(train_dataset, 'type'),
        'data_root': _get(train_dataset, 'data_root'),
        'train ann_file': _get(train_dataset, 'ann_file'),
        'train loop': _get(cfg, 'train_cfg.type'),
        'max_epochs': _get(cfg, 'train_cfg.max_epochs'),
        'max_iters': _get(cfg, 'train_cfg.max_iters'),
        'val_interval': _get(cfg, 'train_cfg.val_interval'),
        'optimizer': _get(cfg, 'optim_wrapper.optimizer.type'),
        'lr': _get(cfg, 'optim_wrapper.optimizer.lr'),
        'momentum': _get(cfg, 'optim_wrapper.optimizer.momentum'),
        'weight_decay': _get(cfg, 'optim_wrapper.optimizer.weight_decay'),
        'lr schedule': ', '.join(str(_get(s, 'type')) for s in schedulers) or None,
        'batch size (per GPU)': _get(cfg, 'train_dataloader.batch_size'),
        'auto_scale_lr base_batch_size': _get(cfg, 'auto_scale_lr.base_batch_size'),
        'load_from': _get(cfg, 'load_from'),
    }
    return {key: value for key, value in summary.items() if value not in (None, '')}


def metric_table(log: RunLog) -> dict[str, dict[str, float]]:
    """{metric: {'final', 'best', 'best_step'}}; best is the maximum of a metric, the minimum of a loss."""
    table = {}
    for key in log.metric_keys() + log.val_loss_keys():
        steps, values = series(log.val, key)
        pick = min if is_val_loss(key) else max
        best = pick(range(len(values)), key=lambda i: values[i])
        table[key] = {'final': values[-1], 'best': values[best], 'best_step': steps[best]}
    return table


def write_run_report(
    work_dir: str | Path, config_file: str | Path | None = None, out_file: str | Path | None = None
) -> Path:
    """Write ``<work_dir>/report.md`` (plots in ``<work_dir>/plots``) and return its path."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        raise DataError(work_dir, 'work_dir does not exist')
    out_file = Path(out_file) if out_file else work_dir / 'report.md'
    config_file = Path(config_file) if config_file else find_config(work_dir)
    log = load_run_log(work_dir)
    plots = plot_run_curves(work_dir, out_file.parent / 'plots', log=log)

    lines = [f'# Run report: {work_dir.name}', '', f'Log: `{log.source}`', '']
    lines += ['## Configuration', '']
    if config_file and config_file.is_file():
        lines += [f'Config: `{config_file}`', '', '| setting | value |', '| --- | --- |']
        lines += [f'| {key} | {value} |' for key, value in config_summary(config_file).items()]
    else:
        lines.append('No config found in the work_dir.')
    lines += ['', '## Metrics', '']
    table = metric_table(log)
    if table:
        lines += ['| metric | final | best | best at epoch/iter |', '| --- | --- | --- | --- |']
        lines += [
            f'| {key} | {v["final"]:.4f} | {v["best"]:.4f} | {v["best_step"]:g} |' for key, v in table.items()
        ]
    else:
        lines.append('No validation metrics logged.')
    if log.train:
        last = log.train[-1]
        losses = ', '.join(f'{k} {last[k]:.4f}' for k in log.loss_keys() if k in last)
        lines += ['', f'Last training record (step {last.get("step", "?")}): {losses}']
    lines += ['', '## Curves', '']
    lines += [
        f'![{name}]({info["path"].relative_to(out_file.parent).as_posix()})' for name, info in plots.items()
    ]
    out_file.write_text('\n'.join(lines) + '\n')
    return out_file
