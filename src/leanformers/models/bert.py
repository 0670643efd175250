"""BERT: config -> embeddings -> layer -> encoder -> model -> task heads.

Module attribute paths equal the checkpoint keys (`bert.encoder.layer.0.attention.self.query.weight`),
so loading is a 1:1 copy. Levels that exist in the checkpoint only for naming (`attention.self`,
`attention.output`, `intermediate`, `output`) are plain `nn.ModuleDict` containers; the maths of a
layer lives in `BertLayer.forward`. RoBERTa (roberta.py) and DistilBERT (distilbert.py) reuse these
pieces by import and subclass.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..nn.activations import get_activation
from ..nn.attention import attention, padding_mask
from ..nn.losses import cross_entropy, sequence_classification_loss, span_loss
from ..outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    ModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)


class BertConfig(PretrainedConfig):
    """BERT hyper-parameters; the defaults are bert-base-uncased's (as the reference's)."""

    model_type = "bert"
    defaults = {
        "vocab_size": 30522,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "use_cache": True,
        "classifier_dropout": None,
    }


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------
class BertEmbeddings(nn.Module):
    """word + token-type + absolute position embeddings, then LayerNorm and dropout."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        h = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, h, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, h)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, h)
        self.LayerNorm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: Tensor | None = None,  # (B, T)
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,  # (B, T, H)
    ) -> Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        seq_len = inputs_embeds.shape[1]
        # Defaults (type 0, positions 0..T-1) are row slices broadcast over the batch: no gather needed.
        if token_type_ids is None:
            token_types = self.token_type_embeddings.weight[0]
        else:
            token_types = self.token_type_embeddings(token_type_ids)
        if position_ids is None:
            positions = self.position_embeddings.weight[:seq_len]
        else:
            positions = self.position_embeddings(position_ids)
        x = inputs_embeds + token_types + positions  # same summation order as the reference
        return self.dropout(self.LayerNorm(x))


class BertLayer(nn.Module):
    """Post-LayerNorm transformer layer: self-attention, residual + norm, GELU MLP, residual + norm."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        h, eps = config.hidden_size, config.layer_norm_eps
        if h % config.num_attention_heads:
            raise ValueError(
                f"hidden_size ({h}) must be a multiple of num_attention_heads ({config.num_attention_heads})."
            )
        self.num_heads = config.num_attention_heads
        self.head_dim = h // self.num_heads
        self.attention_dropout = config.attention_probs_dropout_prob
        self.act = get_activation(config.hidden_act)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        # Containers named like the checkpoint: attention.self.{query,key,value}, attention.output.*, ...
        self.attention = nn.ModuleDict(
            {
                "self": nn.ModuleDict({name: nn.Linear(h, h) for name in ("query", "key", "value")}),
                "output": nn.ModuleDict({"dense": nn.Linear(h, h), "LayerNorm": nn.LayerNorm(h, eps=eps)}),
            }
        )
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(h, config.intermediate_size)})
        self.output = nn.ModuleDict(
            {"dense": nn.Linear(config.intermediate_size, h), "LayerNorm": nn.LayerNorm(h, eps=eps)}
        )

    def forward(
        self, x: Tensor, mask: Tensor | None = None, output_attentions: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        b, t, h = x.shape
        proj = self.attention.self
        q = proj.query(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hd)
        k = proj.key(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        v = proj.value(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        context, weights = attention(
            q,
            k,
            v,
            mask,
            dropout=self.attention_dropout if self.training else 0.0,
            need_weights=output_attentions,
        )
        context = context.transpose(1, 2).reshape(b, t, h)
        out = self.attention.output
        x = out.LayerNorm(self.dropout(out.dense(context)) + x)
        mlp = self.output
        x = mlp.LayerNorm(self.dropout(mlp.dense(self.act(self.intermediate.dense(x)))) + x)
        return x, weights


class BertEncoder(nn.Module):
    """The stack of layers (`encoder.layer.N`); DistilBERT reuses it with its own layer class."""

    def __init__(self, config: PretrainedConfig, layer_class: type[nn.Module] = BertLayer):
        super().__init__()
        self.layer = nn.ModuleList(layer_class(config) for _ in range(config.num_hidden_layers))
        self.gradient_checkpointing = False  # set by model.gradient_checkpointing_enable()

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> tuple[Tensor, tuple[Tensor, ...] | None, tuple[Tensor, ...] | None]:
        """Returns (last hidden state, all hidden states incl. the embeddings or None, attentions or None)."""
        hidden_states = (x,) if output_hidden_states else None
        attentions = () if output_attentions else None
        checkpointing = self.gradient_checkpointing and self.training and torch.is_grad_enabled()
        for layer in self.layer:
            if checkpointing:
                from torch.utils.checkpoint import checkpoint

                x, weights = checkpoint(layer, x, mask, output_attentions, use_reentrant=False)
            else:
                x, weights = layer(x, mask, output_attentions)
            if output_hidden_states:
                hidden_states += (x,)
            if output_attentions:
                attentions += (weights,)
        return x, hidden_states, attentions


class BertLMPredictionHead(nn.Module):
    """`cls.predictions`: dense + activation + LayerNorm, then the (tied) vocabulary projection + bias."""

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        h = config.hidden_size
        self.act = get_activation(config.hidden_act)
        self.transform = nn.ModuleDict(
            {"dense": nn.Linear(h, h), "LayerNorm": nn.LayerNorm(h, eps=config.layer_norm_eps)}
        )
        self.decoder = nn.Linear(h, config.vocab_size, bias=False)
        # The checkpoint stores the output bias as `cls.predictions.bias`; the decoder uses the same tensor.
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x: Tensor) -> Tensor:
        t = self.transform
        return self.decoder(t.LayerNorm(self.act(t.dense(x))))


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------
class BertPreTrainedModel(PreTrainedModel):
    """Shared by BERT and RoBERTa models: config class, prefix, weight init, building the encoder."""

    config_class = BertConfig
    base_model_prefix = "bert"
    # Older checkpoints saved the position-id buffer; it is recomputed, so ignore it quietly.
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$"]
    # The encoder class every head builds under `base_model_prefix` (set below, once it exists).
    base_model_class: ClassVar[type]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        # MLM heads own a bare output bias (`cls.predictions.bias`, `lm_head.bias`): zero it.
        if not isinstance(module, (nn.Linear, nn.LayerNorm)) and isinstance(
            module._parameters.get("bias"), nn.Parameter
        ):
            nn.init.zeros_(module.bias)

    def _add_base_model(self, add_pooling_layer: bool) -> None:
        """`self.bert = BertModel(config)` (`self.roberta = RobertaModel(...)` for RoBERTa)."""
        setattr(
            self,
            self.base_model_prefix,
            self.base_model_class(self.config, add_pooling_layer=add_pooling_layer),
        )

    def _return(self, output: ModelOutput, return_dict: bool | None) -> ModelOutput | tuple:
        return_dict = self.config.use_return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()


class BertModel(BertPreTrainedModel):
    """The bare encoder: `last_hidden_state` (B, T, H) and, with the pooler, `pooler_output` (B, H)."""

    embeddings_class: ClassVar[type[nn.Module]] = BertEmbeddings

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        if getattr(config, "position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"position_embedding_type={config.position_embedding_type!r} is not supported by leanformers; "
                "only 'absolute' position embeddings are implemented."
            )
        self.embeddings = self.embeddings_class(config)
        self.encoder = BertEncoder(config)
        self.pooler = (
            nn.ModuleDict({"dense": nn.Linear(config.hidden_size, config.hidden_size)})
            if add_pooling_layer
            else None
        )
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions, output_hidden_states = self._output_flags(output_attentions, output_hidden_states)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        # (B, 1, 1, T) additive mask broadcast over heads and queries; None when nothing is padded.
        mask = padding_mask(attention_mask, x.dtype, tgt_len=1)
        x, hidden_states, attentions = self.encoder(x, mask, output_attentions, output_hidden_states)
        pooled = torch.tanh(self.pooler.dense(x[:, 0])) if self.pooler is not None else None
        return self._return(BaseModelOutputWithPooling(x, pooled, hidden_states, attentions), return_dict)


BertPreTrainedModel.base_model_class = BertModel


class BertForMaskedLM(BertPreTrainedModel):
    """Masked-token prediction: `logits` (B, T, vocab); `labels` (-100 = ignore) give `loss`."""

    _tied_weights_keys = ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self._add_base_model(add_pooling_layer=False)
        self.cls = nn.ModuleDict({"predictions": BertLMPredictionHead(config)})
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.cls.predictions.decoder = value
        self.cls.predictions.bias = value.bias

    def tie_weights(self) -> None:
        super().tie_weights()
        self.cls.predictions.decoder.bias = self.cls.predictions.bias

    def _mlm_logits(self, hidden: Tensor) -> Tensor:
        return self.cls.predictions(hidden)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> MaskedLMOutput | tuple:
        out = self.base_model(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self._mlm_logits(out.last_hidden_state)
        loss = cross_entropy(logits, labels) if labels is not None else None
        return self._return(MaskedLMOutput(loss, logits, out.hidden_states, out.attentions), return_dict)


class BertForSequenceClassification(BertPreTrainedModel):
    """One label (or score) per sequence from the pooled [CLS] state: `logits` (B, num_labels).

    The loss (regression / single-label / multi-label) is chosen as the reference chooses it.
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self._add_base_model(add_pooling_layer=True)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _classify(self, out: BaseModelOutputWithPooling) -> Tensor:
        return self.classifier(self.dropout(out.pooler_output))

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | tuple:
        out = self.base_model(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self._classify(out)
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return self._return(
            SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict
        )


class BertForTokenClassification(BertPreTrainedModel):
    """One label per token (NER, POS): `logits` (B, T, num_labels)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self._add_base_model(add_pooling_layer=False)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> TokenClassifierOutput | tuple:
        out = self.base_model(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(out.last_hidden_state))
        loss = cross_entropy(logits, labels) if labels is not None else None
        return self._return(
            TokenClassifierOutput(loss, logits, out.hidden_states, out.attentions), return_dict
        )


class BertForQuestionAnswering(BertPreTrainedModel):
    """Extractive QA: `start_logits` and `end_logits` (B, T) of the answer span."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self._add_base_model(add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        start_positions: Tensor | None = None,
        end_positions: Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> QuestionAnsweringModelOutput | tuple:
        out = self.base_model(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.qa_outputs(out.last_hidden_state)
        start_logits, end_logits = (t.squeeze(-1).contiguous() for t in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        output = QuestionAnsweringModelOutput(
            loss, start_logits, end_logits, out.hidden_states, out.attentions
        )
        return self._return(output, return_dict)
