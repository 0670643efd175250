"""feature-extraction: the model's last hidden state, one vector per token.

The result for one text is a nested list `[1][tokens][hidden]` (as the reference), or the tensor
itself with `return_tensors=True`. Pool it yourself for sentence embeddings (see
examples/sentence_similarity.py).

One deliberate difference from the reference: with batch_size > 1 the reference returns each text's
vectors padded to the longest text of its batch (pad-token vectors included); here every text
gets exactly its own tokens, whatever the batch size.
"""

from __future__ import annotations

from typing import Any

from .base import Pipeline


class FeatureExtractionPipeline(Pipeline):
    model_auto_class = "AutoModel"
    padded_outputs = ("last_hidden_state", "hidden_states")

    def _sanitize_parameters(
        self,
        truncation: bool | str | None = None,
        tokenize_kwargs: dict | None = None,
        return_tensors: bool | None = None,
    ) -> tuple[dict, dict, dict]:
        tokenize_kwargs = dict(tokenize_kwargs or {})
        if truncation is not None:
            if "truncation" in tokenize_kwargs:
                raise ValueError(
                    "truncation is given twice: as an argument and inside tokenize_kwargs. Keep one."
                )
            tokenize_kwargs["truncation"] = truncation
        postprocess_params = {} if return_tensors is None else {"return_tensors": return_tensors}
        return tokenize_kwargs, {}, postprocess_params

    def preprocess(self, inputs: Any, **tokenize_kwargs: Any) -> dict[str, Any]:
        if isinstance(inputs, dict):  # {"text": ..., "text_pair": ...}
            return dict(self._tokenize_fitting(**inputs, **tokenize_kwargs))
        return dict(self._tokenize_fitting(self._require_text(inputs), **tokenize_kwargs))

    def _forward(self, model_inputs: dict[str, Any]) -> Any:
        return self.model(**model_inputs)

    def postprocess(self, model_outputs: Any, return_tensors: bool = False) -> Any:
        hidden = model_outputs[0]
        return hidden if return_tensors else hidden.tolist()
