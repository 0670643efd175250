"""GenerationConfig: the knobs of `generate()`, read from `generation_config.json`.

Field names and defaults are the reference's (`transformers.GenerationConfig`), so a
`generation_config.json` written by either library loads in the other. Values that describe the
model rather than the decoding (special token ids, `max_length` of old checkpoints) fall back to
the model's `config.json` when a checkpoint has no `generation_config.json`.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from ..configuration import load_json, pop_hub_kwargs
from ..hub import resolve_file
from ..utils import atomic_write_text, get_logger

logger = get_logger(__name__)

GENERATION_CONFIG_NAME = "generation_config.json"
REFERENCE_VERSION = "4.57.6"

# Every field of the reference's GenerationConfig with its default (insertion order = its order).
DEFAULTS: dict[str, Any] = {
    # length
    "max_length": 20,
    "max_new_tokens": None,
    "min_length": 0,
    "min_new_tokens": None,
    "early_stopping": False,
    "max_time": None,
    "stop_strings": None,
    # strategy
    "do_sample": False,
    "num_beams": 1,
    # cache
    "use_cache": True,
    "cache_implementation": None,
    "cache_config": None,
    "return_legacy_cache": None,
    "prefill_chunk_size": None,
    # logits manipulation
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "min_p": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "renormalize_logits": False,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "remove_invalid_values": False,
    "exponential_decay_length_penalty": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "sequence_bias": None,
    "token_healing": False,
    "guidance_scale": None,
    "watermarking_config": None,
    # outputs
    "num_return_sequences": 1,
    "output_attentions": False,
    "output_hidden_states": False,
    "output_scores": False,
    "output_logits": None,
    "return_dict_in_generate": False,
    # special tokens
    "pad_token_id": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "encoder_no_repeat_ngram_size": 0,
    "decoder_start_token_id": None,
    # assisted generation (accepted for round trips; leanformers does not implement it)
    "is_assistant": False,
    "num_assistant_tokens": 20,
    "num_assistant_tokens_schedule": "constant",
    "assistant_confidence_threshold": 0.4,
    "prompt_lookup_num_tokens": None,
    "max_matching_ngram_size": None,
    "assistant_early_exit": None,
    "assistant_lookbehind": 10,
    "target_lookbehind": 10,
    "compile_config": None,
    "disable_compile": False,
    # deprecated upstream (kept so old files round-trip)
    "low_memory": None,
    "penalty_alpha": None,
    "dola_layers": None,
    "diversity_penalty": 0.0,
    "num_beam_groups": 1,
    "constraints": None,
    "force_words_ids": None,
}

# Written by the library, not generation parameters.
METADATA_FIELDS = ("_from_model_config", "_commit_hash", "_original_object_hash", "transformers_version")
# Arguments of generate() that people sometimes put in the config by mistake.
_GENERATE_ARGUMENTS = (
    "logits_processor",
    "stopping_criteria",
    "prefix_allowed_tokens_fn",
    "streamer",
    "tokenizer",
)
_EXTRA_OUTPUT_FLAGS = ("output_attentions", "output_hidden_states", "output_scores", "output_logits")


class GenerationConfig:
    """Parameters of `generate()`.

    >>> GenerationConfig(max_new_tokens=30, do_sample=True, top_p=0.9)
    >>> GenerationConfig.from_pretrained("gpt2").eos_token_id
    50256
    """

    def __init__(self, **kwargs: Any):
        from_model_config = kwargs.pop("_from_model_config", False)
        for key, default in DEFAULTS.items():
            setattr(self, key, kwargs.pop(key, copy.deepcopy(default)))
        self._from_model_config = from_model_config
        self._commit_hash = kwargs.pop("_commit_hash", None)
        self.transformers_version = kwargs.pop("transformers_version", REFERENCE_VERSION)
        # Unknown keys become attributes (custom generation parameters), except when the config is
        # derived from a model config: that dict holds every model hyper-parameter.
        if not from_model_config:
            for key, value in kwargs.items():
                setattr(self, key, value)
        self.validate()

    # -- validation ---------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError for values that cannot work; each message names the argument and the fix.

        Checks that depend on the inputs (prompt length vs `max_length`) happen in `generate()`.
        """
        if self.early_stopping not in (True, False, "never"):
            raise ValueError(
                f"`early_stopping` must be True, False or 'never', but is {self.early_stopping!r}."
            )
        if self.max_new_tokens is not None and self.max_new_tokens <= 0:
            raise ValueError(
                f"`max_new_tokens` must be greater than 0, but is {self.max_new_tokens}. "
                "Pass max_new_tokens=1 or more (or leave it unset to use max_length)."
            )
        if self.num_beams is None or self.num_beams < 1:
            raise ValueError(f"`num_beams` must be a positive integer, but is {self.num_beams}.")
        if self.num_return_sequences is None or self.num_return_sequences < 1:
            raise ValueError(
                f"`num_return_sequences` must be a positive integer, but is {self.num_return_sequences}."
            )
        if self.num_return_sequences != 1:
            if self.num_beams == 1 and not self.do_sample:
                raise ValueError(
                    "Greedy methods without beam search do not support `num_return_sequences` different than 1 "
                    f"(got {self.num_return_sequences}). Pass do_sample=True, or num_beams >= num_return_sequences."
                )
            if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
                raise ValueError(
                    f"`num_return_sequences` ({self.num_return_sequences}) has to be smaller or equal to `num_beams` "
                    f"({self.num_beams}). Raise num_beams or lower num_return_sequences."
                )
        if self.do_sample:
            t = self.temperature
            if t is not None and (not isinstance(t, (int, float)) or not t > 0):
                hint = " For greedy decoding set do_sample=False." if t == 0 else ""
                raise ValueError(
                    f"`temperature` (={t}) has to be a strictly positive float when sampling (do_sample=True).{hint}"
                )
            if self.top_p is not None and not 0.0 < float(self.top_p) <= 1.0:
                raise ValueError(f"`top_p` has to be a float in (0, 1], but is {self.top_p}.")
            if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 0):
                raise ValueError(
                    f"`top_k` has to be a non-negative integer (0 disables it), but is {self.top_k}."
                )
            if self.min_p is not None and not 0.0 <= float(self.min_p) <= 1.0:
                raise ValueError(f"`min_p` has to be a float in [0, 1], but is {self.min_p}.")
            if self.typical_p is not None and not 0.0 < float(self.typical_p) <= 1.0:
                raise ValueError(f"`typical_p` has to be a float in (0, 1], but is {self.typical_p}.")
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            raise ValueError(
                f"`repetition_penalty` has to be a strictly positive float, but is {self.repetition_penalty}."
            )
        if self.no_repeat_ngram_size is not None and self.no_repeat_ngram_size < 0:
            raise ValueError(f"`no_repeat_ngram_size` must be >= 0, but is {self.no_repeat_ngram_size}.")
        for arg in _GENERATE_ARGUMENTS:
            if arg in self.__dict__:
                raise ValueError(
                    f"Argument `{arg}` is not a valid argument of `GenerationConfig`. It should be passed to "
                    "`generate()` (or a pipeline) directly."
                )

    # -- kwargs ---------------------------------------------------------------------------------------
    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the attributes named in kwargs that exist; return the others (model inputs, typos)."""
        unused = {}
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        self.validate()
        return unused

    # -- dict / json ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("_commit_hash", "_original_object_hash")
        }
        out.pop("compile_config", None)
        out["transformers_version"] = REFERENCE_VERSION
        return out

    def to_diff_dict(self) -> dict[str, Any]:
        """Only the values that differ from `GenerationConfig()` (plus the version), like the reference."""
        default = GenerationConfig().to_dict()
        return {
            k: v
            for k, v in self.to_dict().items()
            if k not in default or k == "transformers_version" or v != default[k]
        }

    def to_json_string(self, use_diff: bool = True, ignore_metadata: bool = False) -> str:
        data = self.to_diff_dict() if use_diff else self.to_dict()
        if ignore_metadata:
            for key in METADATA_FIELDS:
                data.pop(key, None)
        return json.dumps(_json_ready(data), indent=2, sort_keys=True) + "\n"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GenerationConfig):
            return False
        return self.to_json_string(use_diff=False, ignore_metadata=True) == other.to_json_string(
            use_diff=False, ignore_metadata=True
        )

    def __hash__(self) -> int:
        return hash(self.to_json_string(ignore_metadata=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string(ignore_metadata=True)}"

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> GenerationConfig:
        """Build from a dict; kwargs naming fields override it. `return_unused_kwargs=True` returns (config, unused)."""
        return_unused = kwargs.pop("return_unused_kwargs", False)
        kwargs.pop("_from_auto", None)
        kwargs.pop("_from_pipeline", None)
        config = cls(**{**config_dict, **kwargs})
        unused = config.update(**kwargs)
        return (config, unused) if return_unused else config

    # -- files ------------------------------------------------------------------------------------------
    def save_pretrained(
        self, save_directory: str | os.PathLike, config_file_name: str | None = None, **_: Any
    ) -> None:
        """Write `generation_config.json` (only non-default values) into `save_directory`, atomically."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, but {save_directory} is a file.")
        self.validate()
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, config_file_name or GENERATION_CONFIG_NAME)
        atomic_write_text(path, self.to_json_string(use_diff=True))

    @classmethod
    def from_pretrained(
        cls, pretrained: str | os.PathLike, config_file_name: str | None = None, **kwargs: Any
    ) -> GenerationConfig:
        """Load `generation_config.json` from a folder, a Hub id, or a JSON file path; kwargs override values."""
        hub_kwargs = pop_hub_kwargs(kwargs)
        pretrained = os.fspath(pretrained)
        if os.path.isfile(pretrained):
            path = pretrained
        else:
            path = resolve_file(pretrained, config_file_name or GENERATION_CONFIG_NAME, **hub_kwargs)
        result = cls.from_dict(load_json(path), **kwargs)
        config = result[0] if isinstance(result, tuple) else result
        config._original_object_hash = hash(config)
        return result

    @classmethod
    def from_model_config(cls, model_config: Any) -> GenerationConfig:
        """The generation parameters a model's `config.json` carries (token ids, legacy `max_length`, ...)."""
        config_dict = {k: v for k, v in model_config.to_dict().items() if v is not None}
        config_dict.pop("_from_model_config", None)
        config_dict.pop("transformers_version", None)
        config = cls.from_dict(config_dict, _from_model_config=True)
        if not config.return_dict_in_generate and any(getattr(config, f, False) for f in _EXTRA_OUTPUT_FLAGS):
            config.return_dict_in_generate = True
        config._original_object_hash = hash(config)
        return config

    @classmethod
    def from_model_folder(cls, path: str | os.PathLike, config: Any, **hub_kwargs: Any) -> GenerationConfig:
        """`generation_config.json` of a model folder/repo when it has one, else derived from its config.

        Called by `PreTrainedModel.from_pretrained` for models that can generate.
        """
        found = None
        if os.path.isdir(os.fspath(path)) or not os.path.isfile(os.fspath(path)):
            try:
                found = resolve_file(path, GENERATION_CONFIG_NAME, required=False, **hub_kwargs)
            except OSError:  # an id that cannot be resolved (GGUF files, offline): use the model config
                found = None
        if found is None:
            return cls.from_model_config(config)
        return cls.from_pretrained(found)


def _json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return obj


__all__ = ["GenerationConfig", "GENERATION_CONFIG_NAME"]
