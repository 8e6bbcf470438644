"""tools/cuda_build.py: how setup_env.sh builds mmcv's ops, from faked torch probes and fake nvcc files."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

TOOLS = REPO / 'tools'
_spec = importlib.util.spec_from_file_location('cuda_build', TOOLS / 'cuda_build.py')
cuda_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cuda_build)

CPU_TORCH = cuda_build.TorchCuda('2.13.0+cpu', None, ())
CUDA_TORCH_NO_GPU = cuda_build.TorchCuda('2.13.0+cu121', '12.1', ())
CUDA_TORCH_TWO_GPUS = cuda_build.TorchCuda('2.13.0+cu121', '12.1', ((8, 6), (8, 0), (8, 6)))


def fake_toolkit(root: Path, release: str = '12.1') -> Path:
    """root/bin/nvcc: a script answering `--version` like NVIDIA's nvcc."""
    nvcc = root / 'bin' / 'nvcc'
    nvcc.parent.mkdir(parents=True)
    nvcc.write_text(f'#!/bin/sh\necho "Cuda compilation tools, release {release}, V{release}.105"\n')
    nvcc.chmod(0o755)
    return nvcc


def no_nvcc_on_path(name):
    return None


def test_cpu_torch_builds_cpu_ops_into_the_wheel_folder_of_its_version():
    plan = cuda_build.plan_build(CPU_TORCH, {}, no_nvcc_on_path)
    assert (plan.kind, plan.wheel_dir, plan.env) == ('cpu', 'torch-2.13.0+cpu', {})


def test_cuda_torch_without_a_visible_gpu_builds_cpu_ops_and_needs_no_nvcc():
    plan = cuda_build.plan_build(CUDA_TORCH_NO_GPU, {}, no_nvcc_on_path)
    assert (plan.kind, plan.wheel_dir, plan.env) == ('cpu', 'torch-2.13.0+cu121', {})
    assert 'sees no GPU' in plan.note


def test_visible_gpus_build_cuda_ops_with_the_nvcc_of_cuda_home_for_their_architectures_only(tmp_path):
    toolkit = str(tmp_path / 'cuda-12.1')
    fake_toolkit(tmp_path / 'cuda-12.1')
    plan = cuda_build.plan_build(CUDA_TORCH_TWO_GPUS, {'CUDA_HOME': toolkit}, no_nvcc_on_path)
    assert plan.kind == 'cuda'
    assert plan.env == {'FORCE_CUDA': '1', 'CUDA_HOME': toolkit, 'TORCH_CUDA_ARCH_LIST': '8.0;8.6'}
    assert plan.wheel_dir == 'torch-2.13.0+cu121-cuda-sm80-sm86'  # never the CPU wheel of the same torch


def test_nvcc_on_path_is_used_when_cuda_home_is_unset_and_a_set_arch_list_is_kept(tmp_path):
    nvcc = fake_toolkit(tmp_path / 'toolkit')
    plan = cuda_build.plan_build(CUDA_TORCH_TWO_GPUS, {'TORCH_CUDA_ARCH_LIST': '9.0+PTX'},
                                 lambda name: str(nvcc) if name == 'nvcc' else None)
    assert plan.env['CUDA_HOME'] == str(tmp_path / 'toolkit')
    assert plan.env['TORCH_CUDA_ARCH_LIST'] == '9.0+PTX' and plan.wheel_dir.endswith('-cuda-sm90ptx')


def test_gpu_without_nvcc_stops_naming_the_toolkit_to_install(monkeypatch):
    monkeypatch.setattr(cuda_build, 'DEFAULT_NVCC', ())  # this machine may have /usr/local/cuda
    with pytest.raises(cuda_build.CudaBuildError) as error:
        cuda_build.plan_build(CUDA_TORCH_TWO_GPUS, {}, no_nvcc_on_path)
    message = str(error.value)
    assert 'no nvcc was found' in message and 'CUDA toolkit 12.1' in message and 'CUDA_HOME' in message


def test_cuda_home_without_nvcc_and_nvcc_of_another_major_version_stop(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(cuda_build.CudaBuildError, match='has no executable bin/nvcc'):
        cuda_build.plan_build(CUDA_TORCH_TWO_GPUS, {'CUDA_HOME': str(tmp_path / 'empty')}, no_nvcc_on_path)
    fake_toolkit(tmp_path / 'cuda-11.8', release='11.8')
    with pytest.raises(cuda_build.CudaBuildError, match='is CUDA 11.8 but torch .* CUDA 12.1'):
        cuda_build.plan_build(CUDA_TORCH_TWO_GPUS, {'CUDA_HOME': f'{tmp_path}/cuda-11.8'}, no_nvcc_on_path)


def test_setup_env_evals_the_plan_of_the_real_torch_here():
    """The CLI on this machine's torch: the shell sees MMCV_BUILD and the wheel folder."""
    import torch

    script = f'eval "$({sys.executable} {TOOLS / "cuda_build.py"} plan)"; echo "$MMCV_BUILD $MMCV_WHEEL_DIR"'
    result = subprocess.run(['bash', '-c', script], capture_output=True, text=True, check=True)
    expected_kind = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert result.stdout.split()[0] == expected_kind
    assert result.stdout.split()[1].startswith(f'torch-{torch.__version__}')


def test_ops_check_runs_nms_and_roialign_on_the_device_and_fails_when_the_kernels_are_missing(monkeypatch):
    cuda_build.check_ops('cpu')  # the real mmcv kernels: same check as on the GPU after a CUDA build
    import mmcv.ops

    def nms_without_kernel(*args, **kwargs):
        raise RuntimeError('nms_impl: implementation for device cuda:0 not found.')

    monkeypatch.setattr(mmcv.ops, 'nms', nms_without_kernel)
    with pytest.raises(cuda_build.CudaBuildError, match='built without CUDA'):
        cuda_build.check_ops('cpu')
