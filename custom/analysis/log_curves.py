"""Loss and metric curves from an mmengine work_dir's logs, plotted as PNG.

Reads ``<work_dir>/<timestamp>/vis_data/scalars.json`` (JSON lines written by LocalVisBackend), e.g.::

    {"lr": 0.02, "loss": 1.31, "loss_cls": 0.4, "epoch": 1, "iter": 10, "step": 10}
    {"coco/bbox_mAP": 0.512, "coco/segm_mAP": 0.47, "val/loss": 1.52, "val/loss_cls": 0.45, "step": 1}

and falls back to ``<work_dir>/<timestamp>/<timestamp>.log`` lines such as::

    ... - INFO - Epoch(train)  [1][10/85]  lr: 2.0000e-02  eta: 0:10:00  ...  loss: 1.3100  loss_cls: 0.4000
    ... - INFO - Epoch(val) [1][85/85]    coco/bbox_mAP: 0.5120  coco/segm_mAP: 0.4700  data_time: 0.0100
"""

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from custom.errors import DataError  # noqa: E402

VAL_LOSS_PREFIX = 'val/loss'  # custom/engine/hooks/val_loss.py


@dataclass
class RunLog:
    """Training records (one per logged iteration) and validation records (one per evaluation)."""

    source: Path
    train: list[dict] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)

    def metric_keys(self) -> list[str]:
        """Evaluation metric names such as 'coco/bbox_mAP' or 'pr/bbox_f1@0.5' (validation losses apart)."""
        return sorted({key for record in self.val for key in record if '/' in key and not is_val_loss(key)})

    def val_loss_keys(self) -> list[str]:
        """Validation losses ('val/loss', 'val/loss_cls', ...: custom/engine/hooks/val_loss.py)."""
        return sorted({key for record in self.val for key in record if is_val_loss(key)})

    def val_iterations(self, steps: list[float]) -> list[float]:
        """Validation steps on the training-iteration axis. An epoch-based run logs validation by epoch: epoch
        e maps to e * N, N the iterations per epoch as the training records bound it from below (a record at
        iteration s of epoch e means N >= s / e; exact when a record falls on an epoch's last iteration)."""
        bounds = [math.ceil(r['step'] / r['epoch']) for r in self.train if r.get('epoch') and 'step' in r]
        per_epoch = max(bounds, default=0)
        return [step * per_epoch for step in steps] if per_epoch else steps

    def loss_keys(self) -> list[str]:
        return sorted({key for record in self.train for key in record if key.startswith('loss')})


def is_val_loss(key: str) -> bool:
    return key.startswith(VAL_LOSS_PREFIX)


def has_run_log(run_dir: Path) -> bool:
    """Whether a folder is an mmengine run folder: <ts>/vis_data/scalars.json or <ts>/<ts>.log."""
    return (run_dir / 'vis_data' / 'scalars.json').is_file() or (run_dir / f'{run_dir.name}.log').is_file()


def find_log_dirs(work_dir: str | Path) -> list[Path]:
    """Timestamped run folders of a work_dir (oldest first) that hold a scalars.json or a .log."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        raise DataError(work_dir, 'work_dir does not exist')
    return sorted((d for d in work_dir.iterdir() if d.is_dir() and has_run_log(d)), key=lambda d: d.name)


def load_run_log(work_dir: str | Path) -> RunLog:
    """RunLog of the latest run in ``work_dir`` (or of a run folder / scalars.json / .log given directly)."""
    path = Path(work_dir)
    if path.is_file():
        return parse_scalars_json(path) if path.suffix == '.json' else parse_text_log(path)
    if has_run_log(path):
        return _parse_run_dir(path)
    run_dirs = find_log_dirs(path)
    if not run_dirs:
        raise DataError(path, 'no <timestamp>/vis_data/scalars.json or <timestamp>/<timestamp>.log found')
    # A later tools/test.py run leaves a folder without training records: skip it.
    latest = None
    for run_dir in reversed(run_dirs):
        log = _parse_run_dir(run_dir)
        latest = latest or log
        if log.train or log.val:
            return log
    return latest


def load_resumed_run_log(work_dir: str | Path) -> RunLog:
    """Every run folder of ``work_dir`` in one RunLog, oldest first: a training resumed with --resume logs
    into a new timestamped folder, so its whole history is the concatenation."""
    merged = RunLog(source=Path(work_dir))
    for run_dir in find_log_dirs(work_dir):
        log = _parse_run_dir(run_dir)
        merged.train += log.train
        merged.val += log.val
    return merged


def _parse_run_dir(run_dir: Path) -> RunLog:
    scalars = run_dir / 'vis_data' / 'scalars.json'
    return (
        parse_scalars_json(scalars) if scalars.is_file() else parse_text_log(run_dir / f'{run_dir.name}.log')
    )


def parse_scalars_json(path: Path) -> RunLog:
    """Split mmengine's JSON-lines scalars into train records (with losses) and val records (with metrics)."""
    log = RunLog(source=path)
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(path, f'line {line_no} is not JSON: {error.msg}') from None
        if not isinstance(record, dict):
            raise DataError(path, f'line {line_no} is not a JSON object')
        _classify(log, record)
    return log


_PAIR = re.compile(r'([\w/@.\-]+): (-?[\d.]+(?:e[-+]?\d+)?|nan|inf)(?=\s|$)')
_TRAIN_HEAD = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\s*\[\s*(\d+)/(\d+)\]|Iter\(train\)\s*\[\s*(\d+)/\d+\]')
_VAL_HEAD = re.compile(r'Epoch\(val\)\s*\[(\d+)\]|Iter\(val\)\s*\[\s*(\d+)/\d+\]')


def parse_text_log(path: Path) -> RunLog:
    """Fallback: read train/val records from mmengine's text log."""
    log = RunLog(source=path)
    if not path.is_file():
        raise DataError(path, 'log file not found')
    for line in path.read_text(errors='replace').splitlines():
        train, val = _TRAIN_HEAD.search(line), _VAL_HEAD.search(line)
        if not train and not val:
            continue
        record = {key: float(value) for key, value in _PAIR.findall(line)}
        if train:
            if train.group(1):
                epoch, inner, per_epoch = int(train.group(1)), int(train.group(2)), int(train.group(3))
                record.update(epoch=epoch, step=(epoch - 1) * per_epoch + inner)
            else:
                record['step'] = int(train.group(4))
            log.train.append(record)
        elif any('/' in key for key in record) and 'eta:' not in line:
            # Only the round's summary line: mmengine repeats the previous round's scalars that hold a '/'
            # (val/loss, ...) on the progress lines of the next round, which carry an eta.
            record['step'] = int(val.group(1) or val.group(2))
            log.val.append(record)
    return log


def _classify(log: RunLog, record: dict) -> None:
    if any(key.startswith('loss') for key in record):
        log.train.append(record)
    elif any('/' in key for key in record):
        log.val.append(record)


def series(records: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of ``key`` over the records that have it."""
    points = [(float(r.get('step', i)), float(r[key])) for i, r in enumerate(records) if key in r]
    return [p[0] for p in points], [p[1] for p in points]


def plot_series(
    curves: dict[str, tuple[list[float], list[float]]], title: str, xlabel: str, out_file: Path
) -> None:
    """One PNG with a line per curve."""
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    # A validation loss is dashed, in the colour of its training loss ('val/loss_cls' beside 'loss_cls').
    palette = plt.rcParams['axes.prop_cycle'].by_key()['color']
    colours: dict[str, str] = {}
    for name, (xs, ys) in curves.items():
        base = name.removeprefix('val/')
        colour = colours.setdefault(base, palette[len(colours) % len(palette)])
        ax.plot(xs, ys, '--' if is_val_loss(name) else '-', color=colour,
                marker='o' if len(xs) < 30 else None, markersize=3, label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)


def plot_run_curves(
    work_dir: str | Path, out_dir: str | Path | None = None, metric_keys: list[str] | None = None,
    log: RunLog | None = None,
) -> dict[str, dict]:
    """Write loss.png, lr.png (if logged) and metrics.png; return {png name: {'path', 'curves'}}.

    ``log``: the work_dir's RunLog when the caller has already loaded it."""
    log = log or load_run_log(work_dir)
    out_dir = Path(out_dir) if out_dir else Path(work_dir) / 'plots'
    written: dict[str, dict] = {}

    def emit(name: str, curves: dict, title: str, xlabel: str) -> None:
        curves = {key: value for key, value in curves.items() if value[0]}
        if curves:
            path = out_dir / name
            plot_series(curves, title, xlabel, path)
            written[name] = {'path': path, 'curves': curves}

    losses = {key: series(log.train, key) for key in log.loss_keys()}
    for key in log.val_loss_keys():  # dashed, on the training loss's iteration axis
        steps, values = series(log.val, key)
        losses[key] = (log.val_iterations(steps), values)
    emit('loss.png', losses, 'training and validation losses', 'iteration')
    emit('lr.png', {'lr': series(log.train, 'lr')}, 'learning rate', 'iteration')
    keys = metric_keys or log.metric_keys()
    metrics = {key: series(log.val, key) for key in keys}
    # COCO reports -1 for an object size the data set lacks (mAP_s, mAP_l here): such a line says nothing.
    metrics = {key: (xs, ys) for key, (xs, ys) in metrics.items() if any(y != -1 for y in ys)}
    emit('metrics.png', metrics, 'validation metrics', 'epoch / iteration')
    return written
