"""`leanformers chat`: a conversation over stdin/stdout with a tiny model that has a chat template."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
import transformers

from _pipeline_checkpoints import build_chat_gpt2, gpt2_tokenizer


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_chat_gpt2(tmp_path_factory.mktemp("chat-gpt2"), n_positions=256)


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
    gpt2_tokenizer().save_pretrained(tmp_path)
    config = transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=32)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path)
    result = _run(["chat", "--model", str(tmp_path)], "Hi\n")
    assert result.returncode == 2
    assert "chat template" in result.stderr
