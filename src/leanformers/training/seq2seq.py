"""Seq2SeqTrainer: the Trainer whose evaluation can score generated text (`predict_with_generate`).

With `Seq2SeqTrainingArguments(predict_with_generate=True)`, evaluate()/predict() call
`model.generate(...)` on each batch and hand the generated token ids (padded to the generation
length with the pad id) to `compute_metrics` instead of logits, so BLEU/ROUGE can be computed.
"""

from __future__ import annotations

from typing import Any

import torch

from . import distributed as dist
from .trainer import Trainer


class Seq2SeqTrainer(Trainer):
    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
        **gen_kwargs: Any,
    ):
        """As Trainer.evaluate; `max_length`, `num_beams` and other generate() options apply to the generation."""
        self._gen_kwargs = self._generation_kwargs(gen_kwargs)
        return super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)

    def predict(
        self,
        test_dataset: Any,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "test",
        **gen_kwargs: Any,
    ):
        self._gen_kwargs = self._generation_kwargs(gen_kwargs)
        return super().predict(test_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)

    def _generation_kwargs(self, gen_kwargs: dict[str, Any]) -> dict[str, Any]:
        gen_kwargs = dict(gen_kwargs)
        args = self.args
        if gen_kwargs.get("max_length") is None and gen_kwargs.get("max_new_tokens") is None:
            if getattr(args, "generation_max_length", None) is not None:
                gen_kwargs["max_length"] = args.generation_max_length
        if gen_kwargs.get("num_beams") is None and getattr(args, "generation_num_beams", None) is not None:
            gen_kwargs["num_beams"] = args.generation_num_beams
        if getattr(args, "generation_config", None) is not None:
            gen_kwargs.setdefault("generation_config", args.generation_config)
        return {k: v for k, v in gen_kwargs.items() if v is not None}

    def prediction_step(
        self, model, inputs, prediction_loss_only: bool, ignore_keys: list[str] | None = None
    ):
        if not getattr(self.args, "predict_with_generate", False) or prediction_loss_only:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        has_labels = "labels" in inputs
        inputs = self._prepare_inputs(inputs)
        gen_kwargs = dict(getattr(self, "_gen_kwargs", None) or self._generation_kwargs({}))
        generation_inputs = {
            k: v
            for k, v in inputs.items()
            if k not in ("labels", "decoder_input_ids", "decoder_attention_mask")
        }
        unwrapped = dist.unwrap(model)
        with torch.no_grad():
            generated = unwrapped.generate(**generation_inputs, **gen_kwargs)
            loss = None
            if has_labels:
                with self.autocast():
                    outputs = unwrapped(**inputs)
                loss = (outputs["loss"] if hasattr(outputs, "keys") else outputs[0]).detach().mean()
        # As the reference: pad to the model's generation_config length so batches concatenate.
        config = getattr(unwrapped, "generation_config", None)
        labels = inputs["labels"] if has_labels else None
        generated, labels = (self._pad_to_generation_length(t, config) for t in (generated, labels))
        return loss, generated, labels

    def _pad_to_generation_length(self, tensor: torch.Tensor | None, config: Any) -> torch.Tensor | None:
        if tensor is None or config is None:
            return tensor
        max_length, max_new = getattr(config, "max_length", None), getattr(config, "max_new_tokens", None)
        if max_length is not None and tensor.shape[-1] < max_length:
            return self._pad_to(tensor, max_length)
        if max_new is not None and tensor.shape[-1] < max_new + 1:
            return self._pad_to(tensor, max_new + 1)
        return tensor

    def _pad_to(self, tensor: torch.Tensor, length: int) -> torch.Tensor:
        pad_id = getattr(self.processing_class, "pad_token_id", None)
        if pad_id is None:
            pad_id = getattr(self.processing_class, "eos_token_id", None)
        if pad_id is None:
            pad_id = getattr(getattr(self.model, "config", None), "pad_token_id", None)
        if pad_id is None:
            raise ValueError(
                "Padding generated sequences needs a pad token id: set tokenizer.pad_token or config.pad_token_id."
            )
        out = tensor.new_full((tensor.shape[0], length), pad_id)
        out[:, : tensor.shape[-1]] = tensor
        return out
