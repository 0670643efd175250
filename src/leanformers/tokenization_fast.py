"""`PreTrainedTokenizerFast`: encoding and decoding through the `tokenizers` engine.

Model families (tokenization_families.py) subclass it with data: the files it reads (`vocab_files_names`), its default special tokens
(`_defaults`), the extra defaults of the reference's slow class that apply when the backend is built
from legacy files (`_legacy_defaults`), how to build that backend, and the post-processor template.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import shutil
import tempfile
from typing import Any

from tokenizers import AddedToken, Tokenizer, pre_tokenizers

from .hub import resolve_file
from .tokenization import (
    ADDED_TOKENS_FILE,
    CHAT_TEMPLATE_DIR,
    SPECIAL_TOKENS_ATTRIBUTES,
    TOKENIZER_FILE,
    BatchEncoding,
    PaddingStrategy,
    PreTrainedTokenizerBase,
    TokenizerInputError,
    TruncationStrategy,
    _describe,
    _to_py_obj,
)
from .utils import atomic_path, get_logger

logger = get_logger(__name__)

_ACCEPTED = (
    "`str` (one text), `list[str]` (a batch of texts, or one pre-split text with is_split_into_words=True) "
    "or `list[list[str]]` (a batch of pre-split texts)"
)


def _is_valid_text_input(t: Any) -> bool:
    if isinstance(t, str):
        return True
    if isinstance(t, (list, tuple)):
        if not t or isinstance(t[0], str):
            return True
        if isinstance(t[0], (list, tuple)):
            return not t[0] or isinstance(t[0][0], str)
    return False


class PreTrainedTokenizerFast(PreTrainedTokenizerBase):
    """A tokenizer over a `tokenizers.Tokenizer`; build one from `tokenizer_object=`, `tokenizer_file=`,
    legacy vocabulary files (family classes), or `from_pretrained`."""

    vocab_files_names: dict[str, str] = {"tokenizer_file": TOKENIZER_FILE}
    _defaults: dict[str, Any] = {}
    _legacy_defaults: dict[str, Any] = {}
    _from_slow_if_add_prefix_space = False  # T5/Llama re-convert their SentencePiece model in that case

    def __init__(self, *args: Any, **kwargs: Any):
        file_keys = [k for k in self.vocab_files_names if k != "tokenizer_file"]
        if len(args) > len(file_keys):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(file_keys)} positional arguments ({file_keys}), "
                f"got {len(args)}."
            )
        kwargs.update(zip(file_keys, args))
        tokenizer_object = kwargs.pop("tokenizer_object", None)
        backend = kwargs.pop("_backend", None)  # parsed by from_pretrained; ours, no copy needed
        kwargs.pop("__slow_tokenizer", None)
        if kwargs.pop("gguf_file", None) is not None and tokenizer_object is None:
            raise ValueError("Load GGUF tokenizers with AutoTokenizer.from_pretrained(path, gguf_file=NAME).")
        tokenizer_file = kwargs.pop("tokenizer_file", None)
        from_slow = kwargs.pop("from_slow", False) or (
            self._from_slow_if_add_prefix_space and kwargs.get("add_prefix_space") is not None
        )
        added_tokens_decoder = kwargs.pop("added_tokens_decoder", None) or {}
        from_legacy = tokenizer_object is None and (from_slow or (backend is None and tokenizer_file is None))
        # The attribute ignores the slow class's defaults (the reference reads it before merging them).
        self.add_prefix_space = kwargs.get("add_prefix_space", self._defaults.get("add_prefix_space", False))
        kwargs = self._prepare_kwargs(
            {**self._defaults, **(self._legacy_defaults if from_legacy else {}), **kwargs}
        )
        if tokenizer_object is not None:
            backend = copy.deepcopy(tokenizer_object)
        elif from_legacy:
            for key in SPECIAL_TOKENS_ATTRIBUTES[:-1]:
                if isinstance(kwargs.get(key), str):
                    kwargs[key] = self._legacy_special_token(key, kwargs[key])
            backend = self._build_backend(kwargs)
        elif backend is None:
            backend = Tokenizer.from_file(tokenizer_file)
        self._tokenizer: Tokenizer = backend
        self._decode_use_source_tokenizer = False
        truncation, padding = backend.truncation, backend.padding
        if truncation is not None:  # settings saved in tokenizer.json become init defaults, as the reference
            kwargs.setdefault("max_length", truncation["max_length"])
            kwargs.setdefault("truncation_side", truncation["direction"])
            kwargs.setdefault("stride", truncation["stride"])
            kwargs.setdefault("truncation_strategy", truncation["strategy"])
        if padding is not None:
            kwargs.setdefault("pad_token", padding["pad_token"])
            kwargs.setdefault("pad_token_type_id", padding["pad_type_id"])
            kwargs.setdefault("padding_side", padding["direction"])
            kwargs.setdefault("max_length", padding["length"])
            kwargs.setdefault("pad_to_multiple_of", padding["pad_to_multiple_of"])
        super().__init__(**kwargs)
        backend.encode_special_tokens = self.split_special_tokens
        self._register_init_tokens(added_tokens_decoder)
        self._sync_add_prefix_space()
        if from_legacy:
            post_processor = self._legacy_post_processor()
            if post_processor is not None:
                backend.post_processor = post_processor

    # ------------------------------------------------------------------- hooks for the families
    def _prepare_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return kwargs

    def _legacy_special_token(self, key: str, token: str) -> str | AddedToken:
        """How the reference's slow class wraps a special token given as a string (flags matter)."""
        return token

    def _build_backend(self, kwargs: dict[str, Any]) -> Tokenizer:
        names = ", ".join(self.vocab_files_names.values())
        raise ValueError(
            f"{type(self).__name__} needs a tokenizer.json (tokenizer_file=... or tokenizer_object=...); it cannot be "
            f"built from other files. Looked for: {names}."
        )

    def _legacy_post_processor(self) -> Any:
        return None

    def _check_split_words(self, is_split_into_words: bool) -> None:
        pass

    def _register_init_tokens(self, added_tokens_decoder: dict[int, AddedToken]) -> None:
        """Make the saved added tokens and the special tokens part of the engine's vocabulary (the
        reference's rules: strings are special iff they are special tokens; existing ones are kept)."""
        existing = {t.content: t.__getstate__() for t in self._tokenizer.get_added_tokens_decoder().values()}
        tokens = [token for _, token in sorted(added_tokens_decoder.items(), key=lambda item: item[0])]
        known = set(existing) | {str(t) for t in tokens}
        for token in self.all_special_tokens_extended:
            if isinstance(token, str) and token in known:
                continue
            if isinstance(token, AddedToken) and token in tokens:
                continue
            tokens.append(token)
        if not tokens:
            return
        special = set(self.all_special_tokens)
        to_add = []
        for token in tokens:
            if isinstance(token, str):
                token = AddedToken(token, special=token in special)
            else:
                token.special = token.special or str(token) in special
            if existing.get(token.content) != token.__getstate__():  # identical ones are no-ops in the engine
                to_add.append(token)
        if to_add:
            self._tokenizer.add_tokens(to_add)

    def _sync_add_prefix_space(self) -> None:
        # An explicit add_prefix_space overrides the one saved in the pre-tokenizer.
        pre = self._tokenizer.pre_tokenizer
        if pre is None or self.add_prefix_space is None:
            return
        state = json.loads(pre.__getstate__())
        if "add_prefix_space" in state and state["add_prefix_space"] != self.add_prefix_space:
            try:
                state["add_prefix_space"] = self.add_prefix_space
                self._tokenizer.pre_tokenizer = getattr(pre_tokenizers, state.pop("type"))(**state)
            except Exception:  # a pre-tokenizer that cannot be rebuilt from its state keeps its setting
                pass

    # ------------------------------------------------------------------------------ properties
    @property
    def is_fast(self) -> bool:
        return True

    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The `tokenizers.Tokenizer` doing the work."""
        return self._tokenizer

    @property
    def decoder(self) -> Any:
        return self._tokenizer.decoder

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary (without added tokens)."""
        return self._tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        """Size of the full vocabulary, added tokens included."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def __bool__(self) -> bool:
        return True

    def get_vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab(with_added_tokens=True)

    @property
    def vocab(self) -> dict[str, int]:
        return self.get_vocab()

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        return self._tokenizer.get_added_tokens_decoder()

    @property
    def added_tokens_encoder(self) -> dict[str, int]:
        return {t.content: i for i, t in sorted(self.added_tokens_decoder.items(), key=lambda item: item[0])}

    def get_added_vocab(self) -> dict[str, int]:
        return self.added_tokens_encoder

    def _add_tokens(self, new_tokens: list[str | AddedToken], special_tokens: bool = False) -> int:
        if special_tokens:
            return self._tokenizer.add_special_tokens(new_tokens)
        return self._tokenizer.add_tokens(new_tokens)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self._tokenizer.num_special_tokens_to_add(pair)

    # ------------------------------------------------------------------------- tokens <-> ids
    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        if isinstance(tokens, str):
            index = self._tokenizer.token_to_id(tokens)
            return self.unk_token_id if index is None else index
        to_id, unk = self._tokenizer.token_to_id, None
        ids = []
        for token in tokens:
            index = to_id(token)
            if index is None:
                unk = self.unk_token_id if unk is None else unk
                index = unk
            ids.append(index)
        return ids

    def convert_ids_to_tokens(
        self, ids: int | list[int], skip_special_tokens: bool = False
    ) -> str | list[str]:
        ids = _to_py_obj(ids)
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self._tokenizer.id_to_token(int(i)) for i in ids if int(i) not in skip]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        decoder = self._tokenizer.decoder
        return decoder.decode(tokens) if decoder is not None else " ".join(tokens)

    # ------------------------------------------------------------------------------ encoding
    def __call__(
        self,
        text: Any = None,
        text_pair: Any = None,
        text_target: Any = None,
        text_pair_target: Any = None,
        add_special_tokens: bool = True,
        padding: Any = False,
        truncation: Any = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Tokenize a text, a batch of texts, or pairs, and prepare them for the model.

        >>> tokenizer(["Hello world", "Hi"], padding=True, truncation=True, return_tensors="pt")
        """
        options = dict(
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            is_split_into_words=is_split_into_words,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side,
            return_tensors=return_tensors,
            return_token_type_ids=return_token_type_ids,
            return_attention_mask=return_attention_mask,
            return_overflowing_tokens=return_overflowing_tokens,
            return_special_tokens_mask=return_special_tokens_mask,
            return_offsets_mapping=return_offsets_mapping,
            return_length=return_length,
            verbose=verbose,
            split_special_tokens=kwargs.pop("split_special_tokens", self.split_special_tokens),
        )
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}.__call__() got unexpected keyword arguments {sorted(kwargs)}."
            )
        if text is None and text_target is None:
            raise TokenizerInputError(
                f"You need to specify either `text` or `text_target`; accepted: {_ACCEPTED}."
            )
        encodings = target = None
        if text is not None:
            if not self._in_target_context_manager:
                self._switch_to_input_mode()
            encodings = self._call_one(text, text_pair, **options)
        if text_target is not None:
            self._switch_to_target_mode()
            target = self._call_one(text_target, text_pair_target, **options)
        self._switch_to_input_mode()
        if target is None:
            return encodings
        if encodings is None:
            return target
        encodings["labels"] = target["input_ids"]
        return encodings

    def _call_one(self, text: Any, text_pair: Any = None, is_split_into_words: bool = False, **options: Any):
        for name, value in (("text", text), ("text_pair", text_pair)):
            if value is not None and not _is_valid_text_input(value):
                raise TokenizerInputError(f"`{name}` must be {_ACCEPTED}; got {_describe(value)}.")
        if is_split_into_words:
            is_batched = isinstance(text, (list, tuple)) and bool(text) and isinstance(text[0], (list, tuple))
        else:
            is_batched = isinstance(text, (list, tuple))
        if not is_batched:
            return self.encode_plus(
                text, text_pair=text_pair, is_split_into_words=is_split_into_words, **options
            )
        if isinstance(text_pair, str):
            raise TokenizerInputError(
                "when tokenizing batches of text, `text_pair` must be a list or tuple with the "
                f"same length as `text` ({len(text)}), not a str."
            )
        if text_pair is not None and len(text) != len(text_pair):
            raise TokenizerInputError(
                f"batch length of `text`: {len(text)} does not match batch length of "
                f"`text_pair`: {len(text_pair)}."
            )
        batch = list(zip(text, text_pair)) if text_pair is not None else text
        return self.batch_encode_plus(batch, is_split_into_words=is_split_into_words, **options)

    def encode_plus(
        self,
        text: Any,
        text_pair: Any = None,
        add_special_tokens: bool = True,
        padding: Any = False,
        truncation: Any = None,
        max_length: int | None = None,
        stride: int = 0,
        pad_to_multiple_of: int | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Encode one text (or pair); prefer `__call__`."""
        padding_strategy, truncation_strategy, max_length, kwargs = self._get_padding_truncation_strategies(
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            verbose=verbose,
            **kwargs,
        )
        return self._encode_plus(
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            padding_strategy=padding_strategy,
            truncation_strategy=truncation_strategy,
            max_length=max_length,
            stride=stride,
            pad_to_multiple_of=pad_to_multiple_of,
            verbose=verbose,
            **kwargs,
        )

    def batch_encode_plus(
        self,
        batch_text_or_text_pairs: list,
        add_special_tokens: bool = True,
        padding: Any = False,
        truncation: Any = None,
        max_length: int | None = None,
        stride: int = 0,
        pad_to_multiple_of: int | None = None,
        verbose: bool = True,
        **kwargs: Any,
    ) -> BatchEncoding:
        """Encode a batch of texts or (text, text_pair) tuples; prefer `__call__`."""
        padding_strategy, truncation_strategy, max_length, kwargs = self._get_padding_truncation_strategies(
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            verbose=verbose,
            **kwargs,
        )
        return self._batch_encode_plus(
            batch_text_or_text_pairs,
            add_special_tokens=add_special_tokens,
            padding_strategy=padding_strategy,
            truncation_strategy=truncation_strategy,
            max_length=max_length,
            stride=stride,
            pad_to_multiple_of=pad_to_multiple_of,
            verbose=verbose,
            **kwargs,
        )

    def _encode_plus(self, text: Any, text_pair: Any = None, **kwargs: Any) -> BatchEncoding:
        # One input: `[(text, text_pair)] if text_pair else [text]` as the reference (an empty pair is no pair).
        return self._encode_inputs(
            [(text, text_pair)] if text_pair else [text],
            single=True,
            parts=(text, text_pair or None),
            **kwargs,
        )

    def _batch_encode_plus(self, batch_text_or_text_pairs: list, **kwargs: Any) -> BatchEncoding:
        if not isinstance(batch_text_or_text_pairs, (list, tuple)):
            raise TokenizerInputError(
                "batch_text_or_text_pairs has to be a list or a tuple, got "
                f"{_describe(batch_text_or_text_pairs)}."
            )
        return self._encode_inputs(batch_text_or_text_pairs, single=False, **kwargs)

    def _encode_inputs(
        self,
        batch: list | tuple,
        single: bool,
        parts: tuple | None = None,
        add_special_tokens: bool = True,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        truncation_strategy: TruncationStrategy = TruncationStrategy.DO_NOT_TRUNCATE,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        split_special_tokens: bool = False,
    ) -> BatchEncoding:
        """Run the engine on `batch` and gather the requested fields (one row per encoding)."""
        self._check_split_words(is_split_into_words)
        self.set_truncation_and_padding(
            padding_strategy, truncation_strategy, max_length, stride, pad_to_multiple_of, padding_side
        )
        backend = self._tokenizer
        if backend.encode_special_tokens != split_special_tokens:
            backend.encode_special_tokens = split_special_tokens
        try:
            if single and (is_split_into_words or isinstance(parts[0], str)):
                # The engine's single-input call skips the batch machinery; same result.
                encodings = [
                    backend.encode(
                        parts[0],
                        parts[1],
                        is_pretokenized=is_split_into_words,
                        add_special_tokens=add_special_tokens,
                    )
                ]
            else:
                encodings = backend.encode_batch(
                    batch, add_special_tokens=add_special_tokens, is_pretokenized=is_split_into_words
                )
        except TypeError as e:
            raise self._bad_item_error(batch, is_split_into_words) from e
        if return_overflowing_tokens:  # overflowing windows become extra rows, mapped to their sample
            flat, mapping = [], []
            for i, encoding in enumerate(encodings):
                group = [encoding, *encoding.overflowing]
                flat += group
                mapping += [i] * len(group)
        else:
            flat = encodings
        names = self.model_input_names
        # Gathering builds many small lists: pausing the cyclic GC meanwhile saves ~40% of this step.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            data: dict[str, list] = {"input_ids": [e.ids for e in flat]}
            if return_token_type_ids if return_token_type_ids is not None else "token_type_ids" in names:
                data["token_type_ids"] = [e.type_ids for e in flat]
            if return_attention_mask if return_attention_mask is not None else "attention_mask" in names:
                data["attention_mask"] = [e.attention_mask for e in flat]
            if return_special_tokens_mask:
                data["special_tokens_mask"] = [e.special_tokens_mask for e in flat]
            if return_offsets_mapping:
                data["offset_mapping"] = [e.offsets for e in flat]
            if return_length:
                data["length"] = [len(ids) for ids in data["input_ids"]]
            if return_overflowing_tokens:
                data["overflow_to_sample_mapping"] = mapping
            if max_length is None and verbose and self.model_max_length and data["input_ids"]:
                longest = max(map(len, data["input_ids"]))
                if longest > self.model_max_length:
                    self._warn_once(
                        "sequence-length-is-longer-than-the-specified-maximum",
                        "Token indices sequence length is longer than the specified maximum sequence "
                        f"length for this model ({longest} > {self.model_max_length}). Running this "
                        "sequence through the model will result in indexing errors",
                    )
            if single and return_tensors is None and not return_overflowing_tokens:  # no batch axis
                data = {k: v[0] if v and isinstance(v[0], list) else v for k, v in data.items()}
            return BatchEncoding(data, flat, tensor_type=return_tensors)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _bad_item_error(self, batch: list, is_split_into_words: bool) -> TokenizerInputError:
        def ok(item: Any) -> bool:
            if is_split_into_words:
                return isinstance(item, (list, tuple)) and all(isinstance(w, str) for w in item)
            return isinstance(item, str)

        for i, item in enumerate(batch):
            pair = (
                isinstance(item, tuple)
                and len(item) == 2
                or (not is_split_into_words and isinstance(item, list) and len(item) == 2)
            )
            if not (ok(item) or (pair and all(ok(part) for part in item))):
                accepted = "a list of str (pre-split words)" if is_split_into_words else "a str"
                return TokenizerInputError(
                    f"Cannot tokenize item {i} of the batch: got {_describe(item)} "
                    f"({item!r:.60}). Each item must be {accepted}, or a pair of them."
                )
        return TokenizerInputError(f"Cannot tokenize this input ({_describe(batch)}); accepted: {_ACCEPTED}.")

    def set_truncation_and_padding(
        self,
        padding_strategy: PaddingStrategy,
        truncation_strategy: TruncationStrategy,
        max_length: int | None,
        stride: int,
        pad_to_multiple_of: int | None,
        padding_side: str | None,
    ) -> None:
        """Configure the engine's truncation/padding for this call (touching it only when it changes)."""
        backend = self._tokenizer
        truncation, padding = backend.truncation, backend.padding
        if truncation_strategy == TruncationStrategy.DO_NOT_TRUNCATE:
            if truncation is not None:
                backend.no_truncation()
        else:
            target = {
                "max_length": max_length,
                "stride": stride,
                "strategy": truncation_strategy.value,
                "direction": self.truncation_side,
            }
            if truncation is None or {k: truncation.get(k) for k in target} != target:
                backend.enable_truncation(**target)
        if padding_strategy == PaddingStrategy.DO_NOT_PAD:
            if padding is not None:
                backend.no_padding()
        else:
            target = {
                "length": max_length if padding_strategy == PaddingStrategy.MAX_LENGTH else None,
                "direction": padding_side if padding_side is not None else self.padding_side,
                "pad_id": self.pad_token_id,
                "pad_token": self.pad_token,
                "pad_type_id": self.pad_token_type_id,
                "pad_to_multiple_of": pad_to_multiple_of,
            }
            if padding != target:
                backend.enable_padding(**target)

    def tokenize(
        self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs: Any
    ) -> list[str]:
        """The token strings of `text` (no special tokens unless asked)."""
        return self.encode_plus(
            text, text_pair=pair, add_special_tokens=add_special_tokens, **kwargs
        ).tokens()

    def encode(
        self,
        text: Any,
        text_pair: Any = None,
        add_special_tokens: bool = True,
        padding: Any = False,
        truncation: Any = None,
        max_length: int | None = None,
        stride: int = 0,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """The token ids of one text (or pair)."""
        return self.encode_plus(
            text,
            text_pair=text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            stride=stride,
            padding_side=padding_side,
            return_tensors=return_tensors,
            **kwargs,
        )["input_ids"]

    # ------------------------------------------------------------- special-token layout (reference API)
    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        return token_ids_0 if token_ids_1 is None else token_ids_0 + token_ids_1

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        cls_len = int(self.cls_token_id is not None)
        sep_len = int(self.sep_token_id is not None)
        first = [0] * (cls_len + len(token_ids_0) + sep_len)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + sep_len)

    def get_special_tokens_mask(
        self,
        token_ids_0: list[int],
        token_ids_1: list[int] | None = None,
        already_has_special_tokens: bool = False,
    ) -> list[int]:
        """1 for special tokens, 0 for sequence tokens."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("token_ids_1 must be None when already_has_special_tokens=True.")
            special = set(self.all_special_ids)
            return [1 if t in special else 0 for t in token_ids_0]
        # Lay out placeholder (negative) ids the way this tokenizer adds its special tokens.
        built = self.build_inputs_with_special_tokens(
            [-1] * len(token_ids_0), None if token_ids_1 is None else [-2] * len(token_ids_1)
        )
        return [0 if t is not None and t < 0 else 1 for t in built]

    # ------------------------------------------------------------------------------ decoding
    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> str:
        """Token ids (list, array or tensor) -> text."""
        token_ids = _to_py_obj(token_ids)
        self._decode_use_source_tokenizer = kwargs.pop("use_source_tokenizer", False)
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        text = self._tokenizer.decode(token_ids, skip_special_tokens=skip_special_tokens)
        cleanup = (
            self.clean_up_tokenization_spaces
            if clean_up_tokenization_spaces is None
            else clean_up_tokenization_spaces
        )
        return self.clean_up_tokenization(text) if cleanup else text

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Decode each sequence of a batch (one parallel call into the engine)."""
        sequences = _to_py_obj(sequences)
        if type(self).decode is not PreTrainedTokenizerFast.decode or any(
            not isinstance(s, list) for s in sequences
        ):
            return [
                self.decode(
                    s,
                    skip_special_tokens=skip_special_tokens,
                    clean_up_tokenization_spaces=clean_up_tokenization_spaces,
                    **kwargs,
                )
                for s in sequences
            ]
        texts = self._tokenizer.decode_batch(sequences, skip_special_tokens=skip_special_tokens)
        cleanup = (
            self.clean_up_tokenization_spaces
            if clean_up_tokenization_spaces is None
            else clean_up_tokenization_spaces
        )
        return [self.clean_up_tokenization(t) for t in texts] if cleanup else texts

    def train_new_from_iterator(
        self,
        text_iterator: Any,
        vocab_size: int,
        length: int | None = None,
        new_special_tokens: list | None = None,
        special_tokens_map: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> PreTrainedTokenizerFast:
        """A tokenizer of the same kind (pipeline, special tokens) with a vocabulary trained on
        `text_iterator` (batches of texts); `special_tokens_map` renames special tokens."""
        from . import tokenization_convert as convert

        backend = convert.retrain(
            self._tokenizer,
            text_iterator,
            vocab_size,
            length=length,
            new_special_tokens=new_special_tokens,
            special_tokens_map=special_tokens_map,
            **kwargs,
        )
        rename = special_tokens_map or {}
        init = dict(self.init_kwargs)
        for attr in SPECIAL_TOKENS_ATTRIBUTES[:-1]:
            value = getattr(self, attr)
            if value is None:
                continue
            value, full = rename.get(value, value), self._special_tokens_map.get(attr)
            if isinstance(full, AddedToken):  # keep its flags
                value = AddedToken(
                    value,
                    single_word=full.single_word,
                    lstrip=full.lstrip,
                    rstrip=full.rstrip,
                    normalized=full.normalized,
                    special=True,
                )
            init[attr] = value
        additional = self.additional_special_tokens + list(new_special_tokens or [])
        if additional:
            init["additional_special_tokens"] = additional
        return type(self)(tokenizer_object=backend, **init)

    # ------------------------------------------------------------------------------- saving
    @property
    def can_save_slow_tokenizer(self) -> bool:
        vocab_file = self.vocab_files_names.get("vocab_file", "")
        if type(self)._build_backend is PreTrainedTokenizerFast._build_backend:
            return False
        if vocab_file.endswith(".model"):
            return bool(getattr(self, "vocab_file", None)) and os.path.isfile(self.vocab_file)
        return True

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        """Write the legacy vocabulary files (vocab.txt / vocab.json + merges.txt / the .model file)."""
        vocab_file = self.vocab_files_names.get("vocab_file", "")
        if vocab_file.endswith(".model"):
            if not self.can_save_slow_tokenizer:
                raise ValueError(
                    "Your fast tokenizer does not have the necessary information to save the vocabulary "
                    "for a slow tokenizer."
                )
            out = os.path.join(
                save_directory, (filename_prefix + "-" if filename_prefix else "") + vocab_file
            )
            if os.path.abspath(self.vocab_file) != os.path.abspath(out):
                with atomic_path(out) as tmp:
                    shutil.copyfile(self.vocab_file, tmp)
            return (out,)
        with tempfile.TemporaryDirectory(dir=save_directory, prefix=".vocab-") as tmp:
            files = self._tokenizer.model.save(tmp, name=filename_prefix)
            out = []
            for path in files:
                final = os.path.join(save_directory, os.path.basename(path))
                os.replace(path, final)
                out.append(final)
        return tuple(out)

    def _save_pretrained(
        self,
        save_directory: str,
        file_names: tuple[str, ...],
        legacy_format: bool | None = None,
        filename_prefix: str | None = None,
    ) -> tuple[str, ...]:
        prefix = filename_prefix + "-" if filename_prefix else ""
        has_slow = type(self)._build_backend is not PreTrainedTokenizerFast._build_backend
        if legacy_format is True and not has_slow:
            raise ValueError(
                "Your tokenizer does not have a legacy version defined and therefore cannot register this "
                "version. Leave legacy_format at None or set it to False."
            )
        if legacy_format is not False and has_slow and self.can_save_slow_tokenizer:
            added = {t: i for t, i in self.added_tokens_encoder.items() if i >= self.vocab_size}
            added_file = os.path.join(save_directory, prefix + ADDED_TOKENS_FILE)
            if added:
                from .utils import atomic_write_text

                atomic_write_text(
                    added_file, json.dumps(added, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
                )
            file_names = file_names + self.save_vocabulary(save_directory, filename_prefix) + (added_file,)
        if legacy_format is None or legacy_format is False:
            tokenizer_file = os.path.join(save_directory, prefix + TOKENIZER_FILE)
            with atomic_path(tokenizer_file) as tmp:
                self._tokenizer.save(tmp)
            file_names = file_names + (tokenizer_file,)
        return file_names

    # ------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *init_inputs: Any, **kwargs: Any
    ) -> PreTrainedTokenizerFast:
        """Load a tokenizer from a folder or a Hub repo id: tokenizer.json when present, else the legacy files
        this class can convert. Extra keyword arguments override tokenizer_config.json."""
        from .tokenization_auto import load_pretrained

        return load_pretrained(cls, pretrained_model_name_or_path, *init_inputs, **kwargs)


def _resolve_files(path: str, names: dict[str, str], hub: dict[str, Any]) -> dict[str, str | None]:
    """Local paths of the tokenizer files a folder / Hub repo has (None for the ones it lacks)."""
    folder = os.path.join(path, hub.get("subfolder") or "")
    if os.path.isdir(folder):
        present = set(os.listdir(folder))
        files = {key: os.path.join(folder, name) if name in present else None for key, name in names.items()}
        template_dir = os.path.join(folder, CHAT_TEMPLATE_DIR)
        if os.path.isdir(template_dir):
            for name in sorted(os.listdir(template_dir)):
                if name.endswith(".jinja"):
                    files[f"chat_template_{name[:-6]}"] = os.path.join(template_dir, name)
        return files
    return {key: resolve_file(path, name, required=False, **hub) for key, name in names.items()}
