"""A sweep: every config times every combination of a grid of config values, trained one after another (or
one per GPU), then ranked in a leaderboard (custom/analysis/leaderboard.py).

Layout under the sweep's work dir::

    <work_dir>/<run name>/                 tools/train.py work dir of one run (checkpoints, logs)
    <work_dir>/<run name>/sweep_train.log  the training's output
    <work_dir>/<run name>/sweep_run.json   written when the run ends: 'done' with its results, or 'failed'
                                           with the line that says why
    <work_dir>/leaderboard.md, .csv, .png

A run is named by its config and grid values, e.g. ``pennfudan_maskrcnn__optim_wrapper.optimizer.lr=0.01``,
so running the same sweep again finds its runs: a finished one is skipped, a failed one is skipped unless
``retry_failed``, and one that was stopped (no sweep_run.json) resumes from its latest checkpoint
(``tools/train.py --resume``) or starts again when it saved none. Each training runs in its own process
(custom/jobs/steps.py); a failed run is recorded and the sweep goes on.
"""

import itertools
import json
import queue
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from custom.analysis.leaderboard import primary_ap, ranked, run_results, write_leaderboard
from custom.engine.runtime import latest_checkpoint
from custom.errors import ConfigError, MissingFileError, StepFailedError
from custom.jobs.steps import failure_line, run_step

STATUS_FILE = 'sweep_run.json'


@dataclass
class Run:
    name: str
    config: str
    options: list[str]  # key=value, as tools/train.py --cfg-options takes them
    work_dir: Path


def option_text(value: object) -> str:
    """A value as --cfg-options writes it, so mmengine's DictAction reads back the same value."""
    if isinstance(value, tuple):
        return '(' + ','.join(map(option_text, value)) + (',)' if len(value) == 1 else ')')
    if isinstance(value, list):
        return '[' + ','.join(map(option_text, value)) + ']'
    return str(value)


def grid_points(grid: dict[str, object]) -> list[dict[str, object]]:
    """Every combination of the grid's values; a list holds the values to try (so a list value is written
    inside another list), anything else is one value."""
    choices = [value if isinstance(value, list) else [value] for value in grid.values()]
    return [dict(zip(grid, point, strict=True)) for point in itertools.product(*choices)]


def run_name(config: str, point: dict[str, object]) -> str:
    parts = [Path(config).stem] + [f'{key}={option_text(value)}' for key, value in point.items()]
    return '__'.join(re.sub(r'[^\w.=+-]+', '_', part).strip('_') for part in parts)


def plan_runs(configs: list[str], grid: dict[str, object], cfg_options: list[str],
              work_dir: Path) -> list[Run]:
    """One run per config and grid point; ``cfg_options`` (key=value) go to every run, before the grid's."""
    if not configs:
        raise ConfigError('a sweep needs at least one config')
    for config in configs:
        if not Path(config).is_file():
            raise MissingFileError(f'{config}: no such config file')
    runs = [Run(name=run_name(config, point), config=config, work_dir=work_dir / run_name(config, point),
                options=[*cfg_options, *(f'{key}={option_text(value)}' for key, value in point.items())])
            for config in configs for point in grid_points(grid)]
    names = [run.name for run in runs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f'the sweep would run {repeated[0]} more than once '
                          '(a config or grid value is repeated)')
    return runs


def read_status(run: Run) -> dict | None:
    path = run.work_dir / STATUS_FILE
    return json.loads(path.read_text(encoding='utf-8')) if path.is_file() else None


def execute(run: Run, env: dict[str, str], retry_failed: bool = False) -> dict:
    """Trains one run unless it is finished (or failed, without ``retry_failed``); returns its row."""
    status = read_status(run)
    if status and (status['status'] == 'done' or not retry_failed):
        print(f'{run.name}: {status["status"]} before, skipped', flush=True)
        return status
    if status:  # a failed run tried again: until it ends, it is a stopped run
        (run.work_dir / STATUS_FILE).unlink()
    resume = latest_checkpoint(run.work_dir) if run.work_dir.is_dir() else None
    print(f'{run.name}: ' + (f'resuming from {Path(resume).name}' if resume else 'training'), flush=True)
    args = [run.config, '--work-dir', str(run.work_dir), *(['--resume'] if resume else []),
            *(['--cfg-options', *run.options] if run.options else [])]
    row = dict(name=run.name, config=run.config, options=run.options, work_dir=str(run.work_dir))
    log_file = run.work_dir / 'sweep_train.log'
    try:
        run_step('train', *args, log_file=log_file, env=env)
    except StepFailedError:
        log = log_file.read_text(encoding='utf-8', errors='replace')
        row.update(status='failed', error=f'{failure_line(log)} (log: {run.name}/{log_file.name})')
    else:
        row.update(status='done', **run_results(run.work_dir))
    (run.work_dir / STATUS_FILE).write_text(json.dumps(row, indent=1) + '\n', encoding='utf-8')
    ap = primary_ap(row)
    outcome = (row.get('error') if row['status'] == 'failed' else
               'no mAP logged' if ap is None else f'best mAP {ap:.3f}')
    print(f'{run.name}: {row["status"]} ({outcome})', flush=True)
    return row


def map_on_devices(function: Callable[[object, dict[str, str]], object], items: Iterable,
                   devices: list[str | None]) -> list:
    """``function(item, env)`` for every item, as many at a time as there are devices, each call with a device
    of its own (``env`` sets CUDA_VISIBLE_DEVICES to it; None: the environment as it is); results in order."""
    free: queue.Queue = queue.Queue()
    for device in devices:
        free.put(device)

    def on_a_free_device(item: object) -> object:
        device = free.get()
        try:
            return function(item, {} if device is None else {'CUDA_VISIBLE_DEVICES': device})
        finally:
            free.put(device)

    with ThreadPoolExecutor(max_workers=len(devices)) as pool:
        return list(pool.map(on_a_free_device, items))


def run_sweep(configs: list[str], grid: dict[str, object] | None = None,
              cfg_options: list[str] | None = None, work_dir: str | Path = 'work_dirs/sweep', gpus: int = 0,
              retry_failed: bool = False) -> list[dict]:
    """Trains every run (``gpus`` > 0: that many at once, one per GPU), writes the leaderboard to
    ``work_dir`` and returns its rows, best first."""
    work_dir = Path(work_dir)
    runs = plan_runs(configs, grid or {}, list(cfg_options or []), work_dir)
    print(f'sweep of {len(runs)} runs in {work_dir}/', flush=True)
    devices = [str(index) for index in range(gpus)] if gpus > 0 else [None]
    rows = map_on_devices(lambda run, env: execute(run, env, retry_failed), runs, devices)
    paths = write_leaderboard(rows, work_dir)
    print(f'leaderboard: {paths["md"]}, {paths["csv"].name}, {paths["png"].name}', flush=True)
    return ranked(rows)
