"""Data-parallel training under ``torchrun``: every rank draws the same global minibatch index,
takes its slice, and the gradients are summed with weights n_r / B (rows of the rank over rows
of the global batch), so each update equals the one-process update on the whole batch for any
loss that is a mean over rows.

Backends: gloo on CPU, NCCL on CUDA. The process group is created from the environment that
``torchrun`` sets (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``...) when it is not already up,
and :func:`shutdown` ends a script that trained under it (left to the interpreter's teardown,
gloo's threads may abort a process whose work is done).
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["World", "world", "shutdown"]


class World:
    """This process's place in the run: ``rank`` of ``size`` (1 and 0 without torchrun)."""

    def __init__(self, rank: int = 0, size: int = 1, device: torch.device | None = None):
        self.rank, self.size = rank, size
        self.device = device or torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def part(self, index: Tensor) -> Tensor:
        """This rank's slice of a global index (B,): nearly equal contiguous parts."""
        if not self.distributed:
            return index
        return torch.tensor_split(index, self.size)[self.rank]

    def all_sum(self, t: Tensor) -> Tensor:
        """Σ over ranks of ``t`` (in place on a copy; the tensor's device must suit the backend)."""
        if not self.distributed:
            return t
        t = t.detach().clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def sum_gradients(self, params: list[Tensor], share: float) -> None:
        """g ← Σ_r share_r g_r over ranks, in one flat buffer (share_r = n_r / B)."""
        if not self.distributed:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads]) * share  # (P,)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def gather(self, t: Tensor) -> list[Tensor]:
        """Every rank's copy of ``t`` (same shape on all ranks), in rank order."""
        if not self.distributed:
            return [t]
        src = t.to(self.device)
        out = [torch.empty_like(src) for _ in range(self.size)]
        dist.all_gather(out, src)
        return [o.to(t.device) for o in out]

    def broadcast_flag(self, flag: bool) -> bool:
        """True on every rank when it is true on any (stop together)."""
        if not self.distributed:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def all_max(self, value: float) -> float:
        """The largest ``value`` over ranks (e.g. one clock for all)."""
        if not self.distributed:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def world(device: torch.device) -> World:
    """The World of this process, starting the process group under torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(device=device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return World(dist.get_rank(), dist.get_world_size(), device)


def shutdown() -> None:
    """The end of a script run under torchrun: wait until every rank is done with the process
    group, then take it down (nothing happens in a single process). Call it after success
    only: a rank that failed just exits, and torchrun stops the others."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
