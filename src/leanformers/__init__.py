"""leanformers: the Hugging Face `transformers` API, lean and fast.

Importing the package is cheap: names are resolved on first attribute access (PEP 562), so
`import leanformers` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # foundation
    "PretrainedConfig": "configuration",
    "PreTrainedConfig": "configuration",
    "PreTrainedModel": "modeling",
    "AutoConfig": "auto",
    "AutoModel": "auto",
    "AutoModelForMaskedLM": "auto",
    "AutoModelForSequenceClassification": "auto",
    "AutoModelForTokenClassification": "auto",
    "AutoModelForQuestionAnswering": "auto",
    "AutoModelForCausalLM": "auto",
    "AutoModelForSeq2SeqLM": "auto",
    # architectures
    "BertConfig": "models.bert",
    "BertModel": "models.bert",
    "BertForMaskedLM": "models.bert",
    "BertForSequenceClassification": "models.bert",
    "BertForTokenClassification": "models.bert",
    "BertForQuestionAnswering": "models.bert",
    "DistilBertConfig": "models.distilbert",
    "DistilBertModel": "models.distilbert",
    "DistilBertForMaskedLM": "models.distilbert",
    "DistilBertForSequenceClassification": "models.distilbert",
    "DistilBertForTokenClassification": "models.distilbert",
    "DistilBertForQuestionAnswering": "models.distilbert",
    "RobertaConfig": "models.roberta",
    "RobertaModel": "models.roberta",
    "RobertaForMaskedLM": "models.roberta",
    "RobertaForSequenceClassification": "models.roberta",
    "RobertaForTokenClassification": "models.roberta",
    "RobertaForQuestionAnswering": "models.roberta",
    "XLMRobertaConfig": "models.roberta",
    "XLMRobertaModel": "models.roberta",
    "XLMRobertaForMaskedLM": "models.roberta",
    "XLMRobertaForSequenceClassification": "models.roberta",
    "XLMRobertaForTokenClassification": "models.roberta",
    "XLMRobertaForQuestionAnswering": "models.roberta",
    "GPT2Config": "models.gpt2",
    "GPT2Model": "models.gpt2",
    "GPT2LMHeadModel": "models.gpt2",
    "LlamaConfig": "models.llama",
    "LlamaModel": "models.llama",
    "LlamaForCausalLM": "models.llama",
    "MistralConfig": "models.llama",
    "MistralModel": "models.llama",
    "MistralForCausalLM": "models.llama",
    "Qwen2Config": "models.llama",
    "Qwen2Model": "models.llama",
    "Qwen2ForCausalLM": "models.llama",
    "BartConfig": "models.bart",
    "BartModel": "models.bart",
    "BartForConditionalGeneration": "models.bart",
    "BartForSequenceClassification": "models.bart",
    "MarianConfig": "models.marian",
    "MarianModel": "models.marian",
    "MarianMTModel": "models.marian",
    "T5Config": "models.t5",
    "T5Model": "models.t5",
    "T5ForConditionalGeneration": "models.t5",
    "T5EncoderModel": "models.t5",
    # tokenizers
    "AutoTokenizer": "tokenization",
    "PreTrainedTokenizerFast": "tokenization",
    "MarianTokenizer": "tokenization_marian",
    "PreTrainedTokenizerBase": "tokenization",
    "BatchEncoding": "tokenization",
    "AddedToken": "tokenization",
    "BertTokenizerFast": "tokenization",
    "BertTokenizer": "tokenization",
    "DistilBertTokenizerFast": "tokenization",
    "DistilBertTokenizer": "tokenization",
    "GPT2TokenizerFast": "tokenization",
    "GPT2Tokenizer": "tokenization",
    "RobertaTokenizerFast": "tokenization",
    "RobertaTokenizer": "tokenization",
    "BartTokenizerFast": "tokenization",
    "BartTokenizer": "tokenization",
    "XLMRobertaTokenizerFast": "tokenization",
    "XLMRobertaTokenizer": "tokenization",
    "T5TokenizerFast": "tokenization",
    "T5Tokenizer": "tokenization",
    "LlamaTokenizerFast": "tokenization",
    "LlamaTokenizer": "tokenization",
    "Qwen2TokenizerFast": "tokenization",
    "Qwen2Tokenizer": "tokenization",
    # generation
    "GenerationConfig": "generation",
    "TextStreamer": "generation",
    "TextIteratorStreamer": "generation",
    # pipelines
    "pipeline": "pipelines",
    "Pipeline": "pipelines",
    # training
    "Trainer": "training",
    "TrainingArguments": "training",
    "Seq2SeqTrainer": "training",
    "Seq2SeqTrainingArguments": "training",
    "TrainerCallback": "training",
    "EarlyStoppingCallback": "training",
    "EvalPrediction": "training",
    "set_seed": "training",
    "DataCollatorWithPadding": "training",
    "DataCollatorForLanguageModeling": "training",
    "DataCollatorForTokenClassification": "training",
    "DataCollatorForSeq2Seq": "training",
    "default_data_collator": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leanformers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"leanformers.{module}"), name)
    globals()[name] = value  # cache: the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
