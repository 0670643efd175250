"""Which examples go into which batch, on which process, in which epoch.

The order of an epoch is a pure function of (seed, epoch): `randperm(n)` from a generator seeded
with `seed + epoch` (the reference's seedable sampler draws the same permutation). Because of
that, resuming mid-epoch needs no saved sampler state: the resumed run rebuilds the epoch's order
and skips the batches already trained on, without loading them.

Under torchrun, every process computes the same global order and takes every N-th batch, so
process r's batch at a step is a slice of the batch a single process would see with N times the
batch size. The order is padded (by wrapping around) so that every process gets as many batches.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch


class ShardedBatchSampler(torch.utils.data.Sampler):
    """Yields this process's batches (lists of indices) of the current epoch, after `skip` batches."""

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
        world_size: int = 1,
        rank: int = 0,
    ):
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.world_size = world_size
        self.rank = rank
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.num_samples))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.randperm(self.num_samples, generator=generator).tolist()

    def global_batches(self) -> list[list[int]]:
        """All processes' batches of this epoch; batch j goes to process j % world_size."""
        order = self._order()
        group = self.batch_size * self.world_size
        if self.drop_last:
            keep = (
                (len(order) // group) * group
                if self.world_size > 1
                else (len(order) // self.batch_size) * self.batch_size
            )
            order = order[:keep]
        elif self.world_size > 1 and len(order) % group and order:
            pad = group - len(order) % group
            order = order + (order * math.ceil(pad / len(order)))[:pad]
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def batch_indices(self) -> list[int]:
        """Global indices (in `global_batches`) of this process's batches, skipped ones excluded."""
        n = len(self.global_batches()) if self.num_samples else 0
        return list(range(self.rank, n, self.world_size))[self.skip :]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.global_batches()
        for j in range(self.rank, len(batches), self.world_size):
            if (j - self.rank) // self.world_size >= self.skip:
                yield batches[j]

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.skip

    def batches_per_epoch(self) -> int:
        """This process's number of batches in a full epoch."""
        n, group = self.num_samples, self.batch_size * self.world_size
        if self.drop_last:
            return n // group if self.world_size > 1 else n // self.batch_size
        return math.ceil(n / group) if self.world_size > 1 else math.ceil(n / self.batch_size)


def seed_worker(worker_id: int) -> None:
    """Give each DataLoader worker its own deterministic seed (derived from the loader's generator)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def is_hf_dataset(dataset: Any) -> bool:
    """A `datasets.Dataset`, detected without importing `datasets`."""
    return type(dataset).__module__.split(".")[0] == "datasets" and hasattr(dataset, "column_names")


def forward_parameters(model: torch.nn.Module) -> list[str]:
    return list(inspect.signature(model.forward).parameters)


def find_labels(model: torch.nn.Module) -> list[str]:
    """The forward arguments that carry targets: `labels`, or `start_positions`/`end_positions`."""
    return [p for p in forward_parameters(model) if "label" in p or p in ("start_positions", "end_positions")]


def accepts_loss_kwargs(model: torch.nn.Module) -> bool:
    """Whether forward takes `num_items_in_batch` (then the loss is normalised over the whole accumulated batch)."""
    if hasattr(model, "accepts_loss_kwargs"):
        return bool(model.accepts_loss_kwargs)
    params = inspect.signature(model.forward).parameters.values()
    return any(p.kind == p.VAR_KEYWORD or p.name == "num_items_in_batch" for p in params)


def remove_unused_columns(dataset: Any, keep: list[str], description: str, model_name: str) -> Any:
    """Drop the columns of a `datasets.Dataset` the model's forward does not take (like the reference)."""
    columns = [c for c in dataset.column_names if c in keep]
    if not columns:
        raise ValueError(
            f"No column of the {description} dataset ({', '.join(dataset.column_names)}) is an argument of "
            f"{model_name}.forward ({', '.join(keep)}). Tokenize the texts first (dataset.map(tokenize, batched=True)), "
            "or pass remove_unused_columns=False."
        )
    ignored = [c for c in dataset.column_names if c not in keep]
    return dataset.remove_columns(ignored) if ignored else dataset


class RemoveColumnsCollator:
    """For lists of dicts and torch datasets: drop the keys forward does not take, then collate."""

    def __init__(self, collator: Callable, keep: list[str]):
        self.collator = collator
        self.keep = set(keep)

    def __call__(self, features: list[Any]) -> Any:
        if features and isinstance(features[0], Mapping):
            features = [{k: v for k, v in f.items() if k in self.keep} for f in features]
        return self.collator(features)


def batch_size_of(batch: Any) -> int | None:
    """The number of examples in a collated batch (first dimension of its first tensor)."""
    if isinstance(batch, torch.Tensor):
        return batch.shape[0] if batch.dim() else None
    if isinstance(batch, Mapping):
        values = batch.values()
    elif isinstance(batch, (list, tuple)):
        values = batch
    else:
        return None
    for value in values:
        size = batch_size_of(value)
        if size is not None:
            return size
    return None


def to_device(data: Any, device: torch.device) -> Any:
    if isinstance(data, Mapping):
        return {k: to_device(v, device) for k, v in data.items()}  # BatchEncoding and co. become dicts
    if isinstance(data, (list, tuple)):
        return type(data)(to_device(v, device) for v in data)
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=True)
    return data
