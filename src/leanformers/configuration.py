"""Model configurations: `config.json` <-> Python attributes.

A config is a bag of attributes. Per-architecture subclasses declare their defaults in a plain dict
(`defaults`), mirroring the reference library's `__init__` signatures, and optionally an
`attribute_map` of aliases (GPT-2's `n_embd` is `hidden_size`). Keys we do not know are kept as
attributes verbatim, so loading and saving a config never loses anything.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, ClassVar

from .hub import resolve_file
from .utils import atomic_write_text

CONFIG_NAME = "config.json"

# The attributes every config has (the reference's PretrainedConfig.__init__ defaults).
COMMON_DEFAULTS: dict[str, Any] = {
    "return_dict": True,
    "output_hidden_states": False,
    "output_attentions": False,
    "torchscript": False,
    "dtype": None,
    "pruned_heads": {},
    "tie_word_embeddings": True,
    "chunk_size_feed_forward": 0,
    "is_encoder_decoder": False,
    "is_decoder": False,
    "cross_attention_hidden_size": None,
    "add_cross_attention": False,
    "tie_encoder_decoder": False,
    "architectures": None,
    "finetuning_task": None,
    "task_specific_params": None,
    "problem_type": None,
    "tokenizer_class": None,
    "prefix": None,
    "bos_token_id": None,
    "pad_token_id": None,
    "eos_token_id": None,
    "sep_token_id": None,
    "decoder_start_token_id": None,
}

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

# Keys that describe the loading process rather than the model; never written to config.json.
_NOT_SERIALIZED = {"_name_or_path", "_commit_hash", "_attn_implementation", "num_labels"}


class PretrainedConfig:
    """Base class of all configurations.

    >>> config = BertConfig.from_pretrained("bert-base-uncased", num_labels=3)
    >>> config.id2label
    {0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2'}
    """

    model_type: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    attribute_map: ClassVar[dict[str, str]] = {}
    # Names of nested sub-configs (e.g. "text_config"); none of our architectures need one yet.
    sub_configs: ClassVar[dict[str, type]] = {}

    def __init__(self, **kwargs: Any):
        # The reference's 4.56+ spelling is `dtype`; older config.json files say `torch_dtype`.
        torch_dtype = kwargs.pop("torch_dtype", None)
        if kwargs.get("dtype") is None and torch_dtype is not None:
            kwargs["dtype"] = torch_dtype
        if isinstance(kwargs.get("dtype"), str) is False and kwargs.get("dtype") is not None:
            kwargs["dtype"] = str(kwargs["dtype"]).removeprefix("torch.")
        kwargs.pop("transformers_version", None)
        kwargs.pop("model_type", None)
        num_labels = kwargs.pop("num_labels", None)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        if id2label is not None and not isinstance(id2label, dict):
            raise ValueError(f"id2label must be a dict of int -> label, got {type(id2label).__name__}.")
        if label2id is not None and not isinstance(label2id, dict):
            raise ValueError(f"label2id must be a dict of label -> int, got {type(label2id).__name__}.")
        problem_type = kwargs.get("problem_type")
        if problem_type is not None and problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type={problem_type!r} is not one of {PROBLEM_TYPES}.")

        values = {**COMMON_DEFAULTS, **copy.deepcopy(type(self).defaults)}
        for key, value in kwargs.items():
            values[self.attribute_map.get(key, key)] = value
        self._name_or_path = str(values.pop("name_or_path", values.pop("_name_or_path", "")))
        for key, value in values.items():
            setattr(self, key, value)

        if id2label is not None:
            self.id2label = {int(k): v for k, v in id2label.items()}
            self.label2id = (
                {k: int(v) for k, v in label2id.items()}
                if label2id is not None
                else {v: k for k, v in self.id2label.items()}
            )
            if num_labels is not None and num_labels != len(self.id2label):
                self._create_id_label_maps(num_labels)
        else:
            self._create_id_label_maps(num_labels if num_labels is not None else 2)

    # -- aliases (GPT-2 says n_embd where everyone else says hidden_size) ---------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        super().__setattr__(type(self).attribute_map.get(key, key), value)

    def __getattr__(self, key: str) -> Any:  # only called when normal lookup fails
        target = type(self).attribute_map.get(key)
        if target is not None:
            return getattr(self, target)
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

    # -- labels -------------------------------------------------------------------------------------
    def _create_id_label_maps(self, num_labels: int) -> None:
        self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
        self.label2id = {v: k for k, v in self.id2label.items()}

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, value: int) -> None:
        if self.num_labels != value:
            self._create_id_label_maps(value)

    @property
    def name_or_path(self) -> str:
        return self._name_or_path

    @name_or_path.setter
    def name_or_path(self, value: str) -> None:
        self._name_or_path = str(value)

    @property
    def torch_dtype(self) -> Any:
        return self.dtype

    @property
    def use_return_dict(self) -> bool:
        return self.return_dict and not self.torchscript

    # -- dict / json --------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> PretrainedConfig:
        """Build a config from a dict; `kwargs` override its values (`num_labels=2`, ...)."""
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        label_keys = {"num_labels", "id2label", "label2id"}
        merged = dict(config_dict)
        if "num_labels" in kwargs and "id2label" not in kwargs:
            if len(merged.get("id2label") or {}) != kwargs["num_labels"]:
                merged.pop("id2label", None), merged.pop("label2id", None)
        known = set(merged) | set(COMMON_DEFAULTS) | set(cls.defaults) | set(cls.attribute_map) | label_keys
        known |= {"torch_dtype", "name_or_path"}
        merged.update({k: v for k, v in kwargs.items() if k in known})
        unused = {k: v for k, v in kwargs.items() if k not in known}
        config = cls(**merged)
        if return_unused_kwargs:
            return config, unused
        for key, value in unused.items():  # unknown overrides become attributes, as the reference does
            setattr(config, key, value)
        return config

    def to_dict(self) -> dict[str, Any]:
        """Every attribute, JSON-ready: string keys in `id2label`, dtypes as strings."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key in _NOT_SERIALIZED:
                continue
            if isinstance(value, PretrainedConfig):
                value = value.to_dict()
            out[key] = copy.deepcopy(value)
        if out.get("dtype") is not None:
            out["dtype"] = str(out["dtype"]).removeprefix("torch.")
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["label2id"] = dict(self.label2id)
        out["model_type"] = self.model_type
        out["transformers_version"] = "4.57.6"
        return out

    def to_diff_dict(self) -> dict[str, Any]:
        """`to_dict` without the values that equal the class defaults (what `config.json` holds)."""
        full = self.to_dict()
        default = type(self)().to_dict()
        keep = {"model_type", "transformers_version", "architectures", "id2label", "label2id"}
        out = {k: v for k, v in full.items() if k in keep or k not in default or v != default[k]}
        if out.get("dtype") is not None:
            out["torch_dtype"] = out["dtype"]  # readers older than 4.56 only know this spelling
        if len(self.id2label) == 2 and all(v == f"LABEL_{k}" for k, v in self.id2label.items()):
            out.pop("id2label"), out.pop("label2id")  # the default two labels
        return out

    def to_json_string(self, use_diff: bool = True) -> str:
        data = self.to_diff_dict() if use_diff else self.to_dict()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike, **_: Any) -> None:
        """Write `config.json` into `save_directory` (atomically)."""
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, but {save_directory} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        atomic_write_text(os.path.join(save_directory, CONFIG_NAME), self.to_json_string())

    @classmethod
    def get_config_dict(cls, pretrained: str | os.PathLike, **hub_kwargs: Any) -> dict[str, Any]:
        """Read `config.json` of a folder or Hub repo as a plain dict."""
        path = resolve_file(pretrained, CONFIG_NAME, **hub_kwargs)
        return load_json(path)

    @classmethod
    def from_pretrained(cls, pretrained: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        """Load from a folder, a Hub id, or a path to a JSON file; kwargs override values."""
        hub_kwargs = pop_hub_kwargs(kwargs)
        config_dict = read_config_dict(pretrained, kwargs.pop("gguf_file", None), **hub_kwargs)
        # Like the reference, any config class reads any config.json (a BertConfig reads RoBERTa's).
        return cls.from_dict(config_dict, name_or_path=os.fspath(pretrained), **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string(use_diff=False)}"

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, value)


HUB_KWARGS = (
    "cache_dir",
    "revision",
    "token",
    "local_files_only",
    "force_download",
    "subfolder",
    "use_auth_token",
)


def pop_hub_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the Hub-resolution arguments out of `kwargs` (they are shared by every from_pretrained)."""
    out = {k: kwargs.pop(k) for k in HUB_KWARGS if k in kwargs}
    if "use_auth_token" in out:
        out.setdefault("token", out.pop("use_auth_token"))
    for k in ("proxies", "resume_download", "trust_remote_code", "_from_auto", "_commit_hash", "mirror"):
        kwargs.pop(k, None)
    return out


def read_config_dict(
    pretrained: str | os.PathLike, gguf_file: str | None = None, **hub_kwargs: Any
) -> dict[str, Any]:
    """The config of a folder, a Hub id, a JSON file path, or a GGUF file's metadata, as a plain dict."""
    if gguf_file is not None:
        from .gguf import load_gguf_config_dict

        return load_gguf_config_dict(pretrained, gguf_file, **hub_kwargs)
    if os.path.isfile(pretrained):
        return load_json(os.fspath(pretrained))
    return PretrainedConfig.get_config_dict(pretrained, **hub_kwargs)


def load_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}). Re-download or re-save the checkpoint.") from e


PreTrainedConfig = PretrainedConfig  # the 5.x spelling
