"""`BatchEncoding`, what tokenizers return: a dict of model inputs with attribute access, tensor
conversion, and the token <-> word <-> character alignment of each `tokenizers.Encoding`."""

from __future__ import annotations

from collections import UserDict
from collections.abc import Mapping
from enum import Enum
from typing import Any, NamedTuple

from tokenizers import Encoding

from .utils import get_logger

logger = get_logger(__name__)

_INT_KEYS = {
    "input_ids",
    "token_type_ids",
    "attention_mask",
    "special_tokens_mask",
    "offset_mapping",
    "length",
    "overflow_to_sample_mapping",
    "labels",
}


class _Choice(str, Enum):
    @classmethod
    def coerce(cls, value: Any):
        try:
            return cls(value.value if isinstance(value, Enum) else value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a valid {cls.__name__}, please select one of {[m.value for m in cls]}"
            ) from None


class TensorType(_Choice):
    PYTORCH = "pt"
    NUMPY = "np"


class CharSpan(NamedTuple):
    start: int
    end: int


class TokenSpan(NamedTuple):
    start: int
    end: int


def _describe(value: Any, depth: int = 0) -> str:
    """`list[list[int]]`-style description of a value, for error messages."""
    if isinstance(value, (list, tuple)) and depth < 3:
        return f"{type(value).__name__}[{_describe(value[0], depth + 1) if value else ''}]"
    return type(value).__name__


def _to_py_obj(obj: Any) -> Any:
    """Tensors / arrays / numpy scalars -> Python ints and lists (only walks lists that need it)."""
    if isinstance(obj, (int, str)) or obj is None:
        return obj
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        if all(type(x) is int for x in obj):
            return list(obj)
        return [_to_py_obj(x) for x in obj]
    if isinstance(obj, Mapping):
        return {k: _to_py_obj(v) for k, v in obj.items()}
    return obj


def _as_tensor(key: str, value: Any, tensor_type: TensorType) -> Any:
    import numpy as np

    if tensor_type is TensorType.NUMPY:
        if (
            isinstance(value, (list, tuple))
            and value
            and isinstance(value[0], (list, tuple, np.ndarray))
            and len({len(v) for v in value}) > 1
        ):
            arr = np.empty(len(value), dtype=object)  # ragged: an array of arrays, as the reference
            arr[:] = [np.asarray(v) for v in value]
            return arr
        return np.asarray(value, dtype=np.int64 if _is_empty(value) else None)
    import torch

    if torch.is_tensor(value):
        return value
    if isinstance(value, (list, tuple)) and value and torch.is_tensor(value[0]):
        return torch.stack(list(value))
    # numpy builds the array ~6x faster than torch.tensor from nested lists; ints become int64 either way.
    arr = np.asarray(value, dtype=np.int64 if key in _INT_KEYS or _is_empty(value) else None)
    if arr.dtype.kind in "iub":
        return torch.from_numpy(arr)
    if arr.dtype == object:
        raise ValueError("ragged")
    return torch.tensor(value)  # floats: torch's default dtype, as the reference


def _is_empty(value: Any) -> bool:
    while isinstance(value, (list, tuple)):
        if not value:
            return True
        value = value[0]
    return False


class BatchEncoding(UserDict):
    """What a tokenizer returns: a dict (`input_ids`, `attention_mask`, ...) with attribute access and,
    for each sequence, the `tokenizers.Encoding` that maps tokens back to words and characters."""

    def __init__(
        self,
        data: dict | None = None,
        encoding: Encoding | list[Encoding] | None = None,
        tensor_type: str | TensorType | None = None,
        prepend_batch_axis: bool = False,
        n_sequences: int | None = None,
    ):
        self.data = {} if data is None else dict(data)  # UserDict.__init__ copies key by key, in Python
        if isinstance(encoding, Encoding):
            encoding = [encoding]
        self._encodings = encoding
        if n_sequences is None and encoding:
            n_sequences = encoding[0].n_sequences
        self._n_sequences = n_sequences
        self.convert_to_tensors(tensor_type=tensor_type, prepend_batch_axis=prepend_batch_axis)

    @property
    def n_sequences(self) -> int | None:
        return self._n_sequences

    @property
    def is_fast(self) -> bool:
        return self._encodings is not None

    @property
    def encodings(self) -> list[Encoding] | None:
        return self._encodings

    def __getitem__(self, item: int | str | slice) -> Any:
        if isinstance(item, str):
            return self.data[item]
        if self._encodings is not None:
            return self._encodings[item]
        if isinstance(item, slice):
            return {key: value[item] for key, value in self.data.items()}
        raise KeyError(
            "Invalid key. Only three types of key are available: (1) string, (2) integers for backend "
            "Encoding, and (3) slices for data subsetting."
        )

    def __getattr__(self, item: str) -> Any:
        try:
            return self.data[item]
        except KeyError:
            raise AttributeError(
                f"BatchEncoding has no attribute or key {item!r}; keys: {list(self.data)}"
            ) from None

    def __getstate__(self) -> dict:
        return {"data": self.data, "encodings": self._encodings}

    def __setstate__(self, state: dict) -> None:
        self.data = state.get("data", {})
        self._encodings = state.get("encodings")
        self._n_sequences = None

    # --------------------------------------------------------------- alignment (fast tokenizers only)
    def _encoding(self, batch_index: int, what: str) -> Encoding:
        if not self._encodings:
            raise ValueError(f"{what}() is not available when using Python based tokenizers")
        return self._encodings[batch_index]

    def _split(self, batch_or_index: int, index: int | None) -> tuple[int, int]:
        return (batch_or_index, index) if index is not None else (0, batch_or_index)

    def tokens(self, batch_index: int = 0) -> list[str]:
        return self._encoding(batch_index, "tokens").tokens

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        return self._encoding(batch_index, "sequence_ids").sequence_ids

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        return self._encoding(batch_index, "word_ids").word_ids

    def words(self, batch_index: int = 0) -> list[int | None]:
        return self.word_ids(batch_index)

    def token_to_sequence(self, batch_or_token_index: int, token_index: int | None = None) -> int:
        b, t = self._split(batch_or_token_index, token_index)
        enc = self._encoding(b, "token_to_sequence")
        return enc.token_to_sequence(t if t >= 0 else len(enc) + t)

    def token_to_word(self, batch_or_token_index: int, token_index: int | None = None) -> int:
        b, t = self._split(batch_or_token_index, token_index)
        enc = self._encoding(b, "token_to_word")
        return enc.token_to_word(t if t >= 0 else len(enc) + t)

    def word_to_tokens(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> TokenSpan | None:
        b, w = self._split(batch_or_word_index, word_index)
        span = self._encoding(b, "word_to_tokens").word_to_tokens(w, sequence_index)
        return TokenSpan(*span) if span is not None else None

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None) -> CharSpan | None:
        b, t = self._split(batch_or_token_index, token_index)
        span = self._encoding(b, "token_to_chars").token_to_chars(t)
        return CharSpan(*span) if span is not None else None

    def char_to_token(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        b, c = self._split(batch_or_char_index, char_index)
        return self._encoding(b, "char_to_token").char_to_token(c, sequence_index)

    def word_to_chars(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> CharSpan:
        b, w = self._split(batch_or_word_index, word_index)
        return CharSpan(*self._encoding(b, "word_to_chars").word_to_chars(w, sequence_index))

    def char_to_word(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int:
        b, c = self._split(batch_or_char_index, char_index)
        return self._encoding(b, "char_to_word").char_to_word(c, sequence_index)

    # ------------------------------------------------------------------------------------- tensors
    def convert_to_tensors(
        self, tensor_type: str | TensorType | None = None, prepend_batch_axis: bool = False
    ) -> BatchEncoding:
        """Turn the lists into `torch.Tensor` ("pt") or `np.ndarray` ("np") in place."""
        if tensor_type is None:
            return self
        tensor_type = TensorType.coerce(tensor_type)
        for key, value in self.data.items():
            if prepend_batch_axis:
                value = [value]
            try:
                self.data[key] = _as_tensor(key, value, tensor_type)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"Unable to create tensor from `{key}`: the sequences have different lengths "
                    f"({_describe(value)}). Pass padding=True (and truncation=True) to get batched tensors of "
                    "the same length, or return_tensors=None to get lists."
                ) from e
        return self

    def to(self, device: Any, *, non_blocking: bool = False) -> BatchEncoding:
        """Move every tensor to `device` (PyTorch only); returns self."""
        import torch

        if isinstance(device, (str, int, torch.device)):
            self.data = {
                k: v.to(device=device, non_blocking=non_blocking) if hasattr(v, "to") else v
                for k, v in self.data.items()
            }
        else:
            logger.warning(f"Attempting to cast a BatchEncoding to type {device}. This is not supported.")
        return self
