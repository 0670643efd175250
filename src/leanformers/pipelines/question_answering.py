"""question-answering: the span of a context that answers a question.

`qa(question=..., context=...)` -> `{"score", "start", "end", "answer"}` (`start`/`end` are
character offsets into the context; a list of dicts with `top_k` > 1). A context longer than
`max_seq_len` tokens is read in windows that overlap by `doc_stride` tokens, so an answer that a
window boundary cuts is still found whole in the next window; candidates of every window are
pooled, equal answers' scores summed, and the best returned. Span scoring is the reference's:
softmax over start and end logits of the context tokens, product of the two, spans of at most
`max_answer_len` tokens, widened to whole words with `align_to_words`.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from .base import ChunkPipeline


def decode_spans(
    start: np.ndarray, end: np.ndarray, topk: int, max_answer_len: int, undesired_tokens: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `topk` best (start, end) token pairs with start <= end < start + max_answer_len, and their scores."""
    if start.ndim == 1:
        start = start[None]
    if end.ndim == 1:
        end = end[None]
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))  # (1, T, T): P(start) * P(end)
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if topk == 1:
        idx_sort = [np.argmax(scores_flat)]
    elif len(scores_flat) < topk:
        idx_sort = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, topk)[0:topk]
        idx_sort = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    # As the reference: membership in `nonzero()`'s tuple (row indices are all 0, so token 0 counts).
    allowed = undesired_tokens.nonzero()
    desired = np.isin(starts, allowed) & np.isin(ends, allowed)
    starts, ends = starts[desired], ends[desired]
    return starts, ends, candidates[0, starts, ends]


def select_starts_ends(
    start: np.ndarray,
    end: np.ndarray,
    p_mask: np.ndarray,
    attention_mask: np.ndarray | None,
    min_null_score: float = 1000000,
    top_k: int = 1,
    handle_impossible_answer: bool = False,
    max_answer_len: int = 15,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Mask non-context tokens, normalise the logits to probabilities, decode the best spans.

    Also returns the "no answer" score (start and end both on the first token), for
    `handle_impossible_answer`.
    """
    undesired_tokens = np.abs(np.array(p_mask) - 1)
    if attention_mask is not None:
        undesired_tokens = undesired_tokens & attention_mask
    undesired_tokens_mask = undesired_tokens == 0.0
    start = np.where(undesired_tokens_mask, -10000.0, start)
    end = np.where(undesired_tokens_mask, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0  # the first token is never part of an answer
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, undesired_tokens)
    return starts, ends, scores, min_null_score


def _normalize(item: Any) -> dict[str, str]:
    if isinstance(item, dict):
        for key in ("question", "context"):
            if key not in item:
                raise KeyError("You need to provide a dictionary with keys {question:..., context:...}")
            if item[key] is None:
                raise ValueError(f"`{key}` cannot be None")
            if isinstance(item[key], str) and len(item[key]) == 0:
                raise ValueError(f"`{key}` cannot be empty")
            if not isinstance(item[key], str):
                raise ValueError(f"`{key}` must be a string, got {type(item[key]).__name__}")
        return {"question": item["question"], "context": item["context"]}
    if hasattr(item, "question_text") and hasattr(item, "context_text"):  # a SquadExample-like object
        return _normalize({"question": item.question_text, "context": item.context_text})
    raise ValueError(f"{item!r:.80} is not a question: pass {{'question': ..., 'context': ...}}.")


def parse_qa_arguments(*args: Any, **kwargs: Any) -> Any:
    """The reference's accepted spellings -> one example dict, a list of them, or a lazy iterable."""
    if args:
        if len(args) == 1:
            inputs = args[0]
        elif len(args) == 2 and all(isinstance(a, str) for a in args):
            inputs = [{"question": args[0], "context": args[1]}]
        else:
            inputs = list(args)
    elif "X" in kwargs or "data" in kwargs:
        inputs = kwargs.get("X", kwargs.get("data"))
    elif "question" in kwargs and "context" in kwargs:
        question, context = kwargs["question"], kwargs["context"]
        if isinstance(question, list) and isinstance(context, str):
            inputs = [{"question": q, "context": context} for q in question]
        elif isinstance(question, list) and isinstance(context, list):
            if len(question) != len(context):
                raise ValueError("Questions and contexts don't have the same lengths")
            inputs = [{"question": q, "context": c} for q, c in zip(question, context)]
        elif isinstance(question, str) and isinstance(context, str):
            inputs = [{"question": question, "context": context}]
        else:
            raise ValueError(
                "question= and context= must be strings, or a list of questions with one context or as many contexts."
            )
    else:
        raise ValueError(
            "Pass question= and context= (or a {'question': ..., 'context': ...} dict, or a list of them)."
        )
    if isinstance(inputs, (types.GeneratorType,)) or (
        hasattr(inputs, "__getitem__")
        and hasattr(inputs, "__len__")
        and not isinstance(inputs, (list, dict, str, tuple))
    ):
        return inputs  # lazy: normalised item by item in preprocess
    if isinstance(inputs, dict):
        inputs = [inputs]
    elif isinstance(inputs, Iterable) and not isinstance(inputs, str):
        inputs = list(inputs)
    else:
        raise ValueError(f"Invalid question-answering input {inputs!r:.80}.")
    return [_normalize(item) for item in inputs]


class QuestionAnsweringPipeline(ChunkPipeline):
    model_auto_class = "AutoModelForQuestionAnswering"
    padded_outputs = ("start", "end")

    def _sanitize_parameters(
        self,
        padding: Any = None,
        topk: int | None = None,
        top_k: int | None = None,
        doc_stride: int | None = None,
        max_answer_len: int | None = None,
        max_seq_len: int | None = None,
        max_question_len: int | None = None,
        handle_impossible_answer: bool | None = None,
        align_to_words: bool | None = None,
        **_inputs: Any,  # question= / context= / X= / data= arrive here too; __call__ has used them
    ) -> tuple[dict, dict, dict]:
        preprocess_params: dict[str, Any] = {}
        for name, value in (
            ("padding", padding),
            ("doc_stride", doc_stride),
            ("max_question_len", max_question_len),
            ("max_seq_len", max_seq_len),
        ):
            if value is not None:
                preprocess_params[name] = value
        postprocess_params: dict[str, Any] = {}
        if topk is not None and top_k is None:
            warnings.warn("topk is deprecated, use top_k", UserWarning, stacklevel=3)
            top_k = topk
        if top_k is not None:
            if top_k < 1:
                raise ValueError(f"top_k parameter should be >= 1 (got {top_k})")
            postprocess_params["top_k"] = top_k
        if max_answer_len is not None:
            if max_answer_len < 1:
                raise ValueError(f"max_answer_len parameter should be >= 1 (got {max_answer_len})")
            postprocess_params["max_answer_len"] = max_answer_len
        if handle_impossible_answer is not None:
            postprocess_params["handle_impossible_answer"] = handle_impossible_answer
        if align_to_words is not None:
            postprocess_params["align_to_words"] = align_to_words
        return preprocess_params, {}, postprocess_params

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """`qa(question=..., context=...)`, `qa({"question": ..., "context": ...})`, or lists of those."""
        examples = parse_qa_arguments(*args, **kwargs)
        for key in ("question", "context", "X", "data"):
            kwargs.pop(key, None)
        if isinstance(examples, list) and len(examples) == 1:
            return super().__call__(examples[0], **kwargs)
        return super().__call__(examples, **kwargs)

    def preprocess(
        self,
        example: Any,
        padding: Any = "do_not_pad",
        doc_stride: int | None = None,
        max_question_len: int = 64,  # used by the reference's slow-tokenizer path only
        max_seq_len: int | None = None,
    ) -> list[dict[str, Any]]:
        example = _normalize(example)
        if max_seq_len is None:
            max_seq_len = min(self.max_length, 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise ValueError(f"`doc_stride` ({doc_stride}) is larger than `max_seq_len` ({max_seq_len})")
        question_first = self.tokenizer.padding_side == "right"
        question, context = example["question"], example["context"]
        encoded = self.tokenizer(
            text=question if question_first else context,
            text_pair=context if question_first else question,
            padding=padding,
            truncation="only_second" if question_first else "only_first",
            max_length=max_seq_len,
            stride=doc_stride,
            return_token_type_ids=True,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        cls_id = self.tokenizer.cls_token_id
        rows = []
        for span in range(len(encoded["input_ids"])):
            input_ids = encoded["input_ids"][span]
            # p_mask: 1 for tokens that cannot be part of the answer (all but the context and [CLS]).
            if question_first:
                p_mask = [int(seq_id != 1) for seq_id in encoded.sequence_ids(span)]
            else:
                p_mask = [0] * len(input_ids)
            if cls_id is not None:
                p_mask = [0 if tok == cls_id else m for tok, m in zip(input_ids, p_mask)]
            row = {
                "example": example,
                "input_ids": torch.tensor([input_ids], dtype=torch.long),
                "p_mask": torch.tensor([p_mask], dtype=torch.long),
                "token_type_ids": torch.tensor([encoded["token_type_ids"][span]], dtype=torch.long),
                "encoding": encoded.encodings[span],
            }
            if "attention_mask" in encoded:
                row["attention_mask"] = torch.tensor([encoded["attention_mask"][span]], dtype=torch.long)
            rows.append(row)
        return rows

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        model_inputs = {k: inputs[k] for k in self.tokenizer.model_input_names if k in inputs}
        output = self._call_model(model_inputs)
        return {"start": output["start_logits"], "end": output["end_logits"], **inputs}

    def postprocess(
        self,
        model_outputs: list[dict[str, Any]],
        top_k: int = 1,
        handle_impossible_answer: bool = False,
        max_answer_len: int = 15,
        align_to_words: bool = True,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        min_null_score = 1000000  # large and positive: any real "no answer" score is smaller
        answers: list[dict[str, Any]] = []
        question_first = self.tokenizer.padding_side == "right"
        for output in model_outputs:
            start = output["start"].float().numpy()
            end = output["end"].float().numpy()
            context = output["example"]["context"]
            attention_mask = (
                output["attention_mask"].numpy() if output.get("attention_mask") is not None else None
            )
            pre_topk = top_k * 2 + 10 if align_to_words else top_k  # aligning may merge candidates
            starts, ends, scores, min_null_score = select_starts_ends(
                start,
                end,
                output["p_mask"].numpy(),
                attention_mask,
                min_null_score,
                pre_topk,
                handle_impossible_answer,
                max_answer_len,
            )
            enc = output["encoding"]
            offset = 0
            if self.tokenizer.padding_side == "left":
                offset = int((output["input_ids"] == self.tokenizer.pad_token_id).sum())
            sequence_index = 1 if question_first else 0
            for s, e, score in zip(starts, ends, scores):
                start_index, end_index = self.get_indices(
                    enc, s - offset, e - offset, sequence_index, align_to_words
                )
                text = context[start_index:end_index]
                same = next((a for a in answers if a["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += score.item()
                else:
                    answers.append(
                        {"score": score.item(), "start": start_index, "end": end_index, "answer": text}
                    )
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers

    @staticmethod
    def get_indices(enc: Any, s: int, e: int, sequence_index: int, align_to_words: bool) -> tuple[int, int]:
        """Character span of tokens s..e in the context; widened to whole words with align_to_words."""
        if align_to_words:
            try:
                start_index = enc.word_to_chars(enc.token_to_word(s), sequence_index=sequence_index)[0]
                end_index = enc.word_to_chars(enc.token_to_word(e), sequence_index=sequence_index)[1]
                return start_index, end_index
            except Exception:  # a token outside any word (as the reference: fall back to token offsets)
                pass
        return enc.offsets[s][0], enc.offsets[e][1]
