"""RoBERTa and XLM-RoBERTa: BERT with its own embeddings and heads.

What differs from BERT (everything else is imported from bert.py):
- position ids start after the padding index and skip padding tokens (fairseq's `make_positions`);
- the MLM head is `lm_head` (dense, gelu, layer_norm, decoder) instead of `cls.predictions`;
- sequence classification uses a small head on the first token (`classifier.dense/out_proj`), no pooler.
XLM-RoBERTa is the same code with its own config / `model_type`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from .bert import (
    BertConfig,
    BertEmbeddings,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertPreTrainedModel,
)


class RobertaConfig(PretrainedConfig):
    """RoBERTa hyper-parameters; the defaults are roberta-base's (as the reference's)."""

    model_type = "roberta"
    defaults = {
        **BertConfig.defaults,
        "vocab_size": 50265,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
    }


class XLMRobertaConfig(RobertaConfig):
    model_type = "xlm-roberta"
    defaults = {**RobertaConfig.defaults, "vocab_size": 30522}


def position_ids_from_input_ids(input_ids: Tensor, padding_idx: int) -> Tensor:
    """Positions padding_idx+1, padding_idx+2, ... for real tokens; padding_idx for padding tokens."""
    not_pad = input_ids.ne(padding_idx).int()
    return (torch.cumsum(not_pad, dim=1).type_as(not_pad) * not_pad).long() + padding_idx


class RobertaEmbeddings(BertEmbeddings):
    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=self.padding_idx
        )

    def forward(
        self,
        input_ids: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
    ) -> Tensor:
        if position_ids is None:
            if input_ids is not None:
                position_ids = position_ids_from_input_ids(input_ids, self.padding_idx)
            else:  # embeddings given: padding cannot be seen, so positions are sequential
                t = inputs_embeds.shape[1]
                position_ids = torch.arange(
                    self.padding_idx + 1, t + self.padding_idx + 1, device=inputs_embeds.device
                )
                position_ids = position_ids[None].expand(inputs_embeds.shape[:2])
        return super().forward(input_ids, token_type_ids, position_ids, inputs_embeds)


class RobertaPreTrainedModel(BertPreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"


class RobertaModel(RobertaPreTrainedModel, BertModel):
    """The bare RoBERTa encoder (BERT's, with RoBERTa's position ids)."""

    embeddings_class = RobertaEmbeddings


RobertaPreTrainedModel.base_model_class = RobertaModel


class RobertaLMHead(nn.Module):
    """`lm_head`: dense + gelu + layer_norm, then the (tied) vocabulary projection with `lm_head.bias`."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        h = config.hidden_size
        self.dense = nn.Linear(h, h)
        self.layer_norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(h, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x: Tensor) -> Tensor:
        # The reference hard-codes exact GELU here, whatever `hidden_act` says.
        return self.decoder(self.layer_norm(F.gelu(self.dense(x))))


class RobertaForMaskedLM(RobertaPreTrainedModel, BertForMaskedLM):
    """Masked-token prediction through `lm_head`; forward is BERT's."""

    _tied_weights_keys = ["lm_head.decoder.weight", "lm_head.decoder.bias"]

    def __init__(self, config: RobertaConfig):
        PreTrainedModel.__init__(self, config)  # BERT's head (`cls`) is replaced by `lm_head`
        self._add_base_model(add_pooling_layer=False)
        self.lm_head = RobertaLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value
        self.lm_head.bias = value.bias

    def tie_weights(self) -> None:
        PreTrainedModel.tie_weights(self)
        self.lm_head.decoder.bias = self.lm_head.bias

    def _mlm_logits(self, hidden: Tensor) -> Tensor:
        return self.lm_head(hidden)


class RobertaForSequenceClassification(RobertaPreTrainedModel, BertForSequenceClassification):
    """Sequence labels from the first token (`<s>`) through `classifier.dense` + tanh + `classifier.out_proj`."""

    def __init__(self, config: RobertaConfig):
        PreTrainedModel.__init__(self, config)  # no pooler; the head sits on the first token
        self.num_labels = config.num_labels
        self._add_base_model(add_pooling_layer=False)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        h = config.hidden_size
        self.classifier = nn.ModuleDict(
            {"dense": nn.Linear(h, h), "out_proj": nn.Linear(h, config.num_labels)}
        )
        self.post_init()

    def _classify(self, out) -> Tensor:
        x = torch.tanh(self.classifier.dense(self.dropout(out.last_hidden_state[:, 0])))
        return self.classifier.out_proj(self.dropout(x))


class RobertaForTokenClassification(RobertaPreTrainedModel, BertForTokenClassification):
    """One label per token: BERT's head on RoBERTa's encoder."""


class RobertaForQuestionAnswering(RobertaPreTrainedModel, BertForQuestionAnswering):
    """Extractive QA: BERT's head on RoBERTa's encoder."""


# XLM-RoBERTa: identical code, its own config class and model_type.
class XLMRobertaPreTrainedModel(RobertaPreTrainedModel):
    config_class = XLMRobertaConfig


class XLMRobertaModel(XLMRobertaPreTrainedModel, RobertaModel):
    pass


XLMRobertaPreTrainedModel.base_model_class = XLMRobertaModel


class XLMRobertaForMaskedLM(XLMRobertaPreTrainedModel, RobertaForMaskedLM):
    pass


class XLMRobertaForSequenceClassification(XLMRobertaPreTrainedModel, RobertaForSequenceClassification):
    pass


class XLMRobertaForTokenClassification(XLMRobertaPreTrainedModel, RobertaForTokenClassification):
    pass


class XLMRobertaForQuestionAnswering(XLMRobertaPreTrainedModel, RobertaForQuestionAnswering):
    pass
