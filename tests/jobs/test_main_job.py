"""The main job's decisions and steps (the full demo run itself is measured in docs/benchmarks.md)."""

import json
from functools import partial
from pathlib import Path

import pytest
import torch

from custom.data_tools.pennfudan_download import prepare_pennfudan
from custom.datasets.builder import configured_datasets
from custom.engine.checkpoints import load_checkpoint_file
from custom.engine.runtime import load_config
from custom.jobs import main_job
from custom.jobs.kfold import parse_cfg_options
from custom.jobs.steps import read_test_metrics
from tests.helpers import REPO
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
    lines = capsys.readouterr().out.splitlines()
    # One row per model, each number under its column: bbox_mAP, bbox_mAP_50, segm_mAP, segm_mAP_50.
    header = lines.index('== demo ==') + 1
    assert lines[header].split() == ['model', 'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
                                     'coco/segm_mAP_50']
    assert [line.split() for line in lines[header + 1:header + 3]] == [
        ['untrained', 'nan', 'nan', '0.000', 'nan'], ['trained', '0.600', 'nan', '0.512', 'nan']]
    assert json.loads((tmp_path / 'summary.json').read_text()) == results


def test_train_and_test_read_the_data_root_the_job_was_given(pennfudan_root, tmp_path, monkeypatch):
    """`tools/main.py --data-root DIR`: the train and test runs it starts read DIR, not the config's root."""
    steps = []
    monkeypatch.setattr(main_job, 'run_step', lambda tool, *args: steps.append((tool, list(args))))
    monkeypatch.setattr(main_job, 'find_checkpoint', lambda work_dir: tmp_path / 'best.pth')
    monkeypatch.setattr(main_job, 'read_test_metrics', lambda test_dir: {})
    config = str(REPO / main_job.PENNFUDAN_CONFIG)
    monkeypatch.setattr(main_job, 'PENNFUDAN_CONFIG', config)
    monkeypatch.chdir(tmp_path)  # the job writes work_dirs/ under the current folder
    (tmp_path / 'work_dirs' / 'pennfudan_maskrcnn').mkdir(parents=True)
    main_job.run_pennfudan(pennfudan_root)

    runs = {tool: args for tool, args in steps if tool in ('train', 'test')}
    assert set(runs) == {'train', 'test'}
    for tool, args in runs.items():
        options = args[args.index('--cfg-options') + 1:]
        cfg = load_config(config, parse_cfg_options(options), work_dir='unused')
        roots = {Path(dataset['data_root']) for _, dataset in configured_datasets(cfg)}
        assert roots == {pennfudan_root.resolve()}, tool
