"""GPT-2: learned positions, pre-LayerNorm blocks, GELU MLP, LM head tied to the token embeddings.

The checkpoint stores its projections as "Conv1D" weights of shape (in, out) (`h.0.attn.c_attn.weight`
is (C, 3C)); `Conv1D` keeps that layout so loading is a plain key copy and `save_pretrained` writes
files the reference reads.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..nn.activations import get_activation
from ..nn.attention import attention, decoder_mask
from ..nn.cache import DynamicCache
from ..outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from .llama import decoder_cache, lm_output


class GPT2Config(PretrainedConfig):
    """Configuration of GPT-2 (defaults: the 124M model). `n_embd`, `n_layer`, `n_head` and
    `n_positions` are the stored names; `hidden_size`, `num_hidden_layers`, ... are aliases."""

    model_type = "gpt2"
    attribute_map = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }
    defaults = {
        "vocab_size": 50257,
        "n_positions": 1024,
        "n_embd": 768,
        "n_layer": 12,
        "n_head": 12,
        "n_inner": None,
        "activation_function": "gelu_new",
        "resid_pdrop": 0.1,
        "embd_pdrop": 0.1,
        "attn_pdrop": 0.1,
        "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "summary_activation": None,
        "summary_proj_to_labels": True,
        "summary_first_dropout": 0.1,
        "scale_attn_weights": True,
        "use_cache": True,
        "bos_token_id": 50256,
        "eos_token_id": 50256,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
    }


class Conv1D(nn.Module):
    """A linear layer whose weight is stored transposed, (in, out), as in the GPT-2 checkpoints."""

    def __init__(self, n_out: int, n_in: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: Tensor) -> Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class GPT2Attention(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        if getattr(config, "add_cross_attention", False):
            raise NotImplementedError(
                "GPT-2 with cross-attention (add_cross_attention=True) is not supported."
            )
        self.layer_idx = layer_idx
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}).")
        head_dim = self.n_embd // self.n_head
        # The config's scaling choices (the reference's eager path honours both flags).
        self.scale = (1 / math.sqrt(head_dim) if config.scale_attn_weights else 1.0) / (
            layer_idx + 1 if config.scale_attn_by_inverse_layer_idx else 1
        )
        self.c_attn = Conv1D(3 * self.n_embd, self.n_embd)
        self.c_proj = Conv1D(self.n_embd, self.n_embd)
        self.attn_pdrop = config.attn_pdrop
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(
        self, x: Tensor, mask: Tensor | None, cache: DynamicCache | None, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        b, t, c = x.shape
        q, k, v = (
            self.c_attn(x).view(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4)
        )  # (B, H, T, D)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out, weights = attention(
            q,
            k,
            v,
            mask,
            dropout=self.attn_pdrop if self.training else 0.0,
            scale=self.scale,
            is_causal=mask is None and t > 1,
            need_weights=need_weights,
        )
        return self.resid_dropout(self.c_proj(out.transpose(1, 2).reshape(b, t, c))), weights


class GPT2MLP(nn.Module):
    def __init__(self, inner: int, config: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(inner, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, inner)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        inner = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner, config)

    def forward(self, x, mask, cache=None, need_weights=False) -> tuple[Tensor, Tensor | None]:
        attn, weights = self.attn(self.ln_1(x), mask, cache, need_weights)
        x = x + attn
        return x + self.mlp(self.ln_2(x)), weights


class GPT2PreTrainedModel(PreTrainedModel):
    config_class = GPT2Config
    base_model_prefix = "transformer"
    # Old checkpoints saved the causal-mask buffers.
    _keys_to_ignore_on_load_unexpected = [r"\.attn\.bias$", r"\.attn\.masked_bias$"]

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range); residual projections scaled by 1/sqrt(2 * n_layer) (GPT-2 paper)."""
        if isinstance(module, Conv1D):
            scale = math.sqrt(2 * self.config.n_layer) if getattr(module, "residual", False) else 1.0
            nn.init.normal_(module.weight, std=self.config.initializer_range / scale)
            nn.init.zeros_(module.bias)
        else:
            super()._init_weights(module)


class GPT2Model(GPT2PreTrainedModel):
    """Token + position embeddings -> blocks -> final LayerNorm."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList(GPT2Block(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.gradient_checkpointing = False
        for block in self.h:
            block.attn.c_proj.residual = block.mlp.c_proj.residual = True
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.wte = value

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        past_key_values: Any = None,
        inputs_embeds: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        config = self.config
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        x = self.wte(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, C)
        b, t = x.shape[:2]

        cache, past, checkpointing = decoder_cache(self, past_key_values, use_cache)
        # Positions past the learned ones are an error; given ids are read back once per prompt, not
        # at every decoding step (left padding keeps them below past + t).
        if position_ids is None and cache_position is None:
            position_ids = torch.arange(past, past + t, device=x.device)[None]
            last = past + t - 1
        else:
            position_ids = position_ids if position_ids is not None else cache_position[None]
            last = int(position_ids.max()) if t > 1 else 0
        if last >= config.n_positions:
            raise ValueError(
                f"GPT-2 has {config.n_positions} learned positions, but the input reaches position {last} "
                f"({past} cached + {t} new tokens). Truncate the input (truncation=True, max_length=...)."
            )
        x = x + self.wpe(position_ids)
        if token_type_ids is not None:
            x = x + self.wte(token_type_ids)
        x = self.drop(x)
        mask = decoder_mask(attention_mask, t, past, x.dtype, x.device)

        hidden_states = () if output_hidden_states else None
        attentions = () if output_attentions else None
        for block in self.h:
            if output_hidden_states:
                hidden_states += (x,)
            if checkpointing:
                x, weights = checkpoint(block, x, mask, None, output_attentions, use_reentrant=False)
            else:
                x, weights = block(x, mask, cache, output_attentions)
            if output_attentions:
                attentions += (weights,)
        x = self.ln_f(x)
        if output_hidden_states:
            hidden_states += (x,)
        return BaseModelOutputWithPast(
            last_hidden_state=x, past_key_values=cache, hidden_states=hidden_states, attentions=attentions
        )


class GPT2LMHeadModel(GPT2PreTrainedModel):
    """GPT-2 with the language-modelling head (tied to `wte`)."""

    _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def can_generate(self) -> bool:
        return True

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        past_key_values: Any = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
        logits_to_keep: int | Tensor = 0,
        token_type_ids: Tensor | None = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """`labels` (B, T) give the shifted next-token loss (-100 = ignored); `logits_to_keep=1`
        computes only the last position's logits (what generation needs)."""
        out = self.transformer(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            token_type_ids=token_type_ids,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            cache_position=cache_position,
        )
        return lm_output(self.lm_head, out, labels, logits_to_keep, kwargs.get("num_items_in_batch"))


__all__ = ["GPT2Config", "GPT2Model", "GPT2LMHeadModel", "Conv1D"]
