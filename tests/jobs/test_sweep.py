"""tools/sweep.py: runs planned from configs and a grid and identified by their merged config, one at a time
per device, and a real sweep on tiny data that is killed mid-run and continued (the leaderboard's ranking and
plot: tests/analysis/test_leaderboard.py)."""

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from mmengine.config import Config

import custom.jobs.sweep as sweep
from custom.analysis.complexity import input_size_at_test
from custom.analysis.log_curves import load_resumed_run_log
from custom.errors import ConfigError, MissingFileError
from custom.jobs.steps import failure_line, parse_cfg_options
from custom.jobs.sweep import grid_points, map_on_devices, option_text, plan_runs, run_sweep
from tests.helpers.tool_runs import DEMO_CONFIG, REPO, TOOL_TIMEOUT, run_tool, tiny_options, wait_for


def test_grid_points_are_every_combination_and_each_value_reads_back_the_same_from_cfg_options(tmp_path):
    scale, milestones = 'train_dataloader.dataset.pipeline.2.scale', 'param_scheduler.1.milestones'
    grid = parse_cfg_options(['optim_wrapper.optimizer.lr=0.01,2e-4', 'train_cfg.max_epochs=3',
                              f'{scale}=[(160,128),(200,160)]', f'{milestones}=[[8,11],[6]]'])
    points = grid_points(grid)
    assert len(points) == 2 * 1 * 2 * 2
    assert {point[scale] for point in points} == {(160, 128), (200, 160)}
    assert {tuple(point[milestones]) for point in points} == {(8, 11), (6,)}
    for point in points:
        written = [f'{key}={option_text(value)}' for key, value in point.items()]
        assert parse_cfg_options(written) == point

    runs = plan_runs([DEMO_CONFIG], grid, ['train_dataloader.batch_size=2'], tmp_path)
    assert len({run.name for run in runs}) == len({run.work_dir for run in runs}) == 8
    first = runs[0]
    assert first.name == ('pennfudan_demo_cpu__optim_wrapper.optimizer.lr=0.01__train_cfg.max_epochs=3__'
                          'train_dataloader.dataset.pipeline.2.scale=_160_128__param_scheduler.1.milestones=_8_11')
    assert first.work_dir.parent == tmp_path and first.work_dir.name.startswith(f'{first.name}@')
    assert first.options == ['train_dataloader.batch_size=2', 'optim_wrapper.optimizer.lr=0.01',
                             'train_cfg.max_epochs=3', f'{scale}=(160,128)', f'{milestones}=[8,11]']
    assert first.settings[f'{scale}'] == '(160, 128)' and first.settings[milestones] == '[8, 11]'
    assert first.settings['train_dataloader.batch_size'] == '2'


def test_a_run_is_identified_by_its_merged_config_not_by_its_name_or_where_it_is_written(tmp_path):
    def work_dir(*cfg_options: str, sweep_dir=tmp_path) -> str:
        [run] = plan_runs([DEMO_CONFIG], {'optim_wrapper.optimizer.lr': 2e-4}, list(cfg_options), sweep_dir)
        return run.work_dir.name

    two_epochs = work_dir('train_cfg.max_epochs=2', 'train_cfg.val_interval=1')
    assert work_dir('train_cfg.val_interval=1', 'train_cfg.max_epochs=2') == two_epochs
    assert work_dir('train_cfg.max_epochs=2', 'train_cfg.val_interval=1', sweep_dir=tmp_path / 'b') == (
        two_epochs)
    # The same value written otherwise is the same run; where it writes is no setting.
    assert work_dir('train_cfg.max_epochs=2', 'train_cfg.val_interval=1', 'optim_wrapper.optimizer.lr=0.0002',
                    'work_dir=/tmp/x') == two_epochs
    twelve_epochs = work_dir('train_cfg.max_epochs=12', 'train_cfg.val_interval=1')
    assert twelve_epochs != two_epochs
    assert twelve_epochs.split('@')[0] == two_epochs.split('@')[0] == (
        'pennfudan_demo_cpu__optim_wrapper.optimizer.lr=0.0002')
    # A tuple and a list of the same numbers are different settings (RandomResize reads them differently).
    scale = 'train_dataloader.dataset.pipeline.2.scale'
    assert work_dir(f'{scale}=(200,160)') != work_dir(f'{scale}=[200,160]')


def test_a_sweep_run_again_with_other_settings_trains_new_runs_and_keeps_the_earlier_results(
        tmp_path, monkeypatch, capsys):
    """Before, a run was its grid values: the second sweep said 'done before, skipped' and kept the 2-epoch
    results as the 12-epoch ones."""
    trained = []  # the --cfg-options of each training

    def fake_training(tool: str, *args: str, log_file, env) -> None:
        trained.append(args[args.index('--cfg-options') + 1:])
        log_file.parent.mkdir(parents=True, exist_ok=True)

    def fake_results(work_dir) -> dict:
        epochs = parse_cfg_options(trained[-1])['train_cfg.max_epochs']
        return dict(judged_by='segm', segm_mAP=epochs / 100)

    monkeypatch.setattr(sweep, 'run_step', fake_training)
    monkeypatch.setattr(sweep, 'run_results', fake_results)

    def sweep_with(max_epochs: int) -> tuple[list[float], str]:
        trained.clear()
        rows = run_sweep([DEMO_CONFIG], {'optim_wrapper.optimizer.lr': [0.01, 0.02]},
                         [f'train_cfg.max_epochs={max_epochs}'], tmp_path)
        return [row['segm_mAP'] for row in rows], capsys.readouterr().out

    assert sweep_with(2)[0] == [0.02, 0.02] and len(trained) == 2

    results, output = sweep_with(12)
    assert results == [0.12, 0.12] and len(trained) == 2 and 'done before' not in output
    assert output.count('training (changed settings, a new run beside pennfudan_demo_cpu__') == 2
    assert output.count('train_cfg.max_epochs: 2 -> 12') == 2
    with (tmp_path / 'leaderboard.csv').open() as stream:  # this sweep's runs only
        assert [row['segm_mAP'] for row in csv.DictReader(stream)] == ['0.12', '0.12']

    results, output = sweep_with(2)  # the earlier settings again: their runs are found finished
    assert results == [0.02, 0.02] and trained == [] and output.count('done before, skipped') == 2
    assert len(list(tmp_path.glob('*@*/sweep_run.json'))) == 4


def test_a_sweep_without_configs_with_a_missing_config_or_a_repeated_run_is_refused(tmp_path):
    with pytest.raises(ConfigError, match='at least one config'):
        plan_runs([], {}, [], tmp_path)
    with pytest.raises(MissingFileError, match='no_such.py'):
        plan_runs(['configs/no_such.py'], {}, [], tmp_path)
    with pytest.raises(ConfigError, match='more than once'):
        plan_runs([DEMO_CONFIG, DEMO_CONFIG], {}, [], tmp_path)


def test_runs_share_the_devices_one_run_per_device_at_a_time_and_results_keep_their_order():
    busy, lock, most_at_once = set(), threading.Lock(), []

    def train(item: int, env: dict) -> tuple[int, str]:
        device = env['CUDA_VISIBLE_DEVICES']
        with lock:
            assert device not in busy, f'device {device} given to two runs at once'
            busy.add(device)
            most_at_once.append(len(busy))
        time.sleep(0.02)
        with lock:
            busy.remove(device)
        return item, device

    results = map_on_devices(train, range(12), ['0', '1', '2'])
    assert [item for item, _ in results] == list(range(12))
    assert {device for _, device in results} <= {'0', '1', '2'} and max(most_at_once) <= 3
    assert map_on_devices(lambda item, env: env, [1, 2], [None]) == [{}, {}]  # no GPUs: environment unchanged


def test_failure_line_is_the_user_error_else_the_last_line_of_the_traceback():
    traceback = ('Traceback (most recent call last):\n  File "x.py", line 1\n'
                 'ValueError: Invalid learning rate: -1\n')
    assert failure_line(traceback) == 'ValueError: Invalid learning rate: -1'
    assert failure_line('loading\nerror: data/x.xml: no <size>\nbye\n') == 'error: data/x.xml: no <size>'
    assert failure_line('Killed\n') == 'Killed'


@pytest.mark.slow
def test_killed_sweep_resumes_its_stopped_run_and_keeps_finished_and_failed_runs(pennfudan_root, tmp_path):
    sweep_dir = tmp_path / 'sweep'
    # lr -1 fails when the optimiser is built; lr 2e-4 trains 2 epochs, saving a checkpoint after each.
    options = [*tiny_options(pennfudan_root, max_epochs=2), 'default_hooks.checkpoint.interval=1']
    args = [DEMO_CONFIG, '--grid', 'optim_wrapper.optimizer.lr=-1,2e-4', '--work-dir', str(sweep_dir),
            '--cfg-options', *options]
    failed, trained = (run.work_dir for run in plan_runs(
        [DEMO_CONFIG], parse_cfg_options(['optim_wrapper.optimizer.lr=-1,2e-4']), options, sweep_dir))
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore')
    with (tmp_path / 'first.log').open('w') as log:
        first = subprocess.Popen([sys.executable, 'tools/sweep.py', *args], cwd=REPO, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: (trained / 'epoch_1.pth').is_file(), TOOL_TIMEOUT, 'the epoch 1 checkpoint', first)
    finally:  # the sweep and its training process
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert (failed / 'sweep_run.json').is_file() and not (trained / 'sweep_run.json').exists()
    assert not (trained / 'epoch_2.pth').exists()

    second = run_tool('sweep.py', *args, check=False)

    assert second.returncode == 1, 'a run failed, so the sweep exits with 1 after writing the leaderboard'
    assert 'lr=-1: failed before, skipped' in second.stdout
    assert 'lr=0.0002: resuming from epoch_1.pth' in second.stdout
    train_log = load_resumed_run_log(trained).train
    assert [record['epoch'] for record in train_log] == [1, 1, 2, 2], 'epoch 1 trained once, then epoch 2'
    with (sweep_dir / 'leaderboard.csv').open() as stream:
        best, broken = csv.DictReader(stream)
    assert (best['work_dir'], best['status'], broken['work_dir'], broken['status']) == (
        str(trained), 'done', str(failed), 'failed')
    assert best['name'] == 'pennfudan_demo_cpu__optim_wrapper.optimizer.lr=0.0002'
    assert best['judged_by'] == 'segm'
    assert 'ValueError: Invalid learning rate: -1' in broken['error'] and broken['segm_mAP'] == ''
    assert 0 <= float(best['segm_mAP']) <= 1 and float(best['segm_epoch']) in (1, 2)
    assert 0 <= float(best['bbox_mAP']) <= 1 and float(best['bbox_epoch']) in (1, 2)
    assert float(best['params']) > 1e7 and float(best['flops']) > 1e9 and best['test_size'] == '160x128'
    assert float(best['train_s_per_image']) > 0 and float(best['inference_images_per_s']) > 0
    assert best['name'] in (sweep_dir / 'leaderboard.md').read_text()
    assert (sweep_dir / 'leaderboard.png').stat().st_size > 1000

    finished = (trained / 'sweep_run.json').stat().st_mtime_ns
    third = run_tool('sweep.py', *args, check=False)
    assert 'lr=0.0002: done before, skipped' in third.stdout
    assert 'lr=-1: failed before, skipped' in third.stdout
    assert (trained / 'sweep_run.json').stat().st_mtime_ns == finished


def test_flops_are_counted_at_the_first_resize_scale_of_the_test_pipeline():
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'), dict(type='RandomResize', scale=[(640, 480), (800, 600)]),
        dict(type='PackDetInputs')]))))
    assert input_size_at_test(cfg) == (640, 480)
    cfg.test_dataloader.dataset.pipeline[1] = dict(type='Resize', scale=(1333, 800), keep_ratio=True)
    assert input_size_at_test(cfg) == (1333, 800)
    cfg.test_dataloader.dataset.pipeline.pop(1)
    with pytest.raises(ConfigError, match='no step with a scale'):
        input_size_at_test(cfg)
