"""Steps shared by the main job and k-fold: which checkpoint to test, which metrics a test run logged."""

import json
import os

import pytest

from custom.errors import StepFailedError
from custom.jobs.steps import find_checkpoint, read_test_metrics, run_step


def test_checkpoint_is_the_newest_best_segm_one_else_the_latest_saved(tmp_path):
    (tmp_path / 'epoch_9.pth').touch()
    (tmp_path / 'epoch_10.pth').touch()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_9.pth'))
    assert find_checkpoint(tmp_path) == tmp_path / 'epoch_9.pth'
    (tmp_path / 'last_checkpoint').write_text('')  # killed while mmengine rewrote it
    assert find_checkpoint(tmp_path) == tmp_path / 'epoch_10.pth'
    for name, mtime in (('best_coco_segm_mAP_epoch_10.pth', 2), ('best_coco_segm_mAP_epoch_9.pth', 1)):
        (tmp_path / name).touch()
        os.utime(tmp_path / name, (mtime, mtime))
    assert find_checkpoint(tmp_path) == tmp_path / 'best_coco_segm_mAP_epoch_10.pth'
    with pytest.raises(StepFailedError, match='saved no checkpoint'):
        find_checkpoint(tmp_path / 'empty')


def test_metrics_come_from_the_latest_test_run_and_keep_only_numbers(tmp_path):
    for run, value in (('20260101_000000', 0.1), ('20260102_000000', 0.4)):
        (tmp_path / run).mkdir()
        (tmp_path / run / f'{run}.json').write_text(json.dumps({'coco/segm_mAP': value, 'step': 3}))
    (tmp_path / '20260102_000000' / 'vis_data.json').write_text('{"coco/segm_mAP": 9}')
    assert read_test_metrics(tmp_path) == {'coco/segm_mAP': 0.4, 'step': 3.0}
    with pytest.raises(StepFailedError, match='no metrics'):
        read_test_metrics(tmp_path / 'nothing')


def test_metrics_of_runs_in_one_clock_tick_come_from_the_later_run_and_in_process_results_count(tmp_path):
    for run, value in (('20260102_000000', 0.4), ('20260101_000000', 0.1)):  # the later run written first
        (tmp_path / run).mkdir()
        (tmp_path / run / f'{run}.json').write_text(json.dumps({'coco/segm_mAP': value}))
        os.utime(tmp_path / run / f'{run}.json', ns=(10**18, 10**18))
    assert read_test_metrics(tmp_path) == {'coco/segm_mAP': 0.4}
    # tools/test.py --tta evaluated later, in its own process: its results file
    (tmp_path / 'tta_test.json').write_text(json.dumps({'metrics': {'coco/segm_mAP': 0.7, 'note': 'x'}}))
    assert read_test_metrics(tmp_path) == {'coco/segm_mAP': 0.7}


def test_a_failing_step_raises_with_the_command_and_status():
    with pytest.raises(StepFailedError, match=r'tools/train.py --no-such-flag` exited with status 2'):
        run_step('train', '--no-such-flag')
