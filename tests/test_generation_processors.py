"""Each logits processor equals the reference's on random scores (bitwise: same ops, same order)."""

from __future__ import annotations

import pytest
import torch
from transformers.generation import logits_process as ref

from leanformers.generation import logits as lf


@pytest.fixture
def scores():
    torch.manual_seed(0)
    return torch.randn(4, 50) * 3


@pytest.fixture
def input_ids():
    torch.manual_seed(1)
    ids = torch.randint(0, 50, (4, 9))
    ids[1, -3:] = torch.tensor([7, 8, 7])  # repeated n-grams for the no-repeat processor
    ids[1, :2] = torch.tensor([8, 7])
    return ids


CASES = [
    (lambda: ref.RepetitionPenaltyLogitsProcessor(1.5), lambda: lf.RepetitionPenaltyLogitsProcessor(1.5)),
    (lambda: ref.RepetitionPenaltyLogitsProcessor(0.7), lambda: lf.RepetitionPenaltyLogitsProcessor(0.7)),
    (lambda: ref.NoRepeatNGramLogitsProcessor(2), lambda: lf.NoRepeatNGramLogitsProcessor(2)),
    (lambda: ref.NoRepeatNGramLogitsProcessor(1), lambda: lf.NoRepeatNGramLogitsProcessor(1)),
    (lambda: ref.NoRepeatNGramLogitsProcessor(3), lambda: lf.NoRepeatNGramLogitsProcessor(3)),
    (
        lambda: ref.NoBadWordsLogitsProcessor([[3], [8, 7], [1, 2, 3], [5]], eos_token_id=5),
        lambda: lf.NoBadWordsLogitsProcessor([[3], [8, 7], [1, 2, 3], [5]], eos_token_id=5),
    ),
    (
        lambda: ref.SequenceBiasLogitsProcessor([[[4], 2.0], [[8, 7], -3.0]]),
        lambda: lf.SequenceBiasLogitsProcessor([[[4], 2.0], [[8, 7], -3.0]]),
    ),
    (lambda: ref.MinLengthLogitsProcessor(12, [2, 4]), lambda: lf.MinLengthLogitsProcessor(12, [2, 4])),
    (lambda: ref.MinLengthLogitsProcessor(5, 2), lambda: lf.MinLengthLogitsProcessor(5, 2)),
    (
        lambda: ref.MinNewTokensLengthLogitsProcessor(5, 6, [2, 4]),
        lambda: lf.MinNewTokensLengthLogitsProcessor(5, 6, [2, 4]),
    ),
    (
        lambda: ref.ForcedEOSTokenLogitsProcessor(10, [2, 3]),
        lambda: lf.ForcedEOSTokenLogitsProcessor(10, [2, 3]),
    ),
    (
        lambda: ref.ExponentialDecayLengthPenalty((2, 1.5), 3, 4),
        lambda: lf.ExponentialDecayLengthPenalty((2, 1.5), 3, 4),
    ),
    (lambda: ref.SuppressTokensLogitsProcessor([1, 5]), lambda: lf.SuppressTokensLogitsProcessor([1, 5])),
    (
        lambda: ref.SuppressTokensAtBeginLogitsProcessor([1, 5], 9),
        lambda: lf.SuppressTokensAtBeginLogitsProcessor([1, 5], 9),
    ),
    (lambda: ref.InfNanRemoveLogitsProcessor(), lambda: lf.InfNanRemoveLogitsProcessor()),
    (lambda: ref.LogitNormalization(), lambda: lf.LogitNormalization()),
    (lambda: ref.TemperatureLogitsWarper(0.7), lambda: lf.TemperatureLogitsWarper(0.7)),
    (lambda: ref.TopKLogitsWarper(5), lambda: lf.TopKLogitsWarper(5)),
    (
        lambda: ref.TopKLogitsWarper(3, min_tokens_to_keep=6),
        lambda: lf.TopKLogitsWarper(3, min_tokens_to_keep=6),
    ),
    (lambda: ref.TopPLogitsWarper(0.8), lambda: lf.TopPLogitsWarper(0.8)),
    (
        lambda: ref.TopPLogitsWarper(0.3, min_tokens_to_keep=3),
        lambda: lf.TopPLogitsWarper(0.3, min_tokens_to_keep=3),
    ),
    (lambda: ref.MinPLogitsWarper(0.1), lambda: lf.MinPLogitsWarper(0.1)),
    (lambda: ref.TypicalLogitsWarper(0.9), lambda: lf.TypicalLogitsWarper(0.9)),
    (lambda: ref.EpsilonLogitsWarper(0.02), lambda: lf.EpsilonLogitsWarper(0.02)),
    (lambda: ref.EtaLogitsWarper(0.02), lambda: lf.EtaLogitsWarper(0.02)),
]


@pytest.mark.parametrize("make_ref, make_ours", CASES)
def test_processor_matches_reference(make_ref, make_ours, scores, input_ids):
    s = scores.clone()
    s[0, 3] = float("nan") if isinstance(make_ours(), lf.InfNanRemoveLogitsProcessor) else s[0, 3]
    expected = make_ref()(input_ids, s.clone())
    got = make_ours()(input_ids, s.clone())
    torch.testing.assert_close(got, expected, equal_nan=True, atol=0, rtol=0)


def test_forced_bos_on_first_step(scores):
    first = torch.zeros((4, 1), dtype=torch.long)
    torch.testing.assert_close(
        lf.ForcedBOSTokenLogitsProcessor(7)(first, scores.clone()),
        ref.ForcedBOSTokenLogitsProcessor(7)(first, scores.clone()),
    )
    later = torch.zeros((4, 3), dtype=torch.long)
    assert torch.equal(lf.ForcedBOSTokenLogitsProcessor(7)(later, scores), scores)


def test_processor_argument_errors():
    with pytest.raises(ValueError, match="temperature"):
        lf.TemperatureLogitsWarper(0.0)
    with pytest.raises(ValueError, match="top_p"):
        lf.TopPLogitsWarper(1.2)
    with pytest.raises(ValueError, match="top_k"):
        lf.TopKLogitsWarper(0)
    with pytest.raises(ValueError, match="min_p"):
        lf.MinPLogitsWarper(2.0)
    with pytest.raises(ValueError, match="typical_p"):
        lf.TypicalLogitsWarper(1.0)
    with pytest.raises(ValueError, match="repetition_penalty"):
        lf.RepetitionPenaltyLogitsProcessor(0.0)
    with pytest.raises(ValueError, match="no_repeat_ngram_size"):
        lf.NoRepeatNGramLogitsProcessor(0)
    with pytest.raises(ValueError, match="bad_words_ids"):
        lf.NoBadWordsLogitsProcessor([1, 2])
    with pytest.raises(ValueError, match="vocabulary size"):
        lf.NoBadWordsLogitsProcessor([[99]])(torch.zeros((1, 2), dtype=torch.long), torch.zeros(1, 10))


def test_processor_order_follows_the_reference():
    from leanformers.generation import GenerationConfig

    config = GenerationConfig(
        do_sample=True, temperature=0.5, top_k=10, top_p=0.9, min_p=0.1, typical_p=0.9, repetition_penalty=1.1,
        no_repeat_ngram_size=2, bad_words_ids=[[5]], min_new_tokens=2, forced_eos_token_id=3,
    )  # fmt: skip
    procs = lf.build_logits_processors(config, prompt_length=4, eos_token_ids=torch.tensor([3]), device="cpu")
    names = [type(p).__name__ for p in procs]
    assert names == [
        "RepetitionPenaltyLogitsProcessor",
        "NoRepeatNGramLogitsProcessor",
        "NoBadWordsLogitsProcessor",
        "MinNewTokensLengthLogitsProcessor",
        "ForcedEOSTokenLogitsProcessor",
        "TemperatureLogitsWarper",
        "TopKLogitsWarper",
        "TopPLogitsWarper",
        "MinPLogitsWarper",
        "TypicalLogitsWarper",
    ]
