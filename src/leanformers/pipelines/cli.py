"""`leanformers run` and `leanformers tasks` (argument parsing lives in leanformers/cli.py).

    leanformers run sentiment-analysis "I love it" "I hate it"
    cat texts.txt | leanformers run feature-extraction --model sentence-transformers/all-MiniLM-L6-v2 --json

Each argument (or each stdin line) is one input. A line holding a JSON object is passed as a dict:
`{"question": ..., "context": ...}` for question-answering, `{"text": ..., "text_pair": ...}` for a
text pair; for zero-shot-classification `{"text": ..., "candidate_labels": [...]}` (optionally
`hypothesis_template`, `multi_label`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import TASK_ALIASES, TASKS, TRANSLATION_DEFAULTS, check_task


class UsageError(ValueError):
    """Bad command-line usage; printed as one line, exit code 2."""


def _read_inputs(args: argparse.Namespace) -> list[str]:
    if args.texts:
        return list(args.texts)
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(
            f'no input: give texts as arguments (leanformers run {args.task} "some text") or pipe them on stdin, '
            "one per line"
        )
    return [line.rstrip("\r\n") for line in sys.stdin if line.strip()]


def _parse(text: str) -> Any:
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as e:
            raise UsageError(f"input {stripped[:40]!r} looks like JSON but is not valid JSON: {e}") from None
    return text


def _summary(result: Any) -> str:
    """A short human-readable form (feature vectors are summarised, not printed whole)."""
    if hasattr(result, "tolist"):
        result = result.tolist()
    if (
        isinstance(result, list)
        and result
        and isinstance(result[0], list)
        and result[0]
        and isinstance(result[0][0], list)
    ):
        dims = f"{len(result)}x{len(result[0])}x{len(result[0][0])}"
        first = ", ".join(f"{v:.4f}" for v in result[0][0][:5])
        return f"[{dims} floats] first token: [{first}, ...]"
    return json.dumps(result, ensure_ascii=False)


def run_command(args: argparse.Namespace) -> int:
    """Run a pipeline over the texts; one line per input (one JSON document per line with --json)."""
    from . import pipeline

    try:
        check_task(args.task)
        if args.batch_size is not None and args.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
        raw = _read_inputs(args)
        inputs = [_parse(t) for t in raw]
    except (UsageError, KeyError, ValueError) as e:
        print(f"leanformers: error: {e}", file=sys.stderr)
        return 2
    if not inputs:
        print("leanformers: error: no input texts (stdin was empty)", file=sys.stderr)
        return 2
    try:
        pipe = pipeline(args.task, model=args.model, device=args.device, batch_size=args.batch_size)
        if TASK_ALIASES.get(args.task, args.task) == "zero-shot-classification":
            results = [_zero_shot(pipe, item) for item in inputs]
        elif all(isinstance(x, str) for x in inputs) or all(isinstance(x, dict) for x in inputs):
            results = pipe(inputs)
        else:
            results = [pipe(x) for x in inputs]
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
        message = " ".join(str(e).split())  # one line
        print(f"leanformers: error: {message}", file=sys.stderr)
        return 2
    for text, result in zip(raw, results):
        if hasattr(result, "tolist"):
            result = result.tolist()
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print(f"{text}\t{_summary(result)}")
    return 0


def _zero_shot(pipe: Any, item: Any) -> Any:
    if not isinstance(item, dict) or "candidate_labels" not in item:
        raise ValueError(
            "zero-shot-classification needs labels: give each input as JSON, e.g. "
            '{"text": "I love football", "candidate_labels": ["sports", "politics"]}'
        )
    item = dict(item)
    text = item.pop("text", item.pop("sequences", None))
    return pipe(text, **item)


def tasks_command(args: argparse.Namespace) -> int:
    """List every task, its aliases and its default model(s)."""
    aliases: dict[str, list[str]] = {}
    for alias, target in TASK_ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    width = max(len(t) for t in TASKS) + 2
    for name, spec in TASKS.items():
        also = f" (alias: {', '.join(aliases[name])})" if name in aliases else ""
        if name == "translation":
            defaults = "; ".join(
                f"{s}->{t}: {', '.join(ids)}" for (s, t), ids in TRANSLATION_DEFAULTS.items()
            )
            defaults += "  [use translation_XX_to_YY]"
        else:
            defaults = " | ".join(spec.defaults)
        print(f"{name:<{width}}{spec.description}{also}\n{'':<{width}}default: {defaults}")
    return 0
