"""Streamers: receive token ids from `generate()` as they are produced and turn them into text.

`generate()` calls `streamer.put(ids)` once with the prompt, once per new token, then `streamer.end()`.
`TextStreamer` prints whole words as soon as they are complete (a word may change while its
tokens are still coming, so text is held back until the next space, newline or CJK character);
`TextIteratorStreamer` puts the same pieces in a queue for another thread to iterate over.
"""

from __future__ import annotations

from queue import Queue
from typing import Any


class BaseStreamer:
    """What `generate()` needs from a streamer."""

    def put(self, value: Any) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class TextStreamer(BaseStreamer):
    """Print decoded text to stdout as soon as entire words are formed.

    >>> streamer = TextStreamer(tokenizer, skip_prompt=True)
    >>> model.generate(**inputs, streamer=streamer, max_new_tokens=20)
    """

    def __init__(self, tokenizer: Any, skip_prompt: bool = False, **decode_kwargs: Any):
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0  # characters of the decoded cache already emitted
        self.next_tokens_are_prompt = True

    def put(self, value: Any) -> None:
        """Take new token ids (a (1, n) or (n,) tensor), emit the text that can no longer change."""
        if len(value.shape) > 1 and value.shape[0] > 1:
            raise ValueError(
                "TextStreamer only supports batch size 1; generate one prompt at a time to stream it."
            )
        if len(value.shape) > 1:
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(value.tolist())
        # Decode the whole cache: BPE pieces only become characters/words in context.
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):  # a finished line: emit it and start over
            printable = text[self.print_len :]
            self.token_cache = []
            self.print_len = 0
        elif text and _is_cjk(ord(text[-1])):  # CJK characters are words on their own
            printable = text[self.print_len :]
            self.print_len += len(printable)
        else:  # up to the last space: the word after it may still grow
            printable = text[self.print_len : text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        """Emit what is left and signal the end of the stream."""
        if self.token_cache:
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            printable = text[self.print_len :]
            self.token_cache = []
            self.print_len = 0
        else:
            printable = ""
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Print the text (a newline at the end of the stream). Override to send it elsewhere."""
        print(text, flush=True, end=None if stream_end else "")


class TextIteratorStreamer(TextStreamer):
    """Queue the text pieces; iterate over the streamer (in another thread than `generate()`).

    >>> streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
    >>> Thread(target=model.generate, kwargs=dict(**inputs, streamer=streamer)).start()
    >>> for piece in streamer:
    ...     print(piece, end="")

    `timeout` (seconds) bounds every wait on the queue, so a consumer does not hang forever if
    `generate()` fails in its thread (`queue.Empty` is raised instead).
    """

    def __init__(
        self, tokenizer: Any, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any
    ):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: Queue = Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self) -> TextIteratorStreamer:
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration
        return value


def _is_cjk(cp: int) -> bool:
    """Code points of the CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana, which use spaces)."""
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


__all__ = ["BaseStreamer", "TextStreamer", "TextIteratorStreamer"]
