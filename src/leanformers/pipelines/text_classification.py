"""text-classification (alias sentiment-analysis): a label and a score per text or text pair.

Output formats follow the reference exactly, quirks included: without `top_k` the result for one
text is `[{"label", "score"}]` (the best label, in a list) and for a list of texts one dict per
text; with `top_k` (an int, or None for every label) each text gets a list of dicts, best first.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .base import Pipeline

_FUNCTIONS = ("softmax", "sigmoid", "none")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class TextClassificationPipeline(Pipeline):
    model_auto_class = "AutoModelForSequenceClassification"

    def _sanitize_parameters(
        self,
        return_all_scores: bool | None = None,
        function_to_apply: str | None = None,
        top_k: Any = "",
        **tokenizer_kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        postprocess_params: dict[str, Any] = {}
        if return_all_scores is None and hasattr(self.model.config, "return_all_scores"):
            return_all_scores = self.model.config.return_all_scores
        if isinstance(top_k, int) or top_k is None:
            postprocess_params["top_k"] = top_k
            postprocess_params["_legacy"] = False
        elif return_all_scores is not None:
            warnings.warn(
                "`return_all_scores` is deprecated: use top_k=None for every score, top_k=1 for the best one.",
                UserWarning,
                stacklevel=3,
            )
            postprocess_params["top_k"] = None if return_all_scores else 1
        if function_to_apply is not None:
            postprocess_params["function_to_apply"] = _function_name(function_to_apply)
        return tokenizer_kwargs, {}, postprocess_params

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Classify a text, a `{"text", "text_pair"}` dict, or a list of those."""
        result = super().__call__(inputs, **kwargs)
        if isinstance(inputs, str) and "top_k" not in kwargs:
            return [result]  # the reference's legacy shape for one text
        return result

    def preprocess(self, inputs: Any, **tokenizer_kwargs: Any) -> dict[str, Any]:
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"text", "text_pair"}
            if unknown or "text" not in inputs:
                raise ValueError(
                    f'A text pair is a dict {{"text": ..., "text_pair": ...}}; got keys {sorted(inputs)}.'
                )
            self._require_text(inputs["text"], "text")
            if inputs.get("text_pair") is not None:
                self._require_text(inputs["text_pair"], "text_pair")
            return dict(self._tokenize_fitting(**inputs, **tokenizer_kwargs))
        if (
            isinstance(inputs, list)
            and len(inputs) == 1
            and isinstance(inputs[0], list)
            and len(inputs[0]) == 2
        ):
            return dict(self._tokenize_fitting(text=inputs[0][0], text_pair=inputs[0][1], **tokenizer_kwargs))
        if isinstance(inputs, list):
            raise ValueError(
                'The pipeline received invalid inputs; to send a text pair, pass a dict {"text": "My text", '
                '"text_pair": "My pair"}.'
            )
        return dict(self._tokenize_fitting(self._require_text(inputs), **tokenizer_kwargs))

    def _forward(self, model_inputs: dict[str, Any]) -> Any:
        return self._call_model(model_inputs)

    def _default_function(self) -> str:
        config = self.model.config
        if config.problem_type == "regression":
            return "none"
        if config.problem_type == "multi_label_classification" or config.num_labels == 1:
            return "sigmoid"
        if config.problem_type == "single_label_classification" or config.num_labels > 1:
            return "softmax"
        return _function_name(getattr(config, "function_to_apply", "none"))

    def postprocess(
        self,
        model_outputs: Any,
        function_to_apply: str | None = None,
        top_k: int | None = 1,
        _legacy: bool = True,
    ) -> Any:
        function_to_apply = function_to_apply or self._default_function()
        logits = model_outputs["logits"][0].float().numpy()
        if function_to_apply == "sigmoid":
            scores = sigmoid(logits)
        elif function_to_apply == "softmax":
            scores = softmax(logits)
        else:
            scores = logits
        id2label = self.model.config.id2label
        if top_k == 1 and _legacy:
            return {"label": id2label[int(scores.argmax())], "score": scores.max().item()}
        results = [{"label": id2label[i], "score": score.item()} for i, score in enumerate(scores)]
        if not _legacy:
            results.sort(key=lambda x: x["score"], reverse=True)
            if top_k is not None:
                results = results[:top_k]
        return results


def _function_name(value: Any) -> str:
    name = str(getattr(value, "value", value)).lower()
    if name not in _FUNCTIONS:
        raise ValueError(f"function_to_apply={value!r} is not one of {', '.join(_FUNCTIONS)}.")
    return name
