"""tools/dist_train.sh and tools/dist_test.sh: 2 torchrun processes on the CPU over gloo, a few iterations."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from custom.engine.distributed import adapt_distributed_to_cpu
from tests.helpers.source_writers import PENNFUDAN_VAL, make_pennfudan
from tests.helpers.tool_runs import DEMO_CONFIG, REPO, TOOL_TIMEOUT, tiny_options

WORLD_SIZE = 2


# What would make the scripts start torchrun's static rendezvous on a fixed port instead of a free one.
NODE_VARIABLES = ('NNODES', 'PORT')


def run_script(script: str, *args: str, log_dir: Path | None = None) -> subprocess.CompletedProcess:
    """Runs tools/<script> with the test's interpreter, as on one node: torchrun binds a free port itself (no
    port picked here that a process of the other test worker could take first). torchrun tees each rank's
    output to log_dir."""
    env = {name: value for name, value in os.environ.items() if name not in NODE_VARIABLES}
    env.update(PYTHON=sys.executable, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    if log_dir is not None:
        env.update(PET_LOG_DIR=str(log_dir), PET_TEE='3')  # torchrun's --log-dir and --tee, from the env
    return subprocess.run(['bash', f'tools/{script}', *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=TOOL_TIMEOUT)


def rank_logs(log_dir: Path) -> dict[int, str]:
    """{local rank: its stdout + stderr} from torchrun's <log_dir>/<run id>/attempt_0/<rank>/ files."""
    logs = {}
    for rank_dir in log_dir.glob('*/attempt_0/*'):
        logs[int(rank_dir.name)] = ''.join(path.read_text() for path in sorted(rank_dir.glob('*.log')))
    return logs


@pytest.fixture(scope='module')
def dist_trained(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess, dict[int, str]]:
    """(data root, work dir, process, rank logs) after 1 epoch of tools/dist_train.sh with 2 CPU processes."""
    base = tmp_path_factory.mktemp('dist')
    root = make_pennfudan(base / 'PennFudanPed')  # 4 train images at batch 2
    work_dir, log_dir = base / 'work', base / 'torchrun'
    process = run_script('dist_train.sh', DEMO_CONFIG, str(WORLD_SIZE), '--work-dir', str(work_dir),
                         '--cfg-options', *tiny_options(root, max_epochs=1), log_dir=log_dir)
    return root, work_dir, process, rank_logs(log_dir)


@pytest.mark.slow
def test_dist_train_runs_two_gloo_processes_that_both_exit_0_and_writes_one_checkpoint(dist_trained):
    _, work_dir, process, logs = dist_trained
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-5000:]
    # torchrun exits 0 only when every worker does; it started exactly two, one log folder each.
    assert sorted(logs) == [0, 1]
    assert 'Distributed training: True' in logs[0] and "backend='gloo'" in logs[0]
    # The DistributedSampler splits 4 images at batch 2 over 2 ranks: 1 iteration per epoch (2 on 1 rank).
    assert 'Epoch(train) [1][1/1]' in logs[0]
    assert sorted(path.name for path in work_dir.glob('epoch_*.pth')) == ['epoch_1.pth']
    assert len(list(work_dir.rglob('*.pth'))) == 2  # epoch_1.pth and the best checkpoint, written by rank 0


@pytest.mark.slow
def test_dist_test_evaluates_the_val_set_split_over_two_processes(dist_trained, tmp_path):
    root, work_dir, _, _ = dist_trained
    log_dir = tmp_path / 'torchrun'
    process = run_script('dist_test.sh', DEMO_CONFIG, str(work_dir / 'epoch_1.pth'), str(WORLD_SIZE),
                         '--work-dir', str(tmp_path / 'test'), '--cfg-options', *tiny_options(root),
                         log_dir=log_dir)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-5000:]
    logs = rank_logs(log_dir)
    assert sorted(logs) == [0, 1]
    iterations = PENNFUDAN_VAL // WORLD_SIZE
    assert f'Epoch(test) [{iterations}/{iterations}]' in logs[0]
    assert 'coco/segm_mAP' in logs[0] and 'coco/bbox_mAP' in logs[0]


@pytest.mark.parametrize(('script', 'needed'), [('dist_train.sh', 'CONFIG GPUS'),
                                                ('dist_test.sh', 'CONFIG CHECKPOINT GPUS'),
                                                ('slurm_train.sh', 'PARTITION JOB_NAME CONFIG WORK_DIR')])
def test_launch_scripts_without_their_arguments_print_usage_and_exit_2(script, needed):
    process = run_script(script)
    assert process.returncode == 2
    assert 'usage:' in process.stderr and needed in process.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only adaptation')
def test_cpu_launch_gets_gloo_and_a_ddp_wrapper_without_device_ids():
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    adapt_distributed_to_cpu(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None  # mmengine's default [LOCAL_RANK] needs a GPU per rank


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only adaptation')
def test_cpu_run_without_launcher_keeps_the_plain_model():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    adapt_distributed_to_cpu(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo' and 'model_wrapper_cfg' not in cfg
