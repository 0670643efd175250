"""The model side of the decoding loop: one forward per step for the rows still decoding.

`Runner.logits(seqs)` feeds the model only what its KV cache has not seen, with the attention
mask (a preallocated buffer, passed as views) and position ids (precomputed for the whole run),
and returns the next-token logits. Beam search re-indexes the cache (`reorder`); finished rows
leave the batch everywhere at once (`keep`).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor


class Runner:
    """Calls the model step by step for the rows still decoding.

    `logits(seqs)` takes the current sequences of the running rows (B, cur_len), feeds the model
    what its cache has not seen yet, and returns the next-token logits (B, V) in float32.
    `reorder(idx)` re-indexes the cache (beam search); `keep(rows)` drops rows everywhere.
    """

    def __init__(
        self, model, input_ids, attention_mask, model_kwargs, config, is_ed, forward_params, max_length
    ):
        self.model = model
        self.is_ed = is_ed
        self.use_cache = bool(config.use_cache)
        self.want_attentions = bool(config.output_attentions)
        self.want_hidden = bool(config.output_hidden_states)
        kwargs = dict(model_kwargs)
        kwargs.pop("use_cache", None)
        kwargs.pop("output_attentions", None)
        kwargs.pop("output_hidden_states", None)
        self.cache = kwargs.pop("past_key_values", None)
        self.logits_to_keep = "logits_to_keep" in forward_params
        self.static: dict[str, Any] = {}  # per-row inputs that do not grow (encoder outputs, ...)
        self.token_type_ids = kwargs.pop("token_type_ids", None)
        self.position_ids = kwargs.pop("position_ids", None)
        self.last_outputs: Any = None
        batch, cur_len = input_ids.shape
        if self.cache is None and self.use_cache:
            # Greedy/sampling: one allocation for the whole run. Beam search re-indexes the cache every
            # step, which copies its whole capacity, so it grows in smaller chunks instead.
            self.cache = new_cache(model, is_ed, max_length if config.num_beams == 1 else 64)
        if is_ed:
            self.encoder_mask = attention_mask
            self.decoder_mask = kwargs.pop("decoder_attention_mask", None)
            self.encoder_outputs = kwargs.pop("encoder_outputs")
            self.mask = None
        else:
            # Masks grow by a column of ones per step: keep them in one buffer, pass views.
            self.mask = None
            if attention_mask is not None and not bool(attention_mask.all()):
                self.mask = attention_mask.new_ones((batch, max(max_length, cur_len)))
                self.mask[:, :cur_len] = attention_mask
            self.has_positions = "position_ids" in forward_params
            if self.position_ids is None:  # the reference's rule: cumsum of the mask - 1, pads at 1
                if self.mask is not None:
                    pos = attention_mask.long().cumsum(-1) - 1
                    self.position_ids = pos.masked_fill(attention_mask == 0, 1)
                else:
                    self.position_ids = torch.arange(cur_len, device=input_ids.device).expand(batch, -1)
            # Positions of the tokens still to come, precomputed: each is one past the row's previous.
            ahead = max(max_length, cur_len) - self.position_ids.shape[1]
            if ahead > 0:
                pos = self.position_ids
                extra = pos[:, -1:] + torch.arange(1, ahead + 1, device=pos.device)
                self.position_ids = torch.cat([pos, extra], dim=-1)
        self.static.update(kwargs)
        self.seen = cache_length(self.cache)  # positions the cache holds

    # -- one step -----------------------------------------------------------------------------------
    def logits(self, seqs: Tensor) -> Tensor:
        cur_len = seqs.shape[1]
        start = self.seen if self.use_cache else 0
        if start >= cur_len:
            raise ValueError(
                f"The cache already holds {start} positions but the sequence has {cur_len}: pass at least one new token."
            )
        new = seqs[:, start:]
        kwargs: dict[str, Any] = dict(self.static)
        if self.use_cache:
            kwargs["past_key_values"] = self.cache
        kwargs["use_cache"] = self.use_cache
        if self.want_attentions:
            kwargs["output_attentions"] = True
        if self.want_hidden:
            kwargs["output_hidden_states"] = True
        if self.is_ed:
            kwargs["attention_mask"] = self.encoder_mask
            kwargs["encoder_outputs"] = self.encoder_outputs
            if self.decoder_mask is not None:
                self._grow_decoder_mask(cur_len)
                kwargs["decoder_attention_mask"] = self.decoder_mask
            out = self.model(decoder_input_ids=new, **kwargs)
        else:
            if self.mask is not None:
                kwargs["attention_mask"] = self.mask[:, :cur_len]
            if self.has_positions:
                kwargs["position_ids"] = self._positions(cur_len)[:, start:]
            if self.token_type_ids is not None:
                self._grow_token_types(cur_len)
                kwargs["token_type_ids"] = self.token_type_ids[:, start:]
            if self.logits_to_keep:
                kwargs["logits_to_keep"] = 1
            out = self.model(input_ids=new, **kwargs)
        if self.use_cache:
            self.cache = out.past_key_values
            self.seen = cur_len
        self.last_outputs = out if (self.want_attentions or self.want_hidden) else None
        logits = out.logits[:, -1, :]
        # A copy when the model returned more positions than the last: do not keep them alive.
        return logits.to(torch.float32, copy=out.logits.shape[1] > 1)

    def _positions(self, cur_len: int) -> Tensor:
        pos = self.position_ids
        if pos.shape[1] < cur_len:  # past the precomputed range (a custom max length): extend
            extra = pos[:, -1:] + torch.arange(1, cur_len - pos.shape[1] + 1, device=pos.device)
            self.position_ids = pos = torch.cat([pos, extra], dim=-1)
        return pos[:, :cur_len]

    def _grow_token_types(self, cur_len: int) -> None:
        tt = self.token_type_ids
        if tt.shape[1] < cur_len:
            self.token_type_ids = torch.cat([tt, tt[:, -1:].expand(-1, cur_len - tt.shape[1])], dim=-1)

    def _grow_decoder_mask(self, cur_len: int) -> None:
        m = self.decoder_mask
        if m.shape[1] < cur_len:
            self.decoder_mask = torch.cat([m, m.new_ones((m.shape[0], cur_len - m.shape[1]))], dim=-1)

    # -- batch changes ------------------------------------------------------------------------------
    def reorder(self, index: Tensor) -> None:
        """Beam search: row i continues from row index[i] (same batch item, so masks are unchanged)."""
        if self.cache is not None and self.use_cache:
            self.cache.reorder_cache(index.long())

    def keep(self, rows: Tensor) -> None:
        """Keep only `rows` (finished rows leave the batch)."""
        rows = rows.long()
        if self.cache is not None and self.use_cache:
            self.cache.batch_select_indices(rows)
        if self.mask is not None:
            self.mask = self.mask[rows]
        if not self.is_ed:
            self.position_ids = self.position_ids[rows]
        if self.token_type_ids is not None:
            self.token_type_ids = self.token_type_ids[rows]
        if self.is_ed:
            self.encoder_mask = self.encoder_mask[rows] if self.encoder_mask is not None else None
            self.decoder_mask = self.decoder_mask[rows] if self.decoder_mask is not None else None
            enc = copy.copy(self.encoder_outputs)
            enc.last_hidden_state = enc.last_hidden_state[rows]
            self.encoder_outputs = enc
        for key, value in self.static.items():
            if isinstance(value, Tensor) and value.dim() > 0:
                self.static[key] = value[rows]

    def step_outputs(self) -> dict[str, Any]:
        """Attentions / hidden states of the last step, under the names generate's outputs use."""
        out = self.last_outputs
        if out is None:
            return {}
        if self.is_ed:
            return {
                "decoder_attentions": getattr(out, "decoder_attentions", None),
                "cross_attentions": getattr(out, "cross_attentions", None),
                "decoder_hidden_states": getattr(out, "decoder_hidden_states", None),
            }
        return {
            "attentions": getattr(out, "attentions", None),
            "hidden_states": getattr(out, "hidden_states", None),
        }


def new_cache(model: Any, is_ed: bool, chunk: int) -> Any:
    """A cache sized for the whole generation (one allocation) for leanformers models; foreign models
    (anything not built on leanformers' PreTrainedModel) create their own."""
    from ..modeling import PreTrainedModel

    if not isinstance(model, PreTrainedModel):
        return None
    from ..nn.cache import DynamicCache, EncoderDecoderCache

    if is_ed:  # the cross-attention cache holds exactly the encoder length: chunk 1
        return EncoderDecoderCache(DynamicCache(chunk=chunk), DynamicCache(chunk=1))
    return DynamicCache(chunk=chunk)


def cache_length(cache: Any) -> int:
    if cache is None:
        return 0
    if isinstance(cache, tuple):
        return cache[0][0].shape[2] if cache else 0
    return int(cache.get_seq_length()) if hasattr(cache, "get_seq_length") else 0


__all__ = ["Runner", "new_cache", "cache_length"]
