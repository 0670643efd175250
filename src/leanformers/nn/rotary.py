"""Rotary position embeddings (RoPE) and the `rope_scaling` variants of the Llama family.

The frequencies are computed with the same float32 operations as the reference library
(`transformers/modeling_rope_utils.py`), so cos/sin tables are bit-identical. Instead of computing
cos/sin for every forward call, `RotaryEmbedding` keeps a float32 table indexed by position, grown
in chunks as sequences get longer; a decoding step only gathers one row per sequence.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "llama3")


def rope_type(config: Any) -> str:
    scaling = getattr(config, "rope_scaling", None)
    if not isinstance(scaling, dict):
        return "default"
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind not in ROPE_TYPES:
        raise ValueError(
            f"rope_scaling type {kind!r} is not supported. Supported: {', '.join(ROPE_TYPES)}; "
            "remove rope_scaling from config.json to use plain rotary embeddings."
        )
    return kind


def _head_dim(config: Any) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _default_inv_freq(base: float | Tensor, dim: int) -> Tensor:
    # 1 / base^(2i/dim), in float32 exactly as the reference writes it.
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))


def rope_parameters(config: Any, seq_len: int | None = None) -> tuple[Tensor, float]:
    """(inv_freq (head_dim/2,), attention_scaling) for the config's rope type.

    `seq_len` only matters for "dynamic" (NTK scaling grows the base past max_position_embeddings).
    """
    kind = rope_type(config)
    base, dim = config.rope_theta, _head_dim(config)
    scaling = config.rope_scaling or {}
    if kind == "default":
        return _default_inv_freq(base, dim), 1.0
    factor = scaling["factor"]
    if kind == "linear":  # positions are divided by `factor`
        return _default_inv_freq(base, dim) / factor, 1.0
    if kind == "dynamic":  # NTK-aware: a larger base once the sequence outgrows the trained context
        max_pos = config.max_position_embeddings
        # A tensor seq_len makes this float32 arithmetic, a Python int float64: as in the reference.
        seq = max_pos if seq_len is None else torch.tensor(max(seq_len, max_pos))
        base = base * ((factor * seq / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        return _default_inv_freq(base, dim), 1.0
    if kind == "llama3":  # low frequencies divided by `factor`, high ones kept, a smooth ramp between
        inv_freq = _default_inv_freq(base, dim)
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_context = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old_context / low, old_context / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_context / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(is_medium, smoothed, scaled), 1.0
    return _yarn_parameters(config, base, dim, factor, scaling)


def _yarn_parameters(
    config: Any, base: float, dim: int, factor: float, scaling: dict
) -> tuple[Tensor, float]:
    """YaRN: interpolate low frequencies, extrapolate high ones, and scale attention by `mscale`."""

    def mscale(scale: float, m: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

    attention_factor = scaling.get("attention_factor")
    m, m_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
    if attention_factor is None:
        attention_factor = float(mscale(factor, m) / mscale(factor, m_all)) if m and m_all else mscale(factor)
    beta_fast, beta_slow = scaling.get("beta_fast") or 32, scaling.get("beta_slow") or 1
    original = scaling.get("original_max_position_embeddings") or config.max_position_embeddings

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001  # avoid a division by zero in the ramp
    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extrapolation = 1 - ramp
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation) + (1.0 / pos_freqs) * extrapolation
    return inv_freq, attention_factor


class RotaryEmbedding(nn.Module):
    """cos/sin of `position * inv_freq` for the rotate-half RoPE layout, looked up in a cached table.

    `forward(position_ids, dtype, max_position)` returns (cos, signed sin), each (B, T, head_dim) in
    `dtype`; the first half of "signed sin" is negated, which is what `apply_rope` takes.
    `max_position` bounds the positions (past length + new tokens: position ids computed from an
    attention mask never exceed it), so a decoding step never reads `position_ids` back to the host;
    `None` means "unknown" and reads the maximum.
    """

    chunk = 1024

    def __init__(self, config: Any):
        super().__init__()
        self.config = config
        self.rope_type = rope_type(config)
        inv_freq, self.attention_scaling = rope_parameters(config)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.original_inv_freq = inv_freq
        self.original_max_seq_len = self.max_seq_len_cached = config.max_position_embeddings
        self._table: Tensor | None = None  # (N, 2, head_dim) float32: cos, signed sin
        self._cast: dict[torch.dtype, Tensor] = {}

    def _build_table(self, length: int) -> None:
        length = -(-length // self.chunk) * self.chunk
        pos = torch.arange(length, device=self.inv_freq.device, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq.float()[None, :]  # = the reference's (inv_freq @ positions)
        emb = torch.cat((freqs, freqs), dim=-1)
        sin = emb.sin()
        sin[:, : sin.shape[1] // 2].neg_()  # signed: rotate_half(x) * sin == roll(x, D/2) * signed sin
        table = torch.stack((emb.cos(), sin), dim=1)
        if self.attention_scaling != 1.0:
            table = table * self.attention_scaling
        self._table, self._cast = table, {}

    def _dynamic_update(self, position_ids: Tensor) -> None:
        # The reference recomputes the NTK base whenever a sequence outgrows the longest seen so far,
        # and returns to the original frequencies for short sequences: keep the same state machine.
        seq_len = int(position_ids.max()) + 1
        if seq_len > self.max_seq_len_cached:
            inv_freq, _ = rope_parameters(self.config, seq_len=seq_len)
            self.inv_freq = inv_freq.to(self.inv_freq.device)
            self.max_seq_len_cached = seq_len
            self._table = None
        if seq_len < self.original_max_seq_len < self.max_seq_len_cached:
            self.inv_freq = self.original_inv_freq.to(self.inv_freq.device)
            self.max_seq_len_cached = self.original_max_seq_len
            self._table = None

    def forward(
        self, position_ids: Tensor, dtype: torch.dtype, max_position: int | None
    ) -> tuple[Tensor, Tensor]:
        if max_position is None:
            max_position = int(position_ids.max()) + 1
        if self.rope_type == "dynamic":
            self._dynamic_update(position_ids)
        table = self._table
        if table is None or table.shape[0] < max_position or table.device != self.inv_freq.device:
            self._build_table(max_position)
            table = self._table
        cast = self._cast.get(dtype)
        if cast is None or cast.shape[0] != table.shape[0]:
            cast = self._cast[dtype] = table.to(dtype)
        rows = cast[position_ids]  # (B, T, 2, D)
        return rows[:, :, 0], rows[:, :, 1]

    def _apply(self, fn, recurse=True):  # .to(device) / .half(): rebuild the table lazily
        self._table, self._cast = None, {}
        return super()._apply(fn, recurse)


def rotate_half(x: Tensor) -> Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(q: Tensor, k: Tensor, cos: Tensor, signed_sin: Tensor) -> tuple[Tensor, Tensor]:
    """Rotate q (B, H, T, D) and k (B, H_kv, T, D) by the angles whose cos/signed sin are (B, T, D).

    `x * cos + rotate_half(x) * sin`, computed as `x * cos + roll(x, D/2) * signed_sin`: the same
    float operations (a negation is exact) in fewer kernels, which matters when decoding token by token.
    """
    cos, signed_sin = cos[:, None], signed_sin[:, None]
    half = q.shape[-1] // 2
    return q * cos + q.roll(half, -1) * signed_sin, k * cos + k.roll(half, -1) * signed_sin


__all__ = ["RotaryEmbedding", "apply_rope", "rope_parameters", "rope_type", "rotate_half"]
