"""Evaluation and prediction: run the model over a dataset, gather the outputs, score them.

Kept apart from the training loop; `Trainer` inherits these methods. Under torchrun every process
evaluates its shard; outputs are gathered in dataset order (the repeats that pad the last batches
so that every process has as many are dropped) and every process computes the same metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from . import distributed as dist
from .data import ShardedBatchSampler, batch_size_of


class EvalPrediction:
    """What `compute_metrics` receives; unpacks like the course does: `logits, labels = eval_preds`."""

    def __init__(self, predictions, label_ids, inputs=None, losses=None):
        self.predictions = predictions
        self.label_ids = label_ids
        self.inputs = inputs
        self.losses = losses
        # Unpacks to (predictions, label_ids), plus inputs / losses when include_for_metrics asks for them.
        self._items = (predictions, label_ids) + tuple(x for x in (inputs, losses) if x is not None)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, idx: int):
        return self._items[idx]

    def __len__(self) -> int:
        return len(self._items)


class PredictionOutput(NamedTuple):
    predictions: Any
    label_ids: Any
    metrics: dict[str, float] | None


class EvalLoopOutput(NamedTuple):
    predictions: Any
    label_ids: Any
    metrics: dict[str, float]
    num_samples: int


def speed_metrics(
    split: str, start_time: float, num_samples: int | None = None, num_steps: int | None = None
):
    runtime = time.time() - start_time
    out = {f"{split}_runtime": round(runtime, 4)}
    if runtime > 0 and num_samples is not None:
        out[f"{split}_samples_per_second"] = round(num_samples / runtime, 3)
    if runtime > 0 and num_steps is not None:
        out[f"{split}_steps_per_second"] = round(num_steps / runtime, 3)
    return out


class EvaluationMixin:
    """evaluate() / predict() of the Trainer (uses its args, model, callbacks, compute_loss and loaders)."""

    def evaluate(
        self, eval_dataset: Any = None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval"
    ):
        """Loss (and compute_metrics) on the eval dataset; keys prefixed `eval_`. A dict of datasets evaluates each."""
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if isinstance(dataset, dict):
            metrics = {}
            for name, data in dataset.items():
                metrics.update(self.evaluate(data, ignore_keys, f"{metric_key_prefix}_{name}"))
            return metrics
        loader = self.get_eval_dataloader(dataset)
        start = time.time()
        output = self.evaluation_loop(
            loader,
            "Evaluation",
            True if self.compute_metrics is None else None,
            ignore_keys,
            metric_key_prefix,
        )
        total_batch = self.args.eval_batch_size * self.args.world_size
        output.metrics.update(
            speed_metrics(
                metric_key_prefix, start, output.num_samples, math.ceil(output.num_samples / total_batch)
            )
        )
        self.log(output.metrics)
        self.control = self._event("on_evaluate", metrics=output.metrics)
        return output.metrics

    def predict(
        self, test_dataset: Any, ignore_keys: list[str] | None = None, metric_key_prefix: str = "test"
    ):
        """Predictions (numpy), label ids (if the dataset has labels) and metrics, keys prefixed `test_`."""
        loader = self.get_test_dataloader(test_dataset)
        start = time.time()
        output = self.evaluation_loop(loader, "Prediction", None, ignore_keys, metric_key_prefix)
        total_batch = self.args.eval_batch_size * self.args.world_size
        output.metrics.update(
            speed_metrics(
                metric_key_prefix, start, output.num_samples, math.ceil(output.num_samples / total_batch)
            )
        )
        self.control = self._event("on_predict", metrics=output.metrics)
        return PredictionOutput(output.predictions, output.label_ids, output.metrics)

    def evaluation_loop(
        self,
        dataloader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        """Run the model over `dataloader` (this process's shard), gather every process's outputs, score them."""
        args = self.args
        loss_only = prediction_loss_only if prediction_loss_only is not None else args.prediction_loss_only
        model = dist.unwrap(self.model)
        if not self.is_in_train and (args.bf16_full_eval or args.fp16_full_eval):
            model = model.to(dtype=torch.bfloat16 if args.bf16_full_eval else torch.float16)
        model.eval()
        self.callback_handler.eval_dataloader = dataloader
        sampler: ShardedBatchSampler = dataloader.batch_sampler
        n, bs = sampler.num_samples, sampler.batch_size
        pieces = []  # (global batch index, genuine examples, loss, logits, labels, inputs)
        for j, inputs in zip(sampler.batch_indices(), dataloader):
            genuine = batch_size_of(inputs)
            if args.world_size > 1:  # the last batches are padded with repeats so every process has as many
                genuine = max(0, min(bs, n - j * bs))
                if genuine == 0:
                    continue
                inputs = _first_rows(inputs, genuine)
            loss, logits, labels = self.prediction_step(model, inputs, loss_only, ignore_keys)
            if logits is not None and self.preprocess_logits_for_metrics is not None:
                logits = self.preprocess_logits_for_metrics(logits, labels)
            main = getattr(model, "main_input_name", "input_ids")
            kept_inputs = (
                inputs.get(main)
                if "inputs" in args.include_for_metrics and isinstance(inputs, Mapping)
                else None
            )
            pieces.append(
                (
                    j,
                    genuine,
                    None if loss is None else float(loss),
                    _numpy(logits),
                    _numpy(labels),
                    _numpy(kept_inputs),
                )
            )
            self.control = self._event("on_prediction_step")
        pieces = sorted(
            (p for rank_pieces in dist.gather_objects(pieces) for p in rank_pieces), key=lambda p: p[0]
        )

        def joined(k: int):
            arrays = [p[k] for p in pieces if p[k] is not None]
            return _concat_padded(arrays) if arrays else None

        preds, label_ids, kept = joined(3), joined(4), joined(5)
        losses = [(p[2], p[1]) for p in pieces if p[2] is not None]
        metrics: dict[str, Any] = {}
        if self.compute_metrics is not None and preds is not None and label_ids is not None:
            extra = {}
            if "inputs" in args.include_for_metrics:
                extra["inputs"] = kept
            if "loss" in args.include_for_metrics:
                extra["losses"] = np.array([loss for loss, _ in losses])
            metrics = dict(self.compute_metrics(EvalPrediction(preds, label_ids, **extra)) or {})
        metrics = {k: _plain(v) for k, v in metrics.items()}
        if losses:
            count = sum(c for _, c in losses)
            metrics[f"{metric_key_prefix}_loss"] = sum(loss * c for loss, c in losses) / max(count, 1)
        metrics = {
            k if k.startswith(f"{metric_key_prefix}_") else f"{metric_key_prefix}_{k}": v
            for k, v in metrics.items()
        }
        return EvalLoopOutput(preds, label_ids, metrics, n)

    def prediction_step(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ):
        """(loss, logits, labels) of one batch, without gradients."""
        has_labels = bool(self.label_names) and all(inputs.get(k) is not None for k in self.label_names)
        inputs = self._prepare_inputs(inputs)
        if ignore_keys is None:
            ignore_keys = getattr(getattr(model, "config", None), "keys_to_ignore_at_inference", None) or [
                "past_key_values"
            ]
        labels = None
        if has_labels:
            labels = tuple(inputs[k].detach() for k in self.label_names)
            labels = labels[0] if len(labels) == 1 else labels
        with torch.no_grad(), self.autocast():
            if has_labels:
                loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
                loss = loss.detach().mean()
                ignore = [*ignore_keys, "loss"]
            else:
                loss, outputs, ignore = None, model(**inputs), list(ignore_keys)
        if prediction_loss_only:
            return loss, None, None
        if hasattr(outputs, "keys"):
            logits = tuple(v for k, v in outputs.items() if k not in ignore and v is not None)
        elif isinstance(outputs, (tuple, list)):
            logits = tuple(outputs[1:] if has_labels else outputs)
        else:
            logits = (outputs,)
        logits = tuple(x.detach() if isinstance(x, torch.Tensor) else x for x in logits)
        return loss, (logits[0] if len(logits) == 1 else logits), labels


def _numpy(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return type(x)(_numpy(v) for v in x)
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype in (torch.bfloat16, torch.float16) else x).numpy()
    return x


def _first_rows(batch: Any, n: int) -> Any:
    if isinstance(batch, Mapping):
        return {k: _first_rows(v, n) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_first_rows(v, n) for v in batch)
    return batch[:n] if isinstance(batch, torch.Tensor) and batch.dim() else batch


def _concat_padded(arrays: list[Any]) -> Any:
    """Concatenate batches along dim 0, padding later dims with -100 where batches differ (token tasks)."""
    first = arrays[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_concat_padded([a[i] for a in arrays]) for i in range(len(first)))
    if not isinstance(first, np.ndarray) or first.ndim == 0:
        return np.array(arrays)
    if first.ndim == 1 or all(a.shape[1:] == first.shape[1:] for a in arrays):
        return np.concatenate(arrays, axis=0)
    shape = [sum(a.shape[0] for a in arrays)] + [
        max(a.shape[d] for a in arrays) for d in range(1, first.ndim)
    ]
    out = np.full(shape, -100, dtype=first.dtype)
    row = 0
    for a in arrays:
        out[(slice(row, row + a.shape[0]), *(slice(0, s) for s in a.shape[1:]))] = a
        row += a.shape[0]
    return out


def _plain(value: Any) -> Any:
    """numpy / 0-d tensor metrics -> Python numbers (JSON-serialisable)."""
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value
