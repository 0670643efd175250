"""Loading tokenizers: `from_pretrained` (files -> constructor arguments, with the reference's
precedence rules) and `AutoTokenizer`, which picks the class through the tables of
`tokenization_families`.
"""

from __future__ import annotations

import os
from typing import Any

from tokenizers import AddedToken, Tokenizer

from .configuration import load_json, pop_hub_kwargs
from .hub import HubError
from .tokenization import (
    ADDED_TOKENS_FILE,
    CHAT_TEMPLATE_FILE,
    SPECIAL_TOKENS_ATTRIBUTES,
    SPECIAL_TOKENS_MAP_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
)
from .tokenization_families import (
    _FILE_HINTS,
    MODEL_TYPE_TO_TOKENIZER,
    TOKENIZER_CLASSES,
    PreTrainedTokenizerFast,
    tokenizer_class_from_name,
)
from .tokenization_fast import _resolve_files
from .utils import get_logger

logger = get_logger(__name__)


def load_pretrained(
    cls: type[PreTrainedTokenizerFast],
    pretrained_model_name_or_path: str | os.PathLike,
    *init_inputs: Any,
    **kwargs: Any,
) -> PreTrainedTokenizerFast:
    """Load a tokenizer from a folder or a Hub repo id: tokenizer.json when present, else the legacy files
    this class can convert. Extra keyword arguments override tokenizer_config.json."""
    gguf_file = kwargs.pop("gguf_file", None)
    hub = pop_hub_kwargs(kwargs)
    for key in ("_from_pipeline", "use_fast", "trust_remote_code"):
        kwargs.pop(key, None)
    path = os.fspath(pretrained_model_name_or_path)
    if gguf_file:
        return _load_gguf(path, gguf_file, hub, kwargs)
    if os.path.isfile(path):
        raise ValueError(f"{path} is a file; pass the folder that holds the tokenizer files instead.")
    config = kwargs.pop("_tokenizer_config", None)
    names = {
        "tokenizer_file": TOKENIZER_FILE,
        "special_tokens_map_file": SPECIAL_TOKENS_MAP_FILE,
        "added_tokens_file": ADDED_TOKENS_FILE,
        "chat_template_file": CHAT_TEMPLATE_FILE,
        **{k: v for k, v in cls.vocab_files_names.items() if k != "tokenizer_file"},
    }
    if config is None:
        names["tokenizer_config_file"] = TOKENIZER_CONFIG_FILE
    files = _resolve_files(path, names, hub)
    if config is None:
        config = load_json(files["tokenizer_config_file"]) if files.get("tokenizer_config_file") else {}
    legacy_keys = [k for k in cls.vocab_files_names if k != "tokenizer_file"]
    if not files.get("tokenizer_file") and (
        not legacy_keys or not all(files.get(k) or config.get(k) or kwargs.get(k) for k in legacy_keys)
    ):
        legacy = " + ".join(cls.vocab_files_names[k] for k in legacy_keys)
        raise HubError(
            f"Can't load a {cls.__name__} from {path!r}: it needs {TOKENIZER_FILE}"
            f"{' or ' + legacy if legacy else ''}, and these are not there. Save a tokenizer there with "
            "save_pretrained(), or pass the folder (or Hub id) of the model's tokenizer."
        )
    return load_from_files(cls, path, files, config, init_inputs, kwargs)


def load_from_files(
    cls: type[PreTrainedTokenizerFast],
    path: str,
    files: dict[str, str | None],
    config: dict[str, Any],
    init_inputs: tuple,
    kwargs: dict[str, Any],
) -> PreTrainedTokenizerFast:
    """Build `cls` from resolved files, with the reference's precedence: tokenizer_config.json, then
    keyword arguments, then (for old checkpoints) special_tokens_map.json and added_tokens.json."""
    init_kwargs = dict(config)
    init_kwargs.pop("tokenizer_class", None)
    # A tokenizer_file in the config is a path on the machine that saved it; we use the resolved one.
    init_kwargs.pop("tokenizer_file", None)
    saved_inputs = init_kwargs.pop("init_inputs", ())
    init_inputs = init_inputs or tuple(saved_inputs)
    templates = {}
    for key, file in files.items():
        if file and key.startswith("chat_template_"):  # chat_template.jinja and additional_chat_templates/
            name = "default" if key == "chat_template_file" else key.removeprefix("chat_template_")
            with open(file, encoding="utf-8") as f:
                templates[name] = f.read()
    if templates:
        init_kwargs["chat_template"] = templates["default"] if list(templates) == ["default"] else templates
    init_kwargs.update(kwargs)
    for key in cls.vocab_files_names:
        if key != "tokenizer_file" and (files.get(key) or key not in init_kwargs):
            init_kwargs[key] = files.get(key)
    backend = None
    if files.get("tokenizer_file") and not init_kwargs.get("from_slow"):
        backend = Tokenizer.from_file(files["tokenizer_file"])
        init_kwargs["_backend"] = backend
    elif files.get("tokenizer_file"):
        init_kwargs["tokenizer_file"] = files["tokenizer_file"]
    added_decoder: dict[int, AddedToken] = {}
    if "added_tokens_decoder" in init_kwargs:
        for index, token in init_kwargs["added_tokens_decoder"].items():
            if isinstance(token, dict):
                token = AddedToken(**{k: v for k, v in token.items() if k != "__type"})
            if not isinstance(token, AddedToken):
                raise TypeError(
                    f"Found a {type(token)} in the saved `added_tokens_decoder`, should be a dictionary "
                    "or an AddedToken instance"
                )
            added_decoder[int(index)] = token
    else:  # older checkpoints: special_tokens_map.json, added_tokens.json and tokenizer.json's added tokens
        if files.get("special_tokens_map_file"):
            for key, value in load_json(files["special_tokens_map_file"]).items():
                if kwargs.get(key):
                    continue
                if isinstance(value, dict):
                    value = AddedToken(**{**value, "special": True})
                elif key == "additional_special_tokens" and isinstance(value, list):
                    merged = list(init_kwargs.pop("additional_special_tokens", None) or [])
                    for token in value:
                        if isinstance(token, dict):
                            token = AddedToken(**{**token, "special": True})
                        if token not in merged:
                            merged.append(token)
                    value = merged
                init_kwargs[key] = value
        if files.get("added_tokens_file"):
            special = {
                str(t)
                for k in SPECIAL_TOKENS_ATTRIBUTES
                if init_kwargs.get(k) is not None
                for t in (init_kwargs[k] if k == "additional_special_tokens" else [init_kwargs[k]])
            }
            for content, index in load_json(files["added_tokens_file"]).items():
                is_special = content in special
                added_decoder[index] = AddedToken(
                    content, rstrip=False, lstrip=False, normalized=not is_special, special=is_special
                )
        if backend is not None:
            added_decoder.update(backend.get_added_tokens_decoder())
    added_map = {str(t): t for t in added_decoder.values()}
    init_kwargs["added_tokens_decoder"] = added_decoder
    init_kwargs = cls.convert_added_tokens(init_kwargs, save=False)
    for key in SPECIAL_TOKENS_ATTRIBUTES[:-1]:
        if added_map and init_kwargs.get(key) is not None:
            init_kwargs[key] = added_map.get(str(init_kwargs[key]), init_kwargs[key])
    init_kwargs["name_or_path"] = path
    return cls(*init_inputs, **init_kwargs)


def _load_gguf(
    path: str, gguf_file: str, hub: dict[str, Any], kwargs: dict[str, Any]
) -> PreTrainedTokenizerFast:
    from .gguf import load_gguf_tokenizer

    tokenizer = load_gguf_tokenizer(path, gguf_file, **hub)
    for key, value in kwargs.items():  # simple overrides (padding_side="left", pad_token=..., ...)
        if (
            key
            in (
                "padding_side",
                "truncation_side",
                "model_max_length",
                "chat_template",
                "clean_up_tokenization_spaces",
            )
            or key in SPECIAL_TOKENS_ATTRIBUTES
        ):
            setattr(tokenizer, key, value)
        else:
            raise TypeError(f"Unsupported argument {key!r} when loading a tokenizer from a GGUF file.")
    return tokenizer


class AutoTokenizer:
    """Loads the right tokenizer class for a checkpoint: `AutoTokenizer.from_pretrained("bert-base-uncased")`."""

    def __init__(self) -> None:
        raise OSError(
            "AutoTokenizer is designed to be instantiated using AutoTokenizer.from_pretrained(path)."
        )

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, *inputs: Any, **kwargs: Any
    ) -> PreTrainedTokenizerFast:
        """Read tokenizer_config.json's `tokenizer_class` (else config.json's `model_type`) and load that class.
        `gguf_file=NAME` loads the tokenizer stored in a GGUF file."""
        config = kwargs.pop("config", None)
        tokenizer_type = kwargs.pop("tokenizer_type", None)
        gguf_file = kwargs.pop("gguf_file", None)
        for key in ("use_fast", "trust_remote_code", "_from_pipeline"):
            kwargs.pop(key, None)
        hub = pop_hub_kwargs(kwargs)
        path = os.fspath(pretrained_model_name_or_path)
        if gguf_file:
            return _load_gguf(path, gguf_file, hub, kwargs)
        tokenizer_config: dict[str, Any] = {}
        if tokenizer_type is not None:
            if tokenizer_type not in MODEL_TYPE_TO_TOKENIZER:
                raise ValueError(
                    f"Unknown tokenizer_type {tokenizer_type!r}; known: {sorted(MODEL_TYPE_TO_TOKENIZER)}."
                )
            tokenizer_class = MODEL_TYPE_TO_TOKENIZER[tokenizer_type]
        else:
            files = _resolve_files(path, {"tokenizer_config": TOKENIZER_CONFIG_FILE}, hub)
            if files["tokenizer_config"]:
                tokenizer_config = load_json(files["tokenizer_config"])
            tokenizer_class = cls._pick_class(path, tokenizer_config, config, hub)
        return tokenizer_class.from_pretrained(
            path, *inputs, _tokenizer_config=tokenizer_config, **hub, **kwargs
        )

    @staticmethod
    def _pick_class(
        path: str, tokenizer_config: dict[str, Any], config: Any, hub: dict[str, Any]
    ) -> type[PreTrainedTokenizerFast]:
        name = tokenizer_config.get("tokenizer_class")
        model_type = None
        if name is None:
            if config is None:
                config_file = _resolve_files(path, {"config": "config.json"}, hub)["config"]
                config = load_json(config_file) if config_file else {}
            get = config.get if isinstance(config, dict) else lambda key: getattr(config, key, None)
            name, model_type = get("tokenizer_class"), get("model_type")
        if name is not None:
            found = tokenizer_class_from_name(name)
            if found is not None:
                return found
            if _resolve_files(path, {"tokenizer_file": TOKENIZER_FILE}, hub)["tokenizer_file"]:
                logger.warning(
                    f"Tokenizer class {name} has no dedicated leanformers class; loading its tokenizer.json "
                    "with PreTrainedTokenizerFast (known classes: " + ", ".join(TOKENIZER_CLASSES) + ")."
                )
                return PreTrainedTokenizerFast
            raise ValueError(
                f"Tokenizer class {name} is not supported by leanformers and {path!r} has no "
                f"{TOKENIZER_FILE}. Supported classes: {', '.join(TOKENIZER_CLASSES)}."
            )
        if model_type in MODEL_TYPE_TO_TOKENIZER:
            return MODEL_TYPE_TO_TOKENIZER[model_type]
        if model_type is not None:
            logger.warning(
                f"model_type {model_type!r} has no tokenizer class in leanformers; guessing from the files."
            )
        files = _resolve_files(path, {file_name: file_name for file_name, _ in _FILE_HINTS}, hub)
        for file_name, tokenizer_class in _FILE_HINTS:
            if files[file_name]:
                return tokenizer_class
        looked = [TOKENIZER_CONFIG_FILE, "config.json"] + [f for f, _ in _FILE_HINTS]
        raise HubError(
            f"Can't find a tokenizer in {path!r}: none of the known files are there (looked for "
            f"{', '.join(looked)}). Pass the folder (or Hub id) of a model's tokenizer, e.g. one written by "
            "tokenizer.save_pretrained()."
        )
