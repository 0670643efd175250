"""Stopping criteria: `criterion(input_ids (B, T), scores) -> (B,) bool`, True where a row is done.

`generate()` handles the maximum length and EOS tokens directly in its loop (no per-step tensor
allocations); these classes exist so users can pass and combine their own criteria, and for stop
strings, which need the tokenizer.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor

from ..utils import get_logger

logger = get_logger(__name__)


class StoppingCriteria:
    """Base class: `__call__(input_ids, scores) -> BoolTensor (B,)`."""

    def __call__(self, input_ids: Tensor, scores: Tensor | None, **kwargs: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(input_ids, scores)")


class MaxLengthCriteria(StoppingCriteria):
    """Done when the sequence (prompt included) has `max_length` tokens."""

    def __init__(self, max_length: int, max_position_embeddings: int | None = None):
        self.max_length = max_length
        self.max_position_embeddings = max_position_embeddings

    def __call__(self, input_ids: Tensor, scores: Tensor | None, **kwargs: Any) -> Tensor:
        done = input_ids.shape[1] >= self.max_length
        return torch.full((input_ids.shape[0],), done, device=input_ids.device, dtype=torch.bool)


class MaxTimeCriteria(StoppingCriteria):
    """Done once `max_time` seconds have passed since `initial_timestamp` (default: creation)."""

    def __init__(self, max_time: float, initial_timestamp: float | None = None):
        self.max_time = max_time
        self.initial_timestamp = time.time() if initial_timestamp is None else initial_timestamp

    def __call__(self, input_ids: Tensor, scores: Tensor | None, **kwargs: Any) -> Tensor:
        done = time.time() - self.initial_timestamp > self.max_time
        return torch.full((input_ids.shape[0],), done, device=input_ids.device, dtype=torch.bool)


class EosTokenCriteria(StoppingCriteria):
    """Done when the last token is one of `eos_token_id`."""

    def __init__(self, eos_token_id: int | list[int] | Tensor):
        if not isinstance(eos_token_id, Tensor):
            eos_token_id = torch.tensor(
                [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
            )
        self.eos_token_id = eos_token_id

    def __call__(self, input_ids: Tensor, scores: Tensor | None, **kwargs: Any) -> Tensor:
        return torch.isin(input_ids[:, -1], self.eos_token_id.to(input_ids.device))


class StopStringCriteria(StoppingCriteria):
    """Done when the generated text ends with a stop string, i.e. a stop string overlaps the LAST token.

    The check works on the text each token contributes (its "clean" string), so a stop string split
    across tokens ("st" + "op") or running into the last token ("sto" + "pper") is found, while one
    followed by further tokens ("stop" + "at") is not: it would have stopped one step earlier.
    """

    def __init__(self, tokenizer: Any, stop_strings: str | list[str]):
        if isinstance(stop_strings, str):
            stop_strings = [stop_strings]
        if not stop_strings or any(not isinstance(s, str) or not s for s in stop_strings):
            raise ValueError(
                f"`stop_strings` must be a non-empty string or list of non-empty strings, got {stop_strings!r}."
            )
        self.stop_strings = tuple(stop_strings)
        self.tokenizer = tokenizer
        # A stop string of n characters spans at most n tokens (every useful token has >= 1 character).
        self.window = max(len(s) for s in self.stop_strings)
        self._prefix_ids = list(tokenizer("abcdef", add_special_tokens=False)["input_ids"])
        self._prefix_text = tokenizer.decode(self._prefix_ids)
        self._strings: dict[int, str] = {}

    def token_string(self, token_id: int) -> str:
        """The text `token_id` adds when it follows other text (decoded after a fixed prefix, then cut)."""
        text = self._strings.get(token_id)
        if text is None:
            full = self.tokenizer.decode(self._prefix_ids + [token_id])
            cut = full.find(self._prefix_text)
            text = full[cut + len(self._prefix_text) :] if cut >= 0 else full
            self._strings[token_id] = text
        return text

    def __call__(self, input_ids: Tensor, scores: Tensor | None, **kwargs: Any) -> Tensor:
        done = []
        for row in input_ids[:, -self.window :].tolist():
            pieces = [self.token_string(t) for t in row]
            done.append(self._matches(pieces))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _matches(self, pieces: list[str]) -> bool:
        text = "".join(pieces)
        last_start = len(text) - len(pieces[-1])  # where the last token's text begins
        for stop in self.stop_strings:
            # An occurrence must end inside the last token: search the region that can hold one.
            start = max(0, last_start + 1 - len(stop))
            pos = text.find(stop, start)
            while pos != -1:
                end = pos + len(stop)
                if last_start < end:
                    return True
                pos = text.find(stop, pos + 1)
        return False


class StoppingCriteriaList(list):
    """Criteria OR-ed together."""

    def __call__(self, input_ids: Tensor, scores: Tensor | None, **kwargs: Any) -> Tensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for criterion in self:
            done = done | criterion(input_ids, scores, **kwargs)
        return done

    @property
    def max_length(self) -> int | None:
        return next((c.max_length for c in self if isinstance(c, MaxLengthCriteria)), None)


def build_stopping_criteria(
    config: Any,
    *,
    eos_token_ids: Tensor | None,
    tokenizer: Any = None,
    custom: list | None = None,
    max_position_embeddings: int | None = None,
) -> StoppingCriteriaList:
    """Max length, max time, stop strings and EOS, in the reference's order; custom ones replace same-type defaults."""
    criteria: list = []
    if config.max_length is not None:
        criteria.append(MaxLengthCriteria(config.max_length, max_position_embeddings))
    if config.max_time is not None:
        criteria.append(MaxTimeCriteria(config.max_time))
    if config.stop_strings is not None:
        if tokenizer is None:
            raise ValueError(
                "`stop_strings` needs the tokenizer to read the generated text: pass tokenizer=... to generate()."
            )
        criteria.append(StopStringCriteria(tokenizer, config.stop_strings))
    if eos_token_ids is not None:
        criteria.append(EosTokenCriteria(eos_token_ids))
    custom = list(custom or [])
    merged = [next((c for c in custom if type(c) is type(d)), d) for d in criteria]
    merged += [c for c in custom if all(c is not m for m in merged)]
    return StoppingCriteriaList(merged)


__all__ = [
    "StoppingCriteria",
    "StoppingCriteriaList",
    "MaxLengthCriteria",
    "MaxTimeCriteria",
    "EosTokenCriteria",
    "StopStringCriteria",
    "build_stopping_criteria",
]
