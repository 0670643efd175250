"""`Pipeline`: the base every task builds on: inputs in, batching, device, dtype, progress bar.

A call runs three steps per input, and each is a public method you can call yourself (the course
does): `pipe.preprocess(inputs)` -> `pipe.forward(model_inputs)` -> `pipe.postprocess(model_outputs)`.

How a task plugs in
-------------------
Subclass `Pipeline` (or `ChunkPipeline` when one input becomes several model rows) and define:

- `model_auto_class = "AutoModelForSequenceClassification"`: the name of the Auto class in
  `leanformers.auto` that `pipeline()` loads a checkpoint with for this task.
- `_sanitize_parameters(self, **kwargs) -> (preprocess_params, forward_params, postprocess_params)`:
  routes the keyword arguments given to `__init__` or `__call__` to the three steps. Fill a dict
  only with what the caller passed, so the defaults stay in the step signatures. It is called
  once at construction and once per call; call-time values override construction-time ones.
- `preprocess(self, inputs, **preprocess_params) -> dict`: one input -> the model inputs of one
  row: tensors of batch size 1 (`input_ids` of shape (1, T), ...) plus any Python values that
  `postprocess` needs (strings, offsets, `tokenizers.Encoding` objects). A `ChunkPipeline`'s
  `preprocess` returns or yields several such dicts (question-answering windows, zero-shot
  hypotheses) and its `postprocess` receives the list of their outputs, in order.
- `_forward(self, model_inputs, **forward_params) -> dict | ModelOutput`: runs the model. Called
  through `forward()`, which adds `torch.inference_mode()` and moves tensors to `self.device` and
  the outputs back to the CPU. Pass through whatever `postprocess` needs from the inputs.
- `postprocess(self, model_outputs, **postprocess_params)`: the row's outputs -> the result for
  one input (Python lists, dicts, floats: the reference library's formats).
- `__call__` only when the task takes extra positional arguments (QA's question/context,
  zero-shot's labels); normalise them and call `super().__call__(inputs, **kwargs)`.

Generative tasks (text-generation, summarization, translation, ...) subclass the same way; they
typically set `padded_outputs = ()` (generated ids are not input-length) and rely on the
tokenizer's `padding_side` ("left" for decoder-only models) which `collate` follows.

How batching works
------------------
`pipe(inputs, batch_size=N)` (or `pipeline(..., batch_size=N)`): `inputs` is one item (a
string, a dict, ...: the result is one result), a list or a `datasets` column (the result is a
list, in input order), or a generator / iterator / `KeyDataset` (the result is a generator,
lazily, in input order). With N > 1 the inputs are taken in windows of `N * sort_window`
items; every row of a window is preprocessed, rows are sorted by token length (longest first),
cut into batches of N, padded per batch (`collate`: `input_ids` with the tokenizer's pad id,
masks with 0, `special_tokens_mask`/`p_mask` with 1, on the tokenizer's `padding_side`), run
through `forward`, split back into rows (`uncollate`), trimmed back to each row's own length,
postprocessed, and returned in input order. Trimming covers every padded input tensor that
`_forward` passes through, plus the output keys a subclass names in `padded_outputs` (those
whose dim 1 is the input length, like token logits). Because every row is trimmed and attention
masks hide the padding, batch_size 1 and N give the same results (to float rounding).
"""

from __future__ import annotations

import collections.abc
import itertools
import os
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..outputs import ModelOutput
from ..utils import get_logger

logger = get_logger(__name__)

# Tokens a model can take at most when neither the tokenizer nor the config says (the reference's
# "no limit" model_max_length is 1e30).
_NO_LIMIT = int(1e9)


class PipelineException(ValueError):
    """An input the task cannot handle (no mask token, ...); the message names the fix."""

    def __init__(self, task: str, model: str, reason: str):
        super().__init__(reason)
        self.task = task
        self.model = model


class KeyDataset:
    """Feed one column of a dataset to a pipeline: `pipe(KeyDataset(ds, "text"))` (a lazy result)."""

    def __init__(self, dataset: Any, key: str):
        self.dataset = dataset
        self.key = key

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i][self.key]


class KeyPairDataset:
    """Text pairs from two columns: each item is `{"text": ds[i][key1], "text_pair": ds[i][key2]}`."""

    def __init__(self, dataset: Any, key1: str, key2: str):
        self.dataset = dataset
        self.key1 = key1
        self.key2 = key2

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"text": self.dataset[i][self.key1], "text_pair": self.dataset[i][self.key2]}


def resolve_pipeline_device(device: Any, model: torch.nn.Module | None = None) -> torch.device:
    """`None` -> where the model already is, else the first GPU if there is one, else the CPU;
    `-1` -> CPU; `0`, `1`, ... -> that GPU; strings and torch devices as given."""
    if device is None:
        current = _module_device(model)
        if current is not None and current.type != "cpu":
            return current
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        return torch.device(device)
    if isinstance(device, int):
        if device < 0:
            return torch.device("cpu")
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device} asks for GPU {device}, but no CUDA device is available. Use device='cpu'."
            )
        return torch.device("cuda", device)
    raise TypeError(f"device must be an int, a string or a torch.device, got {type(device).__name__}.")


def _module_device(model: Any) -> torch.device | None:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
    return None


def _to_device(obj: Any, device: torch.device) -> Any:
    """Move every tensor inside dicts / lists / tuples / model outputs to `device`."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, ModelOutput):
        return type(obj)(**{k: _to_device(v, device) for k, v in obj.items()})
    if isinstance(obj, collections.abc.Mapping):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and obj and any(isinstance(v, Tensor) for v in obj):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _is_datasets_column(inputs: Any) -> bool:
    return (
        type(inputs).__module__.startswith("datasets")
        and hasattr(inputs, "__len__")
        and not hasattr(inputs, "column_names")
    )


class Pipeline:
    """Base class of every task pipeline; see the module docstring for how a task plugs in.

    >>> pipe = pipeline("text-classification", model=folder)
    >>> pipe(["I love it", "I hate it"], batch_size=2)
    [{'label': 'POSITIVE', 'score': 0.99...}, {'label': 'NEGATIVE', 'score': 0.98...}]
    """

    model_auto_class: ClassVar[str] = "AutoModel"
    # Output keys of `_forward` whose dim 1 is the input length: trimmed back per row after batching.
    padded_outputs: ClassVar[tuple[str, ...]] = ()
    # Padding value of each input key (input_ids use the tokenizer's pad id; unnamed keys use 0).
    pad_values: ClassVar[dict[str, int]] = {
        "attention_mask": 0,
        "token_type_ids": 0,
        "special_tokens_mask": 1,
        "p_mask": 1,
    }
    # Rows are sorted by the length of this input.
    length_key: ClassVar[str] = "input_ids"
    # Batch size when neither the constructor nor the call names one.
    default_batch_size: ClassVar[int] = 1
    # Inputs per sorting window, in batches: larger windows sort better, hold more rows in memory.
    sort_window: ClassVar[int] = 64
    # A progress bar appears (on a terminal) for at least this many inputs.
    progress_min_inputs: ClassVar[int] = 64

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        task: str = "",
        device: Any = None,
        dtype: Any = None,
        batch_size: int | None = None,
        progress_bar: bool | None = None,
        num_workers: int | None = None,
        torch_dtype: Any = None,
        framework: str | None = None,
        binary_output: bool = False,
        **kwargs: Any,
    ):
        if framework not in (None, "pt"):
            raise ValueError(
                f"framework={framework!r}: leanformers runs PyTorch models only (framework='pt')."
            )
        self.task = task
        self.model = model
        self.tokenizer = tokenizer
        self.binary_output = binary_output
        self.device = resolve_pipeline_device(device, model)
        dtype = dtype if dtype is not None else torch_dtype
        if isinstance(model, torch.nn.Module):
            if dtype is not None and dtype != "auto":
                from ..modeling import resolve_dtype

                target = resolve_dtype(dtype)
                if getattr(model, "dtype", target) != target:
                    model.to(target)
            if _module_device(model) not in (None, self.device):
                model.to(self.device)
            model.eval()
        _check_batch_size(batch_size)
        self._batch_size = batch_size
        self._progress_bar = progress_bar
        self.call_count = 0
        self._preprocess_params, self._forward_params, self._postprocess_params = self._sanitize_parameters(
            **kwargs
        )

    # -- the three steps (subclasses implement them) -------------------------------------------
    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {', '.join(sorted(kwargs))}.")
        return {}, {}, {}

    def preprocess(self, inputs: Any, **preprocess_params: Any) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement preprocess")

    def _forward(self, model_inputs: dict[str, Any], **forward_params: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _forward")

    def postprocess(self, model_outputs: Any, **postprocess_params: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement postprocess")

    def forward(self, model_inputs: Any, **forward_params: Any) -> Any:
        """Run `_forward` without autograd on the pipeline's device; outputs come back on the CPU."""
        on_cpu = self.device.type == "cpu"
        with torch.inference_mode():
            if not on_cpu:
                model_inputs = _to_device(model_inputs, self.device)
            outputs = self._forward(model_inputs, **forward_params)
            if not on_cpu:
                outputs = _to_device(outputs, torch.device("cpu"))
        return outputs

    # -- conveniences ----------------------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype | None:
        return getattr(self.model, "dtype", None)

    @property
    def torch_dtype(self) -> torch.dtype | None:
        return self.dtype

    @property
    def max_length(self) -> int:
        """The most tokens one row may have: the tokenizer's `model_max_length`, capped by the
        model's position table (so a tokenizer that claims more than the model holds never crashes it)."""
        limit = self._tokenizer_limit()
        config = getattr(self.model, "config", None)
        positions = getattr(config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
                # RoBERTa numbers positions from pad_token_id + 1: two rows of the table are never used.
                positions -= (getattr(config, "pad_token_id", 1) or 0) + 1
            limit = min(limit, positions)
        return int(min(limit, _NO_LIMIT))

    def _call_model(self, model_inputs: dict[str, Any]) -> Any:
        """`self.model(**model_inputs)`, with `use_cache=False` for models that take it (nothing to decode)."""
        takes = self.__dict__.get("_takes_use_cache")
        if takes is None:
            import inspect

            takes = self.__dict__["_takes_use_cache"] = (
                "use_cache" in inspect.signature(self.model.forward).parameters
            )
        return self.model(**model_inputs, use_cache=False) if takes else self.model(**model_inputs)

    def _tokenize_fitting(self, *args: Any, **tokenizer_kwargs: Any) -> Any:
        """Tokenize to tensors; when the caller did not choose a truncation and the text is longer
        than the model can read, truncate to `max_length` (with a warning) instead of crashing."""
        truncate = tokenizer_kwargs.get("truncation") not in (None, False, "do_not_truncate")
        if truncate and "max_length" not in tokenizer_kwargs and self.max_length < self._tokenizer_limit():
            tokenizer_kwargs = {
                **tokenizer_kwargs,
                "max_length": self.max_length,
            }  # the model's limit is lower
        encoded = self.tokenizer(*args, return_tensors="pt", **tokenizer_kwargs)
        if not truncate and "max_length" not in tokenizer_kwargs:
            length = encoded[self.length_key].shape[-1]
            if length > self.max_length:
                logger.warning(
                    "An input of %d tokens is longer than the %d the model reads; it is truncated. Pass "
                    "truncation=True to silence this, or split the text.",
                    length,
                    self.max_length,
                )
                tokenizer_kwargs = {**tokenizer_kwargs, "truncation": True, "max_length": self.max_length}
                encoded = self.tokenizer(*args, return_tensors="pt", **tokenizer_kwargs)
        return encoded

    def _tokenizer_limit(self) -> int:
        return int(min(getattr(self.tokenizer, "model_max_length", None) or _NO_LIMIT, _NO_LIMIT))

    def _require_text(self, value: Any, what: str = "input") -> str:
        if not isinstance(value, str):
            if value is None:
                raise ValueError(
                    f"{type(self).__name__} got None as {what}; pass a string (or a list of strings)."
                )
            raise ValueError(
                f"{type(self).__name__} expects a string as {what}, got {type(value).__name__}: {value!r:.60}."
            )
        return value

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Save the model and the tokenizer into one folder, which `pipeline(task, model=folder)` loads."""
        self.model.save_pretrained(save_directory, **kwargs)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(save_directory)

    def __repr__(self) -> str:
        name = getattr(getattr(self.model, "config", None), "name_or_path", "") or type(self.model).__name__
        return f"{type(self).__name__}(task={self.task!r}, model={name!r}, device={str(self.device)!r})"

    # -- calling -----------------------------------------------------------------------------------
    def __call__(
        self,
        inputs: Any,
        *args: Any,
        batch_size: int | None = None,
        num_workers: int | None = None,
        progress_bar: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the pipeline on one input, a list (-> a list) or a generator / dataset (-> a generator)."""
        if args:
            raise TypeError(
                f"{type(self).__name__} got unexpected positional arguments {args!r:.80}; pass several inputs as a list."
            )
        preprocess_params, forward_params, postprocess_params = self._sanitize_parameters(**kwargs)
        params = (
            {**self._preprocess_params, **preprocess_params},
            {**self._forward_params, **forward_params},
            {**self._postprocess_params, **postprocess_params},
        )
        _check_batch_size(batch_size)
        batch_size = batch_size or self._batch_size or self.default_batch_size
        progress_bar = self._progress_bar if progress_bar is None else progress_bar
        self.call_count += 1

        if isinstance(inputs, list) or _is_datasets_column(inputs):
            return list(self._run(iter(inputs), len(inputs), batch_size, params, progress_bar))
        if isinstance(inputs, (types.GeneratorType, collections.abc.Iterator)):
            return self._run(inputs, None, batch_size, params, progress_bar)
        if (
            hasattr(inputs, "__len__")
            and hasattr(inputs, "__getitem__")
            and not isinstance(inputs, (str, bytes, dict, tuple, collections.abc.Mapping))
        ):  # a torch Dataset, a KeyDataset: indexed, lazily
            items = (inputs[i] for i in range(len(inputs)))
            return self._run(items, len(inputs), batch_size, params, progress_bar)
        if isinstance(self, ChunkPipeline) and batch_size > 1:
            return next(self._run(iter([inputs]), 1, batch_size, params, False))
        return self.run_single(inputs, *params)

    def run_single(
        self, inputs: Any, preprocess_params: dict, forward_params: dict, postprocess_params: dict
    ) -> Any:
        model_inputs = self.preprocess(inputs, **preprocess_params)
        model_outputs = self.forward(model_inputs, **forward_params)
        return self.postprocess(model_outputs, **postprocess_params)

    def _run(
        self,
        items: Iterator[Any],
        total: int | None,
        batch_size: int,
        params: tuple,
        progress_bar: bool | None,
    ) -> Iterator[Any]:
        bar = self._make_progress_bar(total, progress_bar)
        try:
            if batch_size == 1:
                for item in items:
                    yield self.run_single(item, *params)
                    bar.update()
                return
            window = batch_size * self.sort_window
            while True:
                chunk = list(itertools.islice(items, window))
                if not chunk:
                    return
                for result in self._run_window(chunk, batch_size, *params):
                    yield result
                    bar.update()
        finally:
            bar.close()

    def _rows_of(self, item: Any, preprocess_params: dict) -> list[dict[str, Any]]:
        return [self.preprocess(item, **preprocess_params)]

    def _postprocess_rows(self, outputs: list[Any], postprocess_params: dict) -> Any:
        return self.postprocess(outputs[0], **postprocess_params)

    def _run_window(
        self,
        items: list[Any],
        batch_size: int,
        preprocess_params: dict,
        forward_params: dict,
        postprocess_params: dict,
    ) -> Iterator[Any]:
        """Preprocess a window, run its rows longest-first in padded batches, yield results in input order."""
        rows: list[tuple[int, int, dict[str, Any]]] = []  # (input index, row index within the input, inputs)
        n_rows: list[int] = []
        for i, item in enumerate(items):
            item_rows = self._rows_of(item, preprocess_params)
            rows.extend((i, j, r) for j, r in enumerate(item_rows))
            n_rows.append(len(item_rows))
        order = sorted(range(len(rows)), key=lambda k: -self._row_length(rows[k][2]))
        pending: dict[int, list[Any]] = {i: [None] * n for i, n in enumerate(n_rows)}
        remaining = list(n_rows)
        results: dict[int, Any] = {}
        next_out = 0
        for i, n in enumerate(n_rows):  # inputs with no rows at all (nothing to run)
            if n == 0:
                results[i] = self._postprocess_rows([], postprocess_params)
        for start in range(0, len(order), batch_size):
            batch_rows = [rows[k] for k in order[start : start + batch_size]]
            batch, lengths, padded_keys = self.collate([r[2] for r in batch_rows])
            outputs = self.forward(batch, **forward_params)
            for b, (i, j, _) in enumerate(batch_rows):
                pending[i][j] = self.uncollate(outputs, b, lengths, padded_keys)
                remaining[i] -= 1
                if remaining[i] == 0:
                    results[i] = self._postprocess_rows(pending.pop(i), postprocess_params)
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1
        while next_out in results:
            yield results.pop(next_out)
            next_out += 1

    def _row_length(self, row: dict[str, Any]) -> int:
        value = row.get(self.length_key)
        return int(value.shape[-1]) if isinstance(value, Tensor) else 0

    # -- padding -----------------------------------------------------------------------------------
    def _pad_value(self, key: str) -> int:
        if key == "input_ids" or key == self.length_key:
            pad = getattr(self.tokenizer, "pad_token_id", None)
            if pad is None:
                raise ValueError(
                    "Batching needs a padding token, and this tokenizer has none. Set one "
                    "(`pipe.tokenizer.pad_token = pipe.tokenizer.eos_token`) or use batch_size=1."
                )
            return pad
        return self.pad_values.get(key, 0)

    def collate(self, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[int], set[str]]:
        """Stack rows into one batch, padding every (1, T, ...) tensor to the longest T.

        Returns the batch, each row's length and the names of the padded keys.
        """
        keys = list(rows[0].keys())
        for r in rows[1:]:
            if set(r.keys()) != set(keys):
                raise ValueError(
                    f"Cannot batch rows with different keys: {sorted(keys)} vs {sorted(r.keys())}."
                )
        lengths = [self._row_length(r) for r in rows]
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        batch: dict[str, Any] = {}
        padded: set[str] = set()
        for key in keys:
            values = [r[key] for r in rows]
            first = values[0]
            if not isinstance(first, Tensor) or first.dim() == 0:
                batch[key] = values
                continue
            if first.dim() == 1 or all(v.shape == first.shape for v in values):
                batch[key] = torch.cat([v if v.dim() > 0 else v[None] for v in values])
                continue
            longest = max(v.shape[1] for v in values)
            out = first.new_full(
                (sum(v.shape[0] for v in values), longest, *first.shape[2:]), self._pad_value(key)
            )
            for b, v in enumerate(values):
                if left:
                    out[b : b + 1, longest - v.shape[1] :] = v
                else:
                    out[b : b + 1, : v.shape[1]] = v
            batch[key] = out
            padded.add(key)
        return batch, lengths, padded

    def uncollate(self, outputs: Any, b: int, lengths: list[int], padded_keys: set[str]) -> Any:
        """Row `b` of a batch's outputs, as if it had run alone: batch dim 1, padding trimmed."""
        longest = max(lengths)
        length = lengths[b]
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        trim_keys = padded_keys | set(self.padded_outputs)

        def row(value: Any, trim: bool) -> Any:
            if isinstance(value, Tensor):
                if value.dim() == 0:
                    return value
                value = value[b : b + 1]
                if trim and length < longest and value.dim() >= 2 and value.shape[1] == longest:
                    value = value[:, longest - length :] if left else value[:, :length]
                return value
            if isinstance(value, tuple) and value and isinstance(value[0], Tensor):
                return tuple(row(v, trim) for v in value)
            if isinstance(value, list) and len(value) == len(lengths):
                return value[b]
            return value

        if isinstance(outputs, Tensor):
            return row(outputs, bool(self.padded_outputs))
        if isinstance(outputs, ModelOutput):
            return type(outputs)(**{k: row(v, k in trim_keys) for k, v in outputs.items()})
        if isinstance(outputs, collections.abc.Mapping):
            return {k: row(v, k in trim_keys) for k, v in outputs.items()}
        if isinstance(outputs, tuple):
            return tuple(row(v, bool(self.padded_outputs)) for v in outputs)
        raise TypeError(
            f"{type(self).__name__}._forward returned {type(outputs).__name__}; return a dict of tensors."
        )

    # -- progress --------------------------------------------------------------------------------
    def _make_progress_bar(self, total: int | None, progress_bar: bool | None) -> Any:
        show = progress_bar
        if show is None:
            show = total is not None and total >= self.progress_min_inputs and sys.stderr.isatty()
        if not show:
            return _NoBar()
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=self.task or type(self).__name__, unit="input", leave=False)


class ChunkPipeline(Pipeline):
    """A pipeline whose `preprocess` turns one input into several rows (a list or a generator of
    dicts), and whose `postprocess` receives the list of those rows' outputs, in order."""

    def run_single(
        self, inputs: Any, preprocess_params: dict, forward_params: dict, postprocess_params: dict
    ) -> Any:
        outputs = [
            self.forward(row, **forward_params) for row in self.preprocess(inputs, **preprocess_params)
        ]
        return self.postprocess(outputs, **postprocess_params)

    def _rows_of(self, item: Any, preprocess_params: dict) -> list[dict[str, Any]]:
        return list(self.preprocess(item, **preprocess_params))

    def _postprocess_rows(self, outputs: list[Any], postprocess_params: dict) -> Any:
        return self.postprocess(outputs, **postprocess_params)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _check_batch_size(batch_size: Any) -> None:
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")


def as_list(inputs: Any) -> list[Any] | None:
    """`inputs` as a list when it is a list-like of inputs (not a string or a dict), else None."""
    if isinstance(inputs, list):
        return inputs
    if isinstance(inputs, Iterable) and not isinstance(
        inputs, (str, bytes, dict, collections.abc.Mapping, tuple)
    ):
        return list(inputs)
    return None
