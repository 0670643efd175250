"""text2text-generation, summarization and translation: a sequence-to-sequence model's generate().

>>> summarizer = pipeline("summarization", model="sshleifer/distilbart-cnn-12-6")
>>> summarizer(long_text, min_length=20, max_length=60)
[{'summary_text': ...}]
>>> translator = pipeline("translation", model="Helsinki-NLP/opus-mt-fr-en")
>>> translator("Ce cours est produit par Hugging Face.")
[{'translation_text': 'This course is produced by Hugging Face.'}]
>>> pipeline("translation_en_to_fr", model="t5-small")("How old are you?")
[{'translation_text': ...}]

Inputs, outputs and defaults are the reference's (transformers 4.57.6): beam search with 4 beams
and up to 256 new tokens unless the model's generation config says otherwise; T5's task prefixes
("summarize: ", "translate English to French: ") and settings come from
`config.task_specific_params[task]`. Encoder inputs are right-padded when batched.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from ..generation.config import GenerationConfig
from ..utils import get_logger
from .base import Pipeline

logger = get_logger(__name__)


class ReturnType(enum.Enum):
    TENSORS = 0
    TEXT = 1


# Used unless the model's generation config sets these (the reference's pipeline defaults).
DEFAULT_GENERATION = {"max_new_tokens": 256, "num_beams": 4}
_GENERATION_FIELDS = frozenset(GenerationConfig().__dict__) - {"transformers_version"}


class Text2TextGenerationPipeline(Pipeline):
    """Text -> `[{"generated_text": ...}]` (one dict per returned sequence)."""

    model_auto_class = "AutoModelForSeq2SeqLM"
    return_name = "generated"

    def __init__(self, model: Any, tokenizer: Any = None, task: str = "text2text-generation", **kwargs: Any):
        generation_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _GENERATION_FIELDS}
        super().__init__(model, tokenizer, task=task, **kwargs)
        if not getattr(self.model.config, "is_encoder_decoder", False):
            raise ValueError(
                f"{type(self).__name__} needs an encoder-decoder model (BART, Marian, T5...), got a "
                f"{type(self.model).__name__}. For decoder-only models use pipeline('text-generation')."
            )
        self.generation_config = self._pipeline_generation_config(generation_kwargs)

    def _pipeline_generation_config(self, generation_kwargs: dict[str, Any]) -> GenerationConfig:
        """Pipeline defaults < the model's generation config < pipeline arguments < task_specific_params."""
        from ..generation.decoding import _prepare_config

        config, unused = _prepare_config(
            self.model, GenerationConfig(**DEFAULT_GENERATION), True, generation_kwargs
        )
        if unused:
            raise TypeError(f"{type(self).__name__} got unexpected arguments: {', '.join(sorted(unused))}.")
        # A model that sets max_length (not max_new_tokens) keeps its own length, as in the reference.
        if config.max_new_tokens == DEFAULT_GENERATION["max_new_tokens"] and config.max_length not in (
            None,
            20,
        ):
            config.max_new_tokens = None
        model_config = self.model.config
        self.prefix = getattr(model_config, "prefix", None)
        task_params = (getattr(model_config, "task_specific_params", None) or {}).get(self.task)
        if task_params:  # T5: {"prefix": "summarize: ", "min_length": 30, ...}
            task_params = dict(task_params)  # (the reference pops "prefix" from the model's config itself)
            if "prefix" in task_params:
                self.prefix = task_params.pop("prefix")
            config.update(**task_params)
        pad = getattr(self.tokenizer, "pad_token_id", None)
        if pad is not None and config.pad_token_id is None:
            config.pad_token_id = pad
        return config

    # -- arguments -------------------------------------------------------------------------------
    def _sanitize_parameters(
        self,
        return_tensors: bool | None = None,
        return_text: bool | None = None,
        return_type: ReturnType | None = None,
        clean_up_tokenization_spaces: bool | None = None,
        truncation: Any = None,
        stop_sequence: str | None = None,
        **generate_kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        pre: dict[str, Any] = {}
        if truncation is not None:
            pre["truncation"] = truncation
        post: dict[str, Any] = {}
        if return_tensors is not None and return_type is None:
            return_type = ReturnType.TENSORS if return_tensors else ReturnType.TEXT
        if return_type is not None:
            post["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if stop_sequence is not None:
            ids = self.tokenizer.encode(stop_sequence, add_special_tokens=False)
            if len(ids) > 1:
                logger.warning(
                    "Stopping on a multiple token sequence is not supported; the first token of the stop sequence "
                    "is used as the end-of-sequence token."
                )
            generate_kwargs["eos_token_id"] = ids[0]
        return pre, generate_kwargs, post

    # -- the three steps -------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """One text -> a list with one dict per returned sequence; a list of texts -> a list of those
        (flattened to one dict per text when each text returns one sequence, as the reference)."""
        result = super().__call__(inputs, *args, **kwargs)
        if (
            isinstance(inputs, list)
            and all(isinstance(x, str) for x in inputs)
            and all(isinstance(r, list) and len(r) == 1 for r in result)
        ):
            return [r[0] for r in result]
        return result

    def preprocess(self, inputs: Any, truncation: Any = None, **_: Any) -> dict[str, Any]:
        text = (self.prefix or "") + self._require_text(inputs)
        return self._encode(text, truncation)

    def _encode(self, text: str, truncation: Any) -> dict[str, Any]:
        """Tokenize one input. Past the model's position table (BART, Marian) a text is truncated with
        a warning instead of crashing the encoder; T5 (relative positions) reads any length."""
        kwargs: dict[str, Any] = {"padding": False}
        if truncation is not None:
            kwargs["truncation"] = truncation
        if isinstance(getattr(self.model.config, "max_position_embeddings", None), int):
            encoded = self._tokenize_fitting(text, **kwargs)
        else:
            encoded = self.tokenizer(text, return_tensors="pt", **kwargs)
        if encoded["input_ids"].shape[-1] == 0:
            raise ValueError(
                f"{type(self).__name__} got a text that tokenizes to no tokens at all ({text!r:.60}); pass a "
                "non-empty text."
            )
        return {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask")}

    def check_inputs(self, input_length: int, min_length: int, max_length: int) -> None:
        """Warn about length settings that cannot give what was asked (the task classes override this)."""

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        in_b, input_length = model_inputs["input_ids"].shape
        self.check_inputs(
            input_length,
            generate_kwargs.get("min_length", self.generation_config.min_length),
            generate_kwargs.get("max_length", self.generation_config.max_length),
        )
        generate_kwargs.setdefault("generation_config", self.generation_config)
        output_ids = self.model.generate(**model_inputs, **generate_kwargs)
        # (batch, sequences per input, length)
        return {"output_ids": output_ids.reshape(in_b, output_ids.shape[0] // in_b, *output_ids.shape[1:])}

    def postprocess(
        self,
        model_outputs: dict[str, Any],
        return_type: ReturnType = ReturnType.TEXT,
        clean_up_tokenization_spaces: bool = False,
    ) -> list[dict[str, Any]]:
        records = []
        for output_ids in model_outputs["output_ids"][0]:
            if return_type == ReturnType.TENSORS:
                records.append({f"{self.return_name}_token_ids": output_ids})
            else:
                text = self.tokenizer.decode(
                    output_ids,
                    skip_special_tokens=True,
                    clean_up_tokenization_spaces=clean_up_tokenization_spaces,
                )
                records.append({f"{self.return_name}_text": text})
        return records


class SummarizationPipeline(Text2TextGenerationPipeline):
    """Long text -> `[{"summary_text": ...}]`; `min_length` / `max_length` bound the summary (in tokens)."""

    return_name = "summary"

    def __init__(self, model: Any, tokenizer: Any = None, task: str = "summarization", **kwargs: Any):
        super().__init__(model, tokenizer, task=task, **kwargs)

    def check_inputs(self, input_length: int, min_length: int, max_length: int) -> None:
        if max_length is not None and min_length is not None and max_length < min_length:
            logger.warning(
                f"Your min_length={min_length} must be inferior than your max_length={max_length}."
            )
        if max_length is not None and input_length < max_length:
            logger.warning(
                f"Your max_length is set to {max_length}, but your input_length is only {input_length}. Since this is "
                "a summarization task, where outputs shorter than the input are typically wanted, you might "
                f"consider decreasing max_length manually, e.g. summarizer('...', max_length={input_length // 2})"
            )


# Helsinki-NLP checkpoint names say their languages: opus-mt-SRC-TGT (groups such as ROMANCE or mul).
_OPUS_NAME = re.compile(r"opus-mt-(?:tc-big-)?([A-Za-z_]+)-([A-Za-z_]+)$")


class TranslationPipeline(Text2TextGenerationPipeline):
    """Text -> `[{"translation_text": ...}]`. The language pair comes from the task name
    (`translation_en_to_fr`) or `src_lang=` / `tgt_lang=`; T5 takes its prefix for that task from
    `task_specific_params`, multi-target Marian models get the `>>tgt<<` token they need."""

    return_name = "translation"

    def __init__(self, model: Any, tokenizer: Any = None, task: str = "translation", **kwargs: Any):
        super().__init__(model, tokenizer, task=task, **kwargs)
        pair = _task_pair(self.task)
        if pair is not None:
            self._check_pair(*pair)
            params = getattr(self.model.config, "task_specific_params", None) or {}
            translations = sorted(k for k in params if k.startswith("translation_"))
            if translations and self.task not in params:
                logger.warning(
                    f"The model has no settings (prefix) for {self.task!r}; it was trained for: "
                    f"{', '.join(translations)}. The output is probably not a translation."
                )

    def _sanitize_parameters(self, src_lang: str | None = None, tgt_lang: str | None = None, **kwargs: Any):
        pre, forward, post = super()._sanitize_parameters(**kwargs)
        if src_lang is not None:
            pre["src_lang"] = src_lang
        if tgt_lang is not None:
            pre["tgt_lang"] = tgt_lang
        if src_lang is None and tgt_lang is None:
            pair = _task_pair(kwargs.get("task", getattr(self, "task", "")))
            if pair is not None:
                pre["src_lang"], pre["tgt_lang"] = pair
        if src_lang is not None or tgt_lang is not None:
            self._check_pair(src_lang, tgt_lang)
        return pre, forward, post

    def check_inputs(self, input_length: int, min_length: int, max_length: int) -> None:
        if max_length is not None and input_length > 0.9 * max_length:
            logger.warning(
                f"Your input_length: {input_length} is bigger than 0.9 * max_length: {max_length}. You might consider "
                "increasing your max_length manually, e.g. translator('...', max_length=400)"
            )

    def preprocess(
        self,
        inputs: Any,
        truncation: Any = None,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        text = self._require_text(inputs)
        codes = getattr(self.tokenizer, "supported_language_codes", None) or []
        if tgt_lang and codes and not text.startswith(">>"):
            code = f">>{tgt_lang}<<"
            if code not in codes:
                raise ValueError(
                    f"This Marian model cannot translate into {tgt_lang!r}: its target-language tokens are "
                    f"{', '.join(codes)}. Pass tgt_lang= one of those languages."
                )
            text = f"{code} {text}"
        return self._encode((self.prefix or "") + text, truncation)

    def _model_pair(self) -> tuple[str | None, str | None]:
        """The (source, target) languages a Marian checkpoint declares (tokenizer settings or its name)."""
        if getattr(self.model.config, "model_type", None) != "marian":
            return None, None
        src = getattr(self.tokenizer, "source_lang", None)
        tgt = getattr(self.tokenizer, "target_lang", None)
        if src is None or tgt is None:
            names = [
                getattr(self.model.config, "name_or_path", ""),
                getattr(self.tokenizer, "name_or_path", ""),
            ]
            for name in names:
                match = _OPUS_NAME.search(str(name).rstrip("/").split("/")[-1])
                if match:
                    src, tgt = src or match.group(1), tgt or match.group(2)
                    break
        return src, tgt

    def _check_pair(self, src_lang: str | None, tgt_lang: str | None) -> None:
        model_src, model_tgt = self._model_pair()

        def conflicts(asked: str | None, declared: str | None) -> bool:
            # groups (ROMANCE, mul) and multi-target models accept any language of theirs
            if not asked or not declared or not declared.islower() or declared == "mul":
                return False
            return asked.lower() != declared and not declared.startswith(asked.lower())

        codes = getattr(self.tokenizer, "supported_language_codes", None) or []
        if conflicts(src_lang, model_src) or (not codes and conflicts(tgt_lang, model_tgt)):
            raise ValueError(
                f"{self.model.config.name_or_path or 'This Marian model'} translates {model_src} to {model_tgt}; it "
                f"cannot translate {src_lang or model_src} to {tgt_lang or model_tgt}. Use "
                f"'translation_{model_src}_to_{model_tgt}' or a checkpoint for that pair (e.g. "
                f"Helsinki-NLP/opus-mt-{src_lang or model_src}-{tgt_lang or model_tgt})."
            )


def _task_pair(task: str) -> tuple[str, str] | None:
    parts = (task or "").split("_")
    if len(parts) == 4 and parts[0] == "translation" and parts[2] == "to":
        return parts[1], parts[3]
    return None


__all__ = ["Text2TextGenerationPipeline", "SummarizationPipeline", "TranslationPipeline", "ReturnType"]
