"""`leanformers chat --model ID [--gguf-file F]`: talk to a causal LM in the terminal.

Each user line is added to the conversation, the whole conversation goes through the tokenizer's
chat template, and the reply streams to stdout as it is generated. Ctrl-D (end of input), Ctrl-C,
`/exit` or `/quit` end the session (exit code 0); `/reset` starts a new conversation. Input can
also be piped: one user message per line.
"""

from __future__ import annotations

import sys
from typing import Any

from .streamers import TextStreamer

HELP = "Type a message and press Enter. /reset starts over, /exit (or Ctrl-D, Ctrl-C) quits."


def chat_command(args: Any) -> int:
    """Run the interactive chat described by the parsed CLI `args`; return the exit code."""
    from ..auto import AutoModelForCausalLM
    from ..tokenization import AutoTokenizer

    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        print("leanformers: error: --max-new-tokens must be at least 1.", file=sys.stderr)
        return 2
    load_kwargs: dict[str, Any] = {}
    if args.gguf_file:
        load_kwargs["gguf_file"] = args.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.model, **load_kwargs)
        model = AutoModelForCausalLM.from_pretrained(args.model, device=args.device, **load_kwargs)
    except KeyboardInterrupt:
        return 0
    if not getattr(tokenizer, "chat_template", None):
        print(
            f"leanformers: error: the tokenizer of {args.model} has no chat template, so it cannot hold a "
            "conversation. Use a chat (instruct) model, or `leanformers run text-generation` to continue a prompt.",
            file=sys.stderr,
        )
        return 2
    session = ChatSession(model, tokenizer, system=args.system, max_new_tokens=args.max_new_tokens)
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Chatting with {args.model}. {HELP}", file=sys.stderr)
    try:
        while True:
            try:
                line = input(">>> " if interactive else "")
            except EOFError:
                break
            text = line.strip()
            if not text:
                continue
            if text in ("/exit", "/quit"):
                break
            if text == "/reset":
                session.reset()
                continue
            session.reply(text, stream=sys.stdout)
    except KeyboardInterrupt:
        pass
    if interactive:
        print(file=sys.stderr)
    return 0


class ChatSession:
    """A conversation with a model: `reply(user_text)` streams and returns the assistant's answer."""

    def __init__(
        self, model: Any, tokenizer: Any, system: str | None = None, max_new_tokens: int | None = 256
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.system = system
        self.max_new_tokens = max_new_tokens
        self.messages: list[dict[str, str]] = []
        self.reset()

    def reset(self) -> None:
        self.messages = [{"role": "system", "content": self.system}] if self.system else []

    def reply(self, user_text: str, stream: Any = None) -> str:
        self.messages.append({"role": "user", "content": user_text})
        inputs = self.tokenizer.apply_chat_template(
            self.messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )
        device = next(self.model.parameters()).device
        input_ids = inputs["input_ids"].to(device)
        attention_mask = inputs.get("attention_mask")
        streamer = _FileStreamer(self.tokenizer, stream) if stream is not None else None
        kwargs: dict[str, Any] = {}
        if self.max_new_tokens is not None:
            kwargs["max_new_tokens"] = self.max_new_tokens
        try:
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=None if attention_mask is None else attention_mask.to(device),
                streamer=streamer,
                pad_token_id=self._pad_id(),
                **kwargs,
            )
        except BaseException:
            self.messages.pop()  # the turn did not happen
            raise
        answer = self.tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True).strip()
        self.messages.append({"role": "assistant", "content": answer})
        return answer

    def _pad_id(self) -> int | None:
        config = getattr(self.model, "generation_config", None)
        pad = getattr(config, "pad_token_id", None)
        if pad is None:
            pad = self.tokenizer.pad_token_id
        if pad is None:  # a chat has one row: any id works; use EOS as the reference would, quietly
            eos = getattr(config, "eos_token_id", None) or self.tokenizer.eos_token_id
            pad = eos[0] if isinstance(eos, list) else eos
        return pad


class _FileStreamer(TextStreamer):
    """Writes the reply (not the prompt, no special tokens) to a file object as it comes."""

    def __init__(self, tokenizer: Any, file: Any):
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.file = file

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.file.write(text + ("\n" if stream_end else ""))
        self.file.flush()


__all__ = ["chat_command", "ChatSession"]
