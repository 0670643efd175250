"""Data collators: turn a list of examples (dicts of lists) into one padded batch of tensors.

Each gives the same output as the reference's collator of the same name (same padding, same
label handling, same masking draws for a given generator). Padding itself is the tokenizer's
`pad()` (side, pad id, attention mask); the collators add what is specific to each task.
`return_tensors` may be "pt" (default) or "np".
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def _check_return_tensors(return_tensors: str) -> None:
    if return_tensors not in ("pt", "np"):
        raise ValueError(f"return_tensors={return_tensors!r} is not supported: use 'pt' or 'np'.")


def _to_numpy(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _rename_labels(batch: Any) -> Any:
    for old in ("label", "label_ids"):
        if old in batch:
            batch["labels"] = batch[old]
            del batch[old]
    return batch


# ------------------------------------------------------------------------------------------------
def default_data_collator(features: list[Any], return_tensors: str = "pt") -> dict[str, Any]:
    """Stack equal-length features; `label` / `label_ids` become `labels` (long for ints, float otherwise).

    Strings and None values are dropped. No padding: use DataCollatorWithPadding for ragged inputs.
    """
    _check_return_tensors(return_tensors)
    if not isinstance(features[0], Mapping):
        features = [vars(f) for f in features]
    first = features[0]
    batch: dict[str, Any] = {}
    if first.get("label") is not None:
        label = first["label"].item() if isinstance(first["label"], torch.Tensor) else first["label"]
        dtype = torch.long if isinstance(label, int) else torch.float
        batch["labels"] = torch.tensor([f["label"] for f in features], dtype=dtype)
    elif first.get("label_ids") is not None:
        if isinstance(first["label_ids"], torch.Tensor):
            batch["labels"] = torch.stack([f["label_ids"] for f in features])
        else:
            dtype = torch.long if isinstance(first["label_ids"][0], int) else torch.float
            batch["labels"] = torch.tensor([f["label_ids"] for f in features], dtype=dtype)
    for key, value in first.items():
        if key in ("label", "label_ids") or value is None or isinstance(value, str):
            continue
        if isinstance(value, torch.Tensor):
            batch[key] = torch.stack([f[key] for f in features])
        elif isinstance(value, np.ndarray):
            batch[key] = torch.from_numpy(np.stack([f[key] for f in features]))
        else:
            try:
                batch[key] = torch.tensor([f[key] for f in features])
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"Cannot stack feature {key!r} into a tensor ({e}). If its lengths differ, pad them: use "
                    "DataCollatorWithPadding(tokenizer) or tokenize with padding=True."
                ) from None
    return _to_numpy(batch) if return_tensors == "np" else batch


@dataclass
class DefaultDataCollator:
    return_tensors: str = "pt"

    def __call__(self, features: list[Any], return_tensors: str | None = None) -> dict[str, Any]:
        return default_data_collator(features, return_tensors or self.return_tensors)


# ------------------------------------------------------------------------------------------------
@dataclass
class DataCollatorWithPadding:
    """Pad each batch to its longest example (dynamic padding), as the course's chapter 3 does."""

    tokenizer: Any
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        _check_return_tensors(self.return_tensors)
        batch = self.tokenizer.pad(
            features,
            padding=self.padding,
            max_length=self.max_length,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors=self.return_tensors,
        )
        return _rename_labels(batch)


@dataclass
class DataCollatorForTokenClassification:
    """Pad inputs with the tokenizer and per-token labels with `label_pad_token_id` (-100: ignored by the loss)."""

    tokenizer: Any
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = -100
    return_tensors: str = "pt"

    def __call__(self, features: list[dict[str, Any]], return_tensors: str | None = None) -> dict[str, Any]:
        return_tensors = return_tensors or self.return_tensors
        _check_return_tensors(return_tensors)
        label_name = "label" if "label" in features[0] else "labels"
        labels = [f[label_name] for f in features] if label_name in features[0] else None
        inputs = [{k: v for k, v in f.items() if k != label_name} for f in features]
        batch = self.tokenizer.pad(
            inputs,
            padding=self.padding,
            max_length=self.max_length,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors="pt",
        )
        if labels is not None:
            length = batch["input_ids"].shape[1]
            batch[label_name] = torch.tensor(
                [
                    _pad_list(label, length, self.label_pad_token_id, self.tokenizer.padding_side)
                    for label in labels
                ],
                dtype=torch.int64,
            )
        return _to_numpy(batch) if return_tensors == "np" else batch


@dataclass
class DataCollatorForSeq2Seq:
    """Pad encoder inputs with the tokenizer, labels with -100; with `model=`, add `decoder_input_ids`
    (labels shifted right) so the loss and the decoder see the same padding."""

    tokenizer: Any
    model: Any = None
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = -100
    return_tensors: str = "pt"

    def __call__(self, features: list[dict[str, Any]], return_tensors: str | None = None) -> dict[str, Any]:
        return_tensors = return_tensors or self.return_tensors
        _check_return_tensors(return_tensors)
        label_name = "label" if "label" in features[0] else "labels"
        labels = [f[label_name] for f in features] if label_name in features[0] else None
        if labels is not None and all(label is None for label in labels):
            labels = None
        inputs = [{k: v for k, v in f.items() if k != label_name} for f in features]
        batch = self.tokenizer.pad(
            inputs,
            padding=self.padding,
            max_length=self.max_length,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors=return_tensors,
        )
        no_padding = self.padding is False or self.padding == "do_not_pad"
        if labels is None:
            batch["labels"] = None
            return batch
        if no_padding:
            padded = [list(label) for label in labels]
            batch["labels"] = padded
            return batch
        if self.padding == "max_length" and self.max_length is not None:
            length = self.max_length
        else:
            length = max(len(label) for label in labels)
        if self.pad_to_multiple_of is not None:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        padded = [
            _pad_list(label, length, self.label_pad_token_id, self.tokenizer.padding_side) for label in labels
        ]
        batch["labels"] = torch.tensor(padded, dtype=torch.int64)
        if return_tensors == "np":
            batch["labels"] = batch["labels"].numpy()
        prepare = getattr(self.model, "prepare_decoder_input_ids_from_labels", None)
        if prepare is not None:
            batch["decoder_input_ids"] = prepare(labels=batch["labels"])
        return batch


def _pad_list(values: Any, length: int, pad: int, side: str) -> list[int]:
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    filler = [pad] * (length - len(values))
    return values + filler if side == "right" else filler + values


# ------------------------------------------------------------------------------------------------
@dataclass
class DataCollatorForLanguageModeling:
    """Masked LM (`mlm=True`): pick `mlm_probability` of the non-special tokens as targets; of those
    `mask_replace_prob` become [MASK], `random_replace_prob` a random token, the rest stay; other
    labels are -100. Causal LM (`mlm=False`): labels are the inputs with padding set to -100 (the
    model shifts them). `seed` gives the collator its own generator (reproducible masks)."""

    tokenizer: Any
    mlm: bool = True
    whole_word_mask: bool = False
    mlm_probability: float | None = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_return_tensors(self.return_tensors)
        if self.whole_word_mask:
            raise ValueError("whole_word_mask=True is not supported by leanformers; use token-level masking.")
        if self.mlm:
            if getattr(self.tokenizer, "mask_token", None) is None:
                raise ValueError(
                    "This tokenizer has no mask token, which masked language modeling needs. Pass mlm=False to "
                    "train a causal language model instead."
                )
            if self.mlm_probability is None or not 0 <= self.mlm_probability <= 1:
                raise ValueError(f"mlm_probability must lie in [0, 1], got {self.mlm_probability}.")
        for name in ("mask_replace_prob", "random_replace_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}.")
        if self.mask_replace_prob + self.random_replace_prob > 1:
            raise ValueError("mask_replace_prob + random_replace_prob must not exceed 1.")
        self.generator: torch.Generator | None = None

    def _make_generator(self) -> None:
        # In DataLoader workers each worker gets seed + worker id, so workers do not repeat each other's masks.
        seed = self.seed
        if multiprocessing.current_process().name != "MainProcess":
            info = torch.utils.data.get_worker_info()
            if info is None:
                raise ValueError(
                    "A seeded collator in a subprocess needs a torch DataLoader worker to derive its seed."
                )
            seed += info.id
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, examples: list[Any], return_tensors: str | None = None) -> dict[str, Any]:
        return_tensors = return_tensors or self.return_tensors
        if self.seed and self.generator is None:
            self._make_generator()
        if isinstance(examples[0], Mapping):
            batch = dict(
                self.tokenizer.pad(examples, return_tensors="pt", pad_to_multiple_of=self.pad_to_multiple_of)
            )
        else:
            batch = {"input_ids": _collate_ids(examples, self.tokenizer, self.pad_to_multiple_of)}
        special_tokens_mask = batch.pop("special_tokens_mask", None)
        batch.pop("offset_mapping", None)
        if self.mlm:
            batch["input_ids"], batch["labels"] = self.torch_mask_tokens(
                batch["input_ids"], special_tokens_mask
            )
        else:
            labels = batch["input_ids"].clone()
            if self.tokenizer.pad_token_id is not None:
                labels[labels == self.tokenizer.pad_token_id] = -100
            batch["labels"] = labels
        return _to_numpy(batch) if return_tensors == "np" else batch

    def torch_mask_tokens(
        self, inputs: torch.Tensor, special_tokens_mask: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked inputs, labels). The draws happen in the reference's order, so a seeded generator
        gives the reference's masks."""
        labels = inputs.clone()
        if special_tokens_mask is None:
            special_tokens_mask = [
                self.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
                for ids in labels.tolist()
            ]
        special = torch.as_tensor(special_tokens_mask).bool()
        probability = torch.full(labels.shape, self.mlm_probability).masked_fill_(special, 0.0)
        masked = torch.bernoulli(probability, generator=self.generator).bool()
        labels[~masked] = -100
        replaced = (
            torch.bernoulli(torch.full(labels.shape, self.mask_replace_prob), generator=self.generator).bool()
            & masked
        )
        inputs[replaced] = self.tokenizer.convert_tokens_to_ids(self.tokenizer.mask_token)
        if self.mask_replace_prob == 1 or self.random_replace_prob == 0:
            return inputs, labels
        # Of the masked tokens not replaced by [MASK], this share becomes a random token.
        share = self.random_replace_prob / (1 - self.mask_replace_prob)
        randomized = (
            torch.bernoulli(torch.full(labels.shape, share), generator=self.generator).bool()
            & masked
            & ~replaced
        )
        random_ids = torch.randint(
            len(self.tokenizer), labels.shape, dtype=torch.long, generator=self.generator
        )
        inputs[randomized] = random_ids[randomized]
        return inputs, labels


def _collate_ids(examples: list[Any], tokenizer: Any, pad_to_multiple_of: int | None) -> torch.Tensor:
    """Stack lists of token ids, padding with the tokenizer's pad id on its padding side when lengths differ."""
    tensors = [torch.as_tensor(e, dtype=torch.long) for e in examples]
    length = max(t.shape[0] for t in tensors)
    if pad_to_multiple_of:
        length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
    if all(t.shape[0] == length for t in tensors):
        return torch.stack(tensors)
    if tokenizer.pad_token is None:
        raise ValueError(
            f"The examples have different lengths but the tokenizer ({type(tokenizer).__name__}) has no pad token. "
            "Set tokenizer.pad_token (e.g. tokenizer.pad_token = tokenizer.eos_token)."
        )
    out = tensors[0].new_full((len(tensors), length), tokenizer.pad_token_id)
    for i, t in enumerate(tensors):
        if tokenizer.padding_side == "right":
            out[i, : t.shape[0]] = t
        else:
            out[i, length - t.shape[0] :] = t
    return out
