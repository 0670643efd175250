"""text-generation: continue a prompt, or a chat, with a causal language model.

>>> generator = pipeline("text-generation", model="gpt2")
>>> generator("In this course, we will teach you how to", max_new_tokens=30, num_return_sequences=2)
[{'generated_text': 'In this course, we will teach you how to ...'}, {'generated_text': ...}]
>>> generator([{"role": "user", "content": "What is 2+2?"}], max_new_tokens=20)
[{'generated_text': [{'role': 'user', 'content': 'What is 2+2?'}, {'role': 'assistant', 'content': '4'}]}]

Inputs, outputs and defaults are the reference's: without generation parameters in the model's
files, the pipeline samples (`do_sample=True, temperature=0.7`) up to 256 new tokens. Batches are
left-padded whatever the tokenizer's `padding_side` (decoder-only models continue from the end).
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import types
from collections.abc import Iterator
from typing import Any

from ..generation.config import GenerationConfig
from ..outputs import ModelOutput
from .base import Pipeline


class ReturnType(enum.Enum):
    TENSORS = 0
    NEW_TEXT = 1
    FULL_TEXT = 2


class Chat:
    """A conversation (list of {"role", "content"} dicts) given as one pipeline input."""

    def __init__(self, messages: list[dict]):
        for message in messages:
            if not isinstance(message, dict) or not ("role" in message and "content" in message):
                raise ValueError(
                    "A chat must be a list of dicts with 'role' and 'content' keys, e.g. "
                    "[{'role': 'user', 'content': 'Hi!'}]; got an element " + repr(message)[:80]
                )
        self.messages = list(messages)


# Values the pipeline uses unless the model's generation config says otherwise (as the reference).
DEFAULT_GENERATION = {"max_new_tokens": 256, "do_sample": True, "temperature": 0.7}
_GENERATION_FIELDS = frozenset(GenerationConfig().__dict__) - {"transformers_version"}


class TextGenerationPipeline(Pipeline):
    """Prompt (or chat) -> `[{"generated_text": ...}]`, one dict per returned sequence."""

    model_auto_class = "AutoModelForCausalLM"

    def __init__(self, model: Any, tokenizer: Any = None, task: str = "text-generation", **kwargs: Any):
        generation_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _GENERATION_FIELDS}
        super().__init__(model, tokenizer, task=task, **kwargs)
        self.generation_config = self._pipeline_generation_config(generation_kwargs)
        if "prefix" not in self._preprocess_params and self.prefix:
            pre, fwd, _ = self._sanitize_parameters(prefix=self.prefix, **self._forward_params)
            self._preprocess_params = {**self._preprocess_params, **pre}
            self._forward_params = {**self._forward_params, **fwd}

    def _pipeline_generation_config(self, generation_kwargs: dict[str, Any]) -> GenerationConfig:
        """Pipeline defaults < the model's generation config < arguments given to the pipeline."""
        from ..generation.decoding import _prepare_config

        defaults = GenerationConfig(**DEFAULT_GENERATION)
        config, unused = _prepare_config(self.model, defaults, True, generation_kwargs)
        if unused:
            raise TypeError(f"TextGenerationPipeline got unexpected arguments: {', '.join(sorted(unused))}.")
        # A model that sets max_length (not max_new_tokens) keeps its own length, as in the reference.
        if config.max_new_tokens == DEFAULT_GENERATION["max_new_tokens"] and config.max_length not in (
            None,
            20,
        ):
            config.max_new_tokens = None
        model_config = self.model.config
        self.prefix = getattr(model_config, "prefix", None)
        task_params = (getattr(model_config, "task_specific_params", None) or {}).get(self.task)
        if task_params:  # legacy per-task settings of old checkpoints (GPT-2 has some)
            task_params = dict(task_params)
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
        return_full_text: bool | None = None,
        return_tensors: bool | None = None,
        return_text: bool | None = None,
        return_type: ReturnType | None = None,
        clean_up_tokenization_spaces: bool | None = None,
        prefix: str | None = None,
        handle_long_generation: str | None = None,
        stop_sequence: str | None = None,
        truncation: bool | None = None,
        max_length: int | None = None,
        continue_final_message: bool | None = None,
        skip_special_tokens: bool | None = None,
        tokenizer_encode_kwargs: dict | None = None,
        **generate_kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        pre: dict[str, Any] = {}
        add_special_tokens = False
        if "add_special_tokens" in generate_kwargs:
            add_special_tokens = pre["add_special_tokens"] = generate_kwargs.pop("add_special_tokens")
        if "padding" in generate_kwargs:
            pre["padding"] = generate_kwargs.pop("padding")
        if truncation is not None:
            pre["truncation"] = truncation
        if max_length is not None:  # both a tokenizer and a generate argument, as in the reference
            pre["max_length"] = max_length
            generate_kwargs["max_length"] = max_length
        if prefix is not None:
            pre["prefix"] = prefix
        if prefix:
            ids = self.tokenizer(prefix, padding=False, add_special_tokens=add_special_tokens)["input_ids"]
            generate_kwargs["prefix_length"] = len(ids)
        if handle_long_generation is not None:
            if handle_long_generation != "hole":
                raise ValueError(
                    f"{handle_long_generation!r} is not a valid value for `handle_long_generation`: use None or 'hole'."
                )
            pre["handle_long_generation"] = handle_long_generation
            for key in ("max_new_tokens", "max_length"):
                if key in generate_kwargs:
                    pre[key] = generate_kwargs[key]
        if continue_final_message is not None:
            pre["continue_final_message"] = continue_final_message
        if tokenizer_encode_kwargs is not None:
            pre["tokenizer_encode_kwargs"] = tokenizer_encode_kwargs

        if stop_sequence is not None:  # the reference stops at any token of the stop sequence
            generate_kwargs["eos_token_id"] = self.tokenizer.encode(stop_sequence, add_special_tokens=False)
        if generate_kwargs.get("stop_strings") is not None:
            generate_kwargs.setdefault("tokenizer", self.tokenizer)

        post: dict[str, Any] = {}
        if return_full_text is not None and return_type is None:
            if return_text is not None:
                raise ValueError("`return_text` is mutually exclusive with `return_full_text`")
            if return_tensors is not None:
                raise ValueError("`return_full_text` is mutually exclusive with `return_tensors`")
            return_type = ReturnType.FULL_TEXT if return_full_text else ReturnType.NEW_TEXT
        if return_tensors is not None and return_type is None:
            if return_text is not None:
                raise ValueError("`return_text` is mutually exclusive with `return_tensors`")
            return_type = ReturnType.TENSORS
        if return_type is not None:
            post["return_type"] = return_type
        if clean_up_tokenization_spaces is not None:
            post["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        if continue_final_message is not None:
            post["continue_final_message"] = continue_final_message
        if skip_special_tokens is not None:
            post["skip_special_tokens"] = skip_special_tokens
        return pre, generate_kwargs, post

    # -- inputs ----------------------------------------------------------------------------------
    def __call__(self, text_inputs: Any, **kwargs: Any) -> Any:
        """Complete a prompt, a list of prompts, a chat (list of message dicts) or a list of chats."""
        if isinstance(text_inputs, types.GeneratorType):
            first, text_inputs = _peek(text_inputs)
            if isinstance(first, (list, tuple)):
                return super().__call__((Chat(c) for c in text_inputs), **kwargs)
            return super().__call__(text_inputs, **kwargs)
        if isinstance(text_inputs, (list, tuple)) and text_inputs:
            first = text_inputs[0]
            if isinstance(first, dict):
                return super().__call__(Chat(list(text_inputs)), **kwargs)
            if isinstance(first, (list, tuple)):
                return super().__call__([Chat(c) for c in text_inputs], **kwargs)
            text_inputs = list(text_inputs)
        return super().__call__(text_inputs, **kwargs)

    def preprocess(
        self,
        prompt_text: Any,
        prefix: str = "",
        handle_long_generation: str | None = None,
        add_special_tokens: bool | None = None,
        truncation: bool | None = None,
        padding: Any = None,
        max_length: int | None = None,
        continue_final_message: bool | None = None,
        tokenizer_encode_kwargs: dict | None = None,
        max_new_tokens: int | None = None,
    ) -> dict[str, Any]:
        kwargs = {"add_special_tokens": add_special_tokens, "truncation": truncation, "padding": padding}
        kwargs["max_length"] = max_length
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        kwargs.update(tokenizer_encode_kwargs or {})
        if isinstance(prompt_text, Chat):
            kwargs.pop("add_special_tokens", None)
            if continue_final_message is None:  # a chat ending with the assistant is a prefill to continue
                continue_final_message = prompt_text.messages[-1]["role"] == "assistant"
            inputs = self.tokenizer.apply_chat_template(
                prompt_text.messages,
                add_generation_prompt=not continue_final_message,
                continue_final_message=continue_final_message,
                return_dict=True,
                return_tensors="pt",
                **kwargs,
            )
        else:
            prompt_text = self._require_text(prompt_text, "prompt")
            inputs = self.tokenizer(prefix + prompt_text, return_tensors="pt", **kwargs)
        inputs = dict(inputs)
        inputs.pop("token_type_ids", None)
        inputs["prompt_text"] = prompt_text
        if handle_long_generation == "hole":
            self._make_room(inputs, max_new_tokens, max_length)
        return inputs

    def _make_room(self, inputs: dict[str, Any], max_new_tokens: int | None, max_length: int | None) -> None:
        """`handle_long_generation="hole"`: drop the prompt's start so prompt + new tokens fit the model."""
        cur_len = inputs["input_ids"].shape[-1]
        new_tokens = max_new_tokens
        if new_tokens is None:
            new_tokens = (max_length or self.generation_config.max_length) - cur_len
            if new_tokens < 0:
                raise ValueError("We cannot infer how many new tokens are expected")
        limit = self.tokenizer.model_max_length
        if cur_len + new_tokens > limit:
            keep = limit - new_tokens
            if keep <= 0:
                raise ValueError(
                    "We cannot use `hole` to handle this generation the number of desired tokens exceeds the models "
                    "max length"
                )
            inputs["input_ids"] = inputs["input_ids"][:, -keep:]
            if "attention_mask" in inputs:
                inputs["attention_mask"] = inputs["attention_mask"][:, -keep:]

    # -- batching: always on the left ------------------------------------------------------------
    def collate(self, rows: list[dict[str, Any]]) -> Any:
        with _left_padding(self.tokenizer):
            return super().collate(rows)

    def uncollate(self, outputs: Any, b: int, lengths: list[int], padded_keys: set[str]) -> Any:
        with _left_padding(self.tokenizer):
            return super().uncollate(outputs, b, lengths, padded_keys)

    # -- model -----------------------------------------------------------------------------------
    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        input_ids = model_inputs["input_ids"]
        attention_mask = model_inputs.get("attention_mask")
        if input_ids.shape[1] == 0:  # an empty prompt: generate from the BOS token
            input_ids, attention_mask, in_b = None, None, 1
        else:
            in_b = input_ids.shape[0]
        prompt_text = model_inputs["prompt_text"]

        # A prefix makes the prompt longer: lengths given as totals grow with it (not persistently).
        prefix_length = generate_kwargs.pop("prefix_length", 0)
        config = generate_kwargs.get("generation_config")
        if prefix_length > 0:
            if "max_new_tokens" not in generate_kwargs and (config is None or config.max_new_tokens is None):
                generate_kwargs["max_length"] = (
                    generate_kwargs.get("max_length") or self.generation_config.max_length
                )
                generate_kwargs["max_length"] += prefix_length
            has_min_new = "min_new_tokens" in generate_kwargs or (
                config is not None and config.min_new_tokens is not None
            )
            if not has_min_new and "min_length" in generate_kwargs:
                generate_kwargs["min_length"] += prefix_length
        generate_kwargs.setdefault("generation_config", self.generation_config)

        output = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **generate_kwargs)
        extra: dict[str, Any] = {}
        if isinstance(output, ModelOutput):
            sequences = output.sequences
            extra = {k: v for k, v in output.items() if k not in ("sequences", "past_key_values")}
        else:
            sequences = output
        out_b = sequences.shape[0]
        sequences = sequences.reshape(in_b, out_b // in_b, *sequences.shape[1:])
        # Each row's own tokens: drop the left padding a batch added, so batched results equal single ones.
        if attention_mask is not None:
            pads = (attention_mask.shape[1] - attention_mask.sum(dim=1)).tolist()
            generated = [sequences[i, :, int(p) :] for i, p in enumerate(pads)]
        else:
            generated = [sequences[i] for i in range(in_b)]
        result = {"generated_sequence": generated, "input_ids": input_ids, "prompt_text": prompt_text}
        if extra:
            for key, value in extra.items():
                if hasattr(value, "shape") and value.shape[0] == out_b:
                    extra[key] = value.reshape(in_b, out_b // in_b, *value.shape[1:])
            result["additional_outputs"] = extra
        return result

    # -- outputs ---------------------------------------------------------------------------------
    def postprocess(
        self,
        model_outputs: dict[str, Any],
        return_type: ReturnType = ReturnType.FULL_TEXT,
        clean_up_tokenization_spaces: bool = True,
        continue_final_message: bool | None = None,
        skip_special_tokens: bool | None = None,
    ) -> list[dict[str, Any]]:
        generated = model_outputs["generated_sequence"]
        generated = generated[0] if isinstance(generated, list) else generated
        sequences = generated.tolist()  # (num_return_sequences, length)
        input_ids = model_outputs["input_ids"]
        prompt_text = model_outputs["prompt_text"]
        skip_special_tokens = True if skip_special_tokens is None else skip_special_tokens
        decode = dict(
            skip_special_tokens=skip_special_tokens, clean_up_tokenization_spaces=clean_up_tokenization_spaces
        )
        # The prompt is cut from the decoded text by its decoded length (it may not tokenize back the same).
        prompt_length = 0 if input_ids is None else len(self.tokenizer.decode(input_ids[0], **decode))
        records = []
        for sequence in sequences:
            if return_type == ReturnType.TENSORS:
                records.append({"generated_token_ids": sequence})
                continue
            new_text = self.tokenizer.decode(sequence, **decode)[prompt_length:]
            if return_type != ReturnType.FULL_TEXT:
                records.append({"generated_text": new_text})
            elif isinstance(prompt_text, Chat):
                records.append(
                    {"generated_text": _continue_chat(prompt_text, new_text, continue_final_message)}
                )
            else:
                records.append({"generated_text": prompt_text + new_text})
        return records


def _continue_chat(chat: Chat, new_text: str, continue_final_message: bool | None) -> list[dict]:
    """The conversation with the reply: a new assistant message, or the prefilled one extended."""
    if continue_final_message is None:
        continue_final_message = chat.messages[-1]["role"] == "assistant"
    if continue_final_message:
        last = chat.messages[-1]
        return chat.messages[:-1] + [{"role": last["role"], "content": last["content"] + new_text}]
    return chat.messages + [{"role": "assistant", "content": new_text}]


@contextlib.contextmanager
def _left_padding(tokenizer: Any) -> Iterator[None]:
    side = getattr(tokenizer, "padding_side", None)
    try:
        if side is not None:
            tokenizer.padding_side = "left"
        yield
    finally:
        if side is not None:
            tokenizer.padding_side = side


def _peek(generator: Iterator[Any]) -> tuple[Any, Iterator[Any]]:
    first = next(generator, None)
    return first, (generator if first is None else itertools.chain([first], generator))


__all__ = ["TextGenerationPipeline", "Chat", "ReturnType"]
