"""ProgressBarHook: counts every val/test/train iteration, closes its bar, stays off in logs and off-rank."""

import io
from types import SimpleNamespace

import pytest
from mmdet.registry import HOOKS

import custom.engine.hooks.progress
from custom.engine.hooks import ProgressBarHook


class RecordingBar(custom.engine.hooks.progress.tqdm):
    """tqdm that remembers its instances and whether they were closed."""

    made: list['RecordingBar'] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.closed = False
        RecordingBar.made.append(self)

    def close(self):
        self.closed = True
        super().close()


@pytest.fixture
def bars(monkeypatch) -> list[RecordingBar]:
    RecordingBar.made = []
    monkeypatch.setattr(custom.engine.hooks.progress, 'tqdm', RecordingBar)
    return RecordingBar.made


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fake_runner(n_train: int = 3, n_val: int = 5, n_test: int = 4) -> SimpleNamespace:
    return SimpleNamespace(epoch=0, train_dataloader=list(range(n_train)), val_dataloader=list(range(n_val)),
                           test_dataloader=list(range(n_test)))


def run_loop(hook: ProgressBarHook, runner, mode: str) -> None:
    """What mmengine's loops call on a hook for one epoch of `mode`."""
    getattr(hook, f'before_{mode}_epoch')(runner)
    for index, batch in enumerate(getattr(runner, f'{mode}_dataloader')):
        getattr(hook, f'after_{mode}_iter')(runner, index, batch, None)
    if mode == 'train':
        hook.after_train_epoch(runner)
    else:
        getattr(hook, f'after_{mode}_epoch')(runner, {})


@pytest.mark.parametrize('mode, total', [('val', 5), ('test', 4)])
def test_enabled_bar_counts_every_iteration_and_closes(bars, mode, total):
    out = io.StringIO()
    run_loop(ProgressBarHook(enabled=True, file=out), fake_runner(), mode)
    assert len(bars) == 1
    assert (bars[0].n, bars[0].total, bars[0].desc) == (total, total, mode)
    assert bars[0].closed
    assert f'{total}/{total}' in out.getvalue()


def test_training_epochs_get_a_bar_only_when_asked_and_val_nests_under_it(bars):
    runner = fake_runner()
    run_loop(ProgressBarHook(enabled=True, file=io.StringIO()), runner, 'train')
    assert bars == []  # default modes: val and test

    hook = ProgressBarHook(modes=('train', 'val'), enabled=True, file=io.StringIO())
    runner.epoch = 1
    hook.before_train_epoch(runner)
    for index in range(3):
        hook.after_train_iter(runner, index, None, None)
    run_loop(hook, runner, 'val')  # validation inside the epoch
    hook.after_train_epoch(runner)
    train_bar, val_bar = bars
    assert (train_bar.n, train_bar.desc, train_bar.leave) == (3, 'train epoch 2', True)
    assert (val_bar.n, val_bar.leave) == (5, False)
    assert train_bar.closed and val_bar.closed


def test_bar_left_open_by_an_interrupted_loop_is_closed_after_the_run(bars):
    hook, runner = ProgressBarHook(enabled=True, file=io.StringIO()), fake_runner()
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, None, None)
    hook.after_run(runner)
    assert bars[0].n == 1 and bars[0].closed


def test_bar_is_off_when_output_is_not_a_terminal(bars, monkeypatch):
    monkeypatch.setattr('sys.stdout', io.StringIO())
    hook = ProgressBarHook()
    assert not hook.is_enabled()
    run_loop(hook, fake_runner(), 'val')
    assert bars == []


def test_bar_is_off_on_ranks_other_than_the_main_one(bars, monkeypatch):
    monkeypatch.setattr(custom.engine.hooks.progress, 'is_main_process', lambda: False)
    monkeypatch.setattr('sys.stdout', Terminal())
    monkeypatch.setattr('sys.stderr', Terminal())
    assert not ProgressBarHook().is_enabled()
    monkeypatch.setattr(custom.engine.hooks.progress, 'is_main_process', lambda: True)
    assert ProgressBarHook().is_enabled()


def test_hook_is_registered_for_configs_and_rejects_unknown_modes():
    hook = HOOKS.build(dict(type='ProgressBarHook', modes=('test',), enabled=False))
    assert isinstance(hook, ProgressBarHook) and hook.modes == ('test',)
    with pytest.raises(ValueError, match='predict'):
        ProgressBarHook(modes=('val', 'predict'))
