"""PreTrainedModel: `from_pretrained` / `save_pretrained` for every architecture.

Loading builds the module with its parameters on the `meta` device (no memory, no random init),
reads the checkpoint memory-mapped, and assigns the tensors into the module
(`load_state_dict(assign=True)`): the weights are never copied twice. Only parameters the
checkpoint does not provide (a new task head) are materialised and initialised.

Module attribute paths equal checkpoint keys, so the only key transforms are the base-model
prefix (`bert.`), legacy LayerNorm names (`gamma`/`beta`) and each model's `_checkpoint_renames`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from .configuration import PretrainedConfig, pop_hub_kwargs
from .hub import HubError, resolve_file
from .utils import atomic_path, atomic_write_text, get_logger

logger = get_logger(__name__)

SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
BIN_WEIGHTS = "pytorch_model.bin"
BIN_INDEX = "pytorch_model.bin.index.json"


# ------------------------------------------------------------------------------------------------
# Reading checkpoints
# ------------------------------------------------------------------------------------------------
def find_weight_files(path: str, use_safetensors: bool | None = None, **hub_kwargs: Any) -> list[str]:
    """Local paths of the checkpoint's weight files (one file, or every shard of an index)."""
    candidates = [(SAFE_WEIGHTS, False), (SAFE_INDEX, True), (BIN_WEIGHTS, False), (BIN_INDEX, True)]
    if use_safetensors is False:
        candidates = candidates[2:]
    elif use_safetensors is True:
        candidates = candidates[:2]
    for name, is_index in candidates:
        found = resolve_file(path, name, required=False, **hub_kwargs)
        if found is None:
            continue
        if not is_index:
            return [found]
        with open(found, encoding="utf-8") as f:
            weight_map = json.load(f)["weight_map"]
        return [resolve_file(path, shard, **hub_kwargs) for shard in dict.fromkeys(weight_map.values())]
    looked = ", ".join(name for name, _ in candidates)
    raise HubError(
        f"No weights found in {path}: looked for {looked}. Save the model with save_pretrained, "
        "or pass gguf_file= for a GGUF checkpoint."
    )


def load_weight_file(path: str, device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Read one safetensors (memory-mapped) or PyTorch file (`weights_only=True`: data, never code)."""
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(path, framework="pt", device=str(device)) as f:
                return {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as e:
            raise OSError(
                f"{path} is not a valid safetensors file ({e}). The file is truncated or corrupted: "
                "download it again (force_download=True) or re-save the model."
            ) from None
    import pickle

    try:
        try:
            sd = torch.load(path, map_location=device, weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):  # legacy (non-zip) files cannot be memory-mapped
                raise
            sd = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        raise OSError(
            f"Refused to load {path}: it contains Python objects other than tensors, and unpickling them "
            f"could run arbitrary code ({str(e).splitlines()[0]}). Only load files you trust; convert "
            "trusted ones to safetensors."
        ) from None
    except (RuntimeError, EOFError) as e:
        raise OSError(
            f"{path} is not a readable PyTorch checkpoint ({e}). Download or save it again."
        ) from None
    if not isinstance(sd, dict) or not all(isinstance(v, Tensor) for v in sd.values()):
        raise OSError(f"{path} does not hold a state dict of tensors; it cannot be loaded as model weights.")
    return sd


def load_state_dict(
    path: str, use_safetensors: bool | None = None, device="cpu", **hub_kwargs
) -> dict[str, Tensor]:
    sd: dict[str, Tensor] = {}
    for file in find_weight_files(path, use_safetensors, **hub_kwargs):
        sd.update(load_weight_file(file, device))
    return sd


# ------------------------------------------------------------------------------------------------
# Building modules without memory
# ------------------------------------------------------------------------------------------------
_SKIP_INIT = False


@contextlib.contextmanager
def empty_parameters() -> Iterator[None]:
    """Create every nn.Parameter on the meta device (buffers stay real: they are small and often
    computed, like rotary frequencies or position ids), and skip weight initialisation."""
    global _SKIP_INIT
    original = nn.Module.register_parameter

    def register_parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        original(module, name, param)
        if param is not None and param.device.type != "meta":
            module._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)

    # Modules' own reset_parameters() would run init ops on the meta tensors: free in memory, but
    # meta normal_/uniform_ go through torch._refs, whose first use imports torch._dynamo (~1.3 s).
    inits = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS if hasattr(nn.init, name)}

    def skip_meta(init: Any) -> Any:
        return lambda tensor, *args, **kwargs: tensor if tensor.is_meta else init(tensor, *args, **kwargs)

    nn.Module.register_parameter = register_parameter
    for name, init in inits.items():
        setattr(nn.init, name, skip_meta(init))
    previous, _SKIP_INIT = _SKIP_INIT, True
    try:
        yield
    finally:
        nn.Module.register_parameter = original
        for name, init in inits.items():
            setattr(nn.init, name, init)
        _SKIP_INIT = previous


_INIT_FUNCTIONS = (
    "normal_ uniform_ trunc_normal_ constant_ ones_ zeros_ eye_ dirac_ orthogonal_ sparse_ "
    "kaiming_uniform_ kaiming_normal_ xavier_uniform_ xavier_normal_"
).split()


def resolve_dtype(
    dtype: Any, config: PretrainedConfig | None = None, state_dict: dict | None = None
) -> torch.dtype:
    """`None` -> float32 (the reference's default), `"auto"` -> the checkpoint's dtype, strings -> torch dtypes."""
    if dtype is None:
        return torch.get_default_dtype()
    if dtype == "auto":
        if config is not None and getattr(config, "dtype", None):
            return resolve_dtype(config.dtype)
        for t in (state_dict or {}).values():
            if t.is_floating_point():
                return t.dtype
        return torch.get_default_dtype()
    if isinstance(dtype, str):
        value = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(value, torch.dtype):
            raise ValueError(f"Unknown dtype {dtype!r}. Use 'auto', 'float32', 'bfloat16' or 'float16'.")
        return value
    if isinstance(dtype, torch.dtype):
        return dtype
    raise TypeError(f"dtype must be a torch.dtype, a string or 'auto', got {type(dtype).__name__}.")


def resolve_device(device: Any = None, device_map: Any = None) -> torch.device:
    choice = device if device is not None else device_map
    if choice is None:
        return torch.device("cpu")
    if isinstance(choice, dict):
        devices = set(map(str, choice.values()))
        if len(devices) != 1:
            raise ValueError(
                "device_map with several devices is not supported; pass one device such as 'cuda'."
            )
        choice = devices.pop()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(choice, int):
        return torch.device("cuda", choice)
    return torch.device(choice)


def parse_size(size: int | str) -> int:
    """'5GB' -> 5_000_000_000, '200MiB' -> 209_715_200, ints pass through."""
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(I?B)?\s*", size.upper())
    if not m:
        raise ValueError(f"Cannot read size {size!r}; use an int (bytes) or a string like '5GB' or '200MB'.")
    base = 1024 if m.group(3) == "IB" else 1000
    return int(float(m.group(1)) * base ** "_KMGT".index(m.group(2) or "_"))


# ------------------------------------------------------------------------------------------------
# The base class
# ------------------------------------------------------------------------------------------------
class PreTrainedModel(nn.Module):
    """Base of every model: loading, saving, dtype/device, weight tying, initialisation."""

    config_class: type[PretrainedConfig] = PretrainedConfig
    base_model_prefix: str = ""
    main_input_name: str = "input_ids"
    # Keys of this model that share the input embedding matrix (not saved, never "missing").
    _tied_weights_keys: list[str] = []
    # Regexes: checkpoint keys we silently drop / model keys that may be absent.
    _keys_to_ignore_on_load_unexpected: list[str] = []
    _keys_to_ignore_on_load_missing: list[str] = []
    # Exact checkpoint-key substrings renamed on load (the one small table per model).
    _checkpoint_renames: dict[str, str] = {}
    supports_gradient_checkpointing: bool = True

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.config = config
        self.name_or_path = config.name_or_path

    # -- initialisation ------------------------------------------------------------------------
    def post_init(self) -> None:
        """Call at the end of a subclass's `__init__`: initialise weights (unless loading) and tie them."""
        if not _SKIP_INIT:
            self.apply(self._init_weights)
        self.tie_weights()

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range) for linear/embedding weights, zeros for biases, ones for norms."""
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm) or type(module).__name__.endswith("RMSNorm"):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    # -- embeddings ----------------------------------------------------------------------------
    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self) -> nn.Module:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} must implement get_input_embeddings")
        return base.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        base = self.base_model
        if base is self:
            raise NotImplementedError(f"{type(self).__name__} must implement set_input_embeddings")
        base.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return None

    def tie_weights(self) -> None:
        """Share the input embedding matrix with the output projection when the config says so."""
        out = self.get_output_embeddings()
        if out is not None and getattr(self.config, "tie_word_embeddings", True):
            out.weight = self.get_input_embeddings().weight

    def resize_token_embeddings(
        self, new_num_tokens: int, pad_to_multiple_of: int | None = None
    ) -> nn.Embedding:
        """Grow or shrink the vocabulary (after `tokenizer.add_tokens`); new rows are initialised."""
        if pad_to_multiple_of:
            new_num_tokens = -(-new_num_tokens // pad_to_multiple_of) * pad_to_multiple_of
        old = self.get_input_embeddings()
        new = nn.Embedding(new_num_tokens, old.weight.shape[1], padding_idx=old.padding_idx).to(
            old.weight.device, old.weight.dtype
        )
        self._init_weights(new)
        n = min(old.num_embeddings, new_num_tokens)
        with torch.no_grad():
            new.weight[:n] = old.weight[:n]
        self.set_input_embeddings(new)
        out = self.get_output_embeddings()
        if out is not None and not getattr(self.config, "tie_word_embeddings", True):
            new_out = nn.Linear(out.in_features, new_num_tokens, bias=out.bias is not None).to(
                out.weight.device, out.weight.dtype
            )
            self._init_weights(new_out)
            with torch.no_grad():
                new_out.weight[:n] = out.weight[:n]
                if out.bias is not None:
                    new_out.bias[:n] = out.bias[:n]
            self.set_output_embeddings(new_out)
        elif (
            out is not None and getattr(out, "bias", None) is not None and out.bias.shape[0] != new_num_tokens
        ):
            bias = torch.zeros(new_num_tokens, dtype=out.bias.dtype, device=out.bias.device)
            bias[:n] = out.bias.data[:n]
            out.bias = nn.Parameter(bias)
            out.out_features = new_num_tokens
            # heads that also hold the bias (BERT's cls.predictions.bias) re-link it
            self.set_output_embeddings(out)
        self.config.vocab_size = new_num_tokens
        self.tie_weights()
        return new

    def set_output_embeddings(self, value: nn.Module) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no separate output embeddings to replace")

    # -- small conveniences ----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(p.dtype for p in self.parameters() if p.is_floating_point())

    def num_parameters(self, only_trainable: bool = False) -> int:
        seen = {p.data_ptr(): p for p in self.parameters() if p.requires_grad or not only_trainable}
        return sum(p.numel() for p in seen.values())

    def can_generate(self) -> bool:
        return False

    def generate(self, *args: Any, **kwargs: Any):
        """Generate token ids; see `leanformers.generation.generate`."""
        if not self.can_generate():
            raise TypeError(
                f"{type(self).__name__} cannot generate text. Load the model with AutoModelForCausalLM "
                "or AutoModelForSeq2SeqLM."
            )
        from .generation import generate

        return generate(self, *args, **kwargs)

    def _output_flags(
        self, output_attentions: bool | None, output_hidden_states: bool | None
    ) -> tuple[bool, bool]:
        """This call's (output_attentions, output_hidden_states): the argument, else the config's value."""
        config = self.config
        return (
            config.output_attentions if output_attentions is None else output_attentions,
            config.output_hidden_states if output_hidden_states is None else output_hidden_states,
        )

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None) -> None:
        """Recompute layer activations in the backward pass (less memory, more compute)."""
        for module in self.modules():
            if hasattr(module, "gradient_checkpointing"):
                module.gradient_checkpointing = True

    def gradient_checkpointing_disable(self) -> None:
        for module in self.modules():
            if hasattr(module, "gradient_checkpointing"):
                module.gradient_checkpointing = False

    @property
    def is_gradient_checkpointing(self) -> bool:
        return any(getattr(m, "gradient_checkpointing", False) for m in self.modules())

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: PretrainedConfig, dtype: Any = None, torch_dtype: Any = None, **kwargs: Any):
        """A randomly initialised model for `config`."""
        model = cls(config, **kwargs)
        dtype = dtype if dtype is not None else torch_dtype
        return model.to(resolve_dtype(dtype)) if dtype is not None else model

    _from_config = from_config

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        config: PretrainedConfig | str | None = None,
        state_dict: dict[str, Tensor] | None = None,
        dtype: Any = None,
        torch_dtype: Any = None,
        device: Any = None,
        device_map: Any = None,
        ignore_mismatched_sizes: bool = False,
        use_safetensors: bool | None = None,
        output_loading_info: bool = False,
        gguf_file: str | None = None,
        **kwargs: Any,
    ):
        """Load a model from a folder, a Hub id or the Hub cache.

        kwargs that name config attributes override them (`num_labels=2`, `output_hidden_states=True`).
        """
        path = os.fspath(pretrained_model_name_or_path)
        hub_kwargs = pop_hub_kwargs(kwargs)
        for ignored in (
            "low_cpu_mem_usage",
            "attn_implementation",
            "_fast_init",
            "offload_folder",
            "from_tf",
        ):
            kwargs.pop(ignored, None)
        if model_args:
            raise TypeError(
                f"{cls.__name__}.from_pretrained takes no positional model arguments: {model_args}"
            )
        if config is None or isinstance(config, (str, os.PathLike)):
            config, unused = cls.config_class.from_pretrained(
                config or path, return_unused_kwargs=True, gguf_file=gguf_file, **hub_kwargs, **kwargs
            )
        else:
            config = copy.deepcopy(config)
            unused = {}
            for key, value in kwargs.items():
                if key in {"num_labels", "id2label", "label2id"} or hasattr(config, key):
                    setattr(config, key, value)
                else:
                    unused[key] = value
            if "num_labels" in kwargs and "id2label" not in kwargs:
                config.num_labels = kwargs["num_labels"]
        if unused:
            raise TypeError(
                f"{cls.__name__}.from_pretrained got unexpected arguments {sorted(unused)}: they are neither "
                f"loading options nor attributes of {type(config).__name__}."
            )
        config.name_or_path = path

        target_device = resolve_device(device, device_map)
        if state_dict is None:
            if gguf_file is not None:
                from .gguf import load_gguf_state_dict

                wanted = (
                    dtype if dtype is not None else torch_dtype
                )  # dequantize straight to it (less memory)
                state_dict = load_gguf_state_dict(path, gguf_file, config, dtype=wanted, **hub_kwargs)
            else:
                state_dict = load_state_dict(path, use_safetensors, device=target_device, **hub_kwargs)
        target_dtype = resolve_dtype(dtype if dtype is not None else torch_dtype, config, state_dict)
        config.dtype = str(target_dtype).removeprefix("torch.")

        with empty_parameters():
            model = cls(config)
        info = model._load_checkpoint(state_dict, target_dtype, target_device, ignore_mismatched_sizes)
        model.eval()
        if model.can_generate():
            from .generation.config import GenerationConfig

            model.generation_config = GenerationConfig.from_model_folder(path, config, **hub_kwargs)
        if output_loading_info:
            return model, info
        return model

    def _adapt_checkpoint_keys(self, state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
        """Rename checkpoint keys to ours: legacy names, the base-model prefix added or removed."""
        renames = {
            "LayerNorm.gamma": "LayerNorm.weight",
            "LayerNorm.beta": "LayerNorm.bias",
            **self._checkpoint_renames,
        }
        if any(old in k for k in state_dict for old in renames):
            renamed = {}
            for key, value in state_dict.items():
                for old, new in renames.items():
                    key = key.replace(old, new)
                renamed[key] = value
            state_dict = renamed
        prefix = self.base_model_prefix
        if not prefix:
            return state_dict
        ours = self.state_dict().keys()
        model_has = any(k.startswith(prefix + ".") for k in ours)
        ckpt_has = any(k.startswith(prefix + ".") for k in state_dict)
        if model_has and not ckpt_has:  # base checkpoint into a model with a head
            return {f"{prefix}.{k}": v for k, v in state_dict.items()}
        if ckpt_has and not model_has:  # task checkpoint into the base model: the head keys stay
            n = len(prefix) + 1  # unprefixed, match nothing, and are reported as unexpected (not loaded)
            return {(k[n:] if k.startswith(prefix + ".") else k): v for k, v in state_dict.items()}
        return state_dict

    def _load_checkpoint(
        self,
        state_dict: dict[str, Tensor],
        dtype: torch.dtype,
        device: torch.device,
        ignore_mismatched_sizes: bool,
    ) -> dict[str, list]:
        state_dict = self._adapt_checkpoint_keys(state_dict)
        expected = self.state_dict(keep_vars=True)
        tied = set(self._tied_weights_keys) if getattr(self.config, "tie_word_embeddings", True) else set()
        unexpected = [k for k in state_dict if k not in expected]
        unexpected = [k for k in unexpected if not _matches(k, self._keys_to_ignore_on_load_unexpected)]
        # One module reachable under several paths (BART's `shared` is also `encoder.embed_tokens`):
        # any one of its paths in the checkpoint provides them all.
        paths: dict[int, list[str]] = {}
        for key, value in expected.items():
            paths.setdefault(id(value), []).append(key)
        aliased = {
            k for keys in paths.values() if len(keys) > 1 and any(x in state_dict for x in keys) for k in keys
        }
        missing = [k for k in expected if k not in state_dict and k not in tied and k not in aliased]
        mismatched = []
        for key, value in list(state_dict.items()):
            if key in expected and tuple(value.shape) != tuple(expected[key].shape):
                mismatched.append((key, tuple(value.shape), tuple(expected[key].shape)))
                missing.append(key)
                del state_dict[key]
        if mismatched and not ignore_mismatched_sizes:
            details = "; ".join(f"{k}: checkpoint {a}, model {b}" for k, a, b in mismatched)
            raise ValueError(
                f"Size mismatch loading {type(self).__name__}: {details}. If you want to train a new head "
                "with a different size, pass ignore_mismatched_sizes=True."
            )

        # Materialise and initialise only what the checkpoint does not provide.
        new_modules = {k.rsplit(".", 1)[0] if "." in k else "" for k in missing}
        for name in new_modules:
            module = self.get_submodule(name)
            for pname, param in list(module.named_parameters(recurse=False)):
                if param.device.type == "meta":
                    fresh = torch.empty(
                        param.shape, dtype=dtype if param.is_floating_point() else param.dtype
                    )
                    module._parameters[pname] = nn.Parameter(fresh, requires_grad=param.requires_grad)
            self._init_weights(module)
        to_load = {
            k: (v.to(dtype) if v.is_floating_point() and v.dtype != dtype else v)
            for k, v in state_dict.items()
            if k in expected
        }
        self._assign_tensors(to_load)
        self.tie_weights()
        leftover, moved = [], False
        for n, p in self.named_parameters():
            if p.is_meta:
                leftover.append(n)
            moved = moved or p.device != device
        if leftover:
            raise RuntimeError(f"Internal error: parameters left uninitialised after loading: {leftover[:5]}")
        if moved or any(b.device != device for b in self.buffers()):
            self.to(device)  # buffers and newly initialised parameters; loaded tensors are already there
        shape_changed = {k for k, *_ in mismatched}  # reported below, with their shapes
        reportable = [
            k
            for k in missing
            if k not in shape_changed and not _matches(k, self._keys_to_ignore_on_load_missing)
        ]
        if reportable:
            logger.warning(
                "Some weights of %s were not initialized from the checkpoint %s and are newly initialized: %s\n"
                "You should probably TRAIN this model on a down-stream task to be able to use it for predictions "
                "and inference.",
                type(self).__name__,
                self.config.name_or_path,
                reportable,
            )
        if mismatched:
            logger.warning(
                "Weights of %s newly initialized because their shapes did not match the checkpoint: %s",
                type(self).__name__,
                "; ".join(f"{k}: checkpoint {a}, model {b}" for k, a, b in mismatched),
            )
        if unexpected:
            logger.info("Unused checkpoint weights for %s: %s", type(self).__name__, unexpected)
        # As the reference reports them: mismatched keys by name, and not also listed as missing.
        mismatched_keys = [k for k, *_ in mismatched]
        missing = [k for k in missing if k not in mismatched_keys]
        return {
            "missing_keys": missing,
            "unexpected_keys": unexpected,
            "mismatched_keys": mismatched_keys,
            "error_msgs": [],
        }

    def _assign_tensors(self, tensors: dict[str, Tensor]) -> None:
        """Put checkpoint tensors into the module as they are: what `load_state_dict(assign=True)` does
        (no copy; parameters keep their requires_grad), without its per-module generic machinery,
        which costs more than the rest of a small model's load."""
        modules = dict(self.named_modules(remove_duplicate=False))
        for key, value in tensors.items():
            owner, _, name = key.rpartition(".")
            module = modules[owner]
            old = module._parameters.get(name)
            if old is not None:
                module._parameters[name] = nn.Parameter(value, requires_grad=old.requires_grad)
            else:
                module._buffers[name] = value

    # -- saving --------------------------------------------------------------------------------
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        state_dict: dict[str, Tensor] | None = None,
        safe_serialization: bool = True,
        max_shard_size: int | str = "5GB",
        is_main_process: bool = True,
        **_: Any,
    ) -> None:
        """Write config.json (+ generation_config.json) and the weights; every file atomically.

        `safe_serialization=False` writes `pytorch_model.bin`; checkpoints larger than
        `max_shard_size` are split into shards with an index file.
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, but {save_directory} is a file.")
        if not is_main_process:
            return
        os.makedirs(save_directory, exist_ok=True)
        self.config.architectures = [type(self).__name__]
        self.config.dtype = str(self.dtype).removeprefix("torch.")
        self.config.save_pretrained(save_directory)
        if self.can_generate() and getattr(self, "generation_config", None) is not None:
            self.generation_config.save_pretrained(save_directory)
        save_state_dict(
            self._state_dict_for_saving(state_dict), save_directory, safe_serialization, max_shard_size
        )

    def _state_dict_for_saving(self, state_dict: dict[str, Tensor] | None) -> dict[str, Tensor]:
        """Drop tied copies (safetensors refuses shared storage) and make every tensor contiguous."""
        state_dict = self.state_dict() if state_dict is None else state_dict
        seen: dict[tuple, str] = {}
        out = {}
        for key, value in state_dict.items():
            ident = (value.device, value.untyped_storage().data_ptr(), value.storage_offset(), value.shape)
            if ident in seen:
                if key in self._tied_weights_keys or seen[ident] not in self._tied_weights_keys:
                    continue
                out.pop(seen[ident])  # keep the embedding, drop the tied head
            seen[ident] = key
            out[key] = value.detach().contiguous()
        return out


def save_state_dict(
    state_dict: dict[str, Tensor], save_directory: str, safe_serialization: bool = True, max_shard_size="5GB"
) -> None:
    """Write weights as one file or as shards + index; remove weight files of earlier saves."""
    limit = parse_size(max_shard_size)
    shards: list[dict[str, Tensor]] = [{}]
    size = 0
    for key, value in state_dict.items():
        nbytes = value.numel() * value.element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][key] = value
        size += nbytes
    stem, ext = ("model", "safetensors") if safe_serialization else ("pytorch_model", "bin")
    if len(shards) == 1:
        names = [f"{stem}.{ext}"]
    else:
        names = [f"{stem}-{i + 1:05d}-of-{len(shards):05d}.{ext}" for i in range(len(shards))]
    for name, shard in zip(names, shards):
        with atomic_path(os.path.join(save_directory, name)) as tmp:
            if safe_serialization:
                from safetensors.torch import save_file

                save_file({k: v.cpu() for k, v in shard.items()}, tmp, metadata={"format": "pt"})
            else:
                torch.save({k: v.cpu() for k, v in shard.items()}, tmp)
    index_name = f"{stem}.{ext}.index.json"
    if len(shards) > 1:
        index = {
            "metadata": {"total_size": sum(v.numel() * v.element_size() for v in state_dict.values())},
            "weight_map": {k: name for name, shard in zip(names, shards) for k in shard},
        }
        atomic_write_text(
            os.path.join(save_directory, index_name), json.dumps(index, indent=2, sort_keys=True) + "\n"
        )
    # Files of a previous save that would shadow or contradict this one.
    written = set(names) | ({index_name} if len(shards) > 1 else set())
    stale = re.compile(r"^(model|pytorch_model)(-\d{5}-of-\d{5})?\.(safetensors|bin)(\.index\.json)?$")
    for name in os.listdir(save_directory):
        if stale.match(name) and name not in written:
            os.remove(os.path.join(save_directory, name))


def _matches(key: str, patterns: list[str]) -> bool:
    return any(re.search(p, key) for p in patterns)
