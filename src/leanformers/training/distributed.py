"""Data-parallel training on `torch.distributed`, launched with `torchrun --nproc_per_node N`.

Each process holds a full model replica wrapped in DistributedDataParallel (gradients are
all-reduced, so every replica takes the same optimizer step), reads its own shard of every
global batch, and joins the others to average logged losses and to gather evaluation outputs.
Only rank 0 writes checkpoints and logs. The backend is gloo on CPU and nccl on GPU.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", 1))


def rank() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def init_from_env(args) -> None:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, MASTER_ADDR/PORT in the environment)."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 or (dist.is_available() and dist.is_initialized()):
        return
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed support.")
    device = args.device
    backend = args.ddp_backend or ("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=args.ddp_timeout))


def wrap_model(model: torch.nn.Module, args) -> torch.nn.Module:
    """DDP-wrap `model` when running under torchrun; return it unchanged otherwise."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    kwargs: dict[str, Any] = {}
    if args.ddp_find_unused_parameters is not None:
        kwargs["find_unused_parameters"] = args.ddp_find_unused_parameters
    elif getattr(model, "is_gradient_checkpointing", False):
        kwargs["find_unused_parameters"] = False
    if args.ddp_bucket_cap_mb is not None:
        kwargs["bucket_cap_mb"] = args.ddp_bucket_cap_mb
    if args.ddp_broadcast_buffers is not None:
        kwargs["broadcast_buffers"] = args.ddp_broadcast_buffers
    device_ids = [args.device.index] if args.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, **kwargs)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def mean_across_processes(value: torch.Tensor) -> torch.Tensor:
    """Average a scalar tensor over all ranks (identity on one process)."""
    if not is_distributed():
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / dist.get_world_size()


def sum_across_processes(value: torch.Tensor) -> torch.Tensor:
    if not is_distributed():
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order (a one-element list on one process).

    Used for evaluation outputs (numpy arrays) and RNG states: data exchanged between our own
    processes, never read from disk.
    """
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's `obj` on every rank (errors raised on rank 0 reach the others this way)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if is_distributed():
        dist.barrier()
