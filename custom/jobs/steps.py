"""Steps that jobs made of several runs share (custom/jobs/main_job.py, kfold.py, sweep.py).

Each step runs a tool as ``python -m custom.cli.<tool>`` (what ``python tools/<tool>.py`` runs) in its own
process, so no mmengine global state (loggers, message hubs, visualizers) leaks from one runner into the next.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from mmengine.config import Config, DictAction

from custom.datasets.builder import configured_datasets, option_key
from custom.engine.runtime import latest_checkpoint
from custom.errors import StepFailedError


def run_step(tool: str, *args: str, log_file: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Runs ``python tools/<tool>.py args`` (as its module) with the output on the console, or appended to
    ``log_file`` (then a failure quotes the line that says why); ``env`` is added to the environment. Raises
    StepFailedError when it fails."""
    command = f'python tools/{tool}.py ' + ' '.join(args)
    output = None
    if log_file is None:
        print(f'\n$ {command}', flush=True)
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        output = log_file.open('a', encoding='utf-8')
        output.write(f'$ {command}\n')
        output.flush()
    try:
        returncode = subprocess.run([sys.executable, '-m', f'custom.cli.{tool}', *args],
                                    env={**os.environ, **(env or {})}, stdout=output,
                                    stderr=subprocess.STDOUT if output else None).returncode
    finally:
        if output:
            output.close()
    if returncode and log_file is None:
        raise StepFailedError(f'`{command}` exited with status {returncode} (its output is above)')
    if returncode:
        reason = failure_line(log_file.read_text(encoding='utf-8', errors='replace'))
        raise StepFailedError(f'`{command}` exited with status {returncode}: {reason} (log: {log_file})')


def data_root_options(cfg: Config, data_root: str | Path) -> list[str]:
    """``--cfg-options`` items that point every dataset of the config's loaders (through wrappers) at
    ``data_root``, so a training or test step reads the data the job prepared, not the config's own root."""
    root = f'{Path(data_root).resolve()}/'
    return [f'{option_key(where)}.data_root={root}' for where, _ in configured_datasets(cfg)]


def parse_cfg_options(options: list[str] | None) -> dict:
    """``['key=value', ...]`` parsed exactly as the tools' ``--cfg-options`` (mmengine DictAction)."""
    namespace = argparse.Namespace(options=None)
    if options:
        DictAction(option_strings=[], dest='options')(None, namespace, options)
    return namespace.options or {}


def failure_line(output: str) -> str:
    """The line of a failed tool's output that says why: its last ``error: ...`` line (a user error), else
    the last line of its traceback (``ValueError: ...``), else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for pattern in (r'error: .+', r'[\w.]+(Error|Exception|Interrupt)\b.*'):
        found = [line for line in lines if re.match(pattern, line)]
        if found:
            return found[-1]
    return lines[-1] if lines else '(no output)'


def find_checkpoint(work_dir: Path) -> Path:
    """The run's best checkpoint (best segm mAP, else any best_*), else the latest one saved."""
    for pattern in ('best_coco_segm_mAP_epoch_*.pth', 'best_*.pth'):
        best = sorted(work_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
        if best:
            return best[-1]
    latest = latest_checkpoint(work_dir)
    if latest is None:
        raise StepFailedError(f'{work_dir}: the training saved no checkpoint')
    return Path(latest)


# What tools/test.py writes when it evaluates in its own process (--slice, --tta with masks).
SLICED_RESULTS, TTA_RESULTS = 'sliced_test.json', 'tta_test.json'
IN_PROCESS_RESULTS = (SLICED_RESULTS, TTA_RESULTS)


def read_test_metrics(test_dir: Path) -> dict[str, float]:
    """The numeric metrics of the latest tools/test.py run in test_dir: mmengine's <run>/<run>.json, or the
    results file of an evaluation in its own process (IN_PROCESS_RESULTS)."""
    logs = [p for p in test_dir.glob('*/*.json') if p.stem == p.parent.name]
    logs += [test_dir / name for name in IN_PROCESS_RESULTS if (test_dir / name).is_file()]
    if not logs:
        raise StepFailedError(f'{test_dir}: tools/test.py wrote no metrics json')
    # the newest file; runs written within one clock tick: the later run name (mmengine's timestamp)
    latest = max(logs, key=lambda path: (path.stat().st_mtime_ns, path.parent.name, path.name))
    if latest.name in IN_PROCESS_RESULTS:
        logged = json.loads(latest.read_text())['metrics']
    else:
        logged = json.loads(latest.read_text().splitlines()[-1])
    return {key: float(value) for key, value in logged.items() if isinstance(value, int | float)}
