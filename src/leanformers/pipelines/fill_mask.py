"""fill-mask: the likeliest tokens for the mask token(s) of a text.

One mask -> a list of `top_k` dicts `{"score", "token", "token_str", "sequence"}`; several masks
-> one such list per mask (each mask scored independently, as the reference does).
`targets=` restricts the candidates; a target that is not one vocabulary entry is replaced by the
first token it tokenizes to (with a warning), as the reference does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..utils import get_logger
from .base import Pipeline, PipelineException

logger = get_logger(__name__)


class FillMaskPipeline(Pipeline):
    model_auto_class = "AutoModelForMaskedLM"
    padded_outputs = ("logits",)

    def _sanitize_parameters(
        self,
        top_k: int | None = None,
        targets: str | list[str] | None = None,
        tokenizer_kwargs: dict | None = None,
    ) -> tuple[dict, dict, dict]:
        if self.tokenizer.mask_token_id is None:
            raise PipelineException(
                "fill-mask",
                self.model.base_model_prefix,
                "The tokenizer does not define a mask token: fill-mask needs one.",
            )
        preprocess_params = {} if tokenizer_kwargs is None else {"tokenizer_kwargs": tokenizer_kwargs}
        postprocess_params: dict[str, Any] = {}
        if targets is not None:
            postprocess_params["target_ids"] = self.get_target_ids(targets)
        if top_k is not None:
            if not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer, got {top_k!r}.")
            postprocess_params["top_k"] = top_k
        return preprocess_params, {}, postprocess_params

    def get_target_ids(self, targets: str | list[str]) -> np.ndarray:
        """Vocabulary ids of the targets (unknown words -> their first token, with a warning)."""
        if isinstance(targets, str):
            targets = [targets]
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            id_ = vocab.get(target)
            if id_ is None:
                pieces = self.tokenizer(
                    target,
                    add_special_tokens=False,
                    return_attention_mask=False,
                    return_token_type_ids=False,
                    max_length=1,
                    truncation=True,
                )["input_ids"]
                if len(pieces) == 0:
                    logger.warning(
                        "The target %r is not in the model vocabulary and tokenizes to nothing; it is ignored.",
                        target,
                    )
                    continue
                id_ = pieces[0]
                logger.warning(
                    "The target %r is not in the model vocabulary; it is replaced by %r.",
                    target,
                    self.tokenizer.convert_ids_to_tokens(id_),
                )
            ids.append(id_)
        ids = list(set(ids))  # the reference's (set) order: it decides ties between equal scores
        if not ids:
            raise ValueError("targets= must name at least one usable target token.")
        return np.array(ids)

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Fill the mask token(s) of a text or of a list of texts."""
        outputs = super().__call__(inputs, **kwargs)
        if isinstance(inputs, list) and len(inputs) == 1:
            return outputs[0]  # the reference unwraps a one-text list
        return outputs

    def preprocess(
        self, inputs: Any, return_tensors: str | None = None, tokenizer_kwargs: dict | None = None
    ) -> dict:
        model_inputs = dict(self._tokenize_fitting(self._require_text(inputs), **(tokenizer_kwargs or {})))
        if not bool((model_inputs["input_ids"] == self.tokenizer.mask_token_id).any()):
            mask = self.tokenizer.mask_token
            raise PipelineException(
                "fill-mask",
                self.model.base_model_prefix,
                f"No mask_token ({mask}) found on the input: put {mask} where the missing word goes, e.g. "
                f"'Paris is the {mask} of France.'",
            )
        return model_inputs

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self.model(**model_inputs)
        return {"logits": outputs["logits"], "input_ids": model_inputs["input_ids"]}

    def postprocess(self, model_outputs: Any, top_k: int = 5, target_ids: np.ndarray | None = None) -> list:
        if target_ids is not None and target_ids.shape[0] < top_k:
            top_k = target_ids.shape[0]
        input_ids = model_outputs["input_ids"][0]
        masked_index = torch.nonzero(input_ids == self.tokenizer.mask_token_id, as_tuple=False).squeeze(-1)
        probs = model_outputs["logits"][0, masked_index, :].float().softmax(dim=-1)
        if target_ids is not None:
            probs = probs[..., torch.as_tensor(target_ids)]
        values, predictions = probs.topk(top_k)

        single_mask = values.shape[0] == 1
        base_tokens = input_ids.numpy()
        pad_id = self.tokenizer.pad_token_id
        result = []
        for i, (row_values, row_predictions) in enumerate(zip(values.tolist(), predictions.tolist())):
            row = []
            for score, p in zip(row_values, row_predictions):
                if target_ids is not None:
                    p = int(target_ids[p])
                tokens = base_tokens.copy()
                tokens[masked_index[i]] = p
                tokens = tokens[tokens != pad_id] if pad_id is not None else tokens
                sequence = self.tokenizer.decode(tokens.tolist(), skip_special_tokens=single_mask)
                row.append(
                    {
                        "score": score,
                        "token": p,
                        "token_str": self.tokenizer.decode([p]),
                        "sequence": sequence,
                    }
                )
            result.append(row)
        return result[0] if single_mask else result
