"""The main job's decisions and steps (the full demo run itself is measured in docs/benchmarks.md)."""

import os
from functools import partial

import pytest
import torch

from custom.data_tools.pennfudan_download import prepare_pennfudan
from custom.engine.checkpoints import load_checkpoint_file
from custom.jobs import main_job
from custom.jobs.steps import read_test_metrics
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool, tiny_options


def test_falls_back_to_the_demo_with_the_reason_when_penn_fudan_cannot_be_downloaded(dead_url, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setattr(main_job, 'prepare_pennfudan', partial(prepare_pennfudan, url=dead_url, timeout=5))
    reason = main_job.pennfudan_unavailable_reason(tmp_path / 'PennFudanPed')
    assert reason is not None
    assert dead_url in reason and 'PennFudanPed.zip' in reason  # what failed and where to put the zip


@pytest.mark.slow
def test_untrained_baseline_is_the_initialised_model_and_scores_near_zero(pennfudan_root, tmp_path):
    path = main_job.save_untrained_checkpoint(DEMO_CONFIG, tmp_path / 'untrained.pth')
    state = load_checkpoint_file(path)['state_dict']
    assert 'roi_head.mask_head.conv_logits.weight' in state
    again = load_checkpoint_file(main_job.save_untrained_checkpoint(DEMO_CONFIG, tmp_path / 'again.pth'))
    assert all(torch.equal(state[k], again['state_dict'][k]) for k in state)  # seeded: reproducible

    work_dir = tmp_path / 'work'
    run_tool('test.py', DEMO_CONFIG, str(path), '--work-dir', str(work_dir), '--cfg-options',
             *tiny_options(pennfudan_root))
    metrics = read_test_metrics(work_dir)
    assert 0.0 <= metrics['coco/segm_mAP'] < 0.05
    assert 'coco/bbox_mAP' in metrics


def test_summary_table_and_json_hold_every_model(tmp_path, capsys):
    results = {'untrained': {'coco/segm_mAP': 0.0}, 'trained': {'coco/segm_mAP': 0.512, 'coco/bbox_mAP': 0.6}}
    main_job.print_summary('demo', results, tmp_path)
    out = capsys.readouterr().out
    assert 'untrained' in out and '0.512' in out and '0.600' in out
    assert os.path.getsize(tmp_path / 'summary.json') > 0
