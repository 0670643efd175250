"""Streamers and stop strings, against the reference's classes (same tokenizer files)."""

from __future__ import annotations

import contextlib
import io
import threading

import pytest
import torch
import transformers
from transformers.generation import StopStringCriteria as RefStopStrings
from transformers.generation import TextStreamer as RefTextStreamer

from _pipeline_checkpoints import GPT2_TOKENIZER
from leanformers import AutoModelForCausalLM, AutoTokenizer
from leanformers.generation import StopStringCriteria, TextIteratorStreamer, TextStreamer

TOKENIZER_FILES = str(GPT2_TOKENIZER)  # ../shared/data/gpt2-tokenizer beside the repository


@pytest.fixture(scope="module")
def tokenizers():
    ref = transformers.GPT2TokenizerFast(
        vocab_file=f"{TOKENIZER_FILES}/vocab.json", merges_file=f"{TOKENIZER_FILES}/merges.txt"
    )
    return ref, AutoTokenizer.from_pretrained(TOKENIZER_FILES)


@pytest.fixture(scope="module")
def model(tmp_path_factory, tokenizers):
    path = tmp_path_factory.mktemp("gpt2")
    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=128)
    ).eval()
    ref.save_pretrained(path)
    return ref, AutoModelForCausalLM.from_pretrained(path)


TEXTS = [
    "Hello world, this is a test.\nSecond line here",
    "中文字符也可以流式输出 and then English words",
    "Ünïcödé tokens: ça marche très bien ! 🎉 emoji split across bytes",
]


def _stream(streamer_cls, tokenizer, ids, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        streamer = streamer_cls(tokenizer, **kwargs)
        streamer.put(torch.tensor([ids[:3]]))  # the prompt
        for t in ids[3:]:
            streamer.put(torch.tensor([t]))
        streamer.end()
    return out.getvalue()


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("skip_prompt", [False, True])
def test_text_streamer_prints_what_the_reference_prints(tokenizers, text, skip_prompt):
    ref_tok, _ = tokenizers
    ids = ref_tok(text)["input_ids"]
    expected = _stream(RefTextStreamer, ref_tok, ids, skip_prompt=skip_prompt)
    assert _stream(TextStreamer, ref_tok, ids, skip_prompt=skip_prompt) == expected


def test_text_streamer_holds_back_partial_words(tokenizers):
    _, tok = tokenizers
    pieces = []

    class Recorder(TextStreamer):
        def on_finalized_text(self, text, stream_end=False):
            pieces.append(text)

    streamer = Recorder(tok)
    for t in tok("Hello wonderful world")["input_ids"]:
        streamer.put(torch.tensor([t]))
    streamer.end()
    assert "".join(pieces) == "Hello wonderful world"
    assert all(p == "" or p.endswith(" ") for p in pieces[:-1])  # words come out whole
    with pytest.raises(ValueError, match="batch size 1"):
        Recorder(tok).put(torch.ones((2, 3), dtype=torch.long))


def test_generate_streams_the_same_text_it_returns(tokenizers, model):
    _, tok = tokenizers
    _, ours = model
    inputs = tok("The course starts", return_tensors="pt")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ids = ours.generate(**inputs, max_new_tokens=12, streamer=TextStreamer(tok, skip_prompt=True))
    assert out.getvalue() == tok.decode(ids[0, inputs["input_ids"].shape[1] :]) + "\n"


def test_iterator_streamer_from_a_thread(tokenizers, model):
    _, tok = tokenizers
    _, ours = model
    inputs = tok("The course starts", return_tensors="pt")
    streamer = TextIteratorStreamer(tok, skip_prompt=True, timeout=60)
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(ids=ours.generate(**inputs, max_new_tokens=10, streamer=streamer))
    )
    thread.start()
    text = "".join(piece for piece in streamer)
    thread.join()
    assert text == tok.decode(result["ids"][0, inputs["input_ids"].shape[1] :])


# ------------------------------------------------------------------------------------------------
# Stop strings
# ------------------------------------------------------------------------------------------------
STOPS = ["stop", " world", "\n", "ing.", "a"]


def test_stop_strings_match_the_reference_criterion(tokenizers):
    ref_tok, tok = tokenizers
    ref_crit = RefStopStrings(ref_tok, STOPS)
    ours = StopStringCriteria(tok, STOPS)
    texts = ["hello world", "please stop", "stopper", "las topper", "s to pped", "stop at", "going.", "thing. ok",
             "line\n", "line\nnext", "banana", "xyz", "Hello worlds", "nonstop!"]  # fmt: skip
    rows = [ref_tok(t)["input_ids"] for t in texts]
    torch.manual_seed(0)
    rows += torch.randint(0, 50257, (40, 6)).tolist()  # random tails
    for row in rows:
        ids = torch.tensor([row])
        assert bool(ours(ids, None)[0]) == bool(ref_crit(ids, None)[0]), ref_tok.decode(row)


def test_generate_with_stop_strings_matches_reference(tokenizers, model):
    ref_tok, tok = tokenizers
    ref, ours = model
    inputs = ref_tok(["Hello world", "Once upon a"])
    inputs = {k: torch.tensor([[0] + v[0], v[1]]) for k, v in inputs.items()}  # left-padded by hand
    inputs["attention_mask"][0, 0] = 0
    free = ours.generate(**inputs, max_new_tokens=12, pad_token_id=0)
    stop = tok.decode(free[1, -8:-6])  # text the second row produces mid-way
    kwargs = dict(max_new_tokens=12, stop_strings=[stop, "zzz"], pad_token_id=0)
    expected = ref.generate(**inputs, tokenizer=ref_tok, **kwargs)
    got = ours.generate(**inputs, tokenizer=tok, **kwargs)
    assert torch.equal(got, expected)
    assert got.shape[1] <= free.shape[1]
