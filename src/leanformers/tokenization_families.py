"""Model-family tokenizers, and the tables `AutoTokenizer` (tokenization_auto.py) picks them from.

Each family is `PreTrainedTokenizerFast` plus data: the legacy files it reads, its default special
tokens, the legacy converter and post-processor template, and the reference's layout of special
tokens. The reference names without "Fast" (`BertTokenizer`, ...) are aliases of the same classes.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tokenizers import AddedToken, Tokenizer, normalizers, processors

from . import tokenization_convert as convert
from .hub import HubError
from .tokenization import TOKENIZER_FILE
from .tokenization_fast import PreTrainedTokenizerFast
from .tokenization_marian import MarianTokenizer
from .utils import get_logger

logger = get_logger(__name__)

__all__ = [
    "PreTrainedTokenizerFast",
    "BertTokenizerFast",
    "DistilBertTokenizerFast",
    "GPT2TokenizerFast",
    "RobertaTokenizerFast",
    "BartTokenizerFast",
    "XLMRobertaTokenizerFast",
    "T5TokenizerFast",
    "LlamaTokenizerFast",
    "Qwen2TokenizerFast",
]

_EOT = "<|endoftext|>"


def _require_files(tokenizer: PreTrainedTokenizerFast, kwargs: dict[str, Any], *keys: str) -> list[str]:
    missing = [
        tokenizer.vocab_files_names[k] for k in keys if not kwargs.get(k) or not os.path.isfile(kwargs[k])
    ]
    if missing:
        raise HubError(
            f"{type(tokenizer).__name__} needs {TOKENIZER_FILE}, or the legacy file(s) "
            f"{', '.join(tokenizer.vocab_files_names[k] for k in keys)} (missing: {', '.join(missing)})."
        )
    return [kwargs[k] for k in keys]


def _update_state(
    component: Any, module: Any, values: dict[str, Any], tuple_keys: tuple[str, ...] = ()
) -> Any:
    """Rebuild a tokenizers component with some of its saved settings changed; None if nothing changes."""
    if component is None:
        return None
    state = json.loads(component.__getstate__())
    changes = {k: v for k, v in values.items() if k in state and state[k] != v}
    if not changes:
        return None
    state.update(changes)
    for key in tuple_keys:
        if key in state:
            state[key] = tuple(state[key])
    return getattr(module, state.pop("type"))(**state)


# --------------------------------------------------------------------------------------- WordPiece
class BertTokenizerFast(PreTrainedTokenizerFast):
    """BERT's WordPiece: `[CLS] A [SEP] B [SEP]`; lower-casing / accents / CJK per tokenizer_config.json."""

    vocab_files_names = {"vocab_file": "vocab.txt", "tokenizer_file": TOKENIZER_FILE}
    _defaults = {
        "do_lower_case": True,
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "tokenize_chinese_chars": True,
        "strip_accents": None,
    }
    _legacy_defaults = {"do_basic_tokenize": True, "never_split": None, "clean_up_tokenization_spaces": True}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        kw = self.init_kwargs
        self.do_lower_case = kw.get("do_lower_case", True)
        normalizer = _update_state(
            self._tokenizer.normalizer,
            normalizers,
            {
                "lowercase": self.do_lower_case,
                "strip_accents": kw.get("strip_accents"),
                "handle_chinese_chars": kw.get("tokenize_chinese_chars", True),
            },
        )
        if normalizer is not None:
            self._tokenizer.normalizer = normalizer

    def _build_backend(self, kwargs: dict[str, Any]) -> Tokenizer:
        (vocab_file,) = _require_files(self, kwargs, "vocab_file")
        return convert.wordpiece_tokenizer(
            vocab_file,
            unk_token=str(kwargs.get("unk_token")),
            do_lower_case=kwargs.get("do_lower_case", True),
            strip_accents=kwargs.get("strip_accents"),
            tokenize_chinese_chars=kwargs.get("tokenize_chinese_chars", True),
            do_basic_tokenize=kwargs.get("do_basic_tokenize", True),
        )

    def _legacy_post_processor(self) -> Any:
        cls, sep = self.cls_token, self.sep_token
        return processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0",
            pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, self.cls_token_id), (sep, self.sep_token_id)],
        )

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        output = [self.cls_token_id] + token_ids_0 + [self.sep_token_id]
        return output if token_ids_1 is None else output + token_ids_1 + [self.sep_token_id]


class DistilBertTokenizerFast(BertTokenizerFast):
    """BERT's WordPiece; DistilBERT takes no token_type_ids."""

    model_input_names = ["input_ids", "attention_mask"]


# -------------------------------------------------------------------------------- byte-level BPE
class GPT2TokenizerFast(PreTrainedTokenizerFast):
    """GPT-2 byte-level BPE (vocab.json + merges.txt); no special tokens added by default."""

    vocab_files_names = {
        "vocab_file": "vocab.json",
        "merges_file": "merges.txt",
        "tokenizer_file": TOKENIZER_FILE,
    }
    model_input_names = ["input_ids", "attention_mask"]
    _defaults = {"unk_token": _EOT, "bos_token": _EOT, "eos_token": _EOT, "add_prefix_space": False}
    _legacy_defaults = {"errors": "replace", "pad_token": None, "add_bos_token": False}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.add_bos_token = self.init_kwargs.get("add_bos_token", False)

    def _legacy_special_token(self, key: str, token: str) -> AddedToken:
        # The slow class's wrapping: not special, hence normalized (pinned: the reference deep-copies it).
        return AddedToken(token, lstrip=False, rstrip=False, normalized=True)

    def _build_backend(self, kwargs: dict[str, Any]) -> Tokenizer:
        vocab_file, merges_file = _require_files(self, kwargs, "vocab_file", "merges_file")
        return convert.byte_level_bpe_tokenizer(
            vocab_file, merges_file, add_prefix_space=kwargs.get("add_prefix_space")
        )

    def _legacy_post_processor(self) -> Any:
        if self.init_kwargs.get("add_bos_token"):
            bos = self.bos_token
            return processors.TemplateProcessing(
                single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 $B:1", special_tokens=[(bos, self.bos_token_id)]
            )
        return processors.ByteLevel(trim_offsets=False)

    def _check_split_words(self, is_split_into_words: bool) -> None:
        if is_split_into_words and not self.add_prefix_space:
            raise ValueError(
                f"You need to instantiate {type(self).__name__} with add_prefix_space=True to use it "
                "with pretokenized inputs (is_split_into_words=True)."
            )


def _double_sep_inputs(
    start: int, end: int, token_ids_0: list[int], token_ids_1: list[int] | None
) -> list[int]:
    """RoBERTa-style specials: `<s> A </s>`, or `<s> A </s> </s> B </s>` for a pair."""
    output = [start] + token_ids_0 + [end]
    return output if token_ids_1 is None else output + [end] + token_ids_1 + [end]


class RobertaTokenizerFast(GPT2TokenizerFast):
    """RoBERTa: byte-level BPE with `<s> A </s></s> B </s>`."""

    _defaults = {
        "errors": "replace",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "add_prefix_space": False,
        "trim_offsets": True,
    }
    _legacy_defaults = {}

    def __init__(self, *args: Any, **kwargs: Any):
        PreTrainedTokenizerFast.__init__(self, *args, **kwargs)
        kw = self.init_kwargs
        post = _update_state(
            self._tokenizer.post_processor,
            processors,
            {
                "add_prefix_space": kw.get("add_prefix_space", False),
                "trim_offsets": kw.get("trim_offsets", True),
            },
            tuple_keys=("sep", "cls"),
        )
        if post is not None:
            self._tokenizer.post_processor = post

    def _prepare_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(kwargs.get("mask_token"), str):  # the mask swallows the space before it
            kwargs["mask_token"] = AddedToken(
                kwargs["mask_token"], lstrip=True, rstrip=False, normalized=False
            )
        return kwargs

    def _legacy_post_processor(self) -> Any:
        return processors.RobertaProcessing(
            sep=(self.sep_token, self.sep_token_id),
            cls=(self.cls_token, self.cls_token_id),
            add_prefix_space=bool(self.add_prefix_space),
            trim_offsets=True,
        )

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        return _double_sep_inputs(self.bos_token_id, self.eos_token_id, token_ids_0, token_ids_1)

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        return [0] * len(self.build_inputs_with_special_tokens(token_ids_0, token_ids_1))


class BartTokenizerFast(RobertaTokenizerFast):
    """BART: RoBERTa's tokenizer."""


class Qwen2TokenizerFast(GPT2TokenizerFast):
    """Qwen2 byte-level BPE (NFC, digit-by-digit pre-tokenization)."""

    _defaults = {"unk_token": _EOT, "bos_token": None, "eos_token": _EOT, "pad_token": _EOT}
    _legacy_defaults = {
        "errors": "replace",
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
    }

    def __init__(self, *args: Any, **kwargs: Any):
        PreTrainedTokenizerFast.__init__(self, *args, **kwargs)

    def _prepare_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        for key in ("unk_token", "bos_token", "eos_token", "pad_token"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = AddedToken(
                    kwargs[key], lstrip=False, rstrip=False, special=True, normalized=False
                )
        return kwargs

    def _build_backend(self, kwargs: dict[str, Any]) -> Tokenizer:
        vocab_file, merges_file = _require_files(self, kwargs, "vocab_file", "merges_file")
        return convert.byte_level_bpe_tokenizer(
            vocab_file, merges_file, style="qwen2", add_prefix_space=bool(kwargs.get("add_prefix_space"))
        )

    def _legacy_post_processor(self) -> Any:
        return processors.ByteLevel(trim_offsets=False)

    def _check_split_words(self, is_split_into_words: bool) -> None:
        pass


# --------------------------------------------------------------------------------- SentencePiece
class _SentencePieceFamily(PreTrainedTokenizerFast):
    _spm_kind = ""

    def _legacy_special_token(self, key: str, token: str) -> AddedToken:
        return AddedToken(token, normalized=False, special=True)

    def _build_backend(self, kwargs: dict[str, Any]) -> Tokenizer:
        (vocab_file,) = _require_files(self, kwargs, "vocab_file")
        legacy = kwargs.get("legacy")
        return convert.sentencepiece_tokenizer(
            vocab_file,
            self._spm_kind,
            extra_ids=kwargs.get("extra_ids", 0),
            legacy=True if legacy is None else legacy,
            add_prefix_space=kwargs.get("add_prefix_space", True),
        )


class T5TokenizerFast(_SentencePieceFamily):
    """T5: SentencePiece Unigram, `A </s> B </s>`, with 100 `<extra_id_N>` sentinel tokens."""

    vocab_files_names = {"vocab_file": "spiece.model", "tokenizer_file": TOKENIZER_FILE}
    model_input_names = ["input_ids", "attention_mask"]
    _defaults = {
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "extra_ids": 100,
        "add_prefix_space": None,
    }
    _legacy_defaults = {"sp_model_kwargs": {}, "legacy": True, "add_prefix_space": True}
    _from_slow_if_add_prefix_space = True
    _spm_kind = "t5"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.vocab_file = self.init_kwargs.get("vocab_file")
        self._extra_ids = self.init_kwargs.get("extra_ids", 100)

    def _prepare_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        extra_ids = kwargs.get("extra_ids", 100)
        tokens = kwargs.get("additional_special_tokens")
        if tokens is None:
            kwargs["additional_special_tokens"] = [f"<extra_id_{i}>" for i in range(extra_ids)]
        else:
            sentinels = [t for t in tokens if "<extra_id_" in str(t)]
            if not sentinels:
                kwargs["additional_special_tokens"] = list(tokens) + [
                    f"<extra_id_{i}>" for i in range(extra_ids)
                ]
            elif extra_ids > 0 and extra_ids != len(sentinels):
                raise ValueError(
                    f"Both extra_ids ({extra_ids}) and additional_special_tokens ({tokens}) are provided "
                    "to T5Tokenizer. In this case the additional_special_tokens must include the extra_ids "
                    "tokens"
                )
        return kwargs

    def _legacy_special_token(self, key: str, token: str) -> AddedToken:
        return AddedToken(token, special=True)

    def _legacy_post_processor(self) -> Any:
        return processors.TemplateProcessing(
            single=["$A", "</s>"],
            pair=["$A", "</s>", "$B", "</s>"],
            special_tokens=[("</s>", self.convert_tokens_to_ids("</s>"))],
        )

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        output = token_ids_0 + [self.eos_token_id]
        return output if token_ids_1 is None else output + token_ids_1 + [self.eos_token_id]

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        return [0] * len(self.build_inputs_with_special_tokens(token_ids_0, token_ids_1))

    def get_sentinel_tokens(self) -> list[str]:
        return list({t for t in self.additional_special_tokens if "<extra_id_" in t})

    def get_sentinel_token_ids(self) -> list[int]:
        return [self.convert_tokens_to_ids(t) for t in self.get_sentinel_tokens()]


class LlamaTokenizerFast(_SentencePieceFamily):
    """Llama: SentencePiece BPE with byte fallback; `<s>` prepended (add_bos_token), left padding."""

    vocab_files_names = {"vocab_file": "tokenizer.model", "tokenizer_file": TOKENIZER_FILE}
    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "left"
    _defaults = {
        "clean_up_tokenization_spaces": False,
        "unk_token": "<unk>",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "add_bos_token": True,
        "add_eos_token": False,
        "use_default_system_prompt": False,
        "legacy": None,
        "add_prefix_space": None,
    }
    _legacy_defaults = {
        "pad_token": None,
        "sp_model_kwargs": {},
        "spaces_between_special_tokens": False,
        "add_prefix_space": True,
    }
    _from_slow_if_add_prefix_space = True
    _spm_kind = "llama"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        kw = self.init_kwargs
        self.legacy = kw["legacy"]
        self._add_bos_token = kw.get("add_bos_token", True)
        self._add_eos_token = kw.get("add_eos_token", False)
        self.use_default_system_prompt = kw.get("use_default_system_prompt", False)
        self.vocab_file = kw.get("vocab_file")
        self.update_post_processor()

    def _prepare_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.get("legacy") is None:
            kwargs["legacy"] = True
        return kwargs

    def update_post_processor(self) -> None:
        """Rebuild the template from add_bos_token / add_eos_token."""
        bos, eos = self.bos_token, self.eos_token
        if bos is None and self.add_bos_token:
            raise ValueError("add_bos_token = True but bos_token = None")
        if eos is None and self.add_eos_token:
            raise ValueError("add_eos_token = True but eos_token = None")
        single = (
            f"{bos + ':0 ' if self.add_bos_token else ''}$A:0{' ' + eos + ':0' if self.add_eos_token else ''}"
        )
        pair = f"{single}{' ' + bos + ':1' if self.add_bos_token else ''} $B:1{' ' + eos + ':1' if self.add_eos_token else ''}"
        special = ([(bos, self.bos_token_id)] if self.add_bos_token else []) + (
            [(eos, self.eos_token_id)] if self.add_eos_token else []
        )
        self._tokenizer.post_processor = processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=special
        )

    @property
    def add_bos_token(self) -> bool:
        return self._add_bos_token

    @add_bos_token.setter
    def add_bos_token(self, value: bool) -> None:
        self._add_bos_token = value
        self.update_post_processor()

    @property
    def add_eos_token(self) -> bool:
        return self._add_eos_token

    @add_eos_token.setter
    def add_eos_token(self, value: bool) -> None:
        self._add_eos_token = value
        self.update_post_processor()

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        bos = [self.bos_token_id] if self.add_bos_token else []
        eos = [self.eos_token_id] if self.add_eos_token else []
        output = bos + token_ids_0 + eos
        return output if token_ids_1 is None else output + bos + token_ids_1 + eos


class XLMRobertaTokenizerFast(_SentencePieceFamily):
    """XLM-RoBERTa: SentencePiece Unigram with fairseq's special ids, `<s> A </s></s> B </s>`."""

    vocab_files_names = {"vocab_file": "sentencepiece.bpe.model", "tokenizer_file": TOKENIZER_FILE}
    model_input_names = ["input_ids", "attention_mask"]
    _defaults = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    _legacy_defaults = {"sp_model_kwargs": None}
    _spm_kind = "xlm-roberta"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.vocab_file = self.init_kwargs.get("vocab_file")

    def _prepare_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(kwargs.get("mask_token"), str):
            kwargs["mask_token"] = AddedToken(
                kwargs["mask_token"], lstrip=True, rstrip=False, normalized=False, special=True
            )
        return kwargs

    def _legacy_special_token(self, key: str, token: str) -> str:
        return token

    def _legacy_post_processor(self) -> Any:
        return processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> </s> $B </s>",
            special_tokens=[
                ("<s>", self.convert_tokens_to_ids("<s>")),
                ("</s>", self.convert_tokens_to_ids("</s>")),
            ],
        )

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        return _double_sep_inputs(self.cls_token_id, self.sep_token_id, token_ids_0, token_ids_1)

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        return [0] * len(self.build_inputs_with_special_tokens(token_ids_0, token_ids_1))


# The reference's slow names load the same (fast) classes here.
BertTokenizer, DistilBertTokenizer, GPT2Tokenizer = (
    BertTokenizerFast,
    DistilBertTokenizerFast,
    GPT2TokenizerFast,
)
RobertaTokenizer, BartTokenizer, Qwen2Tokenizer = RobertaTokenizerFast, BartTokenizerFast, Qwen2TokenizerFast
T5Tokenizer, LlamaTokenizer, XLMRobertaTokenizer = (
    T5TokenizerFast,
    LlamaTokenizerFast,
    XLMRobertaTokenizerFast,
)

# ------------------------------------------------------------------------------------ AutoTokenizer
# `tokenizer_class` of tokenizer_config.json / config.json, without its "Fast" suffix -> class.
TOKENIZER_CLASSES: dict[str, type[PreTrainedTokenizerFast]] = {
    "PreTrainedTokenizer": PreTrainedTokenizerFast,
    "BertTokenizer": BertTokenizerFast,
    "DistilBertTokenizer": DistilBertTokenizerFast,
    "GPT2Tokenizer": GPT2TokenizerFast,
    "RobertaTokenizer": RobertaTokenizerFast,
    "BartTokenizer": BartTokenizerFast,
    "Qwen2Tokenizer": Qwen2TokenizerFast,
    "T5Tokenizer": T5TokenizerFast,
    "LlamaTokenizer": LlamaTokenizerFast,
    "XLMRobertaTokenizer": XLMRobertaTokenizerFast,
    "MarianTokenizer": MarianTokenizer,
}

# config.json's `model_type` -> class, when tokenizer_config.json names none (the reference's table).
MODEL_TYPE_TO_TOKENIZER: dict[str, type[PreTrainedTokenizerFast]] = {
    "bert": BertTokenizerFast,
    "distilbert": DistilBertTokenizerFast,
    "gpt2": GPT2TokenizerFast,
    "roberta": RobertaTokenizerFast,
    "bart": BartTokenizerFast,
    "xlm-roberta": XLMRobertaTokenizerFast,
    "t5": T5TokenizerFast,
    "mt5": T5TokenizerFast,
    "llama": LlamaTokenizerFast,
    "mistral": LlamaTokenizerFast,
    "qwen2": Qwen2TokenizerFast,
    "marian": MarianTokenizer,
}

# Folders that say nothing about their class: guess from the files they hold (the reference errors).
_FILE_HINTS = [
    (TOKENIZER_FILE, PreTrainedTokenizerFast),
    ("vocab.txt", BertTokenizerFast),
    ("merges.txt", GPT2TokenizerFast),
    ("spiece.model", T5TokenizerFast),
    ("tokenizer.model", LlamaTokenizerFast),
    ("sentencepiece.bpe.model", XLMRobertaTokenizerFast),
]


def tokenizer_class_from_name(name: str) -> type[PreTrainedTokenizerFast] | None:
    return TOKENIZER_CLASSES.get(name[:-4] if name.endswith("Fast") else name)
