"""Steps that jobs made of several runs share (custom/jobs/main_job.py, custom/jobs/kfold.py).

Each step runs a tool as ``python -m custom.cli.<tool>`` (what ``python tools/<tool>.py`` runs) in its own
process, so no mmengine global state (loggers, message hubs, visualizers) leaks from one runner into the next.
"""

import json
import subprocess
import sys
from pathlib import Path

from custom.engine.runtime import latest_checkpoint
from custom.errors import StepFailedError


def run_step(tool: str, *args: str) -> None:
    """Runs ``python tools/<tool>.py args`` (as its module) with the output on the console; raises
    StepFailedError when it fails."""
    command = f'python tools/{tool}.py ' + ' '.join(args)
    print(f'\n$ {command}', flush=True)
    returncode = subprocess.run([sys.executable, '-m', f'custom.cli.{tool}', *args]).returncode
    if returncode:
        raise StepFailedError(f'`{command}` exited with status {returncode} (its output is above)')


def find_checkpoint(work_dir: Path) -> Path:
    """The run's best checkpoint (best segm mAP, else any best_*), else the latest one saved."""
    for pattern in ('best_coco_segm_mAP_epoch_*.pth', 'best_*.pth'):
        best = sorted(work_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
        if best:
            return best[-1]
    latest = latest_checkpoint(work_dir)
    if latest is None:
        raise FileNotFoundError(f'{work_dir}: no checkpoint was saved')
    return Path(latest)


def read_test_metrics(test_dir: Path) -> dict[str, float]:
    """The numeric metrics of the latest tools/test.py run in test_dir (mmengine writes <run>/<run>.json)."""
    logs = sorted(p for p in test_dir.glob('*/*.json') if p.stem == p.parent.name)
    if not logs:
        raise FileNotFoundError(f'{test_dir}: tools/test.py wrote no metrics json')
    logged = json.loads(logs[-1].read_text().splitlines()[-1])
    return {key: float(value) for key, value in logged.items() if isinstance(value, int | float)}
