"""The Llama family: Llama, Mistral, Qwen2 (and SmolLM, a Llama checkpoint).

One decoder, three configs. What differs between the architectures is a config question:
grouped-query attention (`num_key_value_heads`), rotary embeddings (`rope_theta`, `rope_scaling`),
biases on the attention projections (`attention_bias`; always on q/k/v in Qwen2), tied or untied
embeddings, and a sliding attention window (every layer in Mistral, layers from `max_window_layers`
on in Qwen2 when `use_sliding_window`).

config -> attention -> MLP -> decoder layer -> LlamaModel -> LlamaForCausalLM; module names equal
the checkpoint keys (`model.layers.0.self_attn.q_proj.weight`, `lm_head.weight`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..nn.activations import get_activation
from ..nn.attention import attention, decoder_mask
from ..nn.cache import DynamicCache, as_cache
from ..nn.losses import causal_lm_loss
from ..nn.norms import RMSNorm
from ..nn.rotary import RotaryEmbedding, apply_rope, rope_type
from ..outputs import BaseModelOutputWithPast, CausalLMOutputWithPast


# ------------------------------------------------------------------------------------------------
# Configurations
# ------------------------------------------------------------------------------------------------
class LlamaConfig(PretrainedConfig):
    """Configuration of a Llama decoder (defaults: Llama-2 7B, as the reference)."""

    model_type = "llama"
    defaults = {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": None,
        "hidden_act": "silu",
        "max_position_embeddings": 2048,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-6,
        "use_cache": True,
        "pad_token_id": None,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pretraining_tp": 1,
        "tie_word_embeddings": False,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "head_dim": None,
    }
    derive_head_dim = True  # Llama stores hidden_size // heads in the config; Mistral keeps None

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.derive_head_dim and getattr(self, "head_dim", None) is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if isinstance(self.rope_scaling, dict) and "type" in self.rope_scaling:
            self.rope_scaling["rope_type"] = self.rope_scaling["type"]
        rope_type(self)  # an unsupported rope_scaling fails here, not at the first forward

    # What distinguishes the family members, asked by the modules below.
    def projection_biases(self) -> tuple[bool, bool]:
        """(bias on q/k/v, bias on o_proj)."""
        return self.attention_bias, self.attention_bias

    def layer_sliding_window(self, layer_idx: int) -> int | None:
        return None


class MistralConfig(LlamaConfig):
    """Mistral: Llama with a sliding attention window on every layer (when `sliding_window` is set)."""

    model_type = "mistral"
    defaults = {
        **{
            k: v
            for k, v in LlamaConfig.defaults.items()
            if k not in ("pretraining_tp", "attention_bias", "mlp_bias")
        },
        "intermediate_size": 14336,
        "num_key_value_heads": 8,
        "max_position_embeddings": 4096 * 32,
        "sliding_window": 4096,
    }
    derive_head_dim = False

    def projection_biases(self) -> tuple[bool, bool]:
        return False, False

    def layer_sliding_window(self, layer_idx: int) -> int | None:
        return self.sliding_window


class Qwen2Config(LlamaConfig):
    """Qwen2: Llama with q/k/v biases; an optional sliding window from layer `max_window_layers` on."""

    model_type = "qwen2"
    defaults = {
        **{
            k: v
            for k, v in LlamaConfig.defaults.items()
            if k not in ("pretraining_tp", "attention_bias", "mlp_bias", "head_dim", "pad_token_id")
        },
        "vocab_size": 151936,
        "intermediate_size": 22016,
        "num_key_value_heads": 32,
        "max_position_embeddings": 32768,
        "bos_token_id": None,
        "eos_token_id": None,
        "use_sliding_window": False,
        "sliding_window": 4096,
        "max_window_layers": 28,
        "layer_types": None,
    }
    derive_head_dim = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        if not self.use_sliding_window:
            self.sliding_window = None
        if self.layer_types is None:
            self.layer_types = [
                "sliding_attention"
                if self.sliding_window is not None and i >= self.max_window_layers
                else "full_attention"
                for i in range(self.num_hidden_layers)
            ]

    def projection_biases(self) -> tuple[bool, bool]:
        return True, False

    def layer_sliding_window(self, layer_idx: int) -> int | None:
        return self.sliding_window if self.layer_types[layer_idx] == "sliding_attention" else None


# ------------------------------------------------------------------------------------------------
# Layers
# ------------------------------------------------------------------------------------------------


class LlamaAttention(nn.Module):
    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.dropout = config.attention_dropout
        self.sliding_window = config.layer_sliding_window(layer_idx)
        qkv_bias, o_bias = config.projection_biases()
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=o_bias)

    def forward(
        self,
        x: Tensor,  # (B, T, C)
        rope: tuple[Tensor, Tensor],
        mask: Tensor | None,
        cache: DynamicCache | None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, H_kv, T, D)
        v = self.v_proj(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, k, *rope)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out, weights = attention(
            q,
            k,
            v,
            mask,
            dropout=self.dropout if self.training else 0.0,
            is_causal=mask is None and t > 1,
            need_weights=need_weights,
        )
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1)), weights


class LlamaMLP(nn.Module):
    """SwiGLU: down(act(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        bias = getattr(config, "mlp_bias", False)
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=bias)
        self.act_fn = get_activation(config.hidden_act)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.self_attn = LlamaAttention(config, layer_idx)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, x, rope, mask, cache=None, need_weights=False) -> tuple[Tensor, Tensor | None]:
        attn, weights = self.self_attn(self.input_layernorm(x), rope, mask, cache, need_weights)
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x)), weights


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------
class LlamaPreTrainedModel(PreTrainedModel):
    config_class = LlamaConfig
    base_model_prefix = "model"
    # Old checkpoints saved the rotary frequencies.
    _keys_to_ignore_on_load_unexpected = [r"rotary_emb\.inv_freq"]


class LlamaModel(LlamaPreTrainedModel):
    """The decoder stack: embeddings -> layers -> final RMSNorm."""

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(LlamaDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config)
        self.gradient_checkpointing = False
        # Each layer's sliding window (None = full attention); one mask is built per distinct window.
        self._layer_windows = [layer.self_attn.sliding_window for layer in self.layers]
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        past_key_values: Any = None,
        inputs_embeds: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        x = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, C)
        b, t = x.shape[:2]

        cache, past, checkpointing = decoder_cache(self, past_key_values, use_cache)
        if position_ids is None:
            if cache_position is not None:
                position_ids = cache_position[None]
                bound = None
            else:
                position_ids = torch.arange(past, past + t, device=x.device)[None]
                bound = past + t
        else:
            # Positions derived from an attention mask never exceed past + T - 1; a decoding step
            # (T = 1) trusts that instead of reading the ids back from the device.
            bound = past + t if t == 1 else None
        rope = self.rotary_emb(position_ids, x.dtype, bound)
        masks = {
            w: decoder_mask(attention_mask, t, past, x.dtype, x.device, w) for w in set(self._layer_windows)
        }

        hidden_states = (x,) if output_hidden_states else None
        attentions = () if output_attentions else None
        for layer, window in zip(self.layers, self._layer_windows):
            mask = masks[window]
            if checkpointing:
                x, weights = checkpoint(layer, x, rope, mask, None, output_attentions, use_reentrant=False)
            else:
                x, weights = layer(x, rope, mask, cache, output_attentions)
            if output_hidden_states:
                hidden_states += (x,)
            if output_attentions:
                attentions += (weights,)
        x = self.norm(x)
        if output_hidden_states:
            hidden_states = hidden_states[:-1] + (x,)  # the last entry is the normed output, as the reference
        return BaseModelOutputWithPast(
            last_hidden_state=x, past_key_values=cache, hidden_states=hidden_states, attentions=attentions
        )


class LlamaForCausalLM(LlamaPreTrainedModel):
    """The decoder with a language-modelling head (`lm_head`, tied to the embeddings when the config says so)."""

    _tied_weights_keys = ["lm_head.weight"]
    base_class = LlamaModel  # the decoder class (MistralModel, Qwen2Model for the variants)

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.model = type(self).base_class(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
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
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """`labels` (B, T) give the shifted next-token loss (-100 = ignored); `logits_to_keep=1`
        computes only the last position's logits (what generation needs)."""
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            cache_position=cache_position,
        )
        return lm_output(self.lm_head, out, labels, logits_to_keep, kwargs.get("num_items_in_batch"))


def decoder_cache(
    model: PreTrainedModel, past_key_values: Any, use_cache: bool | None
) -> tuple[Any, int, bool]:
    """(cache or None, cached length, checkpointing) for one decoder call. `use_cache=None` caches
    only in eval mode (the config permitting); gradient checkpointing re-runs layers, so it never caches."""
    checkpointing = model.gradient_checkpointing and model.training
    use_cache = (model.config.use_cache and not model.training) if use_cache is None else use_cache
    use_cache = use_cache and not checkpointing
    cache = as_cache(past_key_values) if (use_cache or past_key_values is not None) else None
    return cache, (cache.get_seq_length() if cache is not None else 0), checkpointing


def lm_output(head: nn.Module, out, labels: Tensor | None, logits_to_keep: int | Tensor, num_items=None):
    """Project (some of) the last hidden states to the vocabulary and add the loss; shared with GPT-2."""
    x = out.last_hidden_state
    if isinstance(logits_to_keep, int):
        x = x[:, -logits_to_keep:] if logits_to_keep > 0 else x
    else:
        x = x[:, logits_to_keep]
    logits = head(x)
    loss = causal_lm_loss(logits, labels, num_items) if labels is not None else None
    return CausalLMOutputWithPast(
        loss=loss,
        logits=logits,
        past_key_values=out.past_key_values,
        hidden_states=out.hidden_states,
        attentions=out.attentions,
    )


class MistralModel(LlamaModel):
    config_class = MistralConfig


class MistralForCausalLM(LlamaForCausalLM):
    config_class = MistralConfig
    base_class = MistralModel


class Qwen2Model(LlamaModel):
    config_class = Qwen2Config


class Qwen2ForCausalLM(LlamaForCausalLM):
    config_class = Qwen2Config
    base_class = Qwen2Model


__all__ = [
    "LlamaConfig",
    "LlamaModel",
    "LlamaForCausalLM",
    "MistralConfig",
    "MistralModel",
    "MistralForCausalLM",
    "Qwen2Config",
    "Qwen2Model",
    "Qwen2ForCausalLM",
]
