"""Marian (Helsinki-NLP/opus-mt-*): BART with sinusoidal positions and no embedding LayerNorm.

Everything else (attention, layers, caches, heads) is `bart.py`'s, by subclassing. The encoder and
decoder share one vocabulary (`model.shared`) unless `share_encoder_decoder_embeddings=False`, in
which case each has its own `embed_tokens` and the LM head is tied to the decoder's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from .bart import (
    BartConfig,
    BartDecoder,
    BartEncoder,
    BartForConditionalGeneration,
    BartModel,
    BartPreTrainedModel,
)


class MarianConfig(BartConfig):
    """Marian hyper-parameters (the reference's defaults)."""

    model_type = "marian"
    default_num_labels = 2
    defaults: ClassVar[dict[str, Any]] = {
        "vocab_size": 58101,
        "decoder_vocab_size": None,  # None: the same as vocab_size
        "max_position_embeddings": 1024,
        "encoder_layers": 12,
        "encoder_ffn_dim": 4096,
        "encoder_attention_heads": 16,
        "decoder_layers": 12,
        "decoder_ffn_dim": 4096,
        "decoder_attention_heads": 16,
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
        "use_cache": True,
        "is_encoder_decoder": True,
        "activation_function": "gelu",
        "d_model": 1024,
        "dropout": 0.1,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "init_std": 0.02,
        "decoder_start_token_id": 58100,
        "scale_embedding": False,
        "pad_token_id": 58100,
        "eos_token_id": 0,
        "forced_bos_token_id": None,
        "forced_eos_token_id": 0,
        "share_encoder_decoder_embeddings": True,
    }

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.decoder_vocab_size = self.decoder_vocab_size or self.vocab_size


class MarianSinusoidalPositionalEmbedding(nn.Module):
    """Fixed sin/cos positions; sines in the first half of each vector, cosines in the second.

    A buffer named `weight` (checkpoints may store it as `embed_positions.weight`; when they do, the
    stored values are used, otherwise the same values are computed here).
    """

    def __init__(self, num_positions: int, embedding_dim: int):
        super().__init__()
        self.register_buffer("weight", sinusoidal_table(num_positions, embedding_dim))

    def forward(self, positions: Tensor) -> Tensor:  # (T,) -> (T, D)
        return self.weight[positions]


def sinusoidal_table(n_pos: int, dim: int) -> Tensor:
    """The reference's table, computed the same way (float64 numpy, then float32) so values match exactly."""
    inv = [
        10000 ** (2 * (j // 2) / dim) for j in range(dim)
    ]  # scalar pow, as the reference's list comprehension
    position_enc = np.arange(n_pos, dtype=np.float64)[:, None] / np.array(inv, dtype=np.float64)[None, :]
    out = torch.empty(n_pos, dim)
    half = dim // 2 if dim % 2 == 0 else dim // 2 + 1
    out[:, :half] = torch.from_numpy(np.sin(position_enc[:, 0::2])).float()
    out[:, half:] = torch.from_numpy(np.cos(position_enc[:, 1::2])).float()
    return out


class MarianStackMixin:
    """What Marian's encoder and decoder change in BART's: positions, no embedding LayerNorm, and the
    embedding scale applied after the lookup (so user `inputs_embeds` are scaled too)."""

    scale_inputs_embeds = True

    def position_embedding(self, config: BartConfig) -> nn.Module:
        return MarianSinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model)

    def embedding_norm(self, config: BartConfig) -> None:
        return None


class MarianEncoder(MarianStackMixin, BartEncoder):
    pass


class MarianDecoder(MarianStackMixin, BartDecoder):
    pass


class MarianModel(BartModel):
    encoder_class = MarianEncoder
    decoder_class = MarianDecoder
    _tied_weights_keys = []  # shared tables are one module under several paths; separate ones are real weights

    def __init__(self, config: MarianConfig):
        BartPreTrainedModel.__init__(self, config)
        if config.share_encoder_decoder_embeddings:
            self.shared = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
            encoder_embeddings = decoder_embeddings = self.shared
        else:  # separate vocabularies (the reference sizes both tables with vocab_size)
            self.shared = None
            encoder_embeddings = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
            decoder_embeddings = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.encoder = MarianEncoder(config, encoder_embeddings)
        self.decoder = MarianDecoder(config, decoder_embeddings)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        if self.config.share_encoder_decoder_embeddings:
            self.shared = self.encoder.embed_tokens = self.decoder.embed_tokens = value
        else:
            self.encoder.embed_tokens = value

    def default_decoder_input_ids(self, input_ids: Tensor | None) -> Tensor:
        raise ValueError(
            "Marian needs decoder_input_ids (start them with config.decoder_start_token_id, the pad id)."
        )


class MarianMTModel(BartForConditionalGeneration):
    """Translation model: MarianModel + LM head (tied to the decoder's embeddings) + final_logits_bias."""

    model_class = MarianModel
    _tied_weights_keys = ["lm_head.weight"]  # the shared table's other paths are aliases of one module
    _keys_to_ignore_on_load_missing = [r"final_logits_bias", r"embed_positions\.weight"]

    def target_vocab_size(self, config: MarianConfig) -> int:
        return config.vocab_size if config.share_encoder_decoder_embeddings else config.decoder_vocab_size

    def tie_weights(self) -> None:
        if getattr(self.config, "tie_word_embeddings", True):
            self.lm_head.weight = self.model.decoder.embed_tokens.weight


__all__ = ["MarianConfig", "MarianModel", "MarianMTModel"]
