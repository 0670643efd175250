"""Optimizer and learning-rate schedules.

Schedules are `LambdaLR` multipliers of the base learning rate with the reference's formulas, so
learning rates match step by step. The multipliers are small picklable objects (not closures):
their settings land in the scheduler's state dict, and a resumed run rebuilds the same schedule.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau


@dataclass
class Schedule:
    """lr multiplier at `step`: linear warmup from 0, then the decay named by `kind`."""

    kind: str
    num_warmup_steps: int = 0
    num_training_steps: int = 0
    num_cycles: float = 0.5  # cosine: 0.5 = one half-wave down to 0; cosine_with_restarts: restarts
    lr_end: float = 1e-7  # polynomial
    power: float = 1.0  # polynomial
    lr_init: float = 1.0  # polynomial: the optimizer's initial lr
    timescale: int | None = None  # inverse_sqrt

    def __call__(self, step: int) -> float:
        warmup, total = self.num_warmup_steps, self.num_training_steps
        if step < warmup and self.kind != "constant":
            return float(step) / float(max(1, warmup))
        if self.kind == "constant" or self.kind == "constant_with_warmup":
            return 1.0
        if self.kind == "linear":
            return max(0.0, float(total - step) / float(max(1, total - warmup)))
        progress = float(step - warmup) / float(max(1, total - warmup))
        if self.kind == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(self.num_cycles) * 2.0 * progress)))
        if self.kind == "cosine_with_restarts":
            if progress >= 1.0:
                return 0.0
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(self.num_cycles) * progress) % 1.0))))
        if self.kind == "polynomial":
            if step > total:
                return self.lr_end / self.lr_init
            remaining = 1 - (step - warmup) / (total - warmup)
            return ((self.lr_init - self.lr_end) * remaining**self.power + self.lr_end) / self.lr_init
        if self.kind == "inverse_sqrt":
            timescale = self.timescale or (warmup or 10_000)
            shift = timescale - warmup
            return 1.0 / math.sqrt((step + shift) / timescale)
        raise ValueError(f"Unknown schedule {self.kind!r}")


def get_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int = 0,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict | None = None,
):
    """The scheduler the reference's `get_scheduler(name, ...)` builds, with the same values per step."""
    kwargs = dict(scheduler_specific_kwargs or {})
    if name == "reduce_lr_on_plateau":
        return ReduceLROnPlateau(optimizer, **kwargs)
    if name in ("linear", "cosine", "cosine_with_restarts", "polynomial") and num_training_steps is None:
        raise ValueError(f"The {name!r} schedule needs num_training_steps.")
    if name == "cosine_with_restarts":
        kwargs.setdefault("num_cycles", 1)
    if name == "polynomial":
        lr_init = optimizer.defaults["lr"]
        lr_end = kwargs.get("lr_end", 1e-7)
        if lr_init <= lr_end:
            raise ValueError(
                f"polynomial schedule: lr_end ({lr_end}) must be smaller than the learning rate ({lr_init})."
            )
        kwargs["lr_init"] = lr_init
    allowed = {"num_cycles", "lr_end", "power", "lr_init", "timescale"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise ValueError(f"lr_scheduler_kwargs {sorted(unknown)} are not options of the {name!r} schedule.")
    schedule = Schedule(name, num_warmup_steps, num_training_steps or 0, **kwargs)
    return LambdaLR(optimizer, schedule)


# Parameters that are not decayed: biases and normalisation weights (as the reference decides).
_NO_DECAY = [
    re.compile(p) for p in (r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)")
]


def decay_parameter_names(model: nn.Module) -> set[str]:
    """Names of parameters that get weight decay: not inside a LayerNorm, not a bias or a norm weight."""
    inside_layernorm = {
        f"{mod_name}.{p_name}" if mod_name else p_name
        for mod_name, module in model.named_modules()
        if isinstance(module, nn.LayerNorm)
        for p_name, _ in module.named_parameters()
    }
    return {
        name
        for name, _ in model.named_parameters()
        if name not in inside_layernorm and not any(p.search(name.lower()) for p in _NO_DECAY)
    }


def create_optimizer(model: nn.Module, args) -> torch.optim.Optimizer:
    """AdamW (or SGD / Adagrad) over two groups: decayed weights and the rest (weight_decay 0)."""
    decay = decay_parameter_names(model)
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in params if n in decay], "weight_decay": args.weight_decay},
        {"params": [p for n, p in params if n not in decay], "weight_decay": 0.0},
    ]
    extra = _parse_optim_args(args.optim_args)
    if args.optim in ("adamw_torch", "adamw_torch_fused"):
        kwargs = {
            "lr": args.learning_rate,
            "betas": (args.adam_beta1, args.adam_beta2),
            "eps": args.adam_epsilon,
        }
        if args.optim == "adamw_torch_fused":
            kwargs["fused"] = True
        return torch.optim.AdamW(groups, **kwargs, **extra)
    if args.optim == "sgd":
        return torch.optim.SGD(groups, lr=args.learning_rate, **extra)
    if args.optim == "adagrad":
        return torch.optim.Adagrad(groups, lr=args.learning_rate, **extra)
    raise ValueError(f"optim={args.optim!r} is not supported.")


def _parse_optim_args(text: str | None) -> dict:
    """ "momentum=0.9,nesterov=True" -> {"momentum": 0.9, "nesterov": True}."""
    out: dict = {}
    for item in (text or "").replace(" ", "").split(","):
        if not item:
            continue
        key, _, value = item.partition("=")
        if value in ("True", "False"):
            out[key] = value == "True"
        else:
            try:
                out[key] = float(value) if any(c in value for c in ".e") else int(value)
            except ValueError:
                out[key] = value
    return out
