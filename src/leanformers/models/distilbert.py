"""DistilBERT: BERT's encoder loop with a smaller layer (no token types, no pooler).

Checkpoint keys: `distilbert.embeddings.*`, `distilbert.transformer.layer.N.attention.{q,k,v,out}_lin`,
`sa_layer_norm`, `ffn.lin1/lin2`, `output_layer_norm`. The config keeps DistilBERT's own names
(`dim`, `n_layers`, `n_heads`, `hidden_dim`) with `hidden_size`-style aliases, as the reference.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..nn.activations import get_activation
from ..nn.attention import attention, padding_mask
from ..nn.losses import cross_entropy, sequence_classification_loss, span_loss
from ..outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    ModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from .bert import BertEncoder


class DistilBertConfig(PretrainedConfig):
    """DistilBERT hyper-parameters; the defaults are distilbert-base-uncased's (as the reference's)."""

    model_type = "distilbert"
    attribute_map = {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}
    defaults = {
        "vocab_size": 30522,
        "max_position_embeddings": 512,
        "sinusoidal_pos_embds": False,
        "n_layers": 6,
        "n_heads": 12,
        "dim": 768,
        "hidden_dim": 4 * 768,
        "dropout": 0.1,
        "attention_dropout": 0.1,
        "activation": "gelu",
        "initializer_range": 0.02,
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "pad_token_id": 0,
    }


def sinusoidal_positions(n_pos: int, dim: int) -> Tensor:
    """(n_pos, dim) fixed position table: sin on even channels, cos on odd ones (computed in float64
    like the reference, then rounded to float32)."""
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angles = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    out = torch.empty(n_pos, dim)
    out[:, 0::2] = torch.sin(angles[:, 0::2]).float()
    out[:, 1::2] = torch.cos(angles[:, 1::2]).float()
    return out


class DistilBertEmbeddings(nn.Module):
    """word + position embeddings, LayerNorm, dropout (checkpoint prefix `distilbert.embeddings`)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        self.LayerNorm = nn.LayerNorm(config.dim, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids: Tensor | None = None, inputs_embeds: Tensor | None = None) -> Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (B, T, dim)
        positions = self.position_embeddings.weight[: inputs_embeds.shape[1]]  # rows 0..T-1, broadcast
        return self.dropout(self.LayerNorm(inputs_embeds + positions))


class DistilBertLayer(nn.Module):
    """Post-LayerNorm layer: attention (q/k/v/out_lin), `sa_layer_norm`, FFN (lin1/lin2), `output_layer_norm`."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        d = config.dim
        if d % config.n_heads:
            raise ValueError(f"dim ({d}) must be a multiple of n_heads ({config.n_heads}).")
        self.num_heads = config.n_heads
        self.head_dim = d // self.num_heads
        self.attention_dropout = config.attention_dropout
        self.act = get_activation(config.activation)
        self.dropout = nn.Dropout(config.dropout)
        self.attention = nn.ModuleDict(
            {name: nn.Linear(d, d) for name in ("q_lin", "k_lin", "v_lin", "out_lin")}
        )
        self.sa_layer_norm = nn.LayerNorm(d, eps=1e-12)
        self.ffn = nn.ModuleDict(
            {"lin1": nn.Linear(d, config.hidden_dim), "lin2": nn.Linear(config.hidden_dim, d)}
        )
        self.output_layer_norm = nn.LayerNorm(d, eps=1e-12)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, output_attentions: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        b, t, d = x.shape
        a = self.attention
        q = a.q_lin(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k = a.k_lin(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        v = a.v_lin(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        context, weights = attention(
            q,
            k,
            v,
            mask,
            dropout=self.attention_dropout if self.training else 0.0,
            need_weights=output_attentions,
        )
        x = self.sa_layer_norm(a.out_lin(context.transpose(1, 2).reshape(b, t, d)) + x)
        ffn = self.ffn
        x = self.output_layer_norm(self.dropout(ffn.lin2(self.act(ffn.lin1(x)))) + x)
        return x, weights


class DistilBertPreTrainedModel(PreTrainedModel):
    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, DistilBertEmbeddings) and self.config.sinusoidal_pos_embds:
            with torch.no_grad():
                weight = module.position_embeddings.weight
                weight.copy_(sinusoidal_positions(*weight.shape))
                weight.requires_grad_(False)

    def _return(self, output: ModelOutput, return_dict: bool | None) -> ModelOutput | tuple:
        return_dict = self.config.use_return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()

    def _encode(
        self, input_ids, attention_mask, inputs_embeds, output_attentions, output_hidden_states
    ) -> BaseModelOutput:
        return self.distilbert(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )


class DistilBertModel(DistilBertPreTrainedModel):
    """The bare encoder: `last_hidden_state` (B, T, dim)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.embeddings = DistilBertEmbeddings(config)
        self.transformer = BertEncoder(config, DistilBertLayer)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def get_position_embeddings(self) -> nn.Embedding:
        return self.embeddings.position_embeddings

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutput | tuple:
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        x = self.embeddings(input_ids, inputs_embeds)
        mask = padding_mask(attention_mask, x.dtype, tgt_len=1)  # (B, 1, 1, T) or None
        x, hidden_states, attentions = self.transformer(x, mask, output_attentions, output_hidden_states)
        return self._return(BaseModelOutput(x, hidden_states, attentions), return_dict)


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    """Masked-token prediction: `logits` (B, T, vocab); `labels` (-100 = ignore) give `loss`."""

    _tied_weights_keys = ["vocab_projector.weight"]

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.act = get_activation(config.activation)
        self.distilbert = DistilBertModel(config)
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)
        self.vocab_projector = nn.Linear(config.dim, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.vocab_projector

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.vocab_projector = value

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> MaskedLMOutput | tuple:
        out = self._encode(input_ids, attention_mask, inputs_embeds, output_attentions, output_hidden_states)
        x = self.vocab_layer_norm(self.act(self.vocab_transform(out.last_hidden_state)))
        logits = self.vocab_projector(x)
        loss = cross_entropy(logits, labels) if labels is not None else None
        return self._return(MaskedLMOutput(loss, logits, out.hidden_states, out.attentions), return_dict)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """One label (or score) per sequence from the first token: pre_classifier + ReLU + classifier."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.post_init()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | tuple:
        out = self._encode(input_ids, attention_mask, inputs_embeds, output_attentions, output_hidden_states)
        pooled = torch.relu(self.pre_classifier(out.last_hidden_state[:, 0]))  # (B, dim)
        logits = self.classifier(self.dropout(pooled))
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return self._return(
            SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict
        )


class DistilBertForTokenClassification(DistilBertPreTrainedModel):
    """One label per token: `logits` (B, T, num_labels)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> TokenClassifierOutput | tuple:
        out = self._encode(input_ids, attention_mask, inputs_embeds, output_attentions, output_hidden_states)
        logits = self.classifier(self.dropout(out.last_hidden_state))
        loss = cross_entropy(logits, labels) if labels is not None else None
        return self._return(
            TokenClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict
        )


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel):
    """Extractive QA: `start_logits` and `end_logits` (B, T)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        if config.num_labels != 2:
            raise ValueError(
                f"DistilBertForQuestionAnswering needs num_labels=2 (start, end), got {config.num_labels}."
            )
        self.distilbert = DistilBertModel(config)
        self.qa_outputs = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.qa_dropout)
        self.post_init()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        start_positions: Tensor | None = None,
        end_positions: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> QuestionAnsweringModelOutput | tuple:
        out = self._encode(input_ids, attention_mask, inputs_embeds, output_attentions, output_hidden_states)
        logits = self.qa_outputs(self.dropout(out.last_hidden_state))
        start_logits, end_logits = (t.squeeze(-1).contiguous() for t in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        output = QuestionAnsweringModelOutput(
            loss, start_logits, end_logits, out.hidden_states, out.attentions
        )
        return self._return(output, return_dict)
