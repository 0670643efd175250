"""Normalisation layers shared by the decoder architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RMSNorm(nn.Module):
    """Root-mean-square norm (Llama, Mistral, Qwen2; T5's LayerNorm is the same maths).

    As the reference: normalise in float32, cast back to the input dtype, then scale by `weight`
    (in the weight's dtype), so bf16 models round at the same places.
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == self.weight.dtype == torch.float32:  # one fused kernel, bit-identical in float32
            return F.rms_norm(x, (x.shape[-1],), self.weight, self.variance_epsilon)
        normed = F.rms_norm(x.float(), (x.shape[-1],), eps=self.variance_epsilon)
        return self.weight * normed.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.variance_epsilon}"


__all__ = ["RMSNorm"]
