"""Running the command-line tools on tiny data: the CPU demo config shrunk to a few seconds per epoch."""

import os
import subprocess
import sys
import time
from pathlib import Path

import cv2

from tests.helpers import REPO

DEMO_CONFIG = 'configs/pennfudan_demo_cpu.py'
# The longest a tool run on tiny data may take before it counts as hung. The longest, tools/kfold.py's 2
# folds, takes about a minute on 2 idle cores and took 500 s beside another test worker at load 14: 30 minutes
# leave margin for a loaded machine and still end a hung run.
TOOL_TIMEOUT = 1800


def tiny_overrides(data_root: Path, max_epochs: int = 1) -> dict[str, object]:
    """Config overrides that point the demo config at `data_root` and keep everything in-process and small."""
    overrides = {'train_cfg.max_epochs': max_epochs, 'train_cfg.val_interval': 1,
                 'train_dataloader.batch_size': 2, 'default_hooks.logger.interval': 1,
                 'default_hooks.visualization.draw': False}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        overrides.update({f'{loader}.dataset.data_root': f'{data_root}/', f'{loader}.num_workers': 0,
                          f'{loader}.persistent_workers': False})
    return overrides


def tiny_options(data_root: Path, max_epochs: int = 1) -> list[str]:
    """tiny_overrides as --cfg-options arguments."""
    return [f'{key}={value}' for key, value in tiny_overrides(data_root, max_epochs).items()]


def run_tool(tool: str, *args: str, check: bool = True, threads: int = 2) -> subprocess.CompletedProcess:
    """Runs `python tools/<tool> args...` from the repo root with ``threads`` torch threads; returns the
    process."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONWARNINGS='ignore')
    process = subprocess.run([sys.executable, f'tools/{tool}', *args], cwd=REPO, env=env, text=True,
                             capture_output=True, timeout=TOOL_TIMEOUT)
    if check and process.returncode != 0:
        raise AssertionError(f'tools/{tool} failed ({process.returncode}):\n{process.stdout[-3000:]}\n'
                             f'{process.stderr[-5000:]}')
    return process


def write_video(path: Path, frames: list[Path], fps: int = 5) -> Path:
    """An mp4 of the given image files (all of one size), for the video input of tools/infer.py."""
    height, width = cv2.imread(str(frames[0])).shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
    for frame in frames:
        writer.write(cv2.imread(str(frame)))
    writer.release()
    return path


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    """Polls ``condition`` every 50 ms; fails when ``process`` ends first or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f'process ended ({process.returncode}) before {what}')
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout:g} s waiting for {what}')
        time.sleep(0.05)
