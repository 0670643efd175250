"""T5 (v1.0: t5-small...; v1.1 / flan-t5: gated-GELU, untied LM head): a pre-norm encoder-decoder.

config -> norm -> feed-forward -> attention -> block -> stack -> models. No biases anywhere, RMS-style
LayerNorm, unscaled attention, and relative position buckets instead of position embeddings: the
first block of each stack owns `relative_attention_bias`, the resulting bias (plus the padding or
causal mask) is computed once per forward and handed to every layer as the additive attention mask.
Module paths equal the checkpoint keys (`encoder.block.0.layer.0.SelfAttention.q.weight`); the
reference's per-level wrapper classes are plain `nn.ModuleDict`s here.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..nn.activations import get_activation
from ..nn.attention import attention, causal_mask, padding_mask
from ..nn.cache import DynamicCache, EncoderDecoderCache, as_cache
from ..nn.losses import cross_entropy
from ..outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)
from .bart import _run_layer, encode_decode, first_cross_fill, shift_tokens_right


class T5Config(PretrainedConfig):
    """T5 hyper-parameters (t5-small's, as the reference). `feed_forward_proj`: "relu" (v1.0) or
    "gated-gelu" (v1.1, flan-t5)."""

    model_type = "t5"
    attribute_map: ClassVar[dict[str, str]] = {
        "hidden_size": "d_model",
        "num_attention_heads": "num_heads",
        "num_hidden_layers": "num_layers",
        "head_dim": "d_kv",
    }
    defaults: ClassVar[dict[str, Any]] = {
        "vocab_size": 32128,
        "d_model": 512,
        "d_kv": 64,
        "d_ff": 2048,
        "num_layers": 6,
        "num_decoder_layers": None,  # None: as many as the encoder
        "num_heads": 8,
        "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128,
        "dropout_rate": 0.1,
        "layer_norm_epsilon": 1e-6,
        "initializer_factor": 1.0,
        "feed_forward_proj": "relu",
        "is_encoder_decoder": True,
        "use_cache": True,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "classifier_dropout": 0.0,
    }

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_layers
        parts = self.feed_forward_proj.split("-")
        if (len(parts) > 1 and parts[0] != "gated") or len(parts) > 2:
            raise ValueError(
                f"feed_forward_proj={self.feed_forward_proj!r} is not valid: use '{{ACT}}' or 'gated-{{ACT}}', "
                "e.g. 'relu' or 'gated-gelu'."
            )
        # Derived from feed_forward_proj unless config.json states them (then, as the reference, they win).
        if "dense_act_fn" not in kwargs:
            self.dense_act_fn = "gelu_new" if self.feed_forward_proj == "gated-gelu" else parts[-1]
        if "is_gated_act" not in kwargs:
            self.is_gated_act = parts[0] == "gated"


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------
class T5LayerNorm(nn.Module):
    """Scale-only RMS norm (no mean subtraction, no bias); the variance is computed in float32."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x: Tensor) -> Tensor:
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            x = x.to(self.weight.dtype)
        return self.weight * x


class T5DenseActDense(nn.Module):
    """wi -> act -> wo (v1.0), or act(wi_0) * wi_1 -> wo (gated, v1.1)."""

    def __init__(self, config: T5Config):
        super().__init__()
        self.gated = config.is_gated_act
        if self.gated:
            self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
            self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        else:
            self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.act = get_activation(config.dense_act_fn)

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.wi_0(x)) * self.wi_1(x) if self.gated else self.act(self.wi(x))
        h = self.dropout(h)
        # `wo` may be kept in float32 in an fp16 model (see T5PreTrainedModel._load_checkpoint)
        return self.wo(h.to(self.wo.weight.dtype))


def relative_position_bucket(
    relative_position: Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> Tensor:
    """Map key-minus-query distances to buckets: exact for small distances, log-spaced up to
    `max_distance`, one bucket beyond. Bidirectional (encoder) splits the buckets by direction;
    causal (decoder) only sees the past."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        distance = torch.abs(relative_position)
    else:
        distance = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # The same float ops as the reference, so the bucket boundaries are identical.
    large = max_exact + (
        torch.log(distance.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, distance, large)


class T5Attention(nn.Module):
    """Unscaled multi-head attention; the position bias arrives inside the additive mask."""

    def __init__(
        self, config: T5Config, is_decoder: bool, has_relative_attention_bias: bool, layer_idx: int = 0
    ):
        super().__init__()
        self.is_decoder = is_decoder
        self.n_heads, self.d_kv = config.num_heads, config.d_kv
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.dropout = config.dropout_rate
        self.layer_idx = layer_idx
        inner = self.n_heads * self.d_kv
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, self.n_heads)

    def compute_bias(self, query_positions: Tensor, key_length: int) -> Tensor:
        """(1, H, T_q, T_k) bias for queries at `query_positions` attending to keys 0..key_length-1."""
        device = self.relative_attention_bias.weight.device
        relative = torch.arange(key_length, device=device)[None, :] - query_positions.to(device)[:, None]
        buckets = relative_position_bucket(relative, not self.is_decoder, self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)

    def _heads(self, x: Tensor) -> Tensor:  # (B, T, H*d) -> (B, H, T, d)
        return x.view(x.shape[0], -1, self.n_heads, self.d_kv).transpose(1, 2)

    def forward(
        self,
        hidden_states: Tensor,
        key_value_states: Tensor | None = None,
        bias: Tensor | None = None,
        cache: DynamicCache | None = None,
        output_attentions: bool = False,
        source_rows: tuple[Tensor, Tensor] | None = None,  # repeated_rows(key_value_states)
    ) -> tuple[Tensor, Tensor | None]:
        b, t, _ = hidden_states.shape
        q = self._heads(self.q(hidden_states))
        if key_value_states is not None and cache is not None and cache.get_seq_length(self.layer_idx) > 0:
            k, v = cache.layer(self.layer_idx)  # cross-attention K/V: computed on the first step only
        else:
            source = hidden_states if key_value_states is None else key_value_states
            if source_rows is not None:  # one projection per distinct encoder row, copied to its beams
                firsts, runs = source_rows
                source = source.index_select(0, firsts)
                k = self._heads(self.k(source)).index_select(0, runs)
                v = self._heads(self.v(source)).index_select(0, runs)
            else:
                k, v = self._heads(self.k(source)), self._heads(self.v(source))
            if cache is not None:
                k, v = cache.update(self.layer_idx, k, v)
        # The explicit-softmax path (need_weights=True) performs the reference's exact operations (it runs
        # T5 eagerly), so logits match bit for bit; SDPA's fused kernel differs in the last bits.
        out, weights = attention(
            q,
            k,
            v,
            bias,
            dropout=self.dropout if self.training else 0.0,
            scale=1.0,  # T5 folds the 1/sqrt(d) scaling into its initialisation
            need_weights=True,
        )
        return self.o(out.transpose(1, 2).reshape(b, t, -1)), weights if output_attentions else None


def _clamp_fp16(x: Tensor) -> Tensor:
    """The reference's guard against fp16 overflow (inf -> largest finite value)."""
    if x.dtype != torch.float16:
        return x
    bound = torch.finfo(x.dtype).max - (1000 if bool(torch.isinf(x).any()) else 0)
    return x.clamp(-bound, bound)


class T5Block(nn.Module):
    """layer.0: self-attention, [layer.1: cross-attention], layer.-1: feed-forward; each pre-norm + residual."""

    def __init__(self, config: T5Config, is_decoder: bool, has_relative_attention_bias: bool, layer_idx: int):
        super().__init__()

        def norm() -> T5LayerNorm:
            return T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)

        self_attention = T5Attention(config, is_decoder, has_relative_attention_bias, layer_idx)
        sublayers = [nn.ModuleDict({"SelfAttention": self_attention, "layer_norm": norm()})]
        if is_decoder:
            cross = T5Attention(config, is_decoder, False, layer_idx)
            sublayers.append(nn.ModuleDict({"EncDecAttention": cross, "layer_norm": norm()}))
        sublayers.append(nn.ModuleDict({"DenseReluDense": T5DenseActDense(config), "layer_norm": norm()}))
        self.layer = nn.ModuleList(sublayers)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(
        self,
        x: Tensor,
        self_bias: Tensor | None,
        encoder_hidden_states: Tensor | None,
        cross_bias: Tensor | None,
        cache: EncoderDecoderCache | None,
        output_attentions: bool = False,
        cross_rows: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        sa = self.layer[0]
        h, self_w = sa["SelfAttention"](
            sa["layer_norm"](x),
            bias=self_bias,
            cache=cache.self_attention_cache if cache is not None else None,
            output_attentions=output_attentions,
        )
        x = _clamp_fp16(x + self.dropout(h))
        cross_w = None
        if encoder_hidden_states is not None and len(self.layer) == 3:
            ca = self.layer[1]
            h, cross_w = ca["EncDecAttention"](
                ca["layer_norm"](x),
                encoder_hidden_states,
                bias=cross_bias,
                cache=cache.cross_attention_cache if cache is not None else None,
                output_attentions=output_attentions,
                source_rows=cross_rows,
            )
            x = _clamp_fp16(x + self.dropout(h))
        ff = self.layer[-1]
        x = _clamp_fp16(x + self.dropout(ff["DenseReluDense"](ff["layer_norm"](x))))
        return x, self_w, cross_w


class T5Stack(nn.Module):
    """The encoder (bidirectional) or the decoder (causal, with cross-attention and caches)."""

    main_input_name = "input_ids"

    def __init__(self, config: T5Config, embed_tokens: nn.Embedding, is_decoder: bool):
        super().__init__()
        self.config = config
        self.is_decoder = is_decoder
        self.embed_tokens = embed_tokens
        n = config.num_decoder_layers if is_decoder else config.num_layers
        self.block = nn.ModuleList(T5Block(config, is_decoder, i == 0, i) for i in range(n))
        self.final_layer_norm = T5LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.gradient_checkpointing = False

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        encoder_hidden_states: Tensor | None = None,
        encoder_attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        cache_position: Tensor | None = None,
    ) -> BaseModelOutput | BaseModelOutputWithPastAndCrossAttentions:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        prefix = "decoder_" if self.is_decoder else ""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(f"Pass exactly one of {prefix}input_ids and {prefix}inputs_embeds.")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        b, q_len = inputs_embeds.shape[:2]
        dtype, device = inputs_embeds.dtype, inputs_embeds.device

        cache = None
        use_cache = self.is_decoder and (self.config.use_cache if use_cache is None else use_cache)
        if self.gradient_checkpointing and self.training:
            use_cache = False
        if self.is_decoder and (use_cache or past_key_values is not None):
            cache = as_cache(past_key_values, encoder_decoder=True)
            if isinstance(cache, DynamicCache):
                cache = EncoderDecoderCache(cache)
        past_len = cache.get_seq_length() if cache is not None else 0
        if cache_position is None:
            cache_position = torch.arange(past_len, past_len + q_len, device=device)

        # Position bias + mask, computed once and shared by every block.
        rel = self.block[0].layer[0]["SelfAttention"]
        self_bias = rel.compute_bias(cache_position, past_len + q_len)  # (1, H, T, past + T)
        if self.is_decoder:
            self_bias = self_bias + causal_mask(attention_mask, q_len, past_len, dtype, device)
        elif attention_mask is not None and not bool(attention_mask.all()):
            self_bias = (
                self_bias + (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
            )
        cross_bias = None
        if self.is_decoder and encoder_hidden_states is not None and encoder_attention_mask is not None:
            cross_bias = padding_mask(encoder_attention_mask, dtype, tgt_len=1)
        cross_rows = first_cross_fill(cache, encoder_hidden_states) if self.is_decoder else None

        hidden_states: tuple[Tensor, ...] | None = () if output_hidden else None
        self_attns: tuple[Tensor, ...] | None = () if output_attentions else None
        cross_attns = () if output_attentions and self.is_decoder else None
        x = self.dropout(inputs_embeds)
        for block in self.block:
            if output_hidden:
                hidden_states += (x,)
            x, self_w, cross_w = _run_layer(
                self,
                block,
                x,
                self_bias,
                encoder_hidden_states,
                cross_bias,
                cache,
                output_attentions,
                cross_rows,
            )
            if output_attentions:
                self_attns += (self_w,)
                if cross_attns is not None:
                    cross_attns += (cross_w,)
        x = self.dropout(self.final_layer_norm(x))
        if output_hidden:
            hidden_states += (x,)
        if not self.is_decoder:
            return BaseModelOutput(last_hidden_state=x, hidden_states=hidden_states, attentions=self_attns)
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
class T5PreTrainedModel(PreTrainedModel):
    config_class = T5Config
    base_model_prefix = "transformer"
    # Old checkpoints carry an unused bias table in the first cross-attention layer.
    _keys_to_ignore_on_load_unexpected = [
        r"decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias"
    ]

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        for name in ("encoder", "decoder"):
            if hasattr(self, name):
                getattr(self, name).set_input_embeddings(value)

    def get_encoder(self) -> T5Stack:
        return self.encoder

    def get_decoder(self) -> T5Stack:
        return self.decoder

    def _init_weights(self, module: nn.Module) -> None:
        """The reference's scheme: every std is scaled by the fan-in, times `initializer_factor`."""
        f, d = self.config.initializer_factor, self.config.d_model
        if isinstance(module, T5LayerNorm):
            nn.init.constant_(module.weight, f)
        elif isinstance(module, T5DenseActDense):
            for name in ("wi", "wi_0", "wi_1"):
                if hasattr(module, name):
                    nn.init.normal_(getattr(module, name).weight, std=f * d**-0.5)
            nn.init.normal_(module.wo.weight, std=f * self.config.d_ff**-0.5)
        elif isinstance(module, T5Attention):
            inner = module.n_heads * module.d_kv
            nn.init.normal_(module.q.weight, std=f * (d * module.d_kv) ** -0.5)
            nn.init.normal_(module.k.weight, std=f * d**-0.5)
            nn.init.normal_(module.v.weight, std=f * d**-0.5)
            nn.init.normal_(module.o.weight, std=f * inner**-0.5)
            if hasattr(module, "relative_attention_bias"):
                nn.init.normal_(module.relative_attention_bias.weight, std=f * d**-0.5)
        elif isinstance(module, T5PreTrainedModel):
            nn.init.normal_(module.shared.weight, std=f)
            if getattr(module, "lm_head", None) is not None and not self.config.tie_word_embeddings:
                nn.init.normal_(module.lm_head.weight, std=f)
        elif isinstance(module, (nn.Linear, nn.Embedding)):  # a head or table on its own (lm_head, shared)
            nn.init.normal_(module.weight, std=f)

    def _load_checkpoint(
        self, state_dict: dict[str, Tensor], dtype: torch.dtype, device: torch.device, ignore: bool
    ):
        info = super()._load_checkpoint(state_dict, dtype, device, ignore)
        if dtype == torch.float16:
            # As the reference: the feed-forward output projections stay float32 in fp16 models
            # (their activations overflow fp16); T5DenseActDense casts its input to match.
            for name, module in self.named_modules():
                if name.endswith(".wo") and f"{name}.weight" in state_dict:
                    module.weight = nn.Parameter(state_dict[f"{name}.weight"].to(device, torch.float32))
        return info

    def _shift_right(self, input_ids: Tensor) -> Tensor:
        return shift_tokens_right(input_ids, self.config.pad_token_id, self.config.decoder_start_token_id)

    prepare_decoder_input_ids_from_labels = _shift_right


class T5Model(T5PreTrainedModel):
    """The bare encoder-decoder: the decoder's last hidden state."""

    _tied_weights_keys = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]
    with_lm_head: ClassVar[bool] = False

    def __init__(self, config: T5Config):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, is_decoder=False)
        self.decoder = T5Stack(config, self.shared, is_decoder=True)
        if self.with_lm_head:
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

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


class T5ForConditionalGeneration(T5Model):
    """T5 with the LM head: translation, summarization, any text-to-text task.

    With tied embeddings (v1.0) the decoder output is rescaled by d_model**-0.5 before the head."""

    _tied_weights_keys = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"]
    with_lm_head = True

    def can_generate(self) -> bool:
        return True

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

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
        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self._shift_right(labels)
        out = super().forward(
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
        if self.config.tie_word_embeddings:
            hidden = hidden * (self.config.d_model**-0.5)
        logits = self.lm_head(hidden)
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


class T5EncoderModel(T5PreTrainedModel):
    """Only the encoder (sentence embeddings, classifiers on top of T5's encoder)."""

    _tied_weights_keys = ["encoder.embed_tokens.weight"]
    _keys_to_ignore_on_load_unexpected = [r"^decoder\.", r"^lm_head\."]

    def __init__(self, config: T5Config):
        super().__init__(config)
        config.use_cache = False  # as the reference, which edits the config it is given
        config.is_encoder_decoder = False
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, is_decoder=False)
        self.post_init()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutput:
        return self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )


__all__ = ["T5Config", "T5Model", "T5ForConditionalGeneration", "T5EncoderModel", "T5PreTrainedModel"]
