"""tools/sweep.py: runs planned from configs and a grid, one at a time per device, a leaderboard ranked by AP,
and a real sweep on tiny data that is killed mid-run and continued."""

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from mmengine.config import Config

from custom.analysis.complexity import input_size_at_test
from custom.analysis.leaderboard import write_leaderboard
from custom.analysis.log_curves import load_resumed_run_log
from custom.errors import ConfigError, MissingFileError
from custom.jobs.kfold import parse_cfg_options
from custom.jobs.steps import failure_line
from custom.jobs.sweep import grid_points, map_on_devices, option_text, plan_runs
from tests.helpers.tool_runs import DEMO_CONFIG, REPO, run_tool, tiny_options, wait_for


def test_grid_points_are_every_combination_and_each_value_reads_back_the_same_from_cfg_options(tmp_path):
    grid = parse_cfg_options(['optim_wrapper.optimizer.lr=0.01,2e-4', 'train_cfg.max_epochs=3',
                              'scale=[(160,128),(200,160)]', 'milestones=[[8,11],[6]]'])
    points = grid_points(grid)
    assert len(points) == 2 * 1 * 2 * 2
    assert {point['scale'] for point in points} == {(160, 128), (200, 160)}
    assert {tuple(point['milestones']) for point in points} == {(8, 11), (6,)}
    for point in points:
        written = [f'{key}={option_text(value)}' for key, value in point.items()]
        assert parse_cfg_options(written) == point

    runs = plan_runs([DEMO_CONFIG], grid, ['train_dataloader.batch_size=2'], tmp_path)
    assert len({run.name for run in runs}) == len({run.work_dir for run in runs}) == 8
    first = runs[0]
    assert first.name == ('pennfudan_demo_cpu__optim_wrapper.optimizer.lr=0.01__train_cfg.max_epochs=3__'
                          'scale=_160_128__milestones=_8_11')
    assert first.work_dir == tmp_path / first.name
    assert first.options == ['train_dataloader.batch_size=2', 'optim_wrapper.optimizer.lr=0.01',
                             'train_cfg.max_epochs=3', 'scale=(160,128)', 'milestones=[8,11]']


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


def test_leaderboard_ranks_mask_models_by_segm_box_models_by_bbox_and_failed_runs_last(tmp_path):
    rows = [dict(name='failed', status='failed', error='ValueError: bad | worse'),
            dict(name='boxes', status='done', bbox_mAP=0.5, bbox_epoch=3, inference_images_per_s=10.0),
            dict(name='masks', status='done', segm_mAP=0.6, segm_epoch=2, bbox_mAP=0.4, bbox_epoch=2,
                 params=44e6, flops=260e9, inference_images_per_s=5.0, train_s_per_image=0.25)]
    paths = write_leaderboard(rows, tmp_path)

    with paths['csv'].open() as stream:
        table = list(csv.DictReader(stream))
    assert [row['name'] for row in table] == ['masks', 'boxes', 'failed']
    assert table[0]['segm_mAP'] == '0.6' and table[0]['flops'] == '260000000000.0'
    assert table[1]['segm_mAP'] == ''
    markdown = paths['md'].read_text()
    assert '| 1 | masks | done | 0.600 | 2 | 0.400 | 2 | 44.0 | 260.0 | - | 0.250 | 5.00 | - |' in markdown
    assert '| 3 | failed | failed | - |' in markdown and 'ValueError: bad \\| worse' in markdown
    assert paths['png'].read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.slow
def test_killed_sweep_resumes_its_stopped_run_and_keeps_finished_and_failed_runs(pennfudan_root, tmp_path):
    sweep_dir = tmp_path / 'sweep'
    # lr -1 fails when the optimiser is built; lr 2e-4 trains 2 epochs, saving a checkpoint after each.
    args = [DEMO_CONFIG, '--grid', 'optim_wrapper.optimizer.lr=-1,2e-4', '--work-dir', str(sweep_dir),
            '--cfg-options', *tiny_options(pennfudan_root, max_epochs=2),
            'default_hooks.checkpoint.interval=1']
    failed = sweep_dir / 'pennfudan_demo_cpu__optim_wrapper.optimizer.lr=-1'
    trained = sweep_dir / 'pennfudan_demo_cpu__optim_wrapper.optimizer.lr=0.0002'
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore')
    with (tmp_path / 'first.log').open('w') as log:
        first = subprocess.Popen([sys.executable, 'tools/sweep.py', *args], cwd=REPO, env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: (trained / 'epoch_1.pth').is_file(), timeout=400, what='the epoch 1 checkpoint',
                 process=first)
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
    assert (best['name'], best['status'], broken['name'], broken['status']) == (
        trained.name, 'done', failed.name, 'failed')
    assert 'ValueError: Invalid learning rate: -1' in broken['error'] and broken['segm_mAP'] == ''
    assert 0 <= float(best['segm_mAP']) <= 1 and float(best['segm_epoch']) in (1, 2)
    assert 0 <= float(best['bbox_mAP']) <= 1 and float(best['bbox_epoch']) in (1, 2)
    assert float(best['params']) > 1e7 and float(best['flops']) > 1e9 and best['test_size'] == '160x128'
    assert float(best['train_s_per_image']) > 0 and float(best['inference_images_per_s']) > 0
    assert trained.name in (sweep_dir / 'leaderboard.md').read_text()
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
