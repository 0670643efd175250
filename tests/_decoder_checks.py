"""Shared checks for the decoder-only model tests (GPT-2, Llama family)."""

from __future__ import annotations

import torch


def decode_stepwise(model, out, new: torch.Tensor, full_mask: torch.Tensor, full_pos: torch.Tensor):
    """Feed `new` (B, N) one token at a time after the prefix forward `out`, with the matching slices of
    the full attention mask and position ids. Returns the last-position logits of the prefix and of
    every step, (B, N + 1, V): they must equal the full forward's logits from the prefix's last position."""
    cache, steps = out.past_key_values, [out.logits[:, -1]]
    prefix = full_mask.shape[1] - new.shape[1]
    for i in range(new.shape[1]):
        n = prefix + i + 1
        step = model(
            new[:, i : i + 1],
            attention_mask=full_mask[:, :n],
            position_ids=full_pos[:, n - 1 : n],
            past_key_values=cache,
            logits_to_keep=1,
        )
        cache = step.past_key_values
        steps.append(step.logits[:, -1])
    return torch.stack(steps, 1)
