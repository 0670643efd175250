"""Key/value caches for incremental decoding.

`DynamicCache` keeps one (B, H, capacity, D) buffer per layer and grows it in chunks, so a decoding
step writes into preallocated memory instead of concatenating (re-allocating) every step.
`EncoderDecoderCache` pairs a self-attention cache with a cross-attention cache that is filled once
from the encoder output.
"""

from __future__ import annotations

import torch
from torch import Tensor


class DynamicCache:
    """Per-layer K/V storage that grows by `chunk` positions at a time.

    `update(layer, k, v)` appends the new positions and returns views of everything cached so far.
    """

    def __init__(self, chunk: int = 256):
        self.chunk = chunk
        self.keys: list[Tensor] = []
        self.values: list[Tensor] = []
        self.lengths: list[int] = []
        self._spare: dict[tuple[str, int], Tensor] = {}  # reorder_cache's second buffers

    def __len__(self) -> int:
        return len(self.keys)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.lengths[layer_idx] if layer_idx < len(self.lengths) else 0

    def update(self, layer_idx: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append k, v (B, H, T_new, D) to layer `layer_idx`; return the cached (B, H, T_total, D) views."""
        if layer_idx == len(self.keys):
            self.keys.append(self._alloc(k, k.shape[2]))
            self.values.append(self._alloc(v, v.shape[2]))
            self.lengths.append(0)
        start, end = self.lengths[layer_idx], self.lengths[layer_idx] + k.shape[2]
        if end > self.keys[layer_idx].shape[2]:
            self.keys[layer_idx] = self._grow(self.keys[layer_idx], start, end)
            self.values[layer_idx] = self._grow(self.values[layer_idx], start, end)
        self.keys[layer_idx][:, :, start:end] = k
        self.values[layer_idx][:, :, start:end] = v
        self.lengths[layer_idx] = end
        return self.keys[layer_idx][:, :, :end], self.values[layer_idx][:, :, :end]

    def _capacity(self, needed: int) -> int:
        return -(-needed // self.chunk) * self.chunk

    def _alloc(self, like: Tensor, needed: int) -> Tensor:
        b, h, _, d = like.shape
        return like.new_empty((b, h, self._capacity(needed), d))

    def _grow(self, buf: Tensor, used: int, needed: int) -> Tensor:
        new = buf.new_empty((*buf.shape[:2], self._capacity(max(needed, 2 * buf.shape[2])), buf.shape[3]))
        new[:, :, :used] = buf[:, :, :used]
        return new

    def layer(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        n = self.lengths[layer_idx]
        return self.keys[layer_idx][:, :, :n], self.values[layer_idx][:, :, :n]

    def reorder_cache(self, beam_idx: Tensor) -> None:
        """Beam search: row r continues from row beam_idx[r] (same batch size).

        The rows are gathered into a spare buffer kept from the previous step, which then swaps
        with the current one: allocating fresh (B, H, capacity, D) buffers every step costs
        several times more than the copy itself.
        """
        spare = self._spare
        for i in range(len(self.keys)):
            idx = beam_idx.to(self.keys[i].device)
            for store, name in ((self.keys, "k"), (self.values, "v")):
                src, out = store[i], spare.get((name, i))
                if idx.shape[0] != src.shape[0]:
                    store[i] = src.index_select(0, idx)
                    continue
                if out is None or (out.shape, out.dtype, out.device) != (src.shape, src.dtype, src.device):
                    out = torch.empty_like(src)
                n = self.lengths[i]  # only the filled positions; the rest is written before it is read
                torch.index_select(src[:, :, :n], 0, idx, out=out[:, :, :n])
                store[i], spare[(name, i)] = out, src

    def batch_select_indices(self, indices: Tensor) -> None:
        """Keep only the rows `indices` (finished rows leave the batch)."""
        self._spare.clear()
        for i in range(len(self.keys)):
            idx = indices.to(self.keys[i].device)
            self.keys[i] = self.keys[i].index_select(0, idx)
            self.values[i] = self.values[i].index_select(0, idx)

    def batch_repeat_interleave(self, repeats: int) -> None:
        for i in range(len(self.keys)):
            self.keys[i] = self.keys[i].repeat_interleave(repeats, dim=0)
            self.values[i] = self.values[i].repeat_interleave(repeats, dim=0)

    def crop(self, max_length: int) -> None:
        """Forget positions past `max_length` (negative: drop that many from the end)."""
        for i, n in enumerate(self.lengths):
            self.lengths[i] = min(n, max_length if max_length >= 0 else n + max_length)

    def to_legacy_cache(self) -> tuple[tuple[Tensor, Tensor], ...]:
        return tuple(self.layer(i) for i in range(len(self.keys)))

    @classmethod
    def from_legacy_cache(cls, past: tuple[tuple[Tensor, Tensor], ...] | None) -> DynamicCache:
        cache = cls()
        for i, (k, v) in enumerate(past or ()):
            cache.update(i, k, v)
        return cache

    def __getitem__(self, layer_idx: int) -> tuple[Tensor, Tensor]:
        return self.layer(layer_idx)

    def __iter__(self):
        return (self.layer(i) for i in range(len(self.keys)))


class EncoderDecoderCache:
    """Self-attention cache (grows every step) + cross-attention cache (computed once from the encoder)."""

    def __init__(
        self,
        self_attention_cache: DynamicCache | None = None,
        cross_attention_cache: DynamicCache | None = None,
    ):
        # (`is None`, not `or`: an empty cache is falsy, and a caller's chunk size must be kept)
        self.self_attention_cache = DynamicCache() if self_attention_cache is None else self_attention_cache
        cross = cross_attention_cache
        self.cross_attention_cache = DynamicCache() if cross is None else cross
        # Set by a model that filled the cross-attention cache from an encoder output whose rows repeat
        # (beam search: one copy per beam): row r holds the same keys/values as every row of its group
        # cross_row_groups[r]. A reorder that keeps every row in its group then changes nothing.
        self.cross_row_groups: Tensor | None = None

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.self_attention_cache.get_seq_length(layer_idx)

    def __len__(self) -> int:
        return len(self.self_attention_cache)

    def reorder_cache(self, beam_idx: Tensor) -> None:
        self.self_attention_cache.reorder_cache(beam_idx)
        groups = self.cross_row_groups
        if groups is not None and groups.shape[0] == beam_idx.shape[0]:
            idx = beam_idx.to(groups.device)
            if torch.equal(groups.index_select(0, idx), groups):
                return  # beams moved within their own input: the cross-attention rows are already right
        self.cross_attention_cache.reorder_cache(beam_idx)
        if groups is not None:
            self.cross_row_groups = groups.index_select(0, beam_idx.to(groups.device))

    def batch_select_indices(self, indices: Tensor) -> None:
        self.self_attention_cache.batch_select_indices(indices)
        self.cross_attention_cache.batch_select_indices(indices)
        if self.cross_row_groups is not None:
            groups = self.cross_row_groups
            self.cross_row_groups = groups.index_select(0, indices.to(groups.device))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self.self_attention_cache.batch_repeat_interleave(repeats)
        self.cross_attention_cache.batch_repeat_interleave(repeats)

    def crop(self, max_length: int) -> None:
        self.self_attention_cache.crop(max_length)


def as_cache(past_key_values, encoder_decoder: bool = False):
    """Accept None, a cache object, or the legacy tuple-of-tuples; return a cache object."""
    if past_key_values is None:
        return EncoderDecoderCache() if encoder_decoder else DynamicCache()
    if isinstance(past_key_values, (DynamicCache, EncoderDecoderCache)):
        return past_key_values
    if encoder_decoder:
        self_c = DynamicCache.from_legacy_cache(tuple(layer[:2] for layer in past_key_values))
        cross_c = DynamicCache.from_legacy_cache(
            tuple(layer[2:4] for layer in past_key_values if len(layer) == 4)
        )
        return EncoderDecoderCache(self_c, cross_c)
    return DynamicCache.from_legacy_cache(past_key_values)


__all__ = ["DynamicCache", "EncoderDecoderCache", "as_cache"]
