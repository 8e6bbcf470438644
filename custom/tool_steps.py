"""Steps that jobs made of several tool runs share (custom/main_job.py, custom/kfold.py).

Each step runs the command a user would type (`python tools/<tool> ...`) in its own process, so no
mmengine global state (loggers, message hubs, visualizers) leaks from one runner into the next.
"""

import json
import subprocess
import sys
from pathlib import Path

from custom.runtime import latest_checkpoint

REPO = Path(__file__).resolve().parents[1]


class ToolFailedError(RuntimeError):
    """A `python tools/<tool>` step exited with an error (its own message is in the output above)."""


def run_tool(tool: str, *args: str) -> None:
    """Runs `python tools/<tool> args` with the output on the console; raises ToolFailedError on failure."""
    command = f'python tools/{tool} ' + ' '.join(args)
    print(f'\n$ {command}', flush=True)
    returncode = subprocess.run([sys.executable, str(REPO / 'tools' / tool), *args]).returncode
    if returncode:
        raise ToolFailedError(f'`{command}` exited with status {returncode} (its output is above)')


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
