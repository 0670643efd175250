"""Tokenizers: the reference's fast-tokenizer API over the `tokenizers` engine.

One class does the work: `PreTrainedTokenizerFast` wraps a `tokenizers.Tokenizer` (loaded from
`tokenizer.json`, or built from legacy vocabulary files by `tokenization_convert`). Model families
differ only in data — default special tokens, which legacy converter applies, which inputs the model
takes — so their classes (`BertTokenizerFast`, `GPT2TokenizerFast`, ...) are a few lines each.
`AutoTokenizer` picks one from `tokenizer_config.json` / `config.json` through one explicit table.

Layout: this file holds `PreTrainedTokenizerBase` (special tokens, padding/truncation arguments,
`pad`, chat templates, saving); `batch_encoding.py` what calls return; `tokenization_fast.py` the
engine-backed class; `tokenization_families.py` the families; `tokenization_auto.py` loading and
`AutoTokenizer`; `tokenization_convert.py` the legacy-file converters; `chat_template.py` Jinja.

Speed: a batch is one `encode_batch` call into Rust; Python only gathers the fields that were asked
for, and tensors are built with one numpy conversion.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from tokenizers import AddedToken

from .batch_encoding import BatchEncoding, _Choice, _describe, _to_py_obj
from .batch_encoding import CharSpan as CharSpan  # re-exported, as the reference's module does
from .batch_encoding import TensorType as TensorType
from .batch_encoding import TokenSpan as TokenSpan
from .utils import atomic_write_text, get_logger

logger = get_logger(__name__)

VERY_LARGE_INTEGER = int(1e30)  # "no maximum length", as the reference
LARGE_INTEGER = int(1e20)
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"
CHAT_TEMPLATE_DIR = "additional_chat_templates"
SPECIAL_TOKENS_ATTRIBUTES = [
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
    "additional_special_tokens",
]


class PaddingStrategy(_Choice):
    LONGEST = "longest"
    MAX_LENGTH = "max_length"
    DO_NOT_PAD = "do_not_pad"


class TruncationStrategy(_Choice):
    ONLY_FIRST = "only_first"
    ONLY_SECOND = "only_second"
    LONGEST_FIRST = "longest_first"
    DO_NOT_TRUNCATE = "do_not_truncate"


class TokenizerInputError(TypeError, ValueError):
    """Input a tokenizer cannot encode. A TypeError (the brief) that is also the reference's ValueError."""


# ------------------------------------------------------------------------------------ special tokens
def _special_token_property(name: str) -> property:
    def get(self):
        value = self._special_tokens_map.get(name)
        if name == "additional_special_tokens":
            return [str(t) for t in value or []]
        if value is None and self.verbose:
            logger.error(f"Using {name}, but it is not set yet.")
        return None if value is None else str(value)

    def set(self, value):
        if name == "additional_special_tokens":
            value = list(value) if value is not None else []
        elif value is not None and not isinstance(value, (str, AddedToken)):
            raise ValueError(f"Cannot set a non-string value as the {name}")
        self._special_tokens_map[name] = value

    return property(get, set, doc=f"The {name.replace('_', ' ')} (a string), or None.")


def _special_token_id_property(name: str) -> property:
    def get(self):
        token = getattr(self, name)
        return None if token is None else self.convert_tokens_to_ids(token)

    def set(self, value):
        if name == "additional_special_tokens":
            self._special_tokens_map[name] = [self.convert_ids_to_tokens(v) for v in value or []]
        else:
            self._special_tokens_map[name] = None if value is None else self.convert_ids_to_tokens(value)

    return property(get, set, doc=f"The id of the {name.replace('_', ' ')}, or None.")


class PreTrainedTokenizerBase:
    """Special tokens, padding/truncation arguments, chat templates and saving; the encoding itself is
    `PreTrainedTokenizerFast`'s."""

    vocab_files_names: dict[str, str] = {}
    model_input_names: list[str] = ["input_ids", "token_type_ids", "attention_mask"]
    padding_side: str = "right"
    truncation_side: str = "right"
    SPECIAL_TOKENS_ATTRIBUTES = SPECIAL_TOKENS_ATTRIBUTES
    _auto_class: str | None = None

    def __init__(self, **kwargs: Any):
        self.init_inputs = ()
        for key in kwargs:
            if callable(getattr(type(self), key, None)):
                raise AttributeError(f"{key} conflicts with the method {key} in {type(self).__name__}")
        self.init_kwargs = copy.deepcopy(kwargs)
        self.name_or_path = kwargs.pop("name_or_path", "")
        self._processor_class = kwargs.pop("processor_class", None)
        model_max_length = kwargs.pop("model_max_length", kwargs.pop("max_len", None))
        self.model_max_length = model_max_length if model_max_length is not None else VERY_LARGE_INTEGER
        self.padding_side = kwargs.pop("padding_side", self.padding_side)
        self.truncation_side = kwargs.pop("truncation_side", self.truncation_side)
        for side in ("padding_side", "truncation_side"):
            if getattr(self, side) not in ("right", "left"):
                raise ValueError(f"{side} should be 'right' or 'left', not {getattr(self, side)!r}.")
        self.model_input_names = kwargs.pop("model_input_names", self.model_input_names)
        self.clean_up_tokenization_spaces = kwargs.pop("clean_up_tokenization_spaces", False)
        self.split_special_tokens = kwargs.pop("split_special_tokens", False)
        self.deprecation_warnings: dict[str, bool] = {}
        self._in_target_context_manager = False
        self.chat_template = kwargs.pop("chat_template", None)
        if isinstance(self.chat_template, (list, tuple)):  # saved as [{"name": ..., "template": ...}]
            self.chat_template = {t["name"]: t["template"] for t in self.chat_template}
        self._pad_token_type_id = 0
        self.verbose = kwargs.pop("verbose", False)
        self._special_tokens_map: dict[str, Any] = dict.fromkeys(SPECIAL_TOKENS_ATTRIBUTES)
        self._special_tokens_map["additional_special_tokens"] = []
        for key in SPECIAL_TOKENS_ATTRIBUTES:
            value = kwargs.get(key)
            if value is None:
                continue
            if key == "additional_special_tokens":
                if not isinstance(value, (list, tuple)) or not all(
                    isinstance(t, (str, AddedToken)) for t in value
                ):
                    raise TypeError(
                        f"additional_special_tokens must be a list of str or AddedToken, got {_describe(value)}"
                    )
            elif not isinstance(value, (str, AddedToken)):
                raise TypeError(
                    f"Special token {key} has to be either str or AddedToken but got: {type(value)}"
                )
            setattr(self, key, value)
        self.extra_special_tokens = kwargs.pop("extra_special_tokens", {}) or {}
        self._set_model_specific_special_tokens(self.extra_special_tokens)

    def _set_model_specific_special_tokens(self, special_tokens: dict[str, str | AddedToken]) -> None:
        """Model-specific named special tokens (`image_token`, ...): attributes, saved with the config."""
        if not isinstance(special_tokens, dict):
            return
        self.SPECIAL_TOKENS_ATTRIBUTES = self.SPECIAL_TOKENS_ATTRIBUTES + list(special_tokens)
        for key, value in special_tokens.items():
            if not isinstance(value, (str, AddedToken)):
                raise TypeError(
                    f"Special token {key} has to be either str or AddedToken but got: {type(value)}"
                )
            self._special_tokens_map[key] = value

    def __getattr__(self, key: str) -> Any:
        # Only reached for names that are not normal attributes: the model-specific special tokens.
        special = self.__dict__.get("_special_tokens_map")
        if special is not None:
            base = key[:-3] if key.endswith("_id") else key
            if base in special:
                value = special[base]
                if value is None:
                    return None
                return str(value) if base == key else self.convert_tokens_to_ids(str(value))
        raise AttributeError(f"{type(self).__name__} has no attribute {key}")

    @property
    def pad_token_type_id(self) -> int:
        return self._pad_token_type_id

    @property
    def special_tokens_map(self) -> dict[str, str | list[str]]:
        """Special-token attribute -> token string (only the ones that are set)."""
        return {attr: value for attr in self.SPECIAL_TOKENS_ATTRIBUTES if (value := getattr(self, attr))}

    @property
    def special_tokens_map_extended(self) -> dict[str, Any]:
        return {
            attr: value
            for attr in self.SPECIAL_TOKENS_ATTRIBUTES
            if (value := self._special_tokens_map[attr])
        }

    @property
    def all_special_tokens_extended(self) -> list[str | AddedToken]:
        tokens, seen = [], set()
        for value in self.special_tokens_map_extended.values():
            for token in value if isinstance(value, (list, tuple)) else [value]:
                if str(token) not in seen:
                    seen.add(str(token))
                    tokens.append(token)
        return tokens

    @property
    def all_special_tokens(self) -> list[str]:
        """Every distinct special token string (`[CLS]`, `<pad>`, ...)."""
        return [str(t) for t in self.all_special_tokens_extended]

    @property
    def all_special_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.all_special_tokens)

    def add_special_tokens(
        self, special_tokens_dict: dict[str, Any], replace_additional_special_tokens: bool = True
    ) -> int:
        """Set special-token attributes (`{"pad_token": "[PAD]"}`), adding new tokens to the vocabulary.
        Returns how many tokens were added (resize the model's embeddings by that much)."""
        if not special_tokens_dict:
            return 0
        added: list[AddedToken] = []
        for key, value in special_tokens_dict.items():
            if key not in self.SPECIAL_TOKENS_ATTRIBUTES:
                raise ValueError(
                    f"Key {key!r} is not a special token. Use one of {self.SPECIAL_TOKENS_ATTRIBUTES}, or add other "
                    "tokens with add_tokens([...], special_tokens=True)."
                )
            if key == "additional_special_tokens":
                if not isinstance(value, (list, tuple)) or not all(
                    isinstance(t, (str, AddedToken)) for t in value
                ):
                    raise TypeError(
                        f"Tokens for additional_special_tokens should be a list of str or AddedToken, "
                        f"got {_describe(value)}"
                    )
                to_add = []
                for token in value:
                    if isinstance(token, str):
                        token = AddedToken(token, rstrip=False, lstrip=False, normalized=False, special=True)
                    if not replace_additional_special_tokens and str(token) in self.additional_special_tokens:
                        continue
                    to_add.append(token)
                if replace_additional_special_tokens and to_add:
                    self._special_tokens_map[key] = list(to_add)
                else:
                    self._special_tokens_map[key].extend(to_add)
                added += to_add
            else:
                if not isinstance(value, (str, AddedToken)):
                    raise ValueError(f"Token {value} for key {key} should be a str or an AddedToken instance")
                if isinstance(value, str):
                    value = AddedToken(value, rstrip=False, lstrip=False, normalized=False, special=True)
                setattr(self, key, value)
                if value not in added:
                    added.append(value)
        return self.add_tokens(added, special_tokens=True)

    def add_tokens(
        self, new_tokens: str | AddedToken | list[str | AddedToken], special_tokens: bool = False
    ) -> int:
        """Add tokens that are never split; returns how many were new to the vocabulary."""
        if not new_tokens:
            return 0
        if not isinstance(new_tokens, (list, tuple)):
            new_tokens = [new_tokens]
        return self._add_tokens(list(new_tokens), special_tokens=special_tokens)

    # ------------------------------------------------------------------------------- lengths
    @property
    def max_len_single_sentence(self) -> int:
        return self.model_max_length - self.num_special_tokens_to_add(pair=False)

    @property
    def max_len_sentences_pair(self) -> int:
        return self.model_max_length - self.num_special_tokens_to_add(pair=True)

    def _warn_once(self, key: str, message: str) -> None:
        if not self.deprecation_warnings.get(key):
            logger.warning(message)
        self.deprecation_warnings[key] = True

    def _get_padding_truncation_strategies(
        self,
        padding: Any = False,
        truncation: Any = None,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ):
        """Normalise the padding/truncation arguments exactly as the reference does (same defaults)."""
        if max_length is not None and padding is False and truncation is None:
            if verbose:
                self._warn_once(
                    "Truncation-not-explicitly-activated",
                    "Truncation was not explicitly activated but `max_length` is provided a specific "
                    "value, please use `truncation=True` to explicitly truncate examples to max length. "
                    "Defaulting to 'longest_first' truncation strategy.",
                )
            truncation = "longest_first"
        if padding is False or padding is None:
            padding_strategy = PaddingStrategy.DO_NOT_PAD
        elif padding is True:
            if verbose and max_length is not None and truncation in (None, False, "do_not_truncate"):
                logger.warning(
                    "`max_length` is ignored when `padding`=`True` and there is no truncation strategy. "
                    "To pad to max length, use `padding='max_length'`."
                )
            padding_strategy = PaddingStrategy.LONGEST
        else:
            padding_strategy = PaddingStrategy.coerce(padding)
        if truncation is False or truncation is None:
            truncation_strategy = TruncationStrategy.DO_NOT_TRUNCATE
        elif truncation is True:
            truncation_strategy = TruncationStrategy.LONGEST_FIRST
        else:
            truncation_strategy = TruncationStrategy.coerce(truncation)
        if max_length is None:
            if padding_strategy == PaddingStrategy.MAX_LENGTH:
                if self.model_max_length > LARGE_INTEGER:
                    if verbose:
                        self._warn_once(
                            "Asking-to-pad-to-max_length",
                            "Asking to pad to max_length but no maximum length is provided and the model "
                            "has no predefined maximum length. Default to no padding.",
                        )
                    padding_strategy = PaddingStrategy.DO_NOT_PAD
                else:
                    max_length = self.model_max_length
            if truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE:
                if self.model_max_length > LARGE_INTEGER:
                    if verbose:
                        self._warn_once(
                            "Asking-to-truncate-to-max_length",
                            "Asking to truncate to max_length but no maximum length is provided and the "
                            "model has no predefined maximum length. Default to no truncation.",
                        )
                    truncation_strategy = TruncationStrategy.DO_NOT_TRUNCATE
                else:
                    max_length = self.model_max_length
        if padding_strategy != PaddingStrategy.DO_NOT_PAD and (
            self.pad_token is None or self.pad_token_id is None or self.pad_token_id < 0
        ):
            raise ValueError(
                "Asking to pad but the tokenizer does not have a padding token. Please select a token to use as "
                "`pad_token` `(tokenizer.pad_token = tokenizer.eos_token e.g.)` or add a new pad token via "
                "`tokenizer.add_special_tokens({'pad_token': '[PAD]'})`."
            )
        if (
            truncation_strategy != TruncationStrategy.DO_NOT_TRUNCATE
            and padding_strategy != PaddingStrategy.DO_NOT_PAD
            and pad_to_multiple_of is not None
            and max_length is not None
            and max_length % pad_to_multiple_of
        ):
            raise ValueError(
                f"Truncation and padding are both activated but truncation length ({max_length}) is not "
                f"a multiple of pad_to_multiple_of ({pad_to_multiple_of})."
            )
        return padding_strategy, truncation_strategy, max_length, kwargs

    # --------------------------------------------------------------------------------- padding
    def pad(
        self,
        encoded_inputs: Any,
        padding: Any = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        verbose: bool = True,
    ) -> BatchEncoding:
        """Pad one encoded input or a batch (a list of dicts, or a dict of lists) — what data collators call.
        Keys other than the model inputs (e.g. `labels`) are left as they are."""
        if (
            isinstance(encoded_inputs, (list, tuple))
            and encoded_inputs
            and isinstance(encoded_inputs[0], Mapping)
        ):
            encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]}
        main = self.model_input_names[0]
        if not isinstance(encoded_inputs, Mapping) or main not in encoded_inputs:
            got = (
                list(encoded_inputs.keys())
                if isinstance(encoded_inputs, Mapping)
                else _describe(encoded_inputs)
            )
            raise ValueError(
                f"You should supply an encoding or a list of encodings to this method that includes "
                f"{main}, but you provided {got}"
            )
        required = encoded_inputs[main]
        if required is None or (hasattr(required, "__len__") and len(required) == 0):
            if return_attention_mask:
                encoded_inputs["attention_mask"] = []
            return encoded_inputs
        first = required[0]
        if isinstance(first, (list, tuple)):
            first = next((item[0] for item in required if len(item)), first)
        if not isinstance(first, (int, list, tuple)):  # tensors/arrays in, same kind out
            module = type(first).__module__
            if return_tensors is None:
                return_tensors = (
                    "pt" if module.startswith("torch") else "np" if module.startswith("numpy") else None
                )
            if return_tensors is None:
                raise ValueError(
                    f"type of {first} unknown: {type(first)}. Should be a python, numpy or pytorch object."
                )
            encoded_inputs = {key: _to_py_obj(value) for key, value in encoded_inputs.items()}
        padding_strategy, _, max_length, _ = self._get_padding_truncation_strategies(
            padding=padding, max_length=max_length, verbose=verbose
        )
        required = encoded_inputs[main]
        if required and not isinstance(required[0], (list, tuple)):
            out = self._pad(
                dict(encoded_inputs),
                max_length=max_length,
                padding_strategy=padding_strategy,
                pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side,
                return_attention_mask=return_attention_mask,
            )
            return BatchEncoding(out, tensor_type=return_tensors)
        batch_size = len(required)
        if any(len(v) != batch_size for v in encoded_inputs.values()):
            raise ValueError("Some items in the output dictionary have a different batch size than others.")
        if padding_strategy == PaddingStrategy.LONGEST:
            max_length = max(len(inputs) for inputs in required)
            padding_strategy = PaddingStrategy.MAX_LENGTH
        batch: dict[str, list] = {}
        for i in range(batch_size):
            outputs = self._pad(
                {k: v[i] for k, v in encoded_inputs.items()},
                max_length=max_length,
                padding_strategy=padding_strategy,
                pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side,
                return_attention_mask=return_attention_mask,
            )
            for key, value in outputs.items():
                batch.setdefault(key, []).append(value)
        return BatchEncoding(batch, tensor_type=return_tensors)

    def _pad(
        self,
        encoded_inputs: dict,
        max_length: int | None = None,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
    ) -> dict:
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        main = self.model_input_names[0]
        required = encoded_inputs[main]
        if padding_strategy == PaddingStrategy.LONGEST:
            max_length = len(required)
        if max_length is not None and pad_to_multiple_of is not None and max_length % pad_to_multiple_of:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if return_attention_mask and "attention_mask" not in encoded_inputs:
            encoded_inputs["attention_mask"] = [1] * len(required)
        if padding_strategy == PaddingStrategy.DO_NOT_PAD or len(required) == max_length:
            return encoded_inputs
        n = max_length - len(required)
        side = padding_side if padding_side is not None else self.padding_side
        if side not in ("right", "left"):
            raise ValueError(f"Invalid padding side: {side!r} (use 'right' or 'left').")
        fills = {
            main: self.pad_token_id,
            "attention_mask": 0,
            "token_type_ids": self.pad_token_type_id,
            "special_tokens_mask": 1,
        }
        for key, fill in fills.items():
            if key in encoded_inputs and (key != "attention_mask" or return_attention_mask):
                value = list(encoded_inputs[key])
                encoded_inputs[key] = value + [fill] * n if side == "right" else [fill] * n + value
        return encoded_inputs

    # -------------------------------------------------------------------------- chat templates
    def get_chat_template(self, chat_template: str | None = None, tools: list | None = None) -> str:
        """The template to use: `chat_template` (a template or the name of one), else the tokenizer's."""
        if isinstance(self.chat_template, dict):
            templates = self.chat_template
            if chat_template is not None and chat_template in templates:
                return templates[chat_template]
            if chat_template is None:
                if tools is not None and "tool_use" in templates:
                    return templates["tool_use"]
                if "default" in templates:
                    return templates["default"]
                raise ValueError(
                    "This model has multiple chat templates with no default specified! Please pass a "
                    f"template or the name of one to `chat_template`. Available: {sorted(templates)}."
                )
        elif chat_template is None:
            if self.chat_template is None:
                raise ValueError(
                    "Cannot use chat template functions because tokenizer.chat_template is not set and no template "
                    "argument was passed! Set tokenizer.chat_template to a Jinja template string, or pass one as "
                    "chat_template=..."
                )
            return self.chat_template
        return chat_template

    def apply_chat_template(
        self,
        conversation: list,
        tools: list | None = None,
        documents: list | None = None,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        continue_final_message: bool = False,
        tokenize: bool = True,
        padding: Any = False,
        truncation: bool = False,
        max_length: int | None = None,
        return_tensors: str | None = None,
        return_dict: bool = False,
        return_assistant_tokens_mask: bool = False,
        tokenizer_kwargs: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        """Format chat messages (`[{"role": ..., "content": ...}]`, or a batch of such lists) with the Jinja
        chat template; returns the string (`tokenize=False`), the token ids, or a BatchEncoding (`return_dict`)."""
        from .chat_template import render

        if return_dict and not tokenize:
            raise ValueError(
                "`return_dict=True` is incompatible with `tokenize=False`, because there is no dict of "
                "tokenizer outputs to return."
            )
        if return_assistant_tokens_mask and not return_dict:
            raise ValueError("`return_assistant_tokens_mask=True` is incompatible with `return_dict=False`")
        if continue_final_message and add_generation_prompt:
            raise ValueError(
                "continue_final_message and add_generation_prompt are not compatible. Use "
                "continue_final_message to continue the final message, add_generation_prompt to start "
                "a new assistant message."
            )
        if continue_final_message and return_assistant_tokens_mask:
            raise ValueError("continue_final_message is not compatible with return_assistant_tokens_mask.")
        if not isinstance(conversation, (list, tuple)) or not conversation:
            raise TypeError(
                f"conversation must be a list of messages (dicts with 'role' and 'content') or a list of "
                f"such lists; got {_describe(conversation)}."
            )
        template = self.get_chat_template(chat_template, tools)
        is_batched = isinstance(conversation[0], (list, tuple)) or hasattr(conversation[0], "messages")
        conversations = conversation if is_batched else [conversation]
        rendered, spans = render(
            template,
            conversations,
            tools=tools,
            documents=documents,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=continue_final_message,
            return_assistant_tokens_mask=return_assistant_tokens_mask,
            **{**self.special_tokens_map, **kwargs},
        )
        if not tokenize:
            return rendered if is_batched else rendered[0]
        out = self(
            rendered if is_batched else rendered[0],
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            add_special_tokens=False,
            return_tensors=return_tensors,
            **(tokenizer_kwargs or {}),
        )
        if not return_dict:
            return out["input_ids"]
        if return_assistant_tokens_mask:
            input_ids = out["input_ids"] if is_batched or return_tensors else [out["input_ids"]]
            masks = []
            for i in range(len(input_ids)):
                mask = [0] * len(input_ids[i])
                for start_char, end_char in spans[i]:
                    start, end = out.char_to_token(i, start_char), out.char_to_token(i, end_char - 1)
                    if start is None:
                        break
                    for t in range(start, end + 1 if end else len(input_ids[i])):
                        mask[t] = 1
                masks.append(mask)
            out["assistant_masks"] = masks if is_batched or return_tensors else masks[0]
            if return_tensors:
                out.convert_to_tensors(tensor_type=return_tensors)
        return out

    # ---------------------------------------------------------------------------------- saving
    @classmethod
    def convert_added_tokens(cls, obj: Any, save: bool = False, add_type_field: bool = True) -> Any:
        """AddedToken <-> its JSON form (`{"__type": "AddedToken", ...}`), recursively."""
        if isinstance(obj, dict) and obj.get("__type") == "AddedToken":
            obj = dict(obj)
            obj.pop("__type")
            return AddedToken(**obj)
        if isinstance(obj, AddedToken) and save:
            state = obj.__getstate__()
            if add_type_field:
                state["__type"] = "AddedToken"
            else:
                state.pop("special")
            return state
        if isinstance(obj, (list, tuple)):
            return [cls.convert_added_tokens(o, save=save, add_type_field=add_type_field) for o in obj]
        if isinstance(obj, dict):
            return {
                k: cls.convert_added_tokens(v, save=save, add_type_field=add_type_field)
                for k, v in obj.items()
            }
        return obj

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        legacy_format: bool | None = None,
        filename_prefix: str | None = None,
        push_to_hub: bool = False,
        **kwargs: Any,
    ) -> tuple[str, ...]:
        """Write tokenizer_config.json, special_tokens_map.json, chat_template.jinja (if any), tokenizer.json
        and (unless `legacy_format=False`) the legacy vocabulary files. Every file is written atomically."""
        if push_to_hub:
            raise NotImplementedError(
                "push_to_hub is not supported by leanformers; upload the folder with "
                "huggingface_hub.upload_folder instead."
            )
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"Provided path ({save_directory}) should be a directory, not a file")
        os.makedirs(save_directory, exist_ok=True)
        prefix = filename_prefix + "-" if filename_prefix else ""
        config = copy.deepcopy(self.init_kwargs)
        for key in set(self.init_kwargs) | {"model_max_length", "clean_up_tokenization_spaces"}:
            try:
                config[key] = getattr(self, key)
            except AttributeError:
                pass
        config.update(self.special_tokens_map)
        if "extra_special_tokens" not in config:
            config["extra_special_tokens"] = self.extra_special_tokens
            config.update(self.extra_special_tokens)
        written = []
        config.pop("chat_template", None)
        if kwargs.get("save_jinja_files", True):
            templates = (
                self.chat_template
                if isinstance(self.chat_template, dict)
                else {"default": self.chat_template}
            )
            for name, template in templates.items():
                if template is None:
                    continue
                if name == "default":
                    path = os.path.join(save_directory, prefix + CHAT_TEMPLATE_FILE)
                else:
                    os.makedirs(os.path.join(save_directory, prefix + CHAT_TEMPLATE_DIR), exist_ok=True)
                    path = os.path.join(save_directory, prefix + CHAT_TEMPLATE_DIR, f"{name}.jinja")
                atomic_write_text(path, template)
                written.append(path)
        elif isinstance(self.chat_template, dict):
            config["chat_template"] = [{"name": k, "template": v} for k, v in self.chat_template.items()]
        elif self.chat_template is not None:
            config["chat_template"] = self.chat_template
        if self.init_inputs:
            config["init_inputs"] = copy.deepcopy(self.init_inputs)
        for key in list(self.vocab_files_names) + [
            "name_or_path",
            "special_tokens_map_file",
            "tokenizer_file",
            "device_map",
        ]:
            config.pop(key, None)
        config = self.convert_added_tokens(config, add_type_field=True, save=True)
        config["added_tokens_decoder"] = {i: t.__getstate__() for i, t in self.added_tokens_decoder.items()}
        class_name = type(self).__name__
        if class_name.endswith("Fast") and self.can_save_slow_tokenizer:
            class_name = class_name[:-4]
        config["tokenizer_class"] = class_name
        if self._processor_class is not None:
            config["processor_class"] = self._processor_class
        config_file = os.path.join(save_directory, prefix + TOKENIZER_CONFIG_FILE)
        atomic_write_text(
            config_file, json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
        special_file = os.path.join(save_directory, prefix + SPECIAL_TOKENS_MAP_FILE)
        special = self.convert_added_tokens(self.special_tokens_map_extended, save=True, add_type_field=False)
        atomic_write_text(
            special_file, json.dumps(special, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
        return self._save_pretrained(
            save_directory, (config_file, special_file, *written), legacy_format, filename_prefix
        )

    def _save_pretrained(
        self,
        save_directory: str,
        file_names: tuple[str, ...],
        legacy_format: bool | None,
        filename_prefix: str | None,
    ) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def can_save_slow_tokenizer(self) -> bool:
        return False

    # ---------------------------------------------------------------------------- misc reference API
    @staticmethod
    def clean_up_tokenization(out_string: str) -> str:
        """Undo simple English tokenization artifacts (spaces before punctuation and contractions)."""
        return (
            out_string.replace(" .", ".")
            .replace(" ?", "?")
            .replace(" !", "!")
            .replace(" ,", ",")
            .replace(" ' ", "'")
            .replace(" n't", "n't")
            .replace(" 'm", "'m")
            .replace(" 's", "'s")
            .replace(" 've", "'ve")
            .replace(" 're", "'re")
        )

    def _switch_to_input_mode(self) -> None:
        """Tokenizers with separate source/target vocabularies override this (and the next)."""

    def _switch_to_target_mode(self) -> None:
        pass

    @contextlib.contextmanager
    def as_target_tokenizer(self) -> Iterator[None]:
        """Tokenize targets inside this block (the reference's older spelling of `text_target=`)."""
        self._switch_to_target_mode()
        self._in_target_context_manager = True
        try:
            yield
        finally:
            self._in_target_context_manager = False
            self._switch_to_input_mode()

    def __repr__(self) -> str:
        added = "\n\t".join(f"{k}: {v!r}," for k, v in self.added_tokens_decoder.items())
        return (
            f"{type(self).__name__}(name_or_path='{self.name_or_path}', vocab_size={self.vocab_size}, "
            f"model_max_length={self.model_max_length}, is_fast={self.is_fast}, padding_side='{self.padding_side}', "
            f"truncation_side='{self.truncation_side}', special_tokens={self.special_tokens_map}, "
            f"clean_up_tokenization_spaces={self.clean_up_tokenization_spaces}, added_tokens_decoder={{\n\t"
            f"{added}\n}}\n)"
        )


for _name in SPECIAL_TOKENS_ATTRIBUTES:
    setattr(PreTrainedTokenizerBase, _name, _special_token_property(_name))
    setattr(
        PreTrainedTokenizerBase,
        _name + ("_ids" if _name.endswith("s") else "_id"),
        _special_token_id_property(_name),
    )

# The engine-backed class, the model families and AutoTokenizer build on the base above; they are
# re-exported here lazily so that any of these modules can be imported first.
_FAST_NAMES = {
    "AutoTokenizer",
    "PreTrainedTokenizerFast",
    "BertTokenizerFast",
    "BertTokenizer",
    "DistilBertTokenizerFast",
    "DistilBertTokenizer",
    "GPT2TokenizerFast",
    "GPT2Tokenizer",
    "RobertaTokenizerFast",
    "RobertaTokenizer",
    "BartTokenizerFast",
    "BartTokenizer",
    "XLMRobertaTokenizerFast",
    "XLMRobertaTokenizer",
    "T5TokenizerFast",
    "T5Tokenizer",
    "LlamaTokenizerFast",
    "LlamaTokenizer",
    "Qwen2TokenizerFast",
    "Qwen2Tokenizer",
    "TOKENIZER_CLASSES",
    "MODEL_TYPE_TO_TOKENIZER",
}


def __getattr__(name: str) -> Any:
    if name in _FAST_NAMES:
        from . import tokenization_auto, tokenization_families

        return getattr(tokenization_auto if name == "AutoTokenizer" else tokenization_families, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
