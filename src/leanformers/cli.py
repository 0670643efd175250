"""The `leanformers` command line.

    leanformers cache import FOLDER --repo-id ORG/NAME   put a local model folder into the Hub cache
    leanformers run TASK [TEXT ...] [--model ID]       run a pipeline on texts (arguments or stdin)
    leanformers tasks                                  list tasks and their default models
    leanformers chat --model ID [--gguf-file F]        interactive chat with a causal LM
    leanformers build-default sentiment-analysis       fine-tune the offline default sentiment model

Each subcommand's work lives beside the code it drives; this file only parses arguments.
Bad usage exits with code 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"leanformers: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="leanformers", description="leanformers command line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    cache = sub.add_parser("cache", help="manage the Hub cache")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, parser_class=_Parser)
    imp = cache_sub.add_parser("import", help="put a local model folder into the Hub cache under a repo id")
    imp.add_argument("folder")
    imp.add_argument("--repo-id", required=True)
    imp.add_argument("--revision", default="main")
    imp.add_argument("--cache-dir", default=None)

    run = sub.add_parser("run", help="run a pipeline on texts given as arguments or on stdin (one per line)")
    run.add_argument("task")
    run.add_argument("texts", nargs="*")
    run.add_argument("--model", default=None)
    run.add_argument("--batch-size", type=int, default=None)
    run.add_argument("--device", default=None)
    run.add_argument("--json", action="store_true", help="print one JSON document per input")

    sub.add_parser("tasks", help="list the pipeline tasks and their default models")

    chat = sub.add_parser("chat", help="chat with a causal language model in the terminal")
    chat.add_argument("--model", required=True)
    chat.add_argument("--gguf-file", default=None)
    chat.add_argument("--max-new-tokens", type=int, default=256)
    chat.add_argument("--system", default=None, help="an optional system prompt")
    chat.add_argument("--device", default=None)

    build = sub.add_parser("build-default", help="build a task's default model offline from real parts")
    build.add_argument("task", choices=["sentiment-analysis"])
    build.add_argument("--repo-id", default=None, help="the id to store it under in the Hub cache")
    build.add_argument("--seed", type=int, default=42)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "cache":
            from .hub import import_folder_to_cache

            snapshot = import_folder_to_cache(args.folder, args.repo_id, args.cache_dir, args.revision)
            print(f"Imported {args.folder} as {args.repo_id} -> {snapshot}")
            return 0
        if args.command in ("run", "tasks"):
            from .pipelines.cli import run_command, tasks_command

            return run_command(args) if args.command == "run" else tasks_command(args)
        if args.command == "chat":
            from .generation.chat import chat_command

            return chat_command(args)
        if args.command == "build-default":
            from .training.sentiment import build_command

            return build_command(args)
    except (OSError, ValueError, TypeError, KeyError) as e:
        print(f"leanformers: error: {e}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
