"""GGUF checkpoints (llama.cpp's format): config, weights and tokenizer from one file.

`from_pretrained(folder_or_id, gguf_file="model.Q4_K_M.gguf")` reads the file with the `gguf`
package (numpy only), and this module turns it into what the rest of the library expects:

- `load_gguf_config_dict`: the metadata (`llama.block_count`, ...) as a config.json-style dict;
- `load_gguf_state_dict`: tensors dequantized (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,
  Q5_K, Q6_K) with vectorised numpy, renamed to our checkpoint keys, with llama.cpp's
  rotary permutation of the Llama q/k projections undone;
- `load_gguf_tokenizer`: a `tokenizers.Tokenizer` (byte-level BPE, or SentencePiece-style BPE with
  byte fallback) from the vocabulary, merges and token types, with the chat template and the
  BOS/EOS flags as the file states them.

Supported architectures: llama (and Mistral/SmolLM files, which say "llama"), qwen2, gpt2.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .hub import resolve_file

SUPPORTED_ARCHITECTURES = ("llama", "mistral", "qwen2", "gpt2")


# ------------------------------------------------------------------------------------------------
# Reading the file
# ------------------------------------------------------------------------------------------------
_READERS: dict[tuple, tuple[Any, dict[str, Any]]] = {}


def _import_gguf():
    try:
        import gguf
    except ImportError:
        raise ImportError(
            "Loading a GGUF checkpoint needs the `gguf` package (numpy only): `pip install gguf` "
            "(or `pip install leanformers[gguf]`)."
        ) from None
    return gguf


def _open(path_or_repo: str | os.PathLike, gguf_file: str, **hub_kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """(GGUFReader, metadata dict) of the file; the last file read is kept (config, weights and
    tokenizer are read from the same file in a row, and parsing the vocabulary takes a while)."""
    gguf = _import_gguf()
    if os.path.isfile(os.fspath(path_or_repo)):  # a path to the file itself
        path = os.fspath(path_or_repo)
    else:
        path = resolve_file(path_or_repo, gguf_file, **hub_kwargs)
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size)
    if key not in _READERS:
        try:
            reader = gguf.GGUFReader(path)
        except (ValueError, OSError) as e:
            raise OSError(f"{path} is not a readable GGUF file ({e}). Download it again.") from None
        _READERS.clear()
        _READERS[key] = (reader, {name: _field_value(field) for name, field in reader.fields.items()})
    return _READERS[key]


def _field_value(field: Any) -> Any:
    """A metadata field as a Python value (str, int, float, bool or a list of them)."""
    from gguf import GGUFValueType

    kind = field.types[0]
    if kind == GGUFValueType.ARRAY:
        item = field.types[-1]
        if item == GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8", errors="replace") for i in field.data]
        return [_scalar(field.parts[i], item) for i in field.data]
    if kind == GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")
    return _scalar(field.parts[field.data[0]], kind)


def _scalar(part: np.ndarray, kind: Any) -> Any:
    from gguf import GGUFValueType

    value = part[0].item()
    if kind == GGUFValueType.BOOL:
        return bool(value)
    if kind in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(value)
    return int(value)


def _architecture(meta: dict[str, Any]) -> tuple[str, str]:
    """(the file's architecture key prefix, our model_type)."""
    arch = meta.get("general.architecture")
    model_type = arch
    # llama.cpp writes Mistral models as "llama"; the reference tells them apart by name.
    if arch == "llama" and "mistral" in str(meta.get("general.name", "")).lower():
        model_type = "mistral"
    if model_type not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"GGUF architecture {arch!r} is not supported. Supported: {', '.join(SUPPORTED_ARCHITECTURES)}."
        )
    return arch, model_type


# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------
_LLAMA_KEYS = {
    "context_length": "max_position_embeddings",
    "block_count": "num_hidden_layers",
    "feed_forward_length": "intermediate_size",
    "embedding_length": "hidden_size",
    "rope.freq_base": "rope_theta",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "attention.layer_norm_rms_epsilon": "rms_norm_eps",
    "vocab_size": "vocab_size",
}
_GPT2_KEYS = {
    "context_length": "n_positions",
    "block_count": "n_layer",
    "feed_forward_length": "n_inner",
    "embedding_length": "n_embd",
    "attention.head_count": "n_head",
    "attention.layer_norm_epsilon": "layer_norm_epsilon",
}
_TOKEN_ID_KEYS = {
    "tokenizer.ggml.bos_token_id": "bos_token_id",
    "tokenizer.ggml.eos_token_id": "eos_token_id",
    "tokenizer.ggml.unknown_token_id": "unk_token_id",
    "tokenizer.ggml.padding_token_id": "pad_token_id",
}


def config_dict_from_metadata(meta: dict[str, Any], tensor_names: list[str]) -> dict[str, Any]:
    arch, model_type = _architecture(meta)
    keys = _GPT2_KEYS if model_type == "gpt2" else dict(_LLAMA_KEYS)
    if arch == "llama":  # the reference reads the rotary dimension as head_dim for Llama files
        keys["rope.dimension_count"] = "head_dim"
    config: dict[str, Any] = {"model_type": model_type}
    for key, name in keys.items():
        if f"{arch}.{key}" in meta:
            config[name] = meta[f"{arch}.{key}"]
    for key, name in _TOKEN_ID_KEYS.items():
        if key in meta:
            config[name] = meta[key]
    if "vocab_size" not in config and "tokenizer.ggml.tokens" in meta:
        config["vocab_size"] = len(meta["tokenizer.ggml.tokens"])
    # No separate output matrix in the file: the head shares the token embeddings.
    config["tie_word_embeddings"] = "output.weight" not in tensor_names
    return config


def load_gguf_config_dict(
    path_or_repo: str | os.PathLike, gguf_file: str, **hub_kwargs: Any
) -> dict[str, Any]:
    """The config.json-equivalent dict (with `model_type`) described by a GGUF file's metadata."""
    reader, meta = _open(path_or_repo, gguf_file, **hub_kwargs)
    return config_dict_from_metadata(meta, [t.name for t in reader.tensors])


# ------------------------------------------------------------------------------------------------
# Dequantization: raw bytes (N blocks of `type_size`) -> float32 values, as ggml defines the blocks.
# Vectorised numpy (single-threaded, so it does not fight other work for cores); each formula does
# the float32 operations in the order ggml / gguf-py do, so the values are bit-identical.
# ------------------------------------------------------------------------------------------------
QK_K = 256  # elements of a K-quant super-block
_LOW_HIGH = np.array([0, 4], dtype=np.uint8)


def _f16(b: np.ndarray) -> np.ndarray:
    """(N, 2) little-endian bytes -> (N, 1) float32."""
    return np.ascontiguousarray(b).view(np.float16).astype(np.float32)


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """(N, 16) bytes -> (N, 32): the 16 low nibbles, then the 16 high ones (Q4_0/Q4_1/Q5 layout)."""
    return np.concatenate((qs & 0x0F, qs >> 4), axis=-1)


def _bits32(qh: np.ndarray) -> np.ndarray:
    """(N, 4) bytes of a little-endian uint32 -> (N, 32): bit j of the word."""
    return ((qh[:, :, None] >> np.arange(8, dtype=np.uint8)) & 1).reshape(-1, 32)


def _q8_0(b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(b[:, 2:]).view(np.int8).astype(np.float32) * _f16(b[:, :2])


def _q4_0(b: np.ndarray) -> np.ndarray:
    return _f16(b[:, :2]) * (_nibbles(b[:, 2:]).astype(np.int8) - np.int8(8)).astype(np.float32)


def _q4_1(b: np.ndarray) -> np.ndarray:
    return _f16(b[:, :2]) * _nibbles(b[:, 4:]).astype(np.float32) + _f16(b[:, 2:4])


def _q5_0(b: np.ndarray) -> np.ndarray:
    q = _nibbles(b[:, 6:]) | (_bits32(b[:, 2:6]) << np.uint8(4))
    return _f16(b[:, :2]) * (q.astype(np.int8) - np.int8(16)).astype(np.float32)


def _q5_1(b: np.ndarray) -> np.ndarray:
    q = _nibbles(b[:, 8:]) | (_bits32(b[:, 4:8]) << np.uint8(4))
    return _f16(b[:, :2]) * q.astype(np.float32) + _f16(b[:, 2:4])


def _k_scales(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 12 packed bytes of Q4_K/Q5_K -> 8 six-bit scales and 8 six-bit mins per super-block."""
    s = s.reshape(-1, 3, 4)
    d, m, md = s[:, 0], s[:, 1], s[:, 2]
    scales = np.concatenate((d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)), axis=-1)
    mins = np.concatenate((m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)), axis=-1)
    return scales.astype(np.float32), mins.astype(np.float32)


def _q4_k(b: np.ndarray) -> np.ndarray:
    n = b.shape[0]
    scales, mins = _k_scales(b[:, 4:16])
    d = (_f16(b[:, :2]) * scales)[:, :, None]  # (N, 8, 1): one scale and one min per 32 values
    dm = (_f16(b[:, 2:4]) * mins)[:, :, None]
    q = ((b[:, 16:].reshape(n, 4, 1, 32) >> _LOW_HIGH.reshape(1, 1, 2, 1)) & 0x0F).reshape(n, 8, 32)
    return (d * q.astype(np.float32) - dm).reshape(n, QK_K)


def _q5_k(b: np.ndarray) -> np.ndarray:
    n = b.shape[0]
    scales, mins = _k_scales(b[:, 4:16])
    d = (_f16(b[:, :2]) * scales)[:, :, None]
    dm = (_f16(b[:, 2:4]) * mins)[:, :, None]
    ql = ((b[:, 48:].reshape(n, 4, 1, 32) >> _LOW_HIGH.reshape(1, 1, 2, 1)) & 0x0F).reshape(n, 8, 32)
    qh = (b[:, 16:48].reshape(n, 1, 32) >> np.arange(8, dtype=np.uint8).reshape(1, 8, 1)) & 1
    return (d * (ql | (qh << np.uint8(4))).astype(np.float32) - dm).reshape(n, QK_K)


def _q6_k(b: np.ndarray) -> np.ndarray:
    n = b.shape[0]
    scales = np.ascontiguousarray(b[:, 192:208]).view(np.int8).astype(np.float32)
    d = (_f16(b[:, 208:210]) * scales).reshape(n, 16, 1)  # one scale per 16 values
    ql = ((b[:, :128].reshape(n, 2, 1, 64) >> _LOW_HIGH.reshape(1, 1, 2, 1)) & 0x0F).reshape(n, 8, 32)
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    qh = ((b[:, 128:192].reshape(n, 2, 1, 32) >> shifts) & 0x03).reshape(n, 8, 32)
    q = ((ql | (qh << np.uint8(4))).astype(np.int8) - np.int8(32)).reshape(n, 16, 16)
    return (d * q.astype(np.float32)).reshape(n, QK_K)


# type name -> (values per block, bytes per block, block decoder)
QUANT_TYPES: dict[str, tuple[int, int, Any]] = {
    "Q8_0": (32, 34, _q8_0),
    "Q4_0": (32, 18, _q4_0),
    "Q4_1": (32, 20, _q4_1),
    "Q5_0": (32, 22, _q5_0),
    "Q5_1": (32, 24, _q5_1),
    "Q4_K": (QK_K, 144, _q4_k),
    "Q5_K": (QK_K, 176, _q5_k),
    "Q6_K": (QK_K, 210, _q6_k),
}
FLOAT_TYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}


def dequantize(raw: np.ndarray, type_name: str, shape: tuple[int, ...] | None = None) -> Tensor:
    """Raw tensor data of a ggml type (any numpy view of its bytes) -> float32 torch tensor
    (reshaped to `shape` if given)."""
    raw = np.ascontiguousarray(raw).view(np.uint8).reshape(-1)
    if type_name == "BF16":  # the upper half of a float32
        values = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    elif type_name in FLOAT_TYPES:
        values = raw.view(FLOAT_TYPES[type_name]).astype(np.float32)  # copies: the file stays read-only
    elif type_name in QUANT_TYPES:
        _, type_size, decode = QUANT_TYPES[type_name]
        values = decode(raw.reshape(-1, type_size)).reshape(-1)
    else:
        supported = ", ".join([*FLOAT_TYPES, *QUANT_TYPES])
        raise NotImplementedError(
            f"GGUF tensor type {type_name} is not supported (supported: {supported}). "
            "Use a file quantized to one of those types."
        )
    values = torch.from_numpy(values)
    return values.reshape(shape) if shape is not None else values


# ------------------------------------------------------------------------------------------------
# Tensor names: llama.cpp's -> ours
# ------------------------------------------------------------------------------------------------
_LLAMA_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GPT2_NAMES = {
    "attn_norm": "ln_1",
    "ffn_norm": "ln_2",
    "attn_qkv": "attn.c_attn",
    "attn_output": "attn.c_proj",
    "ffn_up": "mlp.c_fc",
    "ffn_down": "mlp.c_proj",
}
_GPT2_TRANSPOSED = ("attn_qkv", "attn_output", "ffn_up", "ffn_down")  # Conv1D stores (in, out)


def our_name(gguf_name: str, model_type: str) -> str | None:
    """`blk.3.attn_q.weight` -> `model.layers.3.self_attn.q_proj.weight` (None: not a model weight)."""
    parts = gguf_name.split(".")
    if parts[0] == "blk":
        layer, kind, suffix = parts[1], parts[2], ".".join(parts[3:])
        if model_type == "gpt2":
            return f"transformer.h.{layer}.{_GPT2_NAMES[kind]}.{suffix}" if kind in _GPT2_NAMES else None
        return f"model.layers.{layer}.{_LLAMA_NAMES[kind]}.{suffix}" if kind in _LLAMA_NAMES else None
    top = {
        "gpt2": {
            "token_embd": "transformer.wte",
            "position_embd": "transformer.wpe",
            "output_norm": "transformer.ln_f",
            "output": "lm_head",
        },
    }.get(model_type, {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"})
    base = top.get(parts[0])
    return f"{base}.{'.'.join(parts[1:])}" if base else None  # e.g. rope_freqs: recomputed, not loaded


def _unpermute(w: Tensor, n_head: int) -> Tensor:
    """Undo llama.cpp's reordering of q/k rows (it interleaves the two rotary halves of each head)."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def _torch_dtype(dtype: Any) -> torch.dtype:
    """A floating dtype from a torch dtype or its name; anything else ("auto", None) -> float32."""
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype.removeprefix("torch."), None)
    return dtype if isinstance(dtype, torch.dtype) and dtype.is_floating_point else torch.float32


def load_gguf_state_dict(
    path_or_repo: str | os.PathLike, gguf_file: str, config: Any = None, dtype: Any = None, **hub_kwargs: Any
) -> dict[str, Tensor]:
    """Every weight of the file, dequantized and cast to `dtype` (default float32), under our key names."""
    reader, meta = _open(path_or_repo, gguf_file, **hub_kwargs)
    arch, model_type = _architecture(meta)
    dtype = _torch_dtype(dtype)
    heads = meta.get(f"{arch}.attention.head_count")
    kv_heads = meta.get(f"{arch}.attention.head_count_kv", heads)
    state_dict = {}
    for tensor in reader.tensors:
        name = our_name(tensor.name, model_type)
        if name is None:
            continue
        # ggml lists dimensions innermost first: (in, out) for a weight stored as (out, in).
        shape = tuple(int(x) for x in reversed(tensor.shape.tolist()))
        values = dequantize(tensor.data, tensor.tensor_type.name, shape)
        kind = tensor.name.split(".")[2] if tensor.name.startswith("blk.") else ""
        if arch == "llama" and kind in ("attn_q", "attn_k") and heads:
            values = _unpermute(values, heads if kind == "attn_q" else kv_heads)
        if model_type == "gpt2" and kind in _GPT2_TRANSPOSED and name.endswith(".weight"):
            values = values.t()
        state_dict[name] = values.to(dtype).contiguous()
    return state_dict


# ------------------------------------------------------------------------------------------------
# Tokenizer
# ------------------------------------------------------------------------------------------------
# llama.cpp's token types.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# Pre-tokenizer regexes that llama.cpp selects with `tokenizer.ggml.pre` (byte-level BPE files).
_LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_DIGITS_FIRST = ("smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva")
_LLAMA3_PRE = ("llama3", "llama-bpe", "llama-v3", "dbrx", "smaug-bpe", "falcon3")
_QWEN2_PRE = ("qwen2", "stablelm2", "deepseek-r1-qwen")


def _byte_level_pre_tokenizer(pre: str):
    """The pre-tokenizer llama.cpp applies for `tokenizer.ggml.pre` (GPT-2's regex by default)."""
    from tokenizers import Regex, pre_tokenizers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    if pre in _DIGITS_FIRST:  # every digit is its own word, then GPT-2's regex
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    for names, pattern in ((_LLAMA3_PRE, _LLAMA3_SPLIT), (_QWEN2_PRE, _QWEN2_SPLIT)):
        if pre in names:
            split = pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False)
            no_regex = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
            return pre_tokenizers.Sequence([split, no_regex])
    return byte_level


def _merges_from_scores(tokens: list[str], scores: list[float]) -> list[tuple[str, str]]:
    """SentencePiece files store scores, not merges: every split of a piece into two known pieces
    is a merge, ranked by the merged piece's score (as the reference builds them)."""
    score = dict(zip(tokens, scores))
    merges = []
    for piece, piece_score in score.items():
        local = [
            (piece[:i], piece[i:]) for i in range(1, len(piece)) if piece[:i] in score and piece[i:] in score
        ]
        local.sort(key=lambda lr: (score[lr[0]], score[lr[1]]), reverse=True)
        merges.extend((left, right, piece_score) for left, right in local)
    merges.sort(key=lambda m: m[2], reverse=True)
    return [(left, right) for left, right, _ in merges]


def _template(bos: str | None, eos: str | None, ids: dict[str, int]):
    """Post-processor adding BOS/EOS around each sequence (None when neither is added)."""
    from tokenizers import processors

    if bos is None and eos is None:
        return None
    first = " ".join(x for x in (f"{bos}:0" if bos else "", "$A:0", f"{eos}:0" if eos else "") if x)
    second = " ".join(x for x in (f"{bos}:1" if bos else "", "$B:1", f"{eos}:1" if eos else "") if x)
    special = [(t, ids[t]) for t in dict.fromkeys(x for x in (bos, eos) if x)]
    return processors.TemplateProcessing(single=first, pair=f"{first} {second}", special_tokens=special)


def build_gguf_tokenizer(meta: dict[str, Any]):
    """(tokenizers.Tokenizer, init kwargs of PreTrainedTokenizerFast) from GGUF tokenizer metadata."""
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE

    kind = meta.get("tokenizer.ggml.model")
    tokens: list[str] | None = meta.get("tokenizer.ggml.tokens")
    if kind not in ("gpt2", "llama") or not tokens:
        raise ValueError(
            f"GGUF tokenizer model {kind!r} is not supported: only byte-level BPE ('gpt2') and SentencePiece "
            "BPE ('llama') vocabularies can be rebuilt. Load the tokenizer from the original model's files."
        )
    types = meta.get("tokenizer.ggml.token_type") or [NORMAL] * len(tokens)
    vocab = {token: i for i, token in enumerate(tokens)}

    def token(key: str) -> str | None:
        i = meta.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[i] if i is not None and 0 <= i < len(tokens) else None

    bos, eos, unk, pad = token("bos"), token("eos"), token("unknown"), token("padding")
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
    if kind == "gpt2":  # byte-level BPE: GPT-2, SmolLM, Llama 3, Qwen2
        pre = meta.get("tokenizer.ggml.pre", "default")
        tokenizer = Tokenizer(BPE(vocab, merges, ignore_merges=pre in _LLAMA3_PRE))
        if pre in _QWEN2_PRE:
            tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = _byte_level_pre_tokenizer(pre)
        tokenizer.decoder = decoders.ByteLevel()
        add_bos = meta.get("tokenizer.ggml.add_bos_token", False)
        padding_side = "left" if meta.get("general.architecture") != "gpt2" else "right"
    else:  # SentencePiece BPE with byte fallback (Llama 1/2, Mistral)
        if not merges:
            merges = _merges_from_scores(tokens, meta.get("tokenizer.ggml.scores") or [0.0] * len(tokens))
        tokenizer = Tokenizer(BPE(vocab, merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
        prefix_space = meta.get("tokenizer.ggml.add_space_prefix", True)
        steps = [normalizers.Prepend("▁")] if prefix_space else []
        tokenizer.normalizer = normalizers.Sequence([*steps, normalizers.Replace(" ", "▁")])
        decode = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
        tokenizer.decoder = decoders.Sequence(decode + ([decoders.Strip(" ", 1, 0)] if prefix_space else []))
        add_bos = meta.get("tokenizer.ggml.add_bos_token", True)
        padding_side = "left"
    add_eos = meta.get("tokenizer.ggml.add_eos_token", False)

    # Control (and unknown) tokens are special; user-defined ones are matched whole but not special.
    tokenizer.add_special_tokens(
        [
            AddedToken(t, normalized=False, special=True)
            for t, k in zip(tokens, types)
            if k in (CONTROL, UNKNOWN)
        ]
    )
    user = [
        AddedToken(t, normalized=False, special=False) for t, k in zip(tokens, types) if k == USER_DEFINED
    ]
    if user:
        tokenizer.add_tokens(user)
    template = _template(bos if add_bos else None, eos if add_eos else None, vocab)
    if kind == "gpt2":
        byte_level = processors.ByteLevel(trim_offsets=False)
        tokenizer.post_processor = processors.Sequence([byte_level, template]) if template else byte_level
    elif template is not None:
        tokenizer.post_processor = template
    init = {
        "bos_token": bos,
        "eos_token": eos,
        "unk_token": unk,
        "pad_token": pad,
        "chat_template": meta.get("tokenizer.chat_template"),
        "add_bos_token": add_bos,
        "add_eos_token": add_eos,
        "padding_side": padding_side,
        "clean_up_tokenization_spaces": False,
    }
    context = next((v for k, v in meta.items() if k.endswith(".context_length")), None)
    if context:
        init["model_max_length"] = context
    return tokenizer, init


def load_gguf_tokenizer(path_or_repo: str | os.PathLike, gguf_file: str, **hub_kwargs: Any):
    """A `PreTrainedTokenizerFast` rebuilt from the GGUF vocabulary, merges, token types, special
    token ids, chat template and add_bos_token/add_eos_token flags, as the file states them."""
    from .tokenization import PreTrainedTokenizerFast

    _, meta = _open(path_or_repo, gguf_file, **hub_kwargs)
    tokenizer, init = build_gguf_tokenizer(meta)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, name_or_path=os.fspath(path_or_repo), **init)
