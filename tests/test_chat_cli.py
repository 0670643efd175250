"""`leanformers chat`: a conversation over stdin/stdout with a tiny model that has a chat template."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
import torch
import transformers

TOKENIZER_FILES = "/work/shared/data/gpt2-tokenizer"
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("chat-gpt2")
    tok = transformers.GPT2TokenizerFast(
        vocab_file=f"{TOKENIZER_FILES}/vocab.json", merges_file=f"{TOKENIZER_FILES}/merges.txt"
    )
    tok.chat_template = CHATML
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=256)
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(path)
    return str(path)


def _reference_replies(folder, turns, system, max_new_tokens):
    """What the conversation should print: greedy replies, each fed back into the history."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    messages = [{"role": "system", "content": system}]
    printed = ""
    for turn in turns:
        messages.append({"role": "user", "content": turn})
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        out = model.generate(
            ids, max_new_tokens=max_new_tokens, pad_token_id=tok.eos_token_id, do_sample=False
        )
        text = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        printed += text + "\n"
        messages.append({"role": "assistant", "content": text.strip()})
    return printed


def _run(args, stdin):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    code = "import sys; from leanformers.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True, timeout=300, env=env
    )


def test_piped_conversation_streams_replies_and_exits_on_eof(folder):
    turns = ["Hello!", "What did I just say?"]
    result = _run(
        ["chat", "--model", folder, "--max-new-tokens", "8", "--system", "Be nice."], "\n".join(turns) + "\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == _reference_replies(folder, turns, "Be nice.", 8)


def test_exit_command_and_blank_lines(folder):
    result = _run(["chat", "--model", folder, "--max-new-tokens", "3"], "\n\n/exit\nnever sent\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_ctrl_c_exits_cleanly(folder, monkeypatch):
    from leanformers.generation.chat import chat_command

    def interrupted(prompt=""):
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", interrupted)
    args = argparse.Namespace(model=folder, gguf_file=None, max_new_tokens=4, system=None, device=None)
    assert chat_command(args) == 0


def test_model_without_chat_template_is_refused(tmp_path):
    tok = transformers.GPT2TokenizerFast(
        vocab_file=f"{TOKENIZER_FILES}/vocab.json", merges_file=f"{TOKENIZER_FILES}/merges.txt"
    )
    tok.save_pretrained(tmp_path)
    config = transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=32)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path)
    result = _run(["chat", "--model", str(tmp_path)], "Hi\n")
    assert result.returncode == 2
    assert "chat template" in result.stderr
