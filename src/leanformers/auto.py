"""Auto classes: `config.json`'s `model_type` picks the class, through one explicit table each.

Entries are "module:Class" strings resolved on first use, so importing this file imports no model.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from .configuration import HUB_KWARGS, PretrainedConfig, pop_hub_kwargs, read_config_dict

# model_type -> module under leanformers.models, and the class name of each part.
CONFIG_MAPPING: dict[str, str] = {
    "bert": "bert:BertConfig",
    "distilbert": "distilbert:DistilBertConfig",
    "roberta": "roberta:RobertaConfig",
    "xlm-roberta": "roberta:XLMRobertaConfig",
    "gpt2": "gpt2:GPT2Config",
    "llama": "llama:LlamaConfig",
    "mistral": "llama:MistralConfig",
    "qwen2": "llama:Qwen2Config",
    "bart": "bart:BartConfig",
    "marian": "marian:MarianConfig",
    "t5": "t5:T5Config",
}

MODEL_MAPPING: dict[str, str] = {
    "bert": "bert:BertModel",
    "distilbert": "distilbert:DistilBertModel",
    "roberta": "roberta:RobertaModel",
    "xlm-roberta": "roberta:XLMRobertaModel",
    "gpt2": "gpt2:GPT2Model",
    "llama": "llama:LlamaModel",
    "mistral": "llama:MistralModel",
    "qwen2": "llama:Qwen2Model",
    "bart": "bart:BartModel",
    "marian": "marian:MarianModel",
    "t5": "t5:T5Model",
}

MODEL_FOR_MASKED_LM_MAPPING: dict[str, str] = {
    "bert": "bert:BertForMaskedLM",
    "distilbert": "distilbert:DistilBertForMaskedLM",
    "roberta": "roberta:RobertaForMaskedLM",
    "xlm-roberta": "roberta:XLMRobertaForMaskedLM",
}

MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING: dict[str, str] = {
    "bert": "bert:BertForSequenceClassification",
    "distilbert": "distilbert:DistilBertForSequenceClassification",
    "roberta": "roberta:RobertaForSequenceClassification",
    "xlm-roberta": "roberta:XLMRobertaForSequenceClassification",
    "bart": "bart:BartForSequenceClassification",
}

MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING: dict[str, str] = {
    "bert": "bert:BertForTokenClassification",
    "distilbert": "distilbert:DistilBertForTokenClassification",
    "roberta": "roberta:RobertaForTokenClassification",
    "xlm-roberta": "roberta:XLMRobertaForTokenClassification",
}

MODEL_FOR_QUESTION_ANSWERING_MAPPING: dict[str, str] = {
    "bert": "bert:BertForQuestionAnswering",
    "distilbert": "distilbert:DistilBertForQuestionAnswering",
    "roberta": "roberta:RobertaForQuestionAnswering",
    "xlm-roberta": "roberta:XLMRobertaForQuestionAnswering",
}

MODEL_FOR_CAUSAL_LM_MAPPING: dict[str, str] = {
    "gpt2": "gpt2:GPT2LMHeadModel",
    "llama": "llama:LlamaForCausalLM",
    "mistral": "llama:MistralForCausalLM",
    "qwen2": "llama:Qwen2ForCausalLM",
}

MODEL_FOR_SEQ2SEQ_LM_MAPPING: dict[str, str] = {
    "bart": "bart:BartForConditionalGeneration",
    "marian": "marian:MarianMTModel",
    "t5": "t5:T5ForConditionalGeneration",
}


def import_class(spec: str) -> type:
    module, name = spec.split(":")
    return getattr(importlib.import_module(f"leanformers.models.{module}"), name)


def _unknown_model_type(model_type: str | None, mapping: dict[str, str], what: str) -> ValueError:
    if model_type is None:
        return ValueError(
            "config.json has no 'model_type' key, so the architecture cannot be chosen. Add it "
            f"(one of: {', '.join(CONFIG_MAPPING)})."
        )
    return ValueError(f"{what} does not support model_type {model_type!r}. Supported: {', '.join(mapping)}.")


class AutoConfig:
    """`AutoConfig.from_pretrained(name)` returns the config class that `model_type` names."""

    def __init__(self) -> None:
        raise OSError(
            "AutoConfig is instantiated with AutoConfig.from_pretrained(name) or AutoConfig.for_model(type)."
        )

    @staticmethod
    def for_model(model_type: str, **kwargs: Any) -> PretrainedConfig:
        if model_type not in CONFIG_MAPPING:
            raise _unknown_model_type(model_type, CONFIG_MAPPING, "leanformers")
        return import_class(CONFIG_MAPPING[model_type])(**kwargs)

    @staticmethod
    def from_pretrained(pretrained: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        hub_kwargs = pop_hub_kwargs(kwargs)
        config_dict = read_config_dict(pretrained, kwargs.pop("gguf_file", None), **hub_kwargs)
        model_type = config_dict.get("model_type")
        if model_type not in CONFIG_MAPPING:
            raise _unknown_model_type(model_type, CONFIG_MAPPING, "leanformers")
        config_class = import_class(CONFIG_MAPPING[model_type])
        return config_class.from_dict(config_dict, name_or_path=os.fspath(pretrained), **kwargs)


class _AutoModel:
    _mapping: dict[str, str] = {}

    def __init__(self) -> None:
        raise OSError(
            f"{type(self).__name__} is instantiated with .from_pretrained(name) or .from_config(config)."
        )

    @classmethod
    def _class_for(cls, config: PretrainedConfig) -> type:
        model_type = config.model_type or None
        if model_type not in cls._mapping:
            raise _unknown_model_type(model_type, cls._mapping, cls.__name__)
        return import_class(cls._mapping[model_type])

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        """A randomly initialised model of the architecture `config` describes."""
        return cls._class_for(config).from_config(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """Load the architecture that the checkpoint's config names, with this class's head."""
        config = kwargs.pop("config", None)
        if config is None:
            config_kwargs = {k: kwargs[k] for k in (*HUB_KWARGS, "gguf_file") if k in kwargs}
            config = AutoConfig.from_pretrained(pretrained_model_name_or_path, **config_kwargs)
        return cls._class_for(config).from_pretrained(
            pretrained_model_name_or_path, *args, config=config, **kwargs
        )

    @classmethod
    def supported_model_types(cls) -> list[str]:
        return list(cls._mapping)


class AutoModel(_AutoModel):
    _mapping = MODEL_MAPPING


class AutoModelForMaskedLM(_AutoModel):
    _mapping = MODEL_FOR_MASKED_LM_MAPPING


class AutoModelForSequenceClassification(_AutoModel):
    _mapping = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING


class AutoModelForTokenClassification(_AutoModel):
    _mapping = MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING


class AutoModelForQuestionAnswering(_AutoModel):
    _mapping = MODEL_FOR_QUESTION_ANSWERING_MAPPING


class AutoModelForCausalLM(_AutoModel):
    _mapping = MODEL_FOR_CAUSAL_LM_MAPPING


class AutoModelForSeq2SeqLM(_AutoModel):
    _mapping = MODEL_FOR_SEQ2SEQ_LM_MAPPING
