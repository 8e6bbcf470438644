"""A sweep: every config times every combination of a grid of config values, trained one after another (or
one per GPU), then ranked in a leaderboard (custom/analysis/leaderboard.py).

Layout under the sweep's work dir::

    <work_dir>/<run name>@<settings>/      tools/train.py work dir of one run (checkpoints, logs)
               .../sweep_settings.json     what the run is made of: its merged config, key by key
               .../sweep_train.log         the training's output
               .../sweep_run.json          written when the run ends: 'done' with its results, or 'failed'
                                           with the line that says why
    <work_dir>/leaderboard.md, .csv, .png

A run is named by its config and grid values, e.g. ``pennfudan_maskrcnn__optim_wrapper.optimizer.lr=0.01``,
and identified by everything that makes it: its merged config (the config file with the sweep's
--cfg-options and the grid values applied, ``merged_config``), without where it is written (``work_dir``)
and how it is launched. ``<settings>`` is a digest of that config, so a run trained with
``train_cfg.max_epochs=2`` is never taken for the same run with ``max_epochs=12``. What the config does not
hold is not part of it: other images in the same data folder, or other code, are the same run.

Running the same sweep again finds its runs: a finished one is skipped, a failed one is skipped unless
``retry_failed``, and one that was stopped (no sweep_run.json) resumes from its latest checkpoint
(``tools/train.py --resume``) or starts again when it saved none. Changed settings (other --cfg-options, an
edited config file or base) are new runs, trained in folders of their own, and the console names the
settings that differ from the earlier run of that name. New runs rather than a refusal: the earlier results
stay as they are (going back to the old settings finds them finished), and the common next step of a sweep,
the same grid with other settings in the same folder, needs no deleting and no new --work-dir. The
leaderboard ranks the runs of this sweep only. Each training runs in its own process (custom/jobs/steps.py);
a failed run is recorded and the sweep goes on.
"""

import glob
import hashlib
import itertools
import json
import queue
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from custom.analysis.leaderboard import primary_ap, ranked, run_results, write_leaderboard
from custom.engine.runtime import latest_checkpoint, merged_config
from custom.errors import ConfigError, MissingFileError, StepFailedError
from custom.jobs.steps import failure_line, parse_cfg_options, run_step

STATUS_FILE = 'sweep_run.json'
SETTINGS_FILE = 'sweep_settings.json'
# Top-level keys that do not change what a run computes: where it writes, how it is launched.
NOT_SETTINGS = ('work_dir', 'launcher')


@dataclass
class Run:
    name: str
    config: str
    options: list[str]  # key=value, as tools/train.py --cfg-options takes them
    work_dir: Path
    settings: dict[str, str]  # run_settings of its merged config


def run_settings(cfg: dict) -> dict[str, str]:
    """A merged config as {dotted key: repr of its value}, sorted, without NOT_SETTINGS: dicts and lists of
    dicts opened up (``train_dataloader.dataset.pipeline.2.scale``), any other value one entry, so a tuple and
    a list of the same numbers differ (RandomResize reads them differently) and 2e-4 equals 0.0002."""
    flat: dict[str, str] = {}

    def walk(node: object, key: str) -> None:
        if isinstance(node, dict) and node:
            for name, child in node.items():
                walk(child, f'{key}.{name}' if key else str(name))
        elif isinstance(node, list) and any(isinstance(item, dict | list) for item in node):
            for index, child in enumerate(node):
                walk(child, f'{key}.{index}')
        else:
            flat[key] = repr(node)

    walk({name: value for name, value in cfg.items() if name not in NOT_SETTINGS}, '')
    return dict(sorted(flat.items()))


def settings_digest(settings: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def settings_changes(before: dict[str, str], after: dict[str, str], shown: int = 3) -> str:
    """'key: old -> new' for the first ``shown`` keys that differ, and how many more do."""
    keys = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    changes = [f'{key}: {before.get(key, "(unset)")} -> {after.get(key, "(unset)")}' for key in keys[:shown]]
    return '; '.join(changes) + (f' and {len(keys) - shown} more' if len(keys) > shown else '')


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
    """One run per config and grid point; ``cfg_options`` (key=value) go to every run, before the grid's. Each
    run's options are checked as tools/train.py checks them (custom/engine/cfg_options.py), so a misspelt key
    stops the sweep before any training."""
    if not configs:
        raise ConfigError('a sweep needs at least one config')
    for config in configs:
        if not Path(config).is_file():
            raise MissingFileError(f'{config}: no such config file')
    runs = []
    for config in configs:
        for point in grid_points(grid):
            name = run_name(config, point)
            options = [*cfg_options, *(f'{key}={option_text(value)}' for key, value in point.items())]
            settings = run_settings(merged_config(config, parse_cfg_options(options)).to_dict())
            runs.append(Run(name=name, config=config, options=options, settings=settings,
                            work_dir=work_dir / f'{name}@{settings_digest(settings)}'))
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
    doing = f'resuming from {Path(resume).name}' if resume else 'training' + earlier_runs(run)
    print(f'{run.name}: {doing}', flush=True)
    run.work_dir.mkdir(parents=True, exist_ok=True)
    (run.work_dir / SETTINGS_FILE).write_text(json.dumps(run.settings, indent=1) + '\n', encoding='utf-8')
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


def earlier_runs(run: Run) -> str:
    """' (changed settings, ...)': what differs from the latest earlier run of the same name in the sweep's
    folder, or '' when there is none."""
    earlier = [path for path in run.work_dir.parent.glob(f'{glob.escape(run.name)}@*/{SETTINGS_FILE}')
               if path.parent != run.work_dir]
    if not earlier:
        return ''
    latest = max(earlier, key=lambda path: path.stat().st_mtime)
    changes = settings_changes(json.loads(latest.read_text(encoding='utf-8')), run.settings)
    return f' (changed settings, a new run beside {latest.parent.name}: {changes})'


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
