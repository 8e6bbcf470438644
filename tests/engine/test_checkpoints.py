"""Checkpoints: resume works with weights_only loading, unsafe pickles are refused, saves are atomic."""

import copy
import os
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader, save_checkpoint

from custom.engine.checkpoints import AtomicLocalBackend, load_checkpoint_file, write_atomic
from custom.engine.runtime import TRAIN_LOADERS, apply_train_options, build_runner, load_config
from custom.errors import UnsafeCheckpointError
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool, tiny_options, tiny_overrides

NO_VALIDATION = 100  # a validation interval past the last epoch


class Payload:
    """Unpickling this runs a shell command: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


class ReachThroughGetattr:
    """Pickles as getattr(HistoryBuffer, '__init__'): getattr used to reach beyond the statistics methods."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


class RecordStateBeforeTrain(Hook):
    """Captures where training (re)starts and the optimizer state it starts from."""

    def before_train(self, runner) -> None:
        self.epoch, self.iter = runner.epoch, runner.iter
        self.optimizer_state = copy.deepcopy(runner.optim_wrapper.optimizer.state_dict())


@pytest.mark.slow
def test_run_stopped_after_epoch_1_resumes_at_epoch_2_with_the_same_optimizer_state(pennfudan_root, tmp_path):
    work_dir = tmp_path / 'work'
    # 64x64 inputs: the cheapest training steps that still train; no validation: a resume does not need it.
    run_tool('train.py', DEMO_CONFIG, '--work-dir', str(work_dir), '--img-scale', '64', '64', '--cfg-options',
             *tiny_options(pennfudan_root, max_epochs=1), f'train_cfg.val_interval={NO_VALIDATION}')
    checkpoint = work_dir / 'epoch_1.pth'
    saved = load_checkpoint_file(checkpoint)
    assert saved['meta']['epoch'] == 1 and isinstance(saved['message_hub']['log_scalars']['train/loss'],
                                                      HistoryBuffer)

    overrides = {**tiny_overrides(pennfudan_root, max_epochs=2), 'train_cfg.val_interval': NO_VALIDATION}
    cfg = load_config(DEMO_CONFIG, overrides, str(work_dir), img_scale=(64, 64))
    apply_train_options(cfg, resume=str(checkpoint))
    runner = build_runner(cfg, TRAIN_LOADERS)
    recorder = RecordStateBeforeTrain()
    runner.register_hook(recorder)
    runner.train()

    assert (recorder.epoch, recorder.iter) == (1, saved['meta']['iter'])
    expected = saved['optimizer']['state']
    assert expected, 'the optimizer keeps state per parameter (momentum or Adam moments)'
    assert recorder.optimizer_state['state'].keys() == expected.keys()
    for key, state in expected.items():
        resumed = recorder.optimizer_state['state'][key]
        assert resumed.keys() == state.keys()
        assert all(torch.equal(torch.as_tensor(resumed[name]), torch.as_tensor(value))
                   for name, value in state.items())
    assert load_checkpoint_file(work_dir / 'epoch_2.pth')['meta']['epoch'] == 2
    assert not (work_dir / 'epoch_3.pth').exists()


def test_checkpoint_with_an_unexpected_global_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'meta': Payload(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as error:
        CheckpointLoader.load_checkpoint(str(path))
    assert str(path) in str(error.value) and 'posix.system' in str(error.value)
    assert not marker.exists()


def test_getattr_in_a_checkpoint_resolves_only_history_buffer_statistics(tmp_path):
    path = tmp_path / 'reach.pth'
    torch.save({'meta': ReachThroughGetattr()}, path)
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        load_checkpoint_file(path)


def test_test_tool_refuses_an_unsafe_checkpoint_with_a_clear_message(pennfudan_root, tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': Payload(marker)}, path)
    process = run_tool('test.py', DEMO_CONFIG, str(path), '--work-dir', str(tmp_path / 'work'),
                       '--cfg-options', *tiny_options(pennfudan_root), check=False)
    assert process.returncode != 0
    assert f'{path}: refused to load' in process.stderr
    assert not marker.exists()


def test_mmengine_saves_local_checkpoints_through_the_atomic_backend(tmp_path):
    path = tmp_path / 'ckpt.pth'
    assert isinstance(get_file_backend(str(path)), AtomicLocalBackend)
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path))
    assert torch.equal(load_checkpoint_file(path)['state_dict']['w'], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ckpt.pth']


def test_interrupted_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / 'latest.pth'
    path.write_bytes(b'previous checkpoint')

    def killed(fd: int) -> None:
        raise KeyboardInterrupt  # stands in for the process dying before the rename

    monkeypatch.setattr(os, 'fsync', killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b'new checkpoint, half written')
    assert path.read_bytes() == b'previous checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['latest.pth']
