"""Killed runs: SIGKILL mid-epoch resumes from the last checkpoint; a kill during a save never corrupts it."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from custom.engine.checkpoints import load_checkpoint_file, write_atomic
from custom.files import remove_stale_temporaries
from tests.helpers.tool_runs import DEMO_CONFIG, REPO, run_tool, tiny_options, wait_for

ITERS_PER_EPOCH = 4  # 4 training images at batch size 1


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.slow
def test_run_killed_mid_epoch_resumes_from_last_checkpoint_and_trains_the_same_epochs(pennfudan_root,
                                                                                     tmp_path):
    work_dir = tmp_path / 'work'
    args = [DEMO_CONFIG, '--work-dir', str(work_dir), '--cfg-options',
            *tiny_options(pennfudan_root, max_epochs=3), 'train_dataloader.batch_size=1',
            'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=1']
    log = tmp_path / 'first_run.log'
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore')
    with log.open('w') as out:
        first = subprocess.Popen([sys.executable, 'tools/train.py', *args], cwd=REPO, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        epoch_2_started = re.compile(r'Epoch\(train\)\s+\[2\]\[\s*1/')
        wait_for(lambda: (work_dir / 'epoch_1.pth').is_file() and epoch_2_started.search(log.read_text()),
                 timeout=400, what='epoch 1 checkpoint and the first iteration of epoch 2', process=first)
    finally:
        kill(first)
    assert first.returncode == -signal.SIGKILL
    assert not (work_dir / 'epoch_2.pth').exists(), 'killed mid-epoch 2, so no epoch 2 checkpoint'
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')

    resumed = run_tool('train.py', *args, '--resume')

    output = resumed.stdout + resumed.stderr
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in output
    assert not re.search(r'Epoch\(train\)\s+\[1\]', output), 'the resumed run must not repeat epoch 1'
    assert re.search(r'Epoch\(train\)\s+\[2\]', output) and re.search(r'Epoch\(train\)\s+\[3\]', output)
    final = load_checkpoint_file(work_dir / 'epoch_3.pth')
    assert (final['meta']['epoch'], final['meta']['iter']) == (3, 3 * ITERS_PER_EPOCH)
    assert not (work_dir / 'epoch_4.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('epoch_3.pth')


SAVE_FOREVER = textwrap.dedent('''
    import sys
    import torch
    from mmengine.runner import save_checkpoint
    import custom.engine.checkpoints  # noqa: F401  (installs the atomic local backend)

    path = sys.argv[1]
    for generation in range(1, 10**6):
        weights = torch.full((4_000_000,), float(generation))  # 16 MB: the write takes a while
        save_checkpoint({'meta': {'generation': generation}, 'state_dict': {'w': weights}}, path)
        print(f'saved {generation}', flush=True)
''')


def test_kill_during_checkpoint_saves_never_leaves_a_corrupt_checkpoint(tmp_path):
    """SIGKILL a process that keeps overwriting one checkpoint, at several moments of a write."""
    path = tmp_path / 'latest.pth'
    script = tmp_path / 'save_forever.py'
    script.write_text(SAVE_FOREVER)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    for delay in (0.0, 0.05, 0.13, 0.31):
        saver = subprocess.Popen([sys.executable, str(script), str(path)], env=env, stdout=subprocess.PIPE,
                                 text=True)
        try:
            output = [saver.stdout.readline()]  # wait for one complete save, then kill during a later one
            while output[-1] and not output[-1].startswith('saved '):  # skip mmengine's log lines
                output.append(saver.stdout.readline())
            assert output[-1], f'the saving process failed: {output}'
            time.sleep(delay)
        finally:
            kill(saver)
            saver.stdout.close()
        checkpoint = load_checkpoint_file(path)
        generation = checkpoint['meta']['generation']
        assert torch.equal(checkpoint['state_dict']['w'][:3], torch.full((3,), float(generation)))
        leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ('latest.pth', 'save_forever.py')]
        own_temporary = rf'\.latest\.pth\.{saver.pid}\.\w+\.tmp'  # the killed writer could not remove it
        assert all(re.fullmatch(own_temporary, name) for name in leftovers), leftovers


def test_next_save_removes_temporaries_of_killed_writers_but_not_of_running_ones(tmp_path):
    path = tmp_path / 'latest.pth'
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f'.latest.pth.{dead.stdout.strip()}.abc123.tmp'
    running = tmp_path / f'.latest.pth.{os.getppid()}.def456.tmp'  # our parent is alive
    unrelated = tmp_path / '.other.pth.1.x.tmp'
    for leftover in (stale, running, unrelated):
        leftover.write_bytes(b'half a checkpoint')

    write_atomic(path, b'new checkpoint')

    assert path.read_bytes() == b'new checkpoint'
    assert not stale.exists() and running.exists() and unrelated.exists()
    assert remove_stale_temporaries(path) == []
