"""Build a `tokenizers.Tokenizer` from legacy vocabulary files, the way the reference converts them.

Old checkpoints ship no `tokenizer.json`, only the files their "slow" Python tokenizers read:
`vocab.txt` (WordPiece), `vocab.json` + `merges.txt` (byte-level BPE) or a SentencePiece `.model`.
Each builder here assembles the same normalizer / pre-tokenizer / model / decoder the reference's
`convert_slow_tokenizer.py` produces, so token ids are identical. Post-processors that name special
tokens by id are attached by the tokenizer class once its special tokens are registered.
"""

from __future__ import annotations

import os
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

SPIECE_UNDERLINE = "\u2581"  # "▁", SentencePiece's visible space


def load_wordpiece_vocab(vocab_file: str) -> dict[str, int]:
    """`vocab.txt`: one token per line, the id is the line number (a repeated token keeps its last line)."""
    with open(vocab_file, encoding="utf-8") as f:
        return {line.rstrip("\n"): index for index, line in enumerate(f.readlines())}


def wordpiece_tokenizer(
    vocab_file: str,
    *,
    unk_token: str = "[UNK]",
    do_lower_case: bool = True,
    strip_accents: bool | None = None,
    tokenize_chinese_chars: bool = True,
    do_basic_tokenize: bool = True,
) -> Tokenizer:
    """BERT's WordPiece: BertNormalizer + BertPreTokenizer + WordPiece('##')."""
    tokenizer = Tokenizer(models.WordPiece(load_wordpiece_vocab(vocab_file), unk_token=str(unk_token)))
    if not do_basic_tokenize:  # the slow tokenizer then skips lower-casing, accents and CJK splitting
        do_lower_case, strip_accents, tokenize_chinese_chars = False, False, False
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=tokenize_chinese_chars,
        strip_accents=strip_accents,
        lowercase=do_lower_case,
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


def read_bpe_merges(merges_file: str, *, skip_blank_lines: bool = False) -> list[tuple[str, ...]]:
    """`merges.txt` as the reference reads it. GPT-2 style: the first line (`#version`) and the last (empty)
    are dropped. Qwen2 style (`skip_blank_lines`): a `#version:` header and blank lines are dropped."""
    with open(merges_file, encoding="utf-8") as f:
        if not skip_blank_lines:
            return [tuple(line.split()) for line in f.read().split("\n")[1:-1]]
        lines = [line.strip() for line in f]
    return [
        tuple(line.split())
        for i, line in enumerate(lines)
        if line and not (i == 0 and line.startswith("#version:"))
    ]


# Qwen2's pre-tokenization regex (digits one by one, no leading space glued to letters).
QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"""
    r"""\s+(?!\S)|\s+"""
)


def byte_level_bpe_tokenizer(
    vocab_file: str, merges_file: str, *, add_prefix_space: bool = False, style: str = "gpt2"
) -> Tokenizer:
    """Byte-level BPE from `vocab.json` + `merges.txt`: GPT-2 / RoBERTa (`style="gpt2"`) or Qwen2."""
    import json

    with open(vocab_file, encoding="utf-8") as f:
        vocab = json.load(f)
    merges = read_bpe_merges(merges_file, skip_blank_lines=style == "qwen2")
    tokenizer = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=merges,
            dropout=None,
            continuing_subword_prefix="",
            end_of_word_suffix="",
            fuse_unk=False,
            **({"unk_token": None, "byte_fallback": False} if style == "qwen2" else {}),
        )
    )
    if style == "qwen2":
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, use_regex=False),
            ]
        )
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


# ----------------------------------------------------------------------------------------- SentencePiece
def load_sentencepiece_proto(model_file: str) -> Any:
    """Parse a SentencePiece `.model` file (a protobuf) without running SentencePiece itself."""
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as e:
        raise ImportError(
            f"Reading the SentencePiece model {model_file} needs the `sentencepiece` and `protobuf` packages "
            f"({e}). Install them with `pip install leanformers[sentencepiece]`, or load a folder that has a "
            "tokenizer.json instead."
        ) from None
    proto = sentencepiece_model_pb2.ModelProto()
    with open(model_file, "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def _merges_from_scores(
    vocab: dict[str, int], vocab_scores: list[tuple[str, float]]
) -> list[tuple[str, str]]:
    """Recover BPE merges from a SentencePiece BPE vocabulary: every split of a piece into two known
    pieces is a merge, ranked by the piece's score (highest first), as the reference does."""
    merges = []
    for piece, score in dict(vocab_scores).items():
        local = [
            (piece[:i], piece[i:], score)
            for i in range(1, len(piece))
            if piece[:i] in vocab and piece[i:] in vocab
        ]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [(left, right) for left, right, _ in merges]


def _prepend_scheme(add_prefix_space: bool, legacy: bool) -> str:
    if not add_prefix_space:
        return "never"
    return "always" if legacy else "first"


def _spm_normalizer(proto: Any, collapse_spaces_to: str = SPIECE_UNDERLINE) -> normalizers.Normalizer:
    steps = [
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), collapse_spaces_to),
    ]
    charsmap = proto.normalizer_spec.precompiled_charsmap
    return normalizers.Sequence(([normalizers.Precompiled(charsmap)] if charsmap else []) + steps)


def _spm_added_tokens(tokenizer: Tokenizer, proto: Any) -> None:
    # Control pieces (type 3) are special added tokens; user-defined pieces (type 4) are plain added tokens.
    tokenizer.add_tokens(
        [AddedToken(p.piece, normalized=False, special=p.type == 3) for p in proto.pieces if p.type in (3, 4)]
    )


def sentencepiece_tokenizer(
    model_file: str,
    kind: str,
    *,
    extra_ids: int = 0,
    legacy: bool = True,
    add_prefix_space: bool | None = True,
) -> Tokenizer:
    """A SentencePiece model as the reference's converters build it.

    `kind` is "t5" (Unigram, `<extra_id_N>` sentinels appended), "llama" (BPE with byte fallback, legacy
    normalizer) or "xlm-roberta" (Unigram with fairseq's shifted special ids and `<mask>`).
    """
    proto = load_sentencepiece_proto(model_file)
    add_prefix_space = bool(add_prefix_space)  # the reference's slow classes treat an explicit None as False
    pieces = [(p.piece, p.score) for p in proto.pieces]
    model_type = proto.trainer_spec.model_type  # 1 = Unigram, 2 = BPE
    if kind == "t5":
        vocab_scores = pieces + [(f"<extra_id_{i}>", 0.0) for i in range(extra_ids - 1, -1, -1)]
        unk_id, byte_fallback = proto.trainer_spec.unk_id, False
    elif kind == "llama":
        vocab_scores = [(piece, 0.0) for piece, _ in pieces[:3]] + pieces[3:]
        unk_id, byte_fallback = 0, True
    elif kind == "xlm-roberta":
        vocab_scores = (
            [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + pieces[3:] + [("<mask>", 0.0)]
        )
        unk_id, byte_fallback = 3, False
    else:
        raise ValueError(
            f"Unknown SentencePiece converter {kind!r}; expected 't5', 'llama' or 'xlm-roberta'."
        )

    if model_type == 1:
        tokenizer = Tokenizer(models.Unigram(vocab_scores, unk_id=unk_id, byte_fallback=byte_fallback))
    elif model_type == 2:
        vocab = {piece: index for index, (piece, _) in enumerate(pieces)}
        merges = _merges_from_scores(vocab, vocab_scores)
        bpe_vocab = {piece: index for index, (piece, _) in enumerate(vocab_scores)}
        tokenizer = Tokenizer(
            models.BPE(
                bpe_vocab,
                merges,
                unk_token=proto.trainer_spec.unk_piece,
                fuse_unk=True,
                byte_fallback=byte_fallback,
                dropout=None,
            )
        )
    else:
        raise ValueError(
            f"{os.path.basename(model_file)} is a SentencePiece model of type {model_type}; only Unigram (1) and "
            "BPE (2) models can be converted."
        )
    _spm_added_tokens(tokenizer, proto)

    scheme = _prepend_scheme(add_prefix_space, legacy)
    if kind == "llama":
        if legacy:
            steps = [normalizers.Prepend(prepend=SPIECE_UNDERLINE)] if add_prefix_space else []
            tokenizer.normalizer = normalizers.Sequence(
                steps + [normalizers.Replace(pattern=" ", content=SPIECE_UNDERLINE)]
            )
        else:
            tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
                replacement=SPIECE_UNDERLINE, prepend_scheme=scheme, split=False
            )
        steps = [decoders.Replace(SPIECE_UNDERLINE, " "), decoders.ByteFallback(), decoders.Fuse()]
        if add_prefix_space:
            steps.append(decoders.Strip(content=" ", left=1))
        tokenizer.decoder = decoders.Sequence(steps)
    else:
        tokenizer.normalizer = _spm_normalizer(proto)
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=SPIECE_UNDERLINE, prepend_scheme=scheme
        )
        tokenizer.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme)
    return tokenizer


# ------------------------------------------------------------------------------------- retraining
def retrain(
    backend: Tokenizer,
    text_iterator: Any,
    vocab_size: int,
    *,
    length: int | None = None,
    new_special_tokens: list | None = None,
    special_tokens_map: dict[str, str] | None = None,
    **trainer_kwargs: Any,
) -> Tokenizer:
    """Train a new vocabulary with `backend`'s pipeline (normalizer, pre-tokenizer, model kind, special
    tokens, post-processor), as the reference's `train_new_from_iterator` does."""
    import json

    from tokenizers import trainers

    rename = special_tokens_map or {}
    state = json.loads(backend.to_str())
    added = state.pop("added_tokens")
    post = state.pop("post_processor")
    model = state["model"]
    kind = model["type"]
    unk_token = None
    if kind == "BPE":
        model["vocab"], model["merges"] = {}, []
    elif kind == "Unigram":
        if model["unk_id"] is not None:
            unk_token = rename.get(model["vocab"][model["unk_id"]][0], model["vocab"][model["unk_id"]][0])
            model["unk_id"], model["vocab"] = 0, [[unk_token, 0.0]]
    elif kind in ("WordLevel", "WordPiece"):
        model["vocab"] = {}
    else:
        raise ValueError(f"Cannot retrain a {kind} model; only BPE, Unigram, WordLevel and WordPiece.")
    if model.get("unk_token") in rename:
        model["unk_token"] = rename[model["unk_token"]]
    fresh = Tokenizer.from_str(json.dumps(state))
    special = []
    for token in added:  # special tokens keep their role (Unigram keeps every added token)
        is_special = token.pop("special", None)
        token.pop("id", None)
        if kind != "Unigram" and not is_special:
            continue
        token["content"] = rename.get(token["content"], token["content"])
        special.append(AddedToken(**token))
    special += list(new_special_tokens or [])
    for key in ("continuing_subword_prefix", "end_of_word_suffix"):
        if kind == "BPE" and key not in trainer_kwargs and model.get(key) is not None:
            trainer_kwargs[key] = model[key]
    if kind == "Unigram" and unk_token is not None:
        trainer_kwargs["unk_token"] = unk_token
    pre = state.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" or any(
        p.get("type") == "ByteLevel" for p in pre.get("pretokenizers", [])
    ):
        trainer_kwargs["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    trainer_class = {
        "BPE": trainers.BpeTrainer,
        "Unigram": trainers.UnigramTrainer,
        "WordLevel": trainers.WordLevelTrainer,
        "WordPiece": trainers.WordPieceTrainer,
    }[kind]
    fresh.train_from_iterator(
        text_iterator,
        length=length,
        trainer=trainer_class(vocab_size=vocab_size, special_tokens=special, **trainer_kwargs),
    )
    if post is None:
        return fresh
    trained = json.loads(fresh.to_str())

    def token_id(token: str) -> int:
        index = fresh.token_to_id(token)
        if index is None:
            raise ValueError(f"The post-processor uses the token {token!r}, which the new vocabulary lacks.")
        return index

    for entry in (post.get("special_tokens") or {}).values():  # template special tokens get their new ids
        entry["tokens"] = [rename.get(t, t) for t in entry["tokens"]]
        entry["ids"] = [token_id(t) for t in entry["tokens"]]
    for key in ("cls", "sep"):  # BERT / RoBERTa processors
        if key in post:
            token = rename.get(post[key][0], post[key][0])
            post[key] = [token, token_id(token)]
    trained["post_processor"] = post
    return Tokenizer.from_str(json.dumps(trained))
