"""Losses the task heads share, with the reference's choices (so Trainer losses match)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def cross_entropy(logits: Tensor, labels: Tensor, num_items_in_batch: int | Tensor | None = None) -> Tensor:
    """Mean cross-entropy over labels != -100 (or the sum / num_items_in_batch under grad accumulation)."""
    logits = logits.float().reshape(-1, logits.shape[-1])
    labels = labels.reshape(-1).to(logits.device)
    if num_items_in_batch is None:
        return F.cross_entropy(logits, labels, ignore_index=-100)
    loss = F.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(loss.device)
    return loss / num_items_in_batch


def causal_lm_loss(logits: Tensor, labels: Tensor, num_items_in_batch: int | Tensor | None = None) -> Tensor:
    """Tokens < n predict token n: shift the labels left by one, ignore the last position."""
    shifted = F.pad(labels, (0, 1), value=-100)[..., 1:]
    return cross_entropy(logits, shifted, num_items_in_batch)


def sequence_classification_loss(config, logits: Tensor, labels: Tensor) -> Tensor:
    """Regression (1 label), single-label (integer labels) or multi-label (float labels), chosen as the
    reference chooses; the choice is stored in `config.problem_type` like the reference does."""
    num_labels = logits.shape[-1]
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    labels = labels.to(logits.device)
    if config.problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def span_loss(
    start_logits: Tensor, end_logits: Tensor, start_positions: Tensor, end_positions: Tensor
) -> Tensor:
    """Question answering: mean of start and end cross-entropies; positions outside the input are ignored."""
    n = start_logits.shape[1]
    start = start_positions.reshape(-1).clamp(0, n).to(start_logits.device)
    end = end_positions.reshape(-1).clamp(0, n).to(end_logits.device)
    return (
        F.cross_entropy(start_logits, start, ignore_index=n)
        + F.cross_entropy(end_logits, end, ignore_index=n)
    ) / 2
