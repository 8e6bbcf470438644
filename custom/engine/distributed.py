"""Distributed runs on machines without CUDA (CPU processes talking over gloo), and the process group of a
job that only shards work (pre-annotation).

mmengine 0.10.7 assumes a GPU per process in two places: its pytorch launcher calls
torch.cuda.set_device(LOCAL_RANK) before joining the process group, and the runner wraps the model in
DistributedDataParallel with device_ids=[LOCAL_RANK]. Both fail on a CPU-only machine, so there the
process group is joined here first (the runner then skips its own init) and DDP gets device_ids=None.
mmengine never leaves the group either: the tools do, once their run is over (``leave_process_group``).
"""

import datetime

import torch
import torch.distributed as dist
from mmengine.config import Config

# The CUDA-only arguments of mmengine's default DDP wrapper, with the CPU-safe device_ids.
CPU_DDP_WRAPPER = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)


def adapt_distributed_to_cpu(cfg: Config) -> None:
    """Without CUDA: gloo instead of nccl, and a DDP wrapper that keeps the model on the CPU."""
    if torch.cuda.is_available():
        return
    if cfg.get('env_cfg', {}).get('dist_cfg'):
        cfg.env_cfg.dist_cfg.backend = 'gloo'
    if cfg.get('launcher', 'none') == 'none':
        return
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(CPU_DDP_WRAPPER, find_unused_parameters=cfg.get('find_unused_parameters',
                                                                                     False))
    elif wrapper.get('type', 'MMDistributedDataParallel').endswith('DistributedDataParallel'):
        wrapper.setdefault('device_ids', None)


def join_cpu_process_group(cfg: Config) -> None:
    """Without CUDA, joins torchrun's process group (RANK, WORLD_SIZE, MASTER_ADDR/PORT) over gloo."""
    if torch.cuda.is_available() or cfg.get('launcher', 'none') != 'pytorch' or dist.is_initialized():
        return
    timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
    kwargs = {'timeout': datetime.timedelta(seconds=timeout)} if timeout else {}
    dist.init_process_group(backend='gloo', init_method='env://', **kwargs)


def leave_process_group() -> None:
    """After a run that ended well on this process: waits for the others, then leaves the process group. A
    process that exits without leaving may abort as its interpreter shuts down (gloo's threads still hold
    Python objects: 'terminate called without an active exception', seen with 2 CPU processes on a loaded
    machine), and one that left before the others were done would strand them in a collective."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def join_launched_group(timeout: datetime.timedelta = datetime.timedelta(hours=12)) -> tuple[int, int]:
    """(rank, world size) of a process that torchrun started (RANK, WORLD_SIZE, MASTER_ADDR/PORT), after
    joining its process group over gloo, on GPU machines too: a job whose processes only wait for each other
    (``dist.barrier``) needs no GPU collective. ``timeout`` bounds a wait at a barrier (the slowest rank's
    extra work)."""
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', init_method='env://', timeout=timeout)
    return dist.get_rank(), dist.get_world_size()
