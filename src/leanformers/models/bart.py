"""BART: a post-norm Transformer encoder-decoder (summarization, and the NLI head zero-shot uses).

config -> embeddings -> attention -> encoder/decoder layers -> stacks -> BartModel -> task heads.
Module paths equal the checkpoint keys (`model.encoder.layers.0.self_attn.q_proj.weight`). The word
embedding matrix `model.shared` is one module used by the encoder, the decoder and (tied) the LM head.
Marian (`marian.py`) reuses every class here and only swaps the position embeddings.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..nn.activations import get_activation
from ..nn.attention import attention, causal_mask, padding_mask
from ..nn.cache import DynamicCache, EncoderDecoderCache, as_cache
from ..nn.losses import cross_entropy, sequence_classification_loss
from ..outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    Seq2SeqSequenceClassifierOutput,
)


class BartConfig(PretrainedConfig):
    """BART hyper-parameters; the defaults are facebook/bart-large's (as the reference's)."""

    model_type = "bart"
    attribute_map: ClassVar[dict[str, str]] = {
        "num_attention_heads": "encoder_attention_heads",
        "hidden_size": "d_model",
    }
    defaults: ClassVar[dict[str, Any]] = {
        "vocab_size": 50265,
        "max_position_embeddings": 1024,
        "encoder_layers": 12,
        "encoder_ffn_dim": 4096,
        "encoder_attention_heads": 16,
        "decoder_layers": 12,
        "decoder_ffn_dim": 4096,
        "decoder_attention_heads": 16,
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
        "activation_function": "gelu",
        "d_model": 1024,
        "dropout": 0.1,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "init_std": 0.02,
        "classifier_dropout": 0.0,
        "scale_embedding": False,
        "use_cache": True,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "is_encoder_decoder": True,
        "decoder_start_token_id": 2,
        "forced_bos_token_id": None,
        "forced_eos_token_id": 2,
    }

    default_num_labels: ClassVar[int] = 3  # the reference's BartConfig(num_labels=3): the MNLI head

    def __init__(self, **kwargs: Any):
        if "num_labels" not in kwargs and "id2label" not in kwargs:
            kwargs["num_labels"] = self.default_num_labels
        super().__init__(**kwargs)
        self.num_hidden_layers = self.encoder_layers  # as the reference: the encoder's depth
        if self.forced_bos_token_id is None and kwargs.get("force_bos_token_to_be_generated", False):
            self.forced_bos_token_id = self.bos_token_id


def shift_tokens_right(
    input_ids: Tensor, pad_token_id: int | None, decoder_start_token_id: int | None
) -> Tensor:
    """Decoder inputs from labels: prepend the start token, drop the last token, -100 -> pad."""
    if decoder_start_token_id is None:
        raise ValueError(
            "config.decoder_start_token_id is not set; set it to build decoder inputs from labels."
        )
    if pad_token_id is None:
        raise ValueError("config.pad_token_id is not set; set it to build decoder inputs from labels.")
    shifted = input_ids.new_zeros(input_ids.shape)
    shifted[..., 1:] = input_ids[..., :-1]
    shifted[..., 0] = decoder_start_token_id
    return shifted.masked_fill_(shifted == -100, pad_token_id)


# ------------------------------------------------------------------------------------------------
# Embeddings
# ------------------------------------------------------------------------------------------------
class BartLearnedPositionalEmbedding(nn.Embedding):
    """Learned positions; fairseq reserved the first two rows, so position p reads row p + 2."""

    offset = 2

    def __init__(self, num_positions: int, embedding_dim: int):
        super().__init__(num_positions + self.offset, embedding_dim)

    def forward(self, positions: Tensor) -> Tensor:  # (T,) -> (T, D)
        return super().forward(positions + self.offset)


# ------------------------------------------------------------------------------------------------
# Attention and layers
# ------------------------------------------------------------------------------------------------
class BartAttention(nn.Module):
    """Multi-head attention; self-attention (cached per step) or cross-attention (K/V cached once)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, layer_idx: int = 0):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"d_model ({embed_dim}) must be divisible by the number of heads ({num_heads}).")
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = dropout
        self.layer_idx = layer_idx
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _heads(self, x: Tensor) -> Tensor:  # (B, T, D) -> (B, H, T, hd)
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: Tensor,  # (B, T, D)
        key_value_states: Tensor | None = None,  # encoder output (B, S, D) for cross-attention
        mask: Tensor | None = None,
        cache: DynamicCache | None = None,
        is_causal: bool = False,
        output_attentions: bool = False,
        source_rows: tuple[Tensor, Tensor] | None = None,  # repeated_rows(key_value_states)
    ) -> tuple[Tensor, Tensor | None]:
        b, t, _ = hidden_states.shape
        q = self._heads(self.q_proj(hidden_states))
        if key_value_states is not None and cache is not None and cache.get_seq_length(self.layer_idx) > 0:
            k, v = cache.layer(self.layer_idx)  # the encoder output does not change while decoding
        else:
            source = hidden_states if key_value_states is None else key_value_states
            if source_rows is not None:  # one projection per distinct encoder row, copied to its beams
                firsts, runs = source_rows
                source = source.index_select(0, firsts)
                k = self._heads(self.k_proj(source)).index_select(0, runs)
                v = self._heads(self.v_proj(source)).index_select(0, runs)
            else:
                k, v = self._heads(self.k_proj(source)), self._heads(self.v_proj(source))
            if cache is not None:
                k, v = cache.update(self.layer_idx, k, v)
        out, weights = attention(
            q,
            k,
            v,
            mask,
            dropout=self.dropout if self.training else 0.0,
            scale=self.scaling,
            is_causal=is_causal,
            need_weights=output_attentions,
        )
        return self.out_proj(out.transpose(1, 2).reshape(b, t, -1)), weights


class BartEncoderLayer(nn.Module):
    """Post-norm: x = LN(x + SelfAttn(x)); x = LN(x + FFN(x))."""

    def __init__(self, config: BartConfig, layer_idx: int = 0):
        super().__init__()
        d = config.d_model
        self.self_attn = BartAttention(d, config.encoder_attention_heads, config.attention_dropout, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout
        self.activation_fn = get_activation(config.activation_function)
        self.fc1 = nn.Linear(d, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def feed_forward(self, x: Tensor) -> Tensor:
        h = F.dropout(self.activation_fn(self.fc1(x)), self.activation_dropout, self.training)
        return self.final_layer_norm(x + F.dropout(self.fc2(h), self.dropout, self.training))

    def forward(
        self, x: Tensor, mask: Tensor | None, output_attentions: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        h, weights = self.self_attn(x, mask=mask, output_attentions=output_attentions)
        x = self.self_attn_layer_norm(x + F.dropout(h, self.dropout, self.training))
        x = self.feed_forward(x)
        if x.dtype == torch.float16 and not torch.isfinite(x).all():  # the reference's fp16 overflow guard
            bound = torch.finfo(x.dtype).max - 1000
            x = x.clamp(-bound, bound)
        return x, weights


class BartDecoderLayer(BartEncoderLayer):
    """Post-norm: causal self-attention, cross-attention over the encoder output, feed-forward."""

    def __init__(self, config: BartConfig, layer_idx: int = 0):
        nn.Module.__init__(self)
        d, heads = config.d_model, config.decoder_attention_heads
        self.self_attn = BartAttention(d, heads, config.attention_dropout, layer_idx)
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout
        self.activation_fn = get_activation(config.activation_function)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = BartAttention(d, heads, config.attention_dropout, layer_idx)
        self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(
        self,
        x: Tensor,
        self_mask: Tensor | None,
        is_causal: bool,
        encoder_hidden_states: Tensor | None,
        cross_mask: Tensor | None,
        cache: EncoderDecoderCache | None,
        output_attentions: bool = False,
        cross_rows: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        self_cache = cache.self_attention_cache if cache is not None else None
        h, self_weights = self.self_attn(
            x, mask=self_mask, cache=self_cache, is_causal=is_causal, output_attentions=output_attentions
        )
        x = self.self_attn_layer_norm(x + F.dropout(h, self.dropout, self.training))
        cross_weights = None
        if encoder_hidden_states is not None:
            cross_cache = cache.cross_attention_cache if cache is not None else None
            h, cross_weights = self.encoder_attn(
                x,
                encoder_hidden_states,
                mask=cross_mask,
                cache=cross_cache,
                output_attentions=output_attentions,
                source_rows=cross_rows,
            )
            x = self.encoder_attn_layer_norm(x + F.dropout(h, self.dropout, self.training))
        return self.feed_forward(x), self_weights, cross_weights


# ------------------------------------------------------------------------------------------------
# Encoder and decoder stacks
# ------------------------------------------------------------------------------------------------
def decoder_self_mask(
    attention_mask: Tensor | None, q_len: int, past_len: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor | None, bool]:
    """(additive mask, is_causal) for decoder self-attention; SDPA's causal fast path when nothing is padded."""
    if attention_mask is None or bool(attention_mask.all()):
        if q_len == 1:
            return None, False  # one new query sees every cached key
        if past_len == 0:
            return None, True
        attention_mask = None
    return causal_mask(attention_mask, q_len, past_len, dtype, device), False


def repeated_rows(x: Tensor) -> tuple[Tensor, Tensor] | None:
    """Runs of equal consecutive rows of `x` (B, ...): (the first row of each run, the run of every
    row), or None when no two neighbours are equal. Beam search repeats each input's encoder output
    once per beam; the cross-attention keys/values are then projected once per run and copied."""
    if x.shape[0] < 2:
        return None
    same = (x[1:] == x[:-1]).flatten(1).all(1)
    if not bool(same.any()):
        return None
    starts = torch.cat([same.new_ones(1), ~same])
    return starts.nonzero().squeeze(1), starts.long().cumsum(0) - 1


def first_cross_fill(cache: EncoderDecoderCache | None, encoder_hidden_states: Tensor | None):
    """On the step that fills the cross-attention cache: `repeated_rows` of the encoder output, also
    recorded in the cache (beams that swap rows within one input need no cross-attention copy)."""
    if cache is None or encoder_hidden_states is None or cache.cross_attention_cache.get_seq_length() > 0:
        return None
    rows = repeated_rows(encoder_hidden_states)
    cache.cross_row_groups = rows[1] if rows is not None else None
    return rows


def _run_layer(module: nn.Module, layer: nn.Module, *args: Any) -> Any:
    """Call a layer, recomputing its activations in backward when gradient checkpointing is on."""
    if module.gradient_checkpointing and module.training and torch.is_grad_enabled():
        from torch.utils.checkpoint import checkpoint

        return checkpoint(layer, *args, use_reentrant=False)
    return layer(*args)


class BartEncoder(nn.Module):
    """Token + position embeddings, LayerNorm, then `encoder_layers` post-norm layers."""

    main_input_name = "input_ids"
    layer_class: ClassVar[type[nn.Module]] = BartEncoderLayer
    num_layers_key = "encoder_layers"
    layerdrop_key = "encoder_layerdrop"
    # BART scales the embeddings it looks up itself; Marian scales user `inputs_embeds` too.
    scale_inputs_embeds = False

    def __init__(self, config: BartConfig, embed_tokens: nn.Embedding | None = None):
        super().__init__()
        self.config = config
        self.dropout = config.dropout
        self.layerdrop = getattr(config, self.layerdrop_key)
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        if embed_tokens is None:
            embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.embed_tokens = embed_tokens
        self.embed_positions = self.position_embedding(config)
        n = getattr(config, self.num_layers_key)
        self.layers = nn.ModuleList(self.layer_class(config, layer_idx=i) for i in range(n))
        self.layernorm_embedding = self.embedding_norm(config)
        self.gradient_checkpointing = False

    # The two places Marian differs.
    def position_embedding(self, config: BartConfig) -> nn.Module:
        return BartLearnedPositionalEmbedding(config.max_position_embeddings, config.d_model)

    def embedding_norm(self, config: BartConfig) -> nn.Module | None:
        return nn.LayerNorm(config.d_model)

    def embed(self, input_ids: Tensor | None, inputs_embeds: Tensor | None, positions: Tensor) -> Tensor:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids and inputs_embeds.")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids) * self.embed_scale
        elif self.scale_inputs_embeds:
            inputs_embeds = inputs_embeds * self.embed_scale
        x = inputs_embeds + self.embed_positions(positions).to(inputs_embeds.dtype)
        if self.layernorm_embedding is not None:
            x = self.layernorm_embedding(x)
        return F.dropout(x, self.dropout, self.training)

    def _dropped(self) -> bool:
        return self.training and self.layerdrop > 0 and bool(torch.rand([]) < self.layerdrop)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutput:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        seq_len = (input_ids if input_ids is not None else inputs_embeds).shape[1]
        device = (input_ids if input_ids is not None else inputs_embeds).device
        x = self.embed(input_ids, inputs_embeds, torch.arange(seq_len, device=device))
        # (B, 1, 1, S): broadcast over heads and queries; None when nothing is padded
        mask = padding_mask(attention_mask, x.dtype, tgt_len=1) if attention_mask is not None else None
        hidden_states: tuple[Tensor, ...] | None = () if output_hidden else None
        attentions: tuple[Tensor, ...] | None = () if output_attentions else None
        for layer in self.layers:
            if output_hidden:
                hidden_states += (x,)
            if self._dropped():
                weights = None
            else:
                x, weights = _run_layer(self, layer, x, mask, output_attentions)
            if output_attentions:
                attentions += (weights,)
        if output_hidden:
            hidden_states += (x,)
        return BaseModelOutput(last_hidden_state=x, hidden_states=hidden_states, attentions=attentions)


class BartDecoder(BartEncoder):
    """Causal decoder with cross-attention; caches self- and cross-attention keys/values."""

    layer_class = BartDecoderLayer
    num_layers_key = "decoder_layers"
    layerdrop_key = "decoder_layerdrop"

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        encoder_hidden_states: Tensor | None = None,
        encoder_attention_mask: Tensor | None = None,
        past_key_values: Any = None,
        inputs_embeds: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
    ) -> BaseModelOutputWithPastAndCrossAttentions:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if self.gradient_checkpointing and self.training:
            use_cache = False
        cache = None
        if use_cache or past_key_values is not None:
            cache = as_cache(past_key_values, encoder_decoder=True)
            if isinstance(cache, DynamicCache):
                cache = EncoderDecoderCache(cache)
        ref = input_ids if input_ids is not None else inputs_embeds
        if ref is None:
            raise ValueError("Pass decoder_input_ids or decoder_inputs_embeds to run the decoder.")
        q_len, device = ref.shape[1], ref.device
        past_len = cache.get_seq_length() if cache is not None else 0
        if cache_position is None:
            cache_position = torch.arange(past_len, past_len + q_len, device=device)
        x = self.embed(input_ids, inputs_embeds, cache_position)
        self_mask, is_causal = decoder_self_mask(attention_mask, q_len, past_len, x.dtype, device)
        cross_mask = None
        if encoder_hidden_states is not None and encoder_attention_mask is not None:
            cross_mask = padding_mask(encoder_attention_mask, x.dtype, tgt_len=1)
        cross_rows = first_cross_fill(cache, encoder_hidden_states)

        hidden_states: tuple[Tensor, ...] | None = () if output_hidden else None
        self_attns: tuple[Tensor, ...] | None = () if output_attentions else None
        cross_attns = () if output_attentions and encoder_hidden_states is not None else None
        for layer in self.layers:
            if output_hidden:
                hidden_states += (x,)
            if self._dropped():
                continue
            x, self_w, cross_w = _run_layer(
                self,
                layer,
                x,
                self_mask,
                is_causal,
                encoder_hidden_states,
                cross_mask,
                cache,
                output_attentions,
                cross_rows,
            )
            if output_attentions:
                self_attns += (self_w,)
                if cross_attns is not None:
                    cross_attns += (cross_w,)
        if output_hidden:
            hidden_states += (x,)
        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=x,
            past_key_values=cache,
            hidden_states=hidden_states,
            attentions=self_attns,
            cross_attentions=cross_attns,
        )


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------
class BartPreTrainedModel(PreTrainedModel):
    config_class = BartConfig
    base_model_prefix = "model"
    _keys_to_ignore_on_load_unexpected = [r"encoder\.version", r"decoder\.version"]

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def get_encoder(self) -> nn.Module:
        return self.base_model.encoder

    def get_decoder(self) -> nn.Module:
        return self.base_model.decoder


def as_encoder_output(encoder_outputs: Any) -> BaseModelOutput:
    """Accept the encoder output as the dataclass or as a tuple (last_hidden_state, hidden_states, attentions)."""
    if isinstance(encoder_outputs, BaseModelOutput):
        return encoder_outputs
    parts = list(encoder_outputs) + [None, None]
    return BaseModelOutput(last_hidden_state=parts[0], hidden_states=parts[1], attentions=parts[2])


def encode_decode(
    encoder: nn.Module,
    decoder: nn.Module,
    *,
    input_ids: Tensor | None,
    attention_mask: Tensor | None,
    decoder_input_ids: Tensor | None,
    decoder_attention_mask: Tensor | None,
    encoder_outputs: Any,
    past_key_values: Any,
    inputs_embeds: Tensor | None,
    decoder_inputs_embeds: Tensor | None,
    use_cache: bool | None,
    output_attentions: bool | None,
    output_hidden_states: bool | None,
    cache_position: Tensor | None,
) -> Seq2SeqModelOutput:
    """Run the encoder (unless its output is given, as during generation), then the decoder over it,
    and pack both into the reference's Seq2SeqModelOutput. BART, Marian and T5 share it."""
    if encoder_outputs is None:
        encoder_outputs = encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
    else:
        encoder_outputs = as_encoder_output(encoder_outputs)
    dec = decoder(
        input_ids=decoder_input_ids,
        attention_mask=decoder_attention_mask,
        encoder_hidden_states=encoder_outputs.last_hidden_state,
        encoder_attention_mask=attention_mask,
        past_key_values=past_key_values,
        inputs_embeds=decoder_inputs_embeds,
        use_cache=use_cache,
        output_attentions=output_attentions,
        output_hidden_states=output_hidden_states,
        cache_position=cache_position,
    )
    return Seq2SeqModelOutput(
        last_hidden_state=dec.last_hidden_state,
        past_key_values=dec.past_key_values,
        decoder_hidden_states=dec.hidden_states,
        decoder_attentions=dec.attentions,
        cross_attentions=dec.cross_attentions,
        encoder_last_hidden_state=encoder_outputs.last_hidden_state,
        encoder_hidden_states=encoder_outputs.hidden_states,
        encoder_attentions=encoder_outputs.attentions,
    )


class BartModel(BartPreTrainedModel):
    """The bare encoder-decoder: returns the decoder's last hidden state (and the encoder's)."""

    encoder_class: ClassVar[type[BartEncoder]] = BartEncoder
    decoder_class: ClassVar[type[BartDecoder]] = BartDecoder
    _tied_weights_keys = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.encoder = self.encoder_class(config, self.shared)
        self.decoder = self.decoder_class(config, self.shared)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = self.encoder.embed_tokens = self.decoder.embed_tokens = value

    def default_decoder_input_ids(self, input_ids: Tensor | None) -> Tensor:
        """BART denoises: without decoder inputs, the decoder reads the input shifted right."""
        if input_ids is None:
            raise ValueError("Pass decoder_input_ids (or input_ids, which BART shifts right to make them).")
        return shift_tokens_right(input_ids, self.config.pad_token_id, self.config.decoder_start_token_id)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        decoder_input_ids: Tensor | None = None,
        decoder_attention_mask: Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: Any = None,
        inputs_embeds: Tensor | None = None,
        decoder_inputs_embeds: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
    ) -> Seq2SeqModelOutput:
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self.default_decoder_input_ids(input_ids)
        return encode_decode(
            self.encoder,
            self.decoder,
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            cache_position=cache_position,
        )


class BartForConditionalGeneration(BartPreTrainedModel):
    """BART with the LM head (tied to `model.shared`) plus `final_logits_bias`: summarization."""

    model_class: ClassVar[type[BartModel]] = BartModel
    _tied_weights_keys = [
        "model.encoder.embed_tokens.weight",
        "model.decoder.embed_tokens.weight",
        "lm_head.weight",
    ]
    _keys_to_ignore_on_load_missing = [r"final_logits_bias"]

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.model = self.model_class(config)
        vocab = self.target_vocab_size(config)
        self.register_buffer("final_logits_bias", torch.zeros(1, vocab))
        self.lm_head = nn.Linear(config.d_model, vocab, bias=False)
        self.post_init()

    def target_vocab_size(self, config: BartConfig) -> int:
        return config.vocab_size

    def can_generate(self) -> bool:
        return True

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def resize_token_embeddings(
        self, new_num_tokens: int, pad_to_multiple_of: int | None = None
    ) -> nn.Embedding:
        new = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of)
        n = new.weight.shape[0]
        old = self.final_logits_bias
        bias = old.new_zeros(1, n)
        bias[:, : min(n, old.shape[1])] = old[:, :n]
        self.register_buffer("final_logits_bias", bias)
        return new

    def prepare_decoder_input_ids_from_labels(self, labels: Tensor) -> Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        decoder_input_ids: Tensor | None = None,
        decoder_attention_mask: Tensor | None = None,
        encoder_outputs: Any = None,
        past_key_values: Any = None,
        inputs_embeds: Tensor | None = None,
        decoder_inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
        logits_to_keep: int = 0,
    ) -> Seq2SeqLMOutput:
        """`labels` (B, T) give the loss; without decoder inputs they are shifted right to make them.
        `logits_to_keep=n` projects only the last n positions (generation needs one)."""
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            cache_position=cache_position,
        )
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden) + self.final_logits_bias.to(hidden.dtype)
        loss = cross_entropy(logits, labels) if labels is not None else None
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=out.past_key_values,
            decoder_hidden_states=out.decoder_hidden_states,
            decoder_attentions=out.decoder_attentions,
            cross_attentions=out.cross_attentions,
            encoder_last_hidden_state=out.encoder_last_hidden_state,
            encoder_hidden_states=out.encoder_hidden_states,
            encoder_attentions=out.encoder_attentions,
        )


class BartClassificationHead(nn.Module):
    """dropout -> dense -> tanh -> dropout -> out_proj, on the last <eos> token's decoder state."""

    def __init__(self, d_model: int, num_labels: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(d_model, num_labels)

    def forward(self, x: Tensor) -> Tensor:
        return self.out_proj(self.dropout(torch.tanh(self.dense(self.dropout(x)))))


class BartForSequenceClassification(BartPreTrainedModel):
    """Sentence-pair / sentence classification (facebook/bart-large-mnli, zero-shot classification)."""

    _tied_weights_keys = ["model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.model = BartModel(config)
        self.classification_head = BartClassificationHead(
            config.d_model, config.num_labels, config.classifier_dropout
        )
        self.post_init()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        decoder_input_ids: Tensor | None = None,
        decoder_attention_mask: Tensor | None = None,
        encoder_outputs: Any = None,
        inputs_embeds: Tensor | None = None,
        decoder_inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
    ) -> Seq2SeqSequenceClassifierOutput:
        if input_ids is None:
            raise ValueError(
                f"{type(self).__name__} needs input_ids: it pools the hidden state of the last <eos> token."
            )
        if labels is not None:
            use_cache = False
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            cache_position=cache_position,
        )
        hidden = out.last_hidden_state  # (B, T, D)
        eos = input_ids.eq(self.config.eos_token_id).to(hidden.device)
        if len(torch.unique_consecutive(eos.sum(1))) > 1:
            raise ValueError("All examples must have the same number of <eos> tokens.")
        pooled = hidden[eos, :].view(hidden.shape[0], -1, hidden.shape[-1])[:, -1, :]
        logits = self.classification_head(pooled)
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return Seq2SeqSequenceClassifierOutput(
            loss=loss,
            logits=logits,
            past_key_values=out.past_key_values,
            decoder_hidden_states=out.decoder_hidden_states,
            decoder_attentions=out.decoder_attentions,
            cross_attentions=out.cross_attentions,
            encoder_last_hidden_state=out.encoder_last_hidden_state,
            encoder_hidden_states=out.encoder_hidden_states,
            encoder_attentions=out.encoder_attentions,
        )


__all__ = [
    "BartConfig",
    "BartModel",
    "BartForConditionalGeneration",
    "BartForSequenceClassification",
    "BartPreTrainedModel",
    "shift_tokens_right",
]
