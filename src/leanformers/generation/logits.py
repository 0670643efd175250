"""Logits processors: functions of (input_ids, scores) -> scores applied before picking the next token.

Each class is a small callable, in the reference's order and with its arithmetic (same ops in the
same order, so scores - and therefore greedy picks and sampled tokens - are identical).
`build_logits_processors` turns a `GenerationConfig` into the list `generate()` applies.

The first group ("processors") always runs; the second ("warpers": temperature, top-k, top-p,
min-p, typical, epsilon, eta) only when sampling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

NEG_INF = -float("inf")


class LogitsProcessor:
    """Base class: `__call__(input_ids (B, T), scores (B, V)) -> scores (B, V)`."""

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(input_ids, scores)")


LogitsWarper = LogitsProcessor  # old name


class LogitsProcessorList(list):
    """A list of processors applied in order."""

    def __call__(self, input_ids: Tensor, scores: Tensor, **kwargs: Any) -> Tensor:
        for processor in self:
            scores = processor(input_ids, scores, **kwargs) if kwargs else processor(input_ids, scores)
        return scores


def _id_tensor(ids: int | Sequence[int] | Tensor, device: Any = None) -> Tensor:
    if isinstance(ids, Tensor):
        return ids.to(device) if device is not None else ids
    return torch.tensor([ids] if isinstance(ids, int) else list(ids), device=device)


def _check_positive_int(name: str, value: Any, allow_zero: bool = False) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if allow_zero else 1):
        kind = "non-negative" if allow_zero else "strictly positive"
        raise ValueError(f"`{name}` has to be a {kind} integer, but is {value!r}.")


def _vocab_mask(scores: Tensor, token_ids: Tensor) -> Tensor:
    """(V,) bool mask of `token_ids` in the vocabulary of `scores`."""
    return torch.isin(torch.arange(scores.shape[-1], device=scores.device), token_ids.to(scores.device))


# ------------------------------------------------------------------------------------------------
# Processors (greedy, sampling and beam search)
# ------------------------------------------------------------------------------------------------
class RepetitionPenaltyLogitsProcessor(LogitsProcessor):
    """Divide positive (multiply negative) scores of tokens already in the sequence by `penalty` (CTRL paper)."""

    def __init__(self, penalty: float):
        if not isinstance(penalty, (int, float)) or not penalty > 0:
            raise ValueError(f"`repetition_penalty` has to be a strictly positive float, but is {penalty!r}.")
        self.penalty = float(penalty)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        seen = torch.gather(scores, 1, input_ids)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter(1, input_ids, seen)


class NoRepeatNGramLogitsProcessor(LogitsProcessor):
    """Forbid any n-gram of size `ngram_size` from appearing twice (fairseq's rule)."""

    def __init__(self, ngram_size: int):
        _check_positive_int("no_repeat_ngram_size", ngram_size)
        self.ngram_size = ngram_size

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        n, cur_len = self.ngram_size, input_ids.shape[-1]
        scores = scores.clone()
        if cur_len + 1 < n:
            return scores
        for row, tokens in enumerate(input_ids.tolist()):
            prefix = tokens[cur_len - n + 1 :]  # the n-1 last tokens
            banned = [tokens[i + n - 1] for i in range(cur_len - n + 1) if tokens[i : i + n - 1] == prefix]
            if banned:
                scores[row, banned] = NEG_INF
        return scores


class SequenceBiasLogitsProcessor(LogitsProcessor):
    """Add a bias to a token when it would complete a given token sequence.

    `sequence_bias` is `{(ids...): bias}` or `[[ids, bias], ...]`. A length-1 sequence biases the token always.
    """

    def __init__(self, sequence_bias: dict | list, name: str = "sequence_bias"):
        if isinstance(sequence_bias, list) and all(
            isinstance(s, (list, tuple)) and len(s) == 2 for s in sequence_bias
        ):
            if all(isinstance(s[0], list) for s in sequence_bias):
                sequence_bias = {tuple(ids): bias for ids, bias in sequence_bias}
        if not isinstance(sequence_bias, dict) or not sequence_bias:
            raise ValueError(
                f"`{name}` has to be a non-empty dict {{(token ids): bias}}, but is {sequence_bias!r}."
            )
        for ids, bias in sequence_bias.items():
            if not isinstance(ids, tuple) or not ids or any(not isinstance(t, int) or t < 0 for t in ids):
                raise ValueError(
                    f"Each key of `{name}` has to be a non-empty tuple of token ids >= 0, got {ids!r}."
                )
            if not isinstance(bias, float):
                raise ValueError(f"Each value of `{name}` has to be a float, got {bias!r} for {ids}.")
        self.sequence_bias = sequence_bias
        self.name = name
        self._single: Tensor | None = None

    def _prepare(self, scores: Tensor) -> None:
        vocab = scores.shape[-1]
        out_of_range = [t for ids in self.sequence_bias for t in ids if t >= vocab]
        if out_of_range:
            raise ValueError(
                f"The model vocabulary size is {vocab}, but `{self.name}` names tokens {out_of_range}."
            )
        self._single = torch.zeros(vocab, dtype=torch.float, device=scores.device)
        for ids, bias in self.sequence_bias.items():
            if len(ids) == 1:
                self._single[ids[0]] = bias

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if self._single is None:
            self._prepare(scores)
        bias = torch.zeros_like(scores) + self._single
        for ids, value in self.sequence_bias.items():
            if len(ids) == 1 or len(ids) > input_ids.shape[1]:
                continue
            prefix = torch.tensor(ids[:-1], dtype=input_ids.dtype, device=input_ids.device)
            matches = torch.eq(input_ids[:, -len(prefix) :], prefix).prod(dim=1).bool()
            bias[:, ids[-1]] += torch.where(matches, torch.tensor(value, device=scores.device), 0.0)
        return scores + bias


class NoBadWordsLogitsProcessor(SequenceBiasLogitsProcessor):
    """Forbid token sequences: `bad_words_ids=[[ids of word 1], [ids of word 2], ...]` (the EOS alone is never banned)."""

    def __init__(self, bad_words_ids: list[list[int]], eos_token_id: int | list[int] | Tensor | None = None):
        if not isinstance(bad_words_ids, list) or not bad_words_ids:
            raise ValueError(
                f"`bad_words_ids` has to be a non-empty list of lists of token ids, but is {bad_words_ids!r}."
            )
        if any(not isinstance(ids, list) for ids in bad_words_ids):
            raise ValueError(f"`bad_words_ids` has to be a list of lists, but is {bad_words_ids!r}.")
        if any(not isinstance(t, int) or t < 0 for ids in bad_words_ids for t in ids):
            raise ValueError(
                f"Each list in `bad_words_ids` has to hold token ids >= 0, but is {bad_words_ids!r}."
            )
        if eos_token_id is not None:
            eos = _id_tensor(eos_token_id).tolist()
            bad_words_ids = [ids for ids in bad_words_ids if all(ids != [e] for e in eos)]
        super().__init__({tuple(ids): NEG_INF for ids in bad_words_ids}, name="bad_words_ids")


class MinLengthLogitsProcessor(LogitsProcessor):
    """EOS impossible while the whole sequence (prompt included) is shorter than `min_length`."""

    def __init__(self, min_length: int, eos_token_id: int | list[int] | Tensor, device: Any = "cpu"):
        _check_positive_int("min_length", min_length, allow_zero=True)
        self.min_length = min_length
        self.eos_token_id = _id_tensor(eos_token_id, device)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if input_ids.shape[-1] < self.min_length:
            return torch.where(_vocab_mask(scores, self.eos_token_id), NEG_INF, scores)
        return scores.clone()


class MinNewTokensLengthLogitsProcessor(LogitsProcessor):
    """EOS impossible until `min_new_tokens` tokens follow the prompt."""

    def __init__(
        self, prompt_length_to_skip: int, min_new_tokens: int, eos_token_id: Any, device: Any = "cpu"
    ):
        _check_positive_int("prompt_length_to_skip", prompt_length_to_skip, allow_zero=True)
        _check_positive_int("min_new_tokens", min_new_tokens, allow_zero=True)
        self.prompt_length_to_skip = prompt_length_to_skip
        self.min_new_tokens = min_new_tokens
        self.eos_token_id = _id_tensor(eos_token_id, device)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if input_ids.shape[-1] - self.prompt_length_to_skip < self.min_new_tokens:
            return torch.where(_vocab_mask(scores, self.eos_token_id), NEG_INF, scores)
        return scores.clone()


class ForcedBOSTokenLogitsProcessor(LogitsProcessor):
    """The first generated token (after the decoder start token) is `bos_token_id` (mBART, BART-large-cnn)."""

    def __init__(self, bos_token_id: int):
        self.bos_token_id = bos_token_id

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if input_ids.shape[-1] != 1:
            return scores
        forced = torch.full_like(scores, -math.inf)
        forced[:, self.bos_token_id] = 0
        return forced


class ForcedEOSTokenLogitsProcessor(LogitsProcessor):
    """The last token before `max_length` is an EOS token."""

    def __init__(self, max_length: int, eos_token_id: int | list[int] | Tensor, device: Any = "cpu"):
        self.max_length = max_length
        self.eos_token_id = _id_tensor(eos_token_id, device)
        if torch.is_floating_point(self.eos_token_id) or (self.eos_token_id < 0).any():
            raise ValueError(f"`forced_eos_token_id` has to be token ids >= 0, but is {eos_token_id!r}.")

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if input_ids.shape[-1] != self.max_length - 1:
            return scores
        forced = torch.full_like(scores, -math.inf)
        forced[:, self.eos_token_id] = 0
        return forced


class InfNanRemoveLogitsProcessor(LogitsProcessor):
    """NaN -> 0, +-inf -> the dtype's largest/smallest finite value (`remove_invalid_values=True`)."""

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        out = torch.where(scores != scores, 0.0, scores)
        out = torch.where(scores == float("inf"), torch.finfo(scores.dtype).max, out)
        return torch.where(scores == -float("inf"), torch.finfo(scores.dtype).min, out)


class ExponentialDecayLengthPenalty(LogitsProcessor):
    """Raise EOS scores exponentially once `start` tokens are generated: (start, factor)."""

    def __init__(
        self,
        exponential_decay_length_penalty: tuple[int, float],
        eos_token_id: Any,
        input_ids_seq_length: int,
    ):
        self.regulation_start = exponential_decay_length_penalty[0] + input_ids_seq_length
        self.regulation_factor = exponential_decay_length_penalty[1]
        self.eos_token_id = _id_tensor(eos_token_id)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        cur_len = input_ids.shape[-1]
        if cur_len <= self.regulation_start:
            return scores
        eos = self.eos_token_id.to(scores.device)
        penalties = torch.zeros_like(scores)
        penalties[:, eos] = torch.abs(scores[:, eos]) * (
            pow(self.regulation_factor, cur_len - self.regulation_start) - 1
        )
        return scores + penalties


class SuppressTokensLogitsProcessor(LogitsProcessor):
    """Never generate `suppress_tokens`."""

    def __init__(self, suppress_tokens: Sequence[int], device: Any = "cpu"):
        self.suppress_tokens = torch.tensor(list(suppress_tokens), device=device)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        return torch.where(_vocab_mask(scores, self.suppress_tokens), NEG_INF, scores)


class SuppressTokensAtBeginLogitsProcessor(LogitsProcessor):
    """Do not generate `begin_suppress_tokens` as the first new token."""

    def __init__(self, begin_suppress_tokens: Sequence[int], begin_index: int, device: Any = "cpu"):
        self.begin_suppress_tokens = torch.tensor(list(begin_suppress_tokens), device=device)
        self.begin_index = begin_index

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if input_ids.shape[-1] == self.begin_index:
            return torch.where(_vocab_mask(scores, self.begin_suppress_tokens), NEG_INF, scores)
        return scores


class PrefixConstrainedLogitsProcessor(LogitsProcessor):
    """Only allow the tokens `prefix_allowed_tokens_fn(batch_id, input_ids_of_row)` returns."""

    def __init__(self, prefix_allowed_tokens_fn: Callable[[int, Tensor], list[int]], num_beams: int):
        self.fn = prefix_allowed_tokens_fn
        self.num_beams = num_beams

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        mask = torch.full_like(scores, -math.inf)
        for row in range(input_ids.shape[0]):
            allowed = self.fn(row // self.num_beams, input_ids[row])
            if len(allowed) == 0:
                raise ValueError(
                    f"`prefix_allowed_tokens_fn` returned an empty list for batch ID {row // self.num_beams}: "
                    "the constraint cannot be satisfied."
                )
            mask[row, allowed] = 0
        return scores + mask


class LogitNormalization(LogitsProcessor):
    """log-softmax the final scores (`renormalize_logits=True`)."""

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        return scores.log_softmax(dim=-1)


# ------------------------------------------------------------------------------------------------
# Warpers (sampling only)
# ------------------------------------------------------------------------------------------------
class TemperatureLogitsWarper(LogitsProcessor):
    """scores / temperature: < 1 sharpens the distribution, > 1 flattens it."""

    def __init__(self, temperature: float):
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            hint = " If you want greedy decoding, set do_sample=False." if temperature == 0 else ""
            raise ValueError(f"`temperature` (={temperature!r}) has to be a strictly positive float.{hint}")
        self.temperature = temperature

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        return scores / self.temperature


class TopKLogitsWarper(LogitsProcessor):
    """Keep the `top_k` highest scores (ties with the k-th included)."""

    def __init__(self, top_k: int, filter_value: float = NEG_INF, min_tokens_to_keep: int = 1):
        _check_positive_int("top_k", top_k)
        self.top_k = max(top_k, min_tokens_to_keep)
        self.filter_value = filter_value

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        k = min(self.top_k, scores.size(-1))
        kth = torch.topk(scores, k)[0][..., -1, None]
        return scores.masked_fill(scores < kth, self.filter_value)


class TopPLogitsWarper(LogitsProcessor):
    """Nucleus sampling: keep the smallest set of tokens whose probabilities add up to `top_p`."""

    def __init__(self, top_p: float, filter_value: float = NEG_INF, min_tokens_to_keep: int = 1):
        top_p = float(top_p)
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"`top_p` has to be a float in (0, 1], but is {top_p}.")
        _check_positive_int("min_tokens_to_keep", min_tokens_to_keep)
        self.top_p = top_p
        self.filter_value = filter_value
        self.min_tokens_to_keep = min_tokens_to_keep

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        sorted_scores, order = torch.sort(scores, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        # Ascending order: drop the low tail whose total mass is at most 1 - top_p.
        drop_sorted = cumulative <= (1 - self.top_p)
        drop_sorted[..., -self.min_tokens_to_keep :] = 0
        drop = drop_sorted.scatter(1, order, drop_sorted)
        return scores.masked_fill(drop, self.filter_value)


class MinPLogitsWarper(LogitsProcessor):
    """Keep tokens whose probability is at least `min_p` times the top token's probability."""

    def __init__(self, min_p: float, filter_value: float = NEG_INF, min_tokens_to_keep: int = 1):
        if not 0 <= min_p <= 1.0:
            raise ValueError(f"`min_p` has to be a float in [0, 1], but is {min_p}.")
        _check_positive_int("min_tokens_to_keep", min_tokens_to_keep)
        self.min_p = min_p
        self.filter_value = filter_value
        self.min_tokens_to_keep = min_tokens_to_keep

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        probs = torch.softmax(scores, dim=-1)
        top_probs, _ = probs.max(dim=-1, keepdim=True)
        remove = probs < self.min_p * top_probs
        order = torch.argsort(scores, descending=True, dim=-1)
        remove_sorted = torch.gather(remove, dim=-1, index=order)
        remove_sorted[..., : self.min_tokens_to_keep] = False
        remove = remove_sorted.scatter(1, order, remove_sorted)
        return scores.masked_fill(remove, self.filter_value)


class TypicalLogitsWarper(LogitsProcessor):
    """Locally typical sampling: keep tokens whose surprisal is closest to the entropy, up to mass `typical_p`."""

    def __init__(self, mass: float = 0.9, filter_value: float = NEG_INF, min_tokens_to_keep: int = 1):
        mass = float(mass)
        if not 0 < mass < 1:
            raise ValueError(f"`typical_p` has to be a float in (0, 1), but is {mass}.")
        _check_positive_int("min_tokens_to_keep", min_tokens_to_keep)
        self.mass = mass
        self.filter_value = filter_value
        self.min_tokens_to_keep = min_tokens_to_keep

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        logp = torch.nn.functional.log_softmax(scores, dim=-1)
        entropy = -(logp * torch.exp(logp)).nansum(-1, keepdim=True)
        shifted = torch.abs((-logp) - entropy)
        sorted_shifted, order = torch.sort(shifted, descending=False)
        cumulative = scores.gather(-1, order).softmax(dim=-1).cumsum(dim=-1)
        last = (cumulative < self.mass).sum(dim=1)
        last.clamp_(max=sorted_shifted.shape[-1] - 1)
        remove_sorted = sorted_shifted > sorted_shifted.gather(1, last.view(-1, 1))
        remove_sorted[..., : self.min_tokens_to_keep] = 0
        remove = remove_sorted.scatter(1, order, remove_sorted)
        return scores.masked_fill(remove, self.filter_value)


class EpsilonLogitsWarper(LogitsProcessor):
    """Keep tokens with probability >= `epsilon_cutoff` (at least `min_tokens_to_keep`)."""

    def __init__(self, epsilon: float, filter_value: float = NEG_INF, min_tokens_to_keep: int = 1):
        epsilon = float(epsilon)
        if not 0 < epsilon < 1:
            raise ValueError(f"`epsilon_cutoff` has to be a float in (0, 1), but is {epsilon}.")
        self.epsilon = epsilon
        self.filter_value = filter_value
        self.min_tokens_to_keep = int(min_tokens_to_keep)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        remove = scores.softmax(dim=-1) < self.epsilon
        k = min(self.min_tokens_to_keep, scores.size(-1))
        remove = remove & (scores < torch.topk(scores, k)[0][..., -1, None])
        return scores.masked_fill(remove, self.filter_value)


class EtaLogitsWarper(LogitsProcessor):
    """Eta sampling: an entropy-dependent probability cutoff min(eta, sqrt(eta) * exp(-entropy))."""

    def __init__(
        self, epsilon: float, filter_value: float = NEG_INF, min_tokens_to_keep: int = 1, device: Any = "cpu"
    ):
        epsilon = float(epsilon)
        if not 0 < epsilon < 1:
            raise ValueError(f"`eta_cutoff` has to be a float in (0, 1), but is {epsilon}.")
        self.epsilon = torch.tensor(epsilon, device=device)
        self.filter_value = filter_value
        self.min_tokens_to_keep = int(min_tokens_to_keep)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        probs = scores.softmax(dim=-1)
        entropy = torch.distributions.Categorical(logits=scores).entropy()
        eta = torch.min(self.epsilon, torch.sqrt(self.epsilon) * torch.exp(-entropy))[..., None]
        k = min(self.min_tokens_to_keep, scores.size(-1))
        remove = (probs < eta) & (scores < torch.topk(scores, k)[0][..., -1, None])
        return scores.masked_fill(remove, self.filter_value)


# ------------------------------------------------------------------------------------------------
# From a GenerationConfig
# ------------------------------------------------------------------------------------------------
_UNSUPPORTED = {  # field -> its neutral value; leanformers does not implement these decoding variants
    "guidance_scale": (None, 1, 1.0),
    "watermarking_config": (None,),
    "encoder_repetition_penalty": (None, 1.0),
    "encoder_no_repeat_ngram_size": (None, 0),
}


def build_logits_processors(
    config: Any,
    *,
    prompt_length: int,
    eos_token_ids: Tensor | None,
    device: Any,
    prefix_allowed_tokens_fn: Callable | None = None,
    custom: Sequence[Callable] | None = None,
) -> LogitsProcessorList:
    """The processors `config` asks for, in the reference's order; `custom` ones replace same-type defaults."""
    for field, neutral in _UNSUPPORTED.items():
        if getattr(config, field, None) not in neutral:
            raise ValueError(f"`{field}` is not supported by leanformers' generate(); leave it unset.")
    procs: list[Callable] = []
    if config.sequence_bias is not None:
        procs.append(SequenceBiasLogitsProcessor(config.sequence_bias))
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty))
    if config.no_repeat_ngram_size is not None and config.no_repeat_ngram_size > 0:
        procs.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if config.bad_words_ids is not None:
        procs.append(NoBadWordsLogitsProcessor(config.bad_words_ids, eos_token_ids))
    if config.min_length is not None and eos_token_ids is not None and config.min_length > 0:
        procs.append(MinLengthLogitsProcessor(config.min_length, eos_token_ids, device=device))
    if config.min_new_tokens is not None and eos_token_ids is not None and config.min_new_tokens > 0:
        procs.append(
            MinNewTokensLengthLogitsProcessor(prompt_length, config.min_new_tokens, eos_token_ids, device)
        )
    if prefix_allowed_tokens_fn is not None:
        procs.append(PrefixConstrainedLogitsProcessor(prefix_allowed_tokens_fn, config.num_beams))
    if config.forced_bos_token_id is not None:
        procs.append(ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
    if config.forced_eos_token_id is not None:
        procs.append(
            ForcedEOSTokenLogitsProcessor(config.max_length, config.forced_eos_token_id, device=device)
        )
    if config.remove_invalid_values is True:
        procs.append(InfNanRemoveLogitsProcessor())
    if config.exponential_decay_length_penalty is not None:
        procs.append(
            ExponentialDecayLengthPenalty(
                config.exponential_decay_length_penalty, eos_token_ids, prompt_length
            )
        )
    if config.suppress_tokens is not None:
        procs.append(SuppressTokensLogitsProcessor(config.suppress_tokens, device=device))
    if config.begin_suppress_tokens is not None:
        begin = prompt_length + (1 if prompt_length == 1 and config.forced_bos_token_id is not None else 0)
        procs.append(SuppressTokensAtBeginLogitsProcessor(config.begin_suppress_tokens, begin, device=device))
    procs = _merge(procs, list(custom or []))

    if config.do_sample:
        # Beam sampling must keep at least one non-EOS candidate per beam.
        n_eos = 0 if eos_token_ids is None else int(eos_token_ids.numel())
        keep = (n_eos + 1 if n_eos else 2) if config.num_beams > 1 else 1
        if config.temperature is not None and config.temperature != 1.0:
            procs.append(TemperatureLogitsWarper(config.temperature))
        if config.top_k is not None and config.top_k != 0:
            procs.append(TopKLogitsWarper(config.top_k, min_tokens_to_keep=keep))
        if config.top_p is not None and config.top_p < 1.0:
            procs.append(TopPLogitsWarper(config.top_p, min_tokens_to_keep=keep))
        if config.min_p is not None:
            procs.append(MinPLogitsWarper(config.min_p, min_tokens_to_keep=keep))
        if config.typical_p is not None and config.typical_p < 1.0:
            procs.append(TypicalLogitsWarper(config.typical_p, min_tokens_to_keep=keep))
        if config.epsilon_cutoff is not None and 0.0 < config.epsilon_cutoff < 1.0:
            procs.append(EpsilonLogitsWarper(config.epsilon_cutoff, min_tokens_to_keep=keep))
        if config.eta_cutoff is not None and 0.0 < config.eta_cutoff < 1.0:
            procs.append(EtaLogitsWarper(config.eta_cutoff, min_tokens_to_keep=keep, device=device))
    if config.renormalize_logits is True:
        procs.append(LogitNormalization())
    return LogitsProcessorList(procs)


def _merge(defaults: list[Callable], custom: list[Callable]) -> list[Callable]:
    """A custom processor of the same class as a default one takes its place; other custom ones go last."""
    if not custom:
        return defaults
    merged = [next((c for c in custom if type(c) is type(d)), d) for d in defaults]
    return merged + [c for c in custom if all(c is not m for m in merged)]


__all__ = [
    "LogitsProcessor",
    "LogitsProcessorList",
    "build_logits_processors",
    "RepetitionPenaltyLogitsProcessor",
    "NoRepeatNGramLogitsProcessor",
    "SequenceBiasLogitsProcessor",
    "NoBadWordsLogitsProcessor",
    "MinLengthLogitsProcessor",
    "MinNewTokensLengthLogitsProcessor",
    "ForcedBOSTokenLogitsProcessor",
    "ForcedEOSTokenLogitsProcessor",
    "InfNanRemoveLogitsProcessor",
    "ExponentialDecayLengthPenalty",
    "SuppressTokensLogitsProcessor",
    "SuppressTokensAtBeginLogitsProcessor",
    "PrefixConstrainedLogitsProcessor",
    "LogitNormalization",
    "TemperatureLogitsWarper",
    "TopKLogitsWarper",
    "TopPLogitsWarper",
    "MinPLogitsWarper",
    "TypicalLogitsWarper",
    "EpsilonLogitsWarper",
    "EtaLogitsWarper",
]
