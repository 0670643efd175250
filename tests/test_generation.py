"""generate() parity with the reference on tiny random GPT-2 and Llama checkpoints.

Both libraries load the same saved weights; greedy and beam outputs must be token-identical and
sampling must draw the same tokens under the same seed (leanformers applies the same ops in the
same order, and draws over the full batch even after finished rows leave it).
"""

from __future__ import annotations

import pytest
import torch
import transformers

from leanformers import AutoModelForCausalLM
from leanformers.generation import runner

PROMPTS = torch.tensor([[5, 6, 7, 8, 9], [0, 0, 11, 12, 13], [0, 0, 0, 0, 14], [20, 21, 22, 23, 24]])
MASK = (PROMPTS != 0).long()


def _configs():
    return {
        "gpt2": transformers.GPT2Config(
            n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=64, eos_token_id=3, bos_token_id=3
        ),
        "llama": transformers.LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=100,
            max_position_embeddings=64,
            bos_token_id=1,
            eos_token_id=3,
            tie_word_embeddings=False,
        ),
    }


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def pair(request, tmp_path_factory):
    torch.manual_seed(0)
    ref = transformers.AutoModelForCausalLM.from_config(_configs()[request.param]).eval()
    path = tmp_path_factory.mktemp(request.param)
    ref.save_pretrained(path)
    ours = AutoModelForCausalLM.from_pretrained(path)
    # EOS ids that rows reach at different steps (taken from a greedy run without EOS).
    free = ref.generate(PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=None, max_new_tokens=16)
    eos = sorted({int(free[0, 5 + 3]), int(free[2, 5 + 9])})
    return ref, ours, eos


def _both(ref, ours, seed=None, **kwargs):
    if seed is not None:
        torch.manual_seed(seed)
    expected = ref.generate(**kwargs)
    if seed is not None:
        torch.manual_seed(seed)
    got = ours.generate(**kwargs)
    return expected, got


def _assert_same(expected, got):
    if isinstance(expected, torch.Tensor):
        assert torch.equal(expected, got), f"\nreference:\n{expected}\nleanformers:\n{got}"
        return
    assert torch.equal(expected.sequences, got.sequences), f"\n{expected.sequences}\n{got.sequences}"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_new_tokens=16),
        dict(max_new_tokens=12, repetition_penalty=1.3, no_repeat_ngram_size=2),
        dict(max_new_tokens=10, min_new_tokens=6),
        dict(max_new_tokens=10, bad_words_ids=[[7], [12, 13]], forced_eos_token_id=4),
        dict(max_length=14, min_length=9),
        dict(max_new_tokens=8, use_cache=False),
    ],
)
def test_greedy_matches_reference(pair, kwargs):
    ref, ours, eos = pair
    expected, got = _both(
        ref, ours, input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, **kwargs
    )
    _assert_same(expected, got)


def test_finished_rows_leave_the_batch(pair, monkeypatch):
    ref, ours, eos = pair
    kept = []
    original = runner.Runner.keep
    monkeypatch.setattr(
        runner.Runner, "keep", lambda self, rows: (kept.append(len(rows)), original(self, rows))
    )
    expected, got = _both(
        ref, ours, input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, max_new_tokens=16
    )
    _assert_same(expected, got)
    assert kept and min(kept) < PROMPTS.shape[0]  # rows were dropped, output unchanged


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_beams=3, max_new_tokens=10),
        dict(num_beams=3, num_return_sequences=2, max_new_tokens=10, length_penalty=0.5, early_stopping=True),
        dict(
            num_beams=4, num_return_sequences=4, max_new_tokens=12, length_penalty=-1.0, early_stopping=False
        ),
        dict(num_beams=3, max_new_tokens=12, length_penalty=2.0, early_stopping="never"),
        dict(num_beams=2, max_new_tokens=8, no_repeat_ngram_size=2, min_new_tokens=3),
    ],
)
def test_beam_search_matches_reference(pair, kwargs):
    ref, ours, eos = pair
    expected, got = _both(
        ref, ours, input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, **kwargs
    )
    _assert_same(expected, got)


@pytest.mark.parametrize("early_stopping", [True, False, "never"])
def test_settled_beam_items_leave_the_batch(pair, monkeypatch, early_stopping):
    """Batch items whose finished hypotheses can no longer change stop running; outputs unchanged."""
    ref, ours, _ = pair
    kept = []
    original = runner.Runner.keep
    monkeypatch.setattr(
        runner.Runner, "keep", lambda self, rows: (kept.append(len(rows)), original(self, rows))
    )
    for eos in ([3, 17, 40, 41, 60, 77], list(range(20, 60))):  # sparse and dense EOS sets
        kw = dict(input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, max_new_tokens=16)
        expected, got = _both(ref, ours, num_beams=2, early_stopping=early_stopping, length_penalty=0.0, **kw)
        _assert_same(expected, got)
    if early_stopping is True:
        assert kept and min(kept) < 2 * PROMPTS.shape[0]


def test_beam_search_scores_match_reference(pair):
    ref, ours, eos = pair
    kw = dict(input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, max_new_tokens=8)
    kw.update(
        num_beams=3,
        num_return_sequences=2,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
    )
    expected, got = _both(ref, ours, **kw)
    _assert_same(expected, got)
    torch.testing.assert_close(got.sequences_scores, expected.sequences_scores, atol=1e-5, rtol=1e-5)
    assert torch.equal(got.beam_indices, expected.beam_indices.to(got.beam_indices.dtype))
    assert len(got.scores) == len(expected.scores)
    for a, b in zip(got.scores, expected.scores):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(got.logits, expected.logits):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_greedy_scores_and_cache_outputs(pair):
    ref, ours, eos = pair
    kw = dict(input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, max_new_tokens=6)
    kw.update(return_dict_in_generate=True, output_scores=True, output_logits=True)
    expected, got = _both(ref, ours, **kw)
    _assert_same(expected, got)
    assert type(got).__name__ == "GenerateDecoderOnlyOutput"
    for a, b in zip(got.scores, expected.scores):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert got.past_key_values.get_seq_length() == got.sequences.shape[1] - 1


def test_attentions_and_hidden_states_outputs(pair):
    ref, ours, eos = pair
    kw = dict(input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, max_new_tokens=3)
    kw.update(return_dict_in_generate=True, output_attentions=True, output_hidden_states=True)
    expected, got = _both(ref, ours, **kw)
    _assert_same(expected, got)
    assert len(got.attentions) == len(got.hidden_states) == len(expected.attentions) == 3
    real = MASK.bool()  # the prompt step also holds the padding positions, whose values mean nothing
    for step, (got_step, expected_step) in enumerate(zip(got.hidden_states, expected.hidden_states)):
        assert len(got_step) == len(expected_step)
        for a, b in zip(got_step, expected_step):
            a, b = (a[real], b[real]) if step == 0 else (a, b)
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for got_step, expected_step in zip(got.attentions[1:], expected.attentions[1:]):
        # the reference's SDPA models return no weights (None, or a tuple of None)
        for a, b in zip(got_step, expected_step or [None] * len(got_step)):
            assert a.shape[:3] == (PROMPTS.shape[0], a.shape[1], 1)
            if b is not None:
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_new_tokens=16, top_k=10, top_p=0.8, temperature=0.7),
        dict(max_new_tokens=10, num_return_sequences=3, typical_p=0.9, min_p=0.05, top_k=0),
        dict(
            max_new_tokens=10, temperature=1.5, epsilon_cutoff=0.01, eta_cutoff=0.01, repetition_penalty=1.2
        ),
        dict(max_new_tokens=8, num_beams=2, num_return_sequences=2, top_k=20),  # beam sampling
    ],
)
def test_sampling_same_seed_matches_reference(pair, kwargs):
    """Same seed, same tokens: the processed scores are identical and multinomial is drawn over the
    same (batch, vocab) tensor, also after finished rows have left leanformers' running batch."""
    ref, ours, eos = pair
    kw = dict(
        input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=eos, do_sample=True, **kwargs
    )
    for seed in (0, 1):
        expected, got = _both(ref, ours, seed=seed, **kw)
        _assert_same(expected, got)


def test_eos_list_and_pad_fallback(pair):
    ref, ours, eos = pair
    kw = dict(input_ids=PROMPTS[:1], max_new_tokens=12, eos_token_id=eos)
    expected, got = _both(ref, ours, **kw)  # no pad: falls back to eos[0] (with a warning)
    _assert_same(expected, got)


def test_no_prompt_starts_from_bos(pair):
    ref, ours, _ = pair
    expected, got = _both(ref, ours, max_new_tokens=5)
    _assert_same(expected, got)


def test_default_max_length_is_twenty_new_tokens(pair):
    ref, ours, _ = pair
    expected, got = _both(ref, ours, input_ids=PROMPTS[:1], eos_token_id=None, pad_token_id=0)
    _assert_same(expected, got)
    assert got.shape[1] == 5 + 20


def test_stopping_criteria_and_processor_objects(pair):
    """Custom criteria / processors are accepted (the reference's own classes work too)."""
    ref, ours, _ = pair
    from transformers.generation import LogitsProcessorList, MaxLengthCriteria, StoppingCriteriaList

    crit = StoppingCriteriaList([MaxLengthCriteria(9)])
    procs = LogitsProcessorList([transformers.generation.TemperatureLogitsWarper(0.5)])
    kw = dict(input_ids=PROMPTS, attention_mask=MASK, pad_token_id=0, eos_token_id=None, max_new_tokens=10)
    expected, got = _both(ref, ours, stopping_criteria=crit, logits_processor=procs, **kw)
    _assert_same(expected, got)
    assert got.shape[1] == 9


# ------------------------------------------------------------------------------------------------
# Bad input: each a clear error naming the argument
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_ids=torch.ones((1, 0), dtype=torch.long)), "empty"),
        (dict(input_ids=PROMPTS, max_new_tokens=0), "max_new_tokens"),
        (dict(input_ids=PROMPTS, num_beams=2, num_return_sequences=3), "num_return_sequences"),
        (dict(input_ids=PROMPTS, num_return_sequences=2), "num_return_sequences"),
        (dict(input_ids=PROMPTS, do_sample=True, temperature=0.0), "temperature"),
        (dict(input_ids=PROMPTS, do_sample=True, temperature=-1.0), "temperature"),
        (dict(input_ids=PROMPTS, do_sample=True, top_p=1.5), "top_p"),
        (dict(input_ids=PROMPTS, do_sample=True, top_p=0.0), "top_p"),
        (dict(input_ids=PROMPTS, max_length=3, max_new_tokens=None), "max_length"),
        (dict(input_ids=torch.ones((1, 70), dtype=torch.long)), "context window"),
        (dict(input_ids=PROMPTS, stop_strings=["x"]), "tokenizer"),
        (dict(input_ids=PROMPTS[0]), "2-D"),
        (dict(input_ids=PROMPTS, early_stopping="sometimes"), "early_stopping"),
        (dict(input_ids=PROMPTS, bad_words_ids=[3]), "bad_words_ids"),
        (dict(input_ids=PROMPTS, num_beam_groups=2, num_beams=4), "num_beam_groups"),
    ],
)
def test_bad_input_errors(pair, kwargs, match):
    _, ours, _ = pair
    with pytest.raises(ValueError, match=match):
        ours.generate(**{"max_new_tokens": 5, **kwargs})


# ------------------------------------------------------------------------------------------------
# Encoder-decoder models: the encoder runs once, its output is expanded for beams / samples
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["bart", "t5"])
def seq2seq(request, tmp_path_factory):
    from leanformers import AutoModelForSeq2SeqLM

    torch.manual_seed(0)
    if request.param == "bart":
        config = transformers.BartConfig(
            vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
            init_std=0.3,  # larger random weights: less repetitive outputs
        )  # fmt: skip
    else:
        config = transformers.T5Config(
            vocab_size=99,
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            decoder_start_token_id=0,
            initializer_factor=5.0,
        )
    ref = transformers.AutoModelForSeq2SeqLM.from_config(config).eval()
    path = tmp_path_factory.mktemp(request.param)
    ref.save_pretrained(path)
    ours = AutoModelForSeq2SeqLM.from_pretrained(path)
    src = torch.tensor([[5, 6, 7, 8, 9, 10], [11, 12, 13, 1, 1, 1], [20, 21, 1, 1, 1, 1]])
    mask = (src != 1).long()
    free = ref.generate(
        src, attention_mask=mask, eos_token_id=None, forced_eos_token_id=None, max_new_tokens=12
    )
    return ref, ours, src, mask, _staggered_eos(free)


def _staggered_eos(free: torch.Tensor) -> list[int]:
    """EOS ids that end rows 0 and 1 (each a token only that row generates), so rows finish apart."""
    rows = [r[2:].tolist() for r in free]
    picks: list[int] = []
    for i in (0, 1):
        for t in rows[i]:
            if t not in picks and all(t not in other for j, other in enumerate(rows) if j != i):
                picks.append(t)
                break
    return picks or [int(free[0, 3])]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_new_tokens=12),
        dict(max_new_tokens=10, num_beams=3, num_return_sequences=2),
        dict(max_length=12, min_length=5, num_beams=4, no_repeat_ngram_size=2, length_penalty=2.0),
        dict(max_new_tokens=8, forced_bos_token_id=4, forced_eos_token_id=5, repetition_penalty=1.2),
        dict(max_new_tokens=8, decoder_input_ids=torch.tensor([[7], [7], [7]])),
    ],
)
def test_seq2seq_matches_reference(seq2seq, kwargs):
    ref, ours, src, mask, eos = seq2seq
    expected, got = _both(ref, ours, input_ids=src, attention_mask=mask, eos_token_id=eos, **kwargs)
    _assert_same(expected, got)


def test_seq2seq_sampling_and_dropped_rows(seq2seq, monkeypatch):
    ref, ours, src, mask, eos = seq2seq
    kept = []
    original = runner.Runner.keep
    monkeypatch.setattr(
        runner.Runner, "keep", lambda self, rows: (kept.append(len(rows)), original(self, rows))
    )
    expected, got = _both(ref, ours, input_ids=src, attention_mask=mask, eos_token_id=eos, max_new_tokens=12)
    _assert_same(expected, got)
    assert kept, "a finished row should have left the batch"
    kw = dict(
        input_ids=src, attention_mask=mask, eos_token_id=eos, max_new_tokens=10, do_sample=True, top_k=20
    )
    expected, got = _both(ref, ours, seed=3, num_return_sequences=2, **kw)
    _assert_same(expected, got)
    out = ours.generate(
        src, attention_mask=mask, max_new_tokens=4, return_dict_in_generate=True, output_scores=True
    )
    assert (
        type(out).__name__ == "GenerateEncoderDecoderOutput" and len(out.scores) == out.sequences.shape[1] - 1
    )
