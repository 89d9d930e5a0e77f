"""torch.distributed glue: one process per device, gradients averaged by hand.

The trainer does not wrap models in DistributedDataParallel: R1 and path-length
regularisation need double backward, and G and D take turns, which DDP's hooks
do not fit. Instead each rank computes gradients on its share of the batch and
one flattened all-reduce averages them, so every rank applies the same update and
the weights stay identical (a test checks this).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_kind: str) -> DistInfo:
    """Join the process group that torchrun describes in the environment (if any)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        # Rank 0 alone renders grids and computes FID while the others wait at the next
        # all-reduce; on a CPU that can take far longer than the default 30 minute timeout.
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(hours=4))
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Give every rank rank 0's parameters and buffers."""
    if not info.enabled:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """All-reduce the gradients of `params` in one flat buffer and divide by the world size."""
    if not info.enabled:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for param in params:
        n = param.numel()
        param.grad = flat[offset : offset + n].view_as(param).clone()
        offset += n


def all_reduce_sum(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Sum a few scalars over all ranks (losses for logging, ADA statistics)."""
    if not info.enabled:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def sync_buffer_mean(buffer: torch.Tensor, info: DistInfo) -> None:
    """Average a buffer over ranks (w_avg tracks different z on each rank)."""
    if not info.enabled:
        return
    dist.all_reduce(buffer)
    buffer /= info.world_size


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True when `flag` is true on any rank, so every rank takes the same branch (a stop, say)."""
    if not info.enabled:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(tensor)
    return bool(tensor.item() > 0)
