"""Marian (Helsinki-NLP/opus-mt-*) tokenizer: two SentencePiece models and one shared vocabulary.

The reference's `MarianTokenizer` runs SentencePiece in Python: `source.spm` segments the inputs,
`target.spm` segments `text_target=` (the labels), and the pieces are looked up in `vocab.json`
(ids that differ from the SentencePiece ids). Here each `.spm` model is converted once into a
`tokenizers` Unigram model whose ids are `vocab.json`'s: every vocabulary entry keeps its id, and
entries the SentencePiece model cannot produce are made unreachable. Hub checkpoints have no
`tokenizer.json`, so the conversion is cached beside the checkpoint in the Hub cache
(`tokenizer.json` for the source side, `target_tokenizer.json` for the target side).

Decoding follows the reference's `convert_tokens_to_string` in Python (pieces joined, `▁` -> space,
special tokens kept inline unless skipped, stripped).

One known difference: a run of characters the SentencePiece model does not know becomes `<unk>`
here, while the reference looks the run's text up in `vocab.json` (where a character of the *other*
language's model may exist). Source text in the source language and targets in the target language
(what both models were trained on) tokenize identically.
"""

from __future__ import annotations

import functools
import os
import shutil
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from . import tokenization_convert as convert
from .configuration import HUB_KWARGS, load_json
from .hub import hub_cache_dir
from .tokenization import TOKENIZER_FILE, _to_py_obj
from .tokenization_fast import PreTrainedTokenizerFast, _resolve_files
from .utils import atomic_path, atomic_write_text, get_logger

logger = get_logger(__name__)

SPIECE_UNDERLINE = "▁"
TARGET_TOKENIZER_FILE = "target_tokenizer.json"
# Vocabulary entries the SentencePiece model cannot produce get this prefix in the engine's copy of
# the vocabulary, so no text ever matches them (their ids stay where vocab.json puts them).
_UNREACHABLE = "\x00unreachable:"
_NORMAL, _USER_DEFINED = 1, 4  # SentencePiece piece types that its encoder emits


def marian_backend(spm_file: str, vocab: dict[str, int], eos_token: str, keep: set[str]) -> Tokenizer:
    """A `tokenizers.Tokenizer` that segments like the SentencePiece model and numbers like `vocab`.

    `keep` are vocabulary entries kept reachable although SentencePiece does not produce them
    (special tokens and language codes, matched as added tokens before the model sees the text).
    """
    proto = convert.load_sentencepiece_proto(spm_file)
    scores = {p.piece: p.score for p in proto.pieces if p.type in (_NORMAL, _USER_DEFINED)}
    ordered = sorted(vocab.items(), key=lambda item: item[1])
    if [i for _, i in ordered] != list(range(len(ordered))):
        raise ValueError("vocab.json must number its tokens 0..N-1 without gaps to be converted.")
    entries = []
    for piece, _ in ordered:
        if piece in scores:
            entries.append((piece, scores[piece]))
        else:
            entries.append((piece if piece in keep else _UNREACHABLE + piece, 0.0))
    unk = proto.trainer_spec.unk_piece or "<unk>"
    tokenizer = Tokenizer(models.Unigram(entries, unk_id=vocab[unk], byte_fallback=False))

    spec = proto.normalizer_spec
    steps = [normalizers.Precompiled(spec.precompiled_charsmap)] if spec.precompiled_charsmap else []
    if spec.remove_extra_whitespaces:  # SentencePiece: no leading, trailing or repeated spaces
        steps += [normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip(left=True, right=True)]
    if steps:
        tokenizer.normalizer = normalizers.Sequence(steps)
    scheme = "always" if spec.add_dummy_prefix else "never"
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme)
    tokenizer.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {eos_token}", pair=f"$A $B {eos_token}", special_tokens=[(eos_token, vocab[eos_token])]
    )
    return tokenizer


class MarianTokenizer(PreTrainedTokenizerFast):
    """`source.spm` for inputs, `target.spm` for `text_target`, ids from `vocab.json`; `A </s>` / `A B </s>`."""

    vocab_files_names = {
        "source_spm": "source.spm",
        "target_spm": "target.spm",
        "vocab": "vocab.json",
        "tokenizer_file": TOKENIZER_FILE,
    }
    model_input_names = ["input_ids", "attention_mask"]
    _defaults = {
        "unk_token": "<unk>",
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "model_max_length": 512,
        "separate_vocabs": False,
        "source_lang": None,
        "target_lang": None,
        "sp_model_kwargs": {},
        "target_vocab_file": None,
    }

    def __init__(self, *args: Any, **kwargs: Any):
        target_backend = kwargs.pop("_target_backend", None)
        super().__init__(*args, **kwargs)
        self.source_spm = self.init_kwargs.get("source_spm")
        self.target_spm = self.init_kwargs.get("target_spm")
        self.vocab_file = self.init_kwargs.get("vocab")
        # a resolved local path, not a setting: kept out of the saved tokenizer_config.json
        self.target_vocab_file = self.init_kwargs.pop("target_vocab_file", None)
        self.separate_vocabs = bool(self.init_kwargs.get("separate_vocabs"))
        self.source_lang = self.init_kwargs.get("source_lang")
        self.target_lang = self.init_kwargs.get("target_lang")
        self._source_backend = self._tokenizer
        self._target_backend = target_backend
        # id -> piece for decoding: the target vocabulary (the reference decodes model outputs)
        vocab = self._load_vocab(self.target_vocab_file if self.separate_vocabs else self.vocab_file)
        self._id_to_piece = {i: p for p, i in vocab.items()} if vocab else None
        self.supported_language_codes = (
            []
            if self.separate_vocabs or not vocab
            else [p for p in vocab if p.startswith(">>") and p.endswith("<<")]
        )

    @staticmethod
    def _load_vocab(path: str | None) -> dict[str, int] | None:
        return load_json(path) if path and os.path.isfile(path) else None

    # -- building from the SentencePiece files ------------------------------------------------------
    def _build_backend(self, kwargs: dict[str, Any]) -> Tokenizer:
        missing = [
            name
            for key, name in self.vocab_files_names.items()
            if key != "tokenizer_file" and not kwargs.get(key)
        ]
        if missing:
            raise ValueError(
                f"{type(self).__name__} needs {', '.join(missing)} (or a tokenizer.json) to be built."
            )
        return self._convert(kwargs["source_spm"], load_json(kwargs["vocab"]), kwargs)

    @staticmethod
    def _convert(spm_file: str, vocab: dict[str, int], kwargs: dict[str, Any]) -> Tokenizer:
        specials = [
            str(kwargs.get(k)) for k in ("eos_token", "unk_token", "pad_token") if kwargs.get(k) is not None
        ]
        specials += [str(t) for t in kwargs.get("additional_special_tokens") or []]
        for token in specials[:3]:
            if token not in vocab:
                raise KeyError(
                    f"The special token {token!r} is not in vocab.json; the Marian tokenizer needs it there."
                )
        codes = {p for p in vocab if p.startswith(">>") and p.endswith("<<")}
        backend = marian_backend(spm_file, vocab, str(kwargs.get("eos_token", "</s>")), set(specials) | codes)
        if codes:  # `>>fr<<` target-language tokens of multilingual models
            from tokenizers import AddedToken

            backend.add_tokens([AddedToken(c, normalized=False) for c in sorted(codes, key=vocab.get)])
        return backend

    def _target(self) -> Tokenizer:
        """The target-side engine, converted from target.spm on first use."""
        if self._target_backend is None:
            if not self.target_spm:
                raise ValueError("This Marian tokenizer has no target.spm, so it cannot encode text_target.")
            vocab_file = self.target_vocab_file if self.separate_vocabs else self.vocab_file
            kwargs = {
                k: getattr(self, k)
                for k in ("eos_token", "unk_token", "pad_token", "additional_special_tokens")
            }
            backend = self._convert(self.target_spm, load_json(vocab_file), kwargs)
            backend.add_tokens(list(self._source_backend.get_added_tokens_decoder().values()))
            self._target_backend = backend
        return self._target_backend

    def _switch_to_input_mode(self) -> None:
        self._tokenizer = self._source_backend

    def _switch_to_target_mode(self) -> None:
        self._tokenizer = self._target()
        self._tokenizer.encode_special_tokens = self.split_special_tokens

    # -- decoding: the reference's convert_tokens_to_string ----------------------------------------
    def convert_ids_to_tokens(
        self, ids: int | list[int], skip_special_tokens: bool = False
    ) -> str | list[str]:
        if self._id_to_piece is None:
            return super().convert_ids_to_tokens(ids, skip_special_tokens)
        single = isinstance(ids, int)
        ids = [ids] if single else _to_py_obj(ids)
        special = set(self.all_special_ids)
        tokens = []
        for i in ids:
            if skip_special_tokens and i in special:
                continue
            piece = self._id_to_piece.get(i)
            tokens.append(
                piece if piece is not None else self._tokenizer.id_to_token(i) or str(self.unk_token)
            )
        return tokens[0] if single and tokens else tokens

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        """Pieces -> text with the target SentencePiece model's rules (the source's when decoding with
        `use_source_tokenizer=True`); special tokens stay inline."""
        spm_file = self.source_spm if self._decode_use_source_tokenizer else self.target_spm
        piece_types, unk_surface = _piece_types(spm_file)
        specials = set(self.all_special_tokens)
        out, pieces = "", []
        for token in tokens:
            if token in specials:
                out += _decode_pieces(pieces, piece_types, unk_surface) + token + " "
                pieces = []
            else:
                pieces.append(token)
        out += _decode_pieces(pieces, piece_types, unk_surface)
        return out.replace(SPIECE_UNDERLINE, " ").strip()

    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs,
    ) -> str:
        """Token ids -> text, as the reference: SentencePiece decoding of the pieces, stripped."""
        if self._id_to_piece is None:
            return super().decode(token_ids, skip_special_tokens, clean_up_tokenization_spaces, **kwargs)
        token_ids = _to_py_obj(token_ids)
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        self._decode_use_source_tokenizer = kwargs.pop("use_source_tokenizer", False)
        text = self.convert_tokens_to_string(self.convert_ids_to_tokens(token_ids, skip_special_tokens))
        cleanup = (
            self.clean_up_tokenization_spaces
            if clean_up_tokenization_spaces is None
            else clean_up_tokenization_spaces
        )
        return self.clean_up_tokenization(text) if cleanup else text

    # -- saving -------------------------------------------------------------------------------------
    @property
    def can_save_slow_tokenizer(self) -> bool:
        return all(f and os.path.isfile(f) for f in (self.source_spm, self.target_spm, self.vocab_file))

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        prefix = filename_prefix + "-" if filename_prefix else ""
        files = [
            (self.source_spm, "source.spm"),
            (self.target_spm, "target.spm"),
            (self.vocab_file, "vocab.json"),
        ]
        if self.separate_vocabs and self.target_vocab_file:
            files.append((self.target_vocab_file, "target_vocab.json"))
        out = []
        for source, name in files:
            final = os.path.join(save_directory, prefix + name)
            if os.path.abspath(source) != os.path.abspath(final):
                with atomic_path(final) as tmp:
                    shutil.copyfile(source, tmp)
            out.append(final)
        return tuple(out)

    def _save_pretrained(
        self,
        save_directory: str,
        file_names: tuple[str, ...],
        legacy_format: bool | None = None,
        filename_prefix: str | None = None,
    ) -> tuple[str, ...]:
        self._switch_to_input_mode()
        file_names = super()._save_pretrained(save_directory, file_names, legacy_format, filename_prefix)
        if legacy_format is not True and self.target_spm:
            target_file = os.path.join(
                save_directory, (filename_prefix + "-" if filename_prefix else "") + TARGET_TOKENIZER_FILE
            )
            atomic_write_text(target_file, self._target().to_str())
            file_names = file_names + (target_file,)
        return file_names

    # -- loading ------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *init_inputs: Any, **kwargs: Any
    ):
        """Load from a folder or Hub id: tokenizer.json when present, else the .spm files + vocab.json
        (converted, and the conversion cached in the Hub cache for the next load)."""
        path = os.fspath(pretrained_model_name_or_path)
        hub = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
        found = _resolve_files(
            path,
            {
                "tokenizer_file": TOKENIZER_FILE,
                "target_tokenizer_file": TARGET_TOKENIZER_FILE,
                "target_vocab_file": "target_vocab.json",
                "source_spm": "source.spm",
            },
            hub,
        )
        if found["target_vocab_file"] and "target_vocab_file" not in kwargs:
            kwargs["target_vocab_file"] = found["target_vocab_file"]
        if found["target_tokenizer_file"] and found["tokenizer_file"]:
            kwargs["_target_backend"] = Tokenizer.from_file(found["target_tokenizer_file"])
        tokenizer = super().from_pretrained(path, *init_inputs, **kwargs)
        if not found["tokenizer_file"] and found["source_spm"]:
            tokenizer._cache_conversion(os.path.dirname(found["source_spm"]), hub.get("cache_dir"))
        return tokenizer

    def _cache_conversion(self, folder: str, cache_dir: str | None) -> None:
        """Write the converted engines beside the checkpoint, only inside the Hub cache (never into a
        user's own folder); a read-only cache just means converting again next time."""
        cache = os.path.realpath(hub_cache_dir(cache_dir))
        if not os.path.realpath(folder).startswith(cache + os.sep) and not os.path.abspath(folder).startswith(
            cache + os.sep
        ):
            return
        try:
            with atomic_path(os.path.join(folder, TOKENIZER_FILE)) as tmp:
                self._source_backend.save(tmp)
            if self.target_spm:
                atomic_write_text(os.path.join(folder, TARGET_TOKENIZER_FILE), self._target().to_str())
        except OSError as e:
            logger.info(
                "Could not cache the converted Marian tokenizer in %s (%s); it is converted on each load.",
                folder,
                e,
            )

    # -- the reference's extras ---------------------------------------------------------------------
    def get_src_vocab(self) -> dict[str, int]:
        return self.get_vocab()

    def get_tgt_vocab(self) -> dict[str, int]:
        vocab = self._load_vocab(self.target_vocab_file if self.separate_vocabs else self.vocab_file) or {}
        return {**vocab, **self.added_tokens_encoder}

    def get_vocab(self) -> dict[str, int]:
        vocab = self._load_vocab(self.vocab_file)
        return {**vocab, **self.added_tokens_encoder} if vocab else super().get_vocab()


_CONTROL, _UNKNOWN = 3, 2


@functools.lru_cache(maxsize=8)
def _piece_types(spm_file: str | None) -> tuple[dict[str, int], str]:
    """(piece -> SentencePiece type, the surface of an unknown piece) of a .spm file; empty without one."""
    if not spm_file or not os.path.isfile(spm_file):
        return {}, " \u2047 "
    proto = convert.load_sentencepiece_proto(spm_file)
    return {p.piece: p.type for p in proto.pieces}, proto.trainer_spec.unk_surface or " \u2047 "


def _decode_pieces(pieces: list[str], piece_types: dict[str, int], unk_surface: str) -> str:
    """SentencePiece's DecodePieces: control pieces vanish, the unknown piece reads `unk_surface`,
    strings the model does not know are copied as they are, known pieces turn `▁` into spaces, and
    the dummy-prefix space is dropped until the text has some content."""
    out, at_start = [], True
    for piece in pieces:
        kind = piece_types.get(piece, _NORMAL) if piece_types else _NORMAL
        if piece_types and piece not in piece_types:
            text = piece
        elif kind == _CONTROL:
            text = ""
        elif kind == _UNKNOWN:
            text = unk_surface
        else:
            if at_start and piece.startswith(SPIECE_UNDERLINE):
                piece = piece[1:]
            text = piece.replace(SPIECE_UNDERLINE, " ")
        out.append(text)
        at_start = at_start and not text
    return "".join(out)


__all__ = ["MarianTokenizer", "marian_backend"]
