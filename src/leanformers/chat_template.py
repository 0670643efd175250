"""Render chat templates: Jinja in a sandbox, configured exactly like the reference.

Templates come from checkpoints (untrusted), so they run in jinja2's `ImmutableSandboxedEnvironment`
with `trim_blocks`/`lstrip_blocks`, the `loopcontrols` extension, a `tojson` filter that does not
HTML-escape, and the `raise_exception` / `strftime_now` globals templates rely on. Errors point at
the template line that failed.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext  # the submodule is not imported by `import jinja2`
from jinja2.sandbox import ImmutableSandboxedEnvironment

_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "


class ChatTemplateError(jinja2.TemplateError, ValueError):
    """A chat template failed to compile or render; the message shows the failing template line."""


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    x: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys: bool = False
) -> str:
    # Jinja's own tojson HTML-escapes '<', '>' and '&'; templates expect plain JSON.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class _GenerationBlock(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` marks assistant text (for `return_assistant_tokens_mask`)."""

    tags = {"generation"}

    def __init__(self, environment: jinja2.Environment):
        super().__init__(environment)
        environment.extend(generation_spans=None, rendered_so_far=None)

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_mark", []), [], [], body).set_lineno(lineno)

    def _mark(self, caller: Callable[[], str]) -> str:
        text = caller()
        spans, rendered = self.environment.generation_spans, self.environment.rendered_so_far
        if spans is not None:
            start = sum(len(part) for part in rendered)
            spans.append((start, start + len(text)))
        return text


@functools.lru_cache(maxsize=16)
def compile_template(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as e:
        raise ChatTemplateError(_explain(source, e.lineno, f"syntax error: {e.message}")) from None


def _explain(source: str, lineno: int | None, what: str) -> str:
    lines = source.splitlines()
    if lineno is None or not 1 <= lineno <= len(lines):
        return f"The chat template failed ({what})."
    return f"The chat template failed at line {lineno} ({what}):\n    {lines[lineno - 1].strip()}"


def _template_lineno(tb) -> int | None:
    # Jinja rewrites tracebacks so that template frames carry the template's own line numbers.
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def render(
    template: str,
    conversations: list,
    *,
    tools: list | None = None,
    documents: list | None = None,
    add_generation_prompt: bool = False,
    continue_final_message: bool = False,
    return_assistant_tokens_mask: bool = False,
    **kwargs: Any,
) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """Render each conversation; returns the strings and (if asked) the assistant character spans."""
    compiled = compile_template(template)
    tool_schemas = (
        None if tools is None else [t if isinstance(t, dict) else get_json_schema(t) for t in tools]
    )
    if documents is not None and not all(isinstance(d, dict) for d in documents):
        raise TypeError("Documents should be a list of dicts with 'title' and 'text' keys!")
    rendered, all_spans = [], []
    for chat in conversations:
        chat = getattr(chat, "messages", chat)
        final_text = None
        if continue_final_message:
            chat = copy.deepcopy(chat)
            final_text = _tag_final_message(chat)
        context = dict(
            kwargs,
            messages=chat,
            tools=tool_schemas,
            documents=documents,
            add_generation_prompt=add_generation_prompt,
        )
        try:
            if return_assistant_tokens_mask:
                text, spans = _render_tracking(compiled, context)
                all_spans.append(spans)
            else:
                text = compiled.render(**context)
        except ChatTemplateError:
            raise
        except Exception as e:
            lineno = _template_lineno(sys.exc_info()[2])
            raise ChatTemplateError(_explain(template, lineno, f"{type(e).__name__}: {e}")) from e
        if continue_final_message:
            text = _cut_after_final_message(text, final_text)
        rendered.append(text)
    return rendered, all_spans


def _render_tracking(compiled: jinja2.Template, context: dict) -> tuple[str, list[tuple[int, int]]]:
    env = compiled.environment
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    # The sandbox is immutable for templates, not for us: point the extension at this render's buffers.
    object.__setattr__(env, "generation_spans", spans)
    object.__setattr__(env, "rendered_so_far", parts)
    try:
        for part in compiled.generate(**context):
            parts.append(part)
    finally:
        object.__setattr__(env, "generation_spans", None)
        object.__setattr__(env, "rendered_so_far", None)
    return "".join(parts), spans


def _tag_final_message(chat: list) -> str:
    content = chat[-1]["content"]
    if isinstance(content, (list, tuple)):
        for block in reversed(content):
            if "text" in block:
                final = block["text"]
                block["text"] = final + _CONTINUE_TAG
                return final
        raise ValueError(
            "continue_final_message is set but we could not find any text to continue in the final message!"
        )
    chat[-1]["content"] = content + _CONTINUE_TAG
    return content


def _cut_after_final_message(text: str, final_text: str) -> str:
    if final_text.strip() not in text or _CONTINUE_TAG.strip() not in text:
        raise ValueError(
            "continue_final_message is set but the final message does not appear in the chat after applying the "
            "chat template! This can happen if the chat template deletes portions of the final message. Please "
            "verify the chat template and final message in your chat to ensure they are compatible."
        )
    loc = text.rindex(_CONTINUE_TAG.strip())
    if text[loc : loc + len(_CONTINUE_TAG)] == _CONTINUE_TAG:
        return text[:loc]
    return text[:loc].rstrip()  # the template trimmed the tag's trailing space: trim the same way


# ------------------------------------------------------------------------------- tools as JSON schemas
_JSON_TYPES = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    type(None): "null",
    list: "array",
    dict: "object",
    Any: "any",
}


def _type_schema(hint: Any) -> dict:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is None:
        if hint not in _JSON_TYPES:
            raise TypeError(f"Cannot describe the type {hint!r} in a tool's JSON schema.")
        return {"type": _JSON_TYPES[hint]}
    if origin is typing.Union or origin is types.UnionType:  # Optional[X], X | None
        subs = [_type_schema(a) for a in args if a is not type(None)]
        schema = (
            subs[0]
            if len(subs) == 1
            else (
                {"type": [s["type"] for s in subs]}
                if all(set(s) == {"type"} for s in subs)
                else {"anyOf": subs}
            )
        )
        if type(None) in args:
            schema["nullable"] = True
        return schema
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0])} if args else {"type": "array"}
    if origin is dict:
        return (
            {"type": "object", "additionalProperties": _type_schema(args[1])} if args else {"type": "object"}
        )
    if origin is typing.Literal:
        return {"type": _JSON_TYPES[type(args[0])], "enum": list(args)}
    if origin is tuple:
        return {"type": "array", "prefixItems": [_type_schema(a) for a in args]}
    raise TypeError(f"Cannot describe the type {hint!r} in a tool's JSON schema.")


def get_json_schema(func: Callable) -> dict:
    """A tool function (type hints + Google-style docstring) as the JSON schema chat templates expect."""
    if not callable(func):
        raise ValueError(
            "Tools should either be a JSON schema, or a callable function with type hints and a docstring."
        )
    doc = inspect.getdoc(func)
    if not doc:
        raise ValueError(f"Cannot generate a JSON schema for {func.__name__}: it has no docstring.")
    description, _, rest = doc.partition("\nArgs:")
    arg_docs = dict(
        re.findall(
            r"^\s*(\w+)(?:\s*\([^)]*\))?:\s*(.*(?:\n(?!\s*\w+(?:\s*\([^)]*\))?:)\s+.*)*)",
            rest.split("\nReturns:")[0],
            re.MULTILINE,
        )
    )
    hints = typing.get_type_hints(func)
    properties, required = {}, []
    for name, param in inspect.signature(func).parameters.items():
        if name not in hints:
            raise TypeError(f"Argument {name} of {func.__name__} has no type hint; tools need type hints.")
        schema = _type_schema(hints[name])
        if name not in arg_docs:
            raise ValueError(
                f"Argument {name} of {func.__name__} is not described in the docstring's Args section."
            )
        schema["description"] = " ".join(arg_docs[name].split())
        properties[name] = schema
        if param.default is inspect.Parameter.empty:
            required.append(name)
    parameters = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    out = {"name": func.__name__, "description": description.strip(), "parameters": parameters}
    if "return" in hints and hints["return"] is not type(None):
        out["return"] = _type_schema(hints["return"])
    return {"type": "function", "function": out}
