"""The text-generation pipeline against the reference's, on a tiny GPT-2 with the real GPT-2 tokenizer."""

from __future__ import annotations

import pytest
import torch
import transformers

from _pipeline_checkpoints import build_chat_gpt2
from leanformers import pipeline


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_chat_gpt2(tmp_path_factory.mktemp("tiny-gpt2"), n_positions=128)


@pytest.fixture(scope="module")
def pipes(folder):
    return transformers.pipeline("text-generation", model=folder), pipeline("text-generation", model=folder)


@pytest.mark.parametrize(
    "inputs, kwargs",
    [
        ("Hello world", dict(max_new_tokens=10, do_sample=False)),
        (
            "In this course, we will teach you how to",
            dict(max_new_tokens=8, num_return_sequences=2, num_beams=3, do_sample=False),
        ),
        ("Hi", dict(max_new_tokens=5, return_full_text=False, do_sample=False)),
        ("Hi", dict(max_new_tokens=5, return_tensors=True, do_sample=False)),
        (["a b c", "Hello there my friend"], dict(max_new_tokens=6, do_sample=False)),
        ("Hey", dict(max_new_tokens=6, prefix="Once upon a time ", do_sample=False)),
        ("Hey", dict(max_new_tokens=6, do_sample=False, repetition_penalty=1.5, no_repeat_ngram_size=2)),
        ("", dict(max_new_tokens=4, do_sample=False)),
    ],
)
def test_matches_reference(pipes, inputs, kwargs):
    ref, ours = pipes
    assert ours(inputs, **kwargs) == ref(inputs, **kwargs)


@pytest.mark.parametrize(
    "kwargs", [dict(max_new_tokens=10), dict(max_new_tokens=6, num_return_sequences=3, top_k=5, top_p=0.9)]
)
def test_sampling_defaults_match_reference(pipes, kwargs):
    """The pipeline samples by default (temperature 0.7); same seed, same text."""
    ref, ours = pipes
    for seed in (0, 1):
        torch.manual_seed(seed)
        expected = ref("Hello world", **kwargs)
        torch.manual_seed(seed)
        assert ours("Hello world", **kwargs) == expected


def test_chat_input_returns_the_conversation(pipes):
    ref, ours = pipes
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
    expected = ref(chat, max_new_tokens=6, do_sample=False)
    got = ours(chat, max_new_tokens=6, do_sample=False)
    assert got == expected
    assert got[0]["generated_text"][:2] == chat and got[0]["generated_text"][2]["role"] == "assistant"
    # a list of chats -> a list of results; a chat ending with the assistant is continued
    prefill = chat + [{"role": "assistant", "content": "The answer"}]
    assert ours([chat, prefill], max_new_tokens=4, do_sample=False) == ref(
        [chat, prefill], max_new_tokens=4, do_sample=False
    )


def test_batching_left_pads_and_equals_single_runs(pipes):
    ref, ours = pipes
    prompts = ["a b c", "Hello there my friend, how are you", "x"]
    ours.tokenizer.pad_token = ours.tokenizer.eos_token
    try:
        batched = ours(prompts, max_new_tokens=6, do_sample=False, batch_size=2)
    finally:
        ours.tokenizer.pad_token = None
    assert batched == [ref(p, max_new_tokens=6, do_sample=False) for p in prompts]
    assert ours.tokenizer.padding_side == "right"  # the tokenizer is left as it was


def test_batch_without_pad_token_is_a_clear_error(pipes):
    _, ours = pipes
    with pytest.raises(ValueError, match="pad"):
        ours(["a", "b c"], max_new_tokens=2, batch_size=2)


def test_stop_sequence_and_stop_strings(pipes):
    ref, ours = pipes
    free = ours("Hello world", max_new_tokens=10, do_sample=False)[0]["generated_text"]
    stop = free[len("Hello world") :].split()[2]  # a word the model generates
    got = ours("Hello world", max_new_tokens=10, do_sample=False, stop_strings=stop)[0]["generated_text"]
    assert got.endswith(stop) and len(got) < len(free)
    assert ours("Hello world", max_new_tokens=10, do_sample=False, stop_sequence=stop) == ref(
        "Hello world", max_new_tokens=10, do_sample=False, stop_sequence=stop
    )


def test_bad_arguments(pipes):
    _, ours = pipes
    with pytest.raises(ValueError, match="return_text"):
        ours("Hi", return_text=True, return_full_text=False)
    with pytest.raises(ValueError, match="temperature"):
        ours("Hi", do_sample=True, temperature=0.0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        ours("Hi", max_new_tokens=0)
    with pytest.raises(ValueError, match="prompt"):
        ours(None)
