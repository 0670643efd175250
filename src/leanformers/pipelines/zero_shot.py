"""zero-shot-classification: score labels chosen at call time with a natural-language-inference model.

Each candidate label becomes a hypothesis ("This example is {label}.") paired with the text; the
NLI model's "entailment" logit of each pair scores the label. Single-label: softmax over the labels'
entailment logits. `multi_label=True` (or a single label): each label on its own, softmax of
entailment vs contradiction. The entailment id is read from `config.label2id` (the label starting
with "entail"). The pairs of one text run as one batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..utils import get_logger
from .base import ChunkPipeline

logger = get_logger(__name__)


def parse_labels(labels: Any) -> Any:
    """ "a, b,c" -> ["a", "b", "c"]; lists pass through."""
    if isinstance(labels, str):
        return [label.strip() for label in labels.split(",") if label.strip()]
    return labels


class ZeroShotClassificationPipeline(ChunkPipeline):
    model_auto_class = "AutoModelForSequenceClassification"
    default_batch_size = 8  # the hypotheses of one text are batched together

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.entailment_id == -1:
            logger.warning(
                "Failed to determine 'entailment' label id from the label2id mapping in the model config. Setting to "
                "-1. Define a descriptive label2id mapping in the model config to ensure correct outputs."
            )

    @property
    def entailment_id(self) -> int:
        for label, index in self.model.config.label2id.items():
            if label.lower().startswith("entail"):
                return index
        return -1

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        if kwargs.get("multi_class") is not None:
            logger.warning("multi_class is deprecated: use multi_label.")
            kwargs["multi_label"] = kwargs.pop("multi_class")
        unknown = set(kwargs) - {"candidate_labels", "hypothesis_template", "multi_label", "multi_class"}
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {', '.join(sorted(unknown))}.")
        preprocess_params = {}
        if "candidate_labels" in kwargs:
            preprocess_params["candidate_labels"] = parse_labels(kwargs["candidate_labels"])
        if "hypothesis_template" in kwargs:
            preprocess_params["hypothesis_template"] = kwargs["hypothesis_template"]
        postprocess_params = {}
        if "multi_label" in kwargs:
            postprocess_params["multi_label"] = kwargs["multi_label"]
        return preprocess_params, {}, postprocess_params

    def __call__(self, sequences: Any, *args: Any, **kwargs: Any) -> Any:
        """`classifier(text, candidate_labels=[...])` (labels may also come second, positionally)."""
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs["candidate_labels"] = args[0]
        elif args:
            raise ValueError(f"Unable to understand extra arguments {args}")
        return super().__call__(sequences, **kwargs)

    def preprocess(
        self,
        inputs: Any,
        candidate_labels: list[str] | None = None,
        hypothesis_template: str = "This example is {}.",
    ) -> list[dict[str, Any]]:
        sequence = self._require_text(inputs, "the text to classify")
        labels = parse_labels(candidate_labels)
        if not labels or len(sequence) == 0:
            raise ValueError(
                "You must include at least one label and at least one sequence: pass a non-empty text and "
                "candidate_labels=['label one', 'label two'] (or 'label one, label two')."
            )
        if hypothesis_template.format(labels[0]) == hypothesis_template:
            raise ValueError(
                f'The hypothesis_template "{hypothesis_template}" has no {{}} where the label should go, e.g. '
                '"This example is {}."'
            )
        rows = []
        for label in labels:
            pair = [[sequence, hypothesis_template.format(label)]]
            rows.append({"candidate_label": label, "sequence": sequence, **self._tokenize_pair(pair)})
        return rows

    def _tokenize_pair(self, pair: list[list[str]]) -> dict[str, Any]:
        if self.tokenizer.pad_token is None:
            logger.error(
                "The tokenizer has no padding token, which zero-shot needs; using pad_token=eos_token."
            )
            self.tokenizer.pad_token = self.tokenizer.eos_token
        kwargs: dict[str, Any] = {"return_tensors": "pt", "padding": True}
        if self.max_length < self._tokenizer_limit():
            kwargs["max_length"] = self.max_length
        try:
            return dict(self.tokenizer(pair, truncation="only_first", **kwargs))
        except Exception as e:  # the hypothesis alone is too long for "only_first" (as the reference)
            if "too short" not in str(e):
                raise
            return dict(self.tokenizer(pair, truncation=False, **kwargs))

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        model_inputs = {k: inputs[k] for k in self.tokenizer.model_input_names if k in inputs}
        outputs = self._call_model(model_inputs)
        return {
            "candidate_label": inputs["candidate_label"],
            "sequence": inputs["sequence"],
            "logits": outputs["logits"],
        }

    def postprocess(self, model_outputs: list[dict[str, Any]], multi_label: bool = False) -> dict[str, Any]:
        candidate_labels = [out["candidate_label"] for out in model_outputs]
        logits = np.concatenate([out["logits"].float().numpy() for out in model_outputs])
        n = len(candidate_labels)
        reshaped = logits.reshape((logits.shape[0] // n, n, -1))
        if multi_label or n == 1:
            entailment_id = self.entailment_id
            contradiction_id = -1 if entailment_id == 0 else 0
            entail_contr = reshaped[..., [contradiction_id, entailment_id]]
            scores = np.exp(entail_contr) / np.exp(entail_contr).sum(-1, keepdims=True)
            scores = scores[..., 1]
        else:
            entail = reshaped[..., self.entailment_id]
            scores = np.exp(entail) / np.exp(entail).sum(-1, keepdims=True)
        top = list(reversed(scores[0].argsort()))
        return {
            "sequence": model_outputs[0]["sequence"],
            "labels": [candidate_labels[i] for i in top],
            "scores": scores[0, top].tolist(),
        }
