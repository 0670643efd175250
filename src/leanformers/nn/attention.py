"""The one attention path every model uses, and the mask builders that feed it.

Masks are additive float tensors broadcastable to (B, H, T_q, T_kv): 0 where attending is allowed,
the dtype's most negative finite value where it is not (finite, so a fully masked row - a left-pad
query - softmaxes to a uniform row instead of NaN, as in the reference).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

# scaled_dot_product_attention(enable_gqa=...) exists from torch 2.5.
_SDPA_GQA = tuple(int(p) for p in torch.__version__.split(".")[:2]) >= (2, 5)


def attention(
    q: Tensor,  # (B, H, T_q, D)
    k: Tensor,  # (B, H_kv, T_kv, D)
    v: Tensor,  # (B, H_kv, T_kv, D_v)
    mask: Tensor | None = None,  # additive, broadcastable to (B, H, T_q, T_kv)
    *,
    dropout: float = 0.0,
    scale: float | None = None,
    is_causal: bool = False,
    need_weights: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Scaled dot-product attention; returns (output (B, H, T_q, D_v), weights or None).

    Grouped-query attention (H_kv < H) repeats keys/values. `need_weights=True` (for
    `output_attentions`) takes the explicit softmax path, which also returns the probabilities.
    """
    grouped = k.shape[1] != q.shape[1]
    if not need_weights and (_SDPA_GQA or not grouped):
        # enable_gqa shares each K/V head across its query group without copying the cache.
        extra = {"enable_gqa": True} if grouped else {}
        causal = is_causal and mask is None
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal, scale=scale, **extra
        )
        return out, None
    if grouped:
        k, v = repeat_kv(k, q.shape[1] // k.shape[1]), repeat_kv(v, q.shape[1] // v.shape[1])
    if not need_weights:
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=is_causal and mask is None, scale=scale
        )
        return out, None
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    if is_causal and mask is None:
        mask = causal_mask(None, q.shape[-2], k.shape[-2] - q.shape[-2], scores.dtype, q.device)
    if mask is not None and mask.dtype == torch.bool:  # True = attend (decoder_mask's masks)
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    elif mask is not None:
        scores = scores + mask
    weights = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    if dropout > 0.0:
        weights = F.dropout(weights, p=dropout, training=True)
    return torch.matmul(weights, v), weights


def repeat_kv(x: Tensor, n_rep: int) -> Tensor:
    """(B, H_kv, T, D) -> (B, H_kv * n_rep, T, D), each head repeated n_rep times in place."""
    if n_rep == 1:
        return x
    b, h, t, d = x.shape
    return x[:, :, None].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


def padding_mask(
    attention_mask: Tensor | None, dtype: torch.dtype, tgt_len: int | None = None
) -> Tensor | None:
    """(B, S) 1/0 mask -> additive (B, 1, T, S) mask; None when nothing is masked (SDPA's fast path)."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    b, s = attention_mask.shape
    t = tgt_len if tgt_len is not None else s
    blocked = (attention_mask[:, None, None, :] == 0).expand(b, 1, t, s)
    return torch.zeros(blocked.shape, dtype=dtype, device=attention_mask.device).masked_fill(
        blocked, torch.finfo(dtype).min
    )


def causal_mask(
    attention_mask: Tensor | None,  # (B, past + T) 1/0, or None
    q_len: int,
    past_len: int,
    dtype: torch.dtype,
    device: torch.device | str,
    sliding_window: int | None = None,
) -> Tensor:
    """Additive (B|1, 1, T, past + T) mask: query i (absolute position past+i) sees keys j <= past+i,
    within `sliding_window` positions if given, and only keys whose attention_mask is 1."""
    kv_len = past_len + q_len
    q_pos = torch.arange(past_len, kv_len, device=device)[:, None]
    k_pos = torch.arange(kv_len, device=device)[None, :]
    blocked = k_pos > q_pos
    if sliding_window is not None:
        blocked = blocked | (k_pos <= q_pos - sliding_window)
    blocked = blocked[None, None]  # (1, 1, T, S)
    if attention_mask is not None:
        blocked = blocked | (attention_mask[:, None, None, :kv_len] == 0)
    return torch.zeros(blocked.shape, dtype=dtype, device=device).masked_fill(blocked, torch.finfo(dtype).min)


def decoder_mask(
    attention_mask: Tensor | None,  # (B, past + T) 1/0, or None
    q_len: int,
    past_len: int,
    dtype: torch.dtype,
    device: torch.device | str,
    sliding_window: int | None = None,
) -> Tensor | None:
    """The mask a causal decoder needs, or None when SDPA can do without one: a prompt with no
    padding (`is_causal=True`) or one new token that may see the whole cache (no mask at all).
    Callers pass `is_causal=mask is None and q_len > 1` to `attention`.

    The mask is boolean (True = attend), as the reference's SDPA path builds it: a query that may
    attend to nothing (a left-pad position) then gets a zero output, exactly as in the reference.
    """
    if attention_mask is not None and attention_mask.dim() == 4:  # a ready-made mask
        return attention_mask if attention_mask.dtype == torch.bool else attention_mask.to(dtype)
    padded = attention_mask is not None and not bool(attention_mask.all())
    windowed = sliding_window is not None and past_len + q_len > sliding_window
    if not padded and not windowed and (past_len == 0 or q_len == 1):
        return None
    kv_len = past_len + q_len
    q_pos = torch.arange(past_len, kv_len, device=device)[:, None]
    k_pos = torch.arange(kv_len, device=device)[None, :]
    allowed = k_pos <= q_pos
    if sliding_window is not None:
        allowed = allowed & (k_pos > q_pos - sliding_window)
    allowed = allowed[None, None]  # (1, 1, T, S)
    if padded:
        allowed = allowed & (attention_mask[:, None, None, :kv_len] != 0).to(device)
    return allowed
