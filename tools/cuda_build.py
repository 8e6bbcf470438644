"""How tools/setup_env.sh builds mmcv's compiled ops: for the CPU, or with CUDA for the GPUs torch sees.

    python tools/cuda_build.py plan    # `export` lines for setup_env.sh, or a stop naming what to install
    python tools/cuda_build.py check   # after the build: RoIAlign and nms must run on the GPU

Standard library (+ torch, + mmcv for `check`) only: setup_env.sh runs it before mmengine, mmdet and this
project are installed, so it cannot live in the `custom` package.

The decision:
- torch without CUDA, or a CUDA build of torch that sees no GPU: CPU ops (wheel cache torch-<version>);
- torch sees a GPU: CUDA ops (FORCE_CUDA=1), compiled by the nvcc of $CUDA_HOME (or the first nvcc on PATH,
  whose CUDA_HOME is its parent folder), for the compute capabilities of the visible GPUs only
  (TORCH_CUDA_ARCH_LIST, unless already set), into a wheel cache of its own, so a CPU-only wheel of the same
  torch is never reused; no nvcc, or one of another CUDA major version than torch's, stops the set-up.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_NVCC = ('/usr/local/cuda/bin/nvcc',)  # where NVIDIA's installers put it when neither is set


class CudaBuildError(RuntimeError):
    """The CUDA ops cannot be built or do not work; the message says what to install or do."""


@dataclass(frozen=True)
class TorchCuda:
    """What the installed torch reports: its version, its CUDA version (None: CPU build), visible GPUs."""

    version: str
    cuda: str | None
    capabilities: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class BuildPlan:
    """The environment for mmcv's build and the folder of the wheel cache it goes to."""

    kind: str  # 'cpu' or 'cuda'
    wheel_dir: str  # folder name under the wheel cache, keyed by torch and by what was built
    env: dict[str, str]
    note: str


def probe_torch() -> TorchCuda:
    import torch

    count = torch.cuda.device_count()
    capabilities = tuple(torch.cuda.get_device_capability(index) for index in range(count))
    return TorchCuda(torch.__version__, torch.version.cuda, capabilities)


def arch_list(capabilities: tuple[tuple[int, int], ...]) -> str:
    """TORCH_CUDA_ARCH_LIST for the visible GPUs: (8, 6), (8, 0), (8, 6) -> '8.0;8.6'."""
    return ';'.join(f'{major}.{minor}' for major, minor in sorted(set(capabilities)))


def find_nvcc(environ: Mapping[str, str], which: Callable[[str], str | None] = shutil.which) -> Path | None:
    """nvcc of $CUDA_HOME (torch's extension builder uses that one first), else the first on PATH, else the
    default install folder; None when there is none."""
    cuda_home = environ.get('CUDA_HOME')
    if cuda_home:
        nvcc = Path(cuda_home) / 'bin' / 'nvcc'
        if not os.access(nvcc, os.X_OK):
            raise CudaBuildError(f'CUDA_HOME={cuda_home} has no executable bin/nvcc: point CUDA_HOME at the '
                                 'CUDA toolkit (the folder with bin/nvcc), or unset it to use nvcc on PATH')
        return nvcc
    found = which('nvcc')
    if found is None:
        for default in DEFAULT_NVCC:
            if os.access(default, os.X_OK):
                return Path(default)
        return None
    return Path(found)


def nvcc_release(nvcc: Path) -> str:
    """'12.1' from `nvcc --version` ('Cuda compilation tools, release 12.1, V12.1.105')."""
    output = subprocess.run([str(nvcc), '--version'], capture_output=True, text=True, check=False).stdout
    match = re.search(r'release (\d+\.\d+)', output)
    if match is None:
        raise CudaBuildError(f'{nvcc} --version does not name a CUDA release: {output.strip()[:200]!r}')
    return match.group(1)


def plan_build(torch_cuda: TorchCuda, environ: Mapping[str, str],
               which: Callable[[str], str | None] = shutil.which) -> BuildPlan:
    cpu_dir = f'torch-{torch_cuda.version}'  # the folder benchmarks/setup_env.sh also fills
    if torch_cuda.cuda is None:
        return BuildPlan('cpu', cpu_dir, {}, f'torch {torch_cuda.version} is a CPU build: CPU ops only')
    if not torch_cuda.capabilities:
        return BuildPlan('cpu', cpu_dir, {}, f'torch {torch_cuda.version} (CUDA {torch_cuda.cuda}) sees no '
                                             'GPU: CPU ops only; run the set-up again on the GPU machine')
    nvcc = find_nvcc(environ, which)
    if nvcc is None:
        raise CudaBuildError(
            f'torch {torch_cuda.version} sees {len(torch_cuda.capabilities)} GPU(s), but no nvcc was found '
            '(not in $CUDA_HOME/bin, not on PATH, not in /usr/local/cuda/bin), so mmcv\'s CUDA ops cannot be '
            f'built. Install the CUDA toolkit {torch_cuda.cuda} (the compiler, nvcc; e.g. the NVIDIA '
            f'installer or `conda install -c nvidia cuda-toolkit={torch_cuda.cuda}`), then set '
            'CUDA_HOME to its folder and run the set-up again')
    release = nvcc_release(nvcc)
    if release.split('.')[0] != torch_cuda.cuda.split('.')[0]:
        raise CudaBuildError(f'{nvcc} is CUDA {release} but torch {torch_cuda.version} was built with CUDA '
                             f'{torch_cuda.cuda}: install the CUDA toolkit {torch_cuda.cuda} and point '
                             'CUDA_HOME at it (the major versions must match)')
    archs = environ.get('TORCH_CUDA_ARCH_LIST') or arch_list(torch_cuda.capabilities)
    tag = '-'.join('sm' + arch.replace('.', '').replace('+PTX', 'ptx') for arch in archs.split(';'))
    env = {'FORCE_CUDA': '1', 'CUDA_HOME': str(nvcc.parent.parent), 'TORCH_CUDA_ARCH_LIST': archs}
    return BuildPlan('cuda', f'{cpu_dir}-cuda-{tag}', env,
                     f'CUDA ops with nvcc {release} ({nvcc}) for compute capability {archs}')


def shell_exports(plan: BuildPlan) -> str:
    """What setup_env.sh evals: MMCV_BUILD, MMCV_WHEEL_DIR and the build environment."""
    values = {'MMCV_BUILD': plan.kind, 'MMCV_WHEEL_DIR': plan.wheel_dir, **plan.env}
    return '\n'.join(f'export {key}={shlex.quote(value)}' for key, value in values.items())


def check_ops(device: str = 'cuda') -> None:
    """Runs mmcv's nms and RoIAlign on `device` and compares them with the expected results."""
    import torch
    from mmcv.ops import RoIAlign, nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    features = torch.arange(64, dtype=torch.float32).reshape(1, 1, 8, 8)
    rois = torch.tensor([[0, 0, 0, 4, 4]], dtype=torch.float32)
    try:
        _, keep = nms(boxes.to(device), scores.to(device), iou_threshold=0.5)
        pooled = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=False)(
            features.to(device), rois.to(device))
    except RuntimeError as error:  # mmcv built without the CUDA kernels: 'implementation ... not found'
        raise CudaBuildError(f'mmcv\'s ops do not run on {device} ({error}): the wheel was built without '
                             'CUDA; delete it from the wheel cache above and run the set-up again') from error
    if keep.device.type != torch.device(device).type or pooled.device.type != torch.device(device).type:
        raise CudaBuildError(f'mmcv\'s nms/RoIAlign returned results on {keep.device}/{pooled.device}, '
                             f'not {device}')
    # features[y, x] = 8y + x is linear, so each 2x2 bin is its value at the bin centre (y, x in {1, 3}).
    expected = torch.tensor([[[[9.0, 11.0], [25.0, 27.0]]]])
    if keep.tolist() != [0, 2] or not torch.allclose(pooled.cpu(), expected):
        raise CudaBuildError(f'mmcv\'s ops give wrong results on {device}: nms kept {keep.tolist()} '
                             f'(expected [0, 2]), RoIAlign gave {pooled.cpu().flatten().tolist()}')


def main(argv: list[str] | None = None) -> int:
    command = (argv if argv is not None else sys.argv[1:] or [''])[0]
    try:
        if command == 'plan':
            plan = plan_build(probe_torch(), os.environ)
            print(f'[setup]     mmcv ops: {plan.note}', file=sys.stderr)
            print(shell_exports(plan))
        elif command == 'check':
            check_ops('cuda')
            print('[setup] ok: mmcv RoIAlign and nms run on the GPU', file=sys.stderr)
        else:
            print('usage: python tools/cuda_build.py plan|check', file=sys.stderr)
            return 2
    except CudaBuildError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
