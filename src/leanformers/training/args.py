"""TrainingArguments: every knob of the Trainer, with the reference's names and defaults.

A plain dataclass: `TrainingArguments("out", eval_strategy="epoch")`. It also accepts the course's
spelling `evaluation_strategy` (removed from `transformers` in 4.51). Unknown names, options of the
reference that leanformers does not implement, and contradictory settings raise a `ValueError`
that names the problem and the fix, at construction time rather than an hour into training.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

STRATEGIES = ("no", "steps", "epoch")
SAVE_STRATEGIES = (*STRATEGIES, "best")
SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
)
OPTIMIZERS = ("adamw_torch_fused", "adamw_torch", "sgd", "adagrad")

# Options of the reference's TrainingArguments that leanformers deliberately leaves out, with what to
# do instead. Passing one of them gives this message rather than "unexpected keyword".
_NOT_SUPPORTED = {
    "deepspeed": "DeepSpeed is not supported; use DDP through `torchrun --nproc_per_node N`.",
    "fsdp": "FSDP is not supported; use DDP through `torchrun --nproc_per_node N`.",
    "fsdp_config": "FSDP is not supported; use DDP through `torchrun --nproc_per_node N`.",
    "tpu_num_cores": "TPUs are not supported.",
    "use_mps_device": "pass use_cpu=False and let the Trainer pick the device.",
    "jit_mode_eval": "TorchScript evaluation is not supported.",
    "torchdynamo": "use torch_compile=True.",
    "fp16_opt_level": "apex is not supported; fp16 uses torch.amp.",
    "half_precision_backend": "mixed precision always uses torch.amp.",
    "neftune_noise_alpha": "NEFTune is not supported.",
    "use_liger_kernel": "Liger kernels are not supported.",
    "group_by_length": "length-grouped sampling is not supported; sort or bucket the dataset yourself.",
    "auto_find_batch_size": "choose per_device_train_batch_size yourself.",
    "use_legacy_prediction_loop": "there is one prediction loop.",
    "optim_target_modules": "GaLore/APOLLO optimizers are not supported.",
    "accelerator_config": "leanformers does not use accelerate.",
    "parallelism_config": "only data parallelism (DDP) is supported.",
}


def _check_kwargs(cls: type) -> type:
    """Wrap the dataclass `__init__` so a misspelt or unsupported argument gets a helpful error."""
    generated = cls.__init__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        for key in kwargs:
            if key in names:
                continue
            if key in _NOT_SUPPORTED:
                raise ValueError(
                    f"TrainingArguments option {key!r} is not supported by leanformers: {_NOT_SUPPORTED[key]}"
                )
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{cls.__name__} got an unknown argument {key!r}.{hint}")
        generated(self, *args, **kwargs)

    __init__.__doc__ = generated.__doc__
    cls.__init__ = __init__
    return cls


@_check_kwargs
@dataclass
class TrainingArguments:
    """What to train, how long, how to log, evaluate and save; see the field comments."""

    output_dir: str | None = None  # checkpoints and logs go here (default "trainer_output")
    overwrite_output_dir: bool = False
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    # -- evaluation ---------------------------------------------------------------------------
    eval_strategy: str = "no"  # "no" | "steps" (every eval_steps) | "epoch"
    evaluation_strategy: str | None = None  # the pre-4.51 spelling the course uses; same meaning
    eval_steps: float | None = None  # defaults to logging_steps; a float < 1 is a ratio of max_steps
    eval_delay: float = 0
    eval_on_start: bool = False
    prediction_loss_only: bool = False
    per_device_eval_batch_size: int = 8
    eval_accumulation_steps: int | None = None
    eval_do_concat_batches: bool = True
    include_for_metrics: list[str] = field(default_factory=list)  # "inputs" and/or "loss"
    batch_eval_metrics: bool = False
    # -- optimisation -------------------------------------------------------------------------
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    num_train_epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides num_train_epochs
    lr_scheduler_type: str = "linear"
    lr_scheduler_kwargs: dict | None = None
    warmup_ratio: float = 0.0
    warmup_steps: int = 0  # > 0 overrides warmup_ratio
    optim: str = "adamw_torch_fused"
    optim_args: str | None = None
    label_smoothing_factor: float = 0.0
    gradient_checkpointing: bool = False
    gradient_checkpointing_kwargs: dict | None = None
    average_tokens_across_devices: bool = True
    # -- logging ------------------------------------------------------------------------------
    log_level: str = "passive"
    log_level_replica: str = "warning"
    log_on_each_node: bool = True
    logging_dir: str | None = None
    logging_strategy: str = "steps"
    logging_first_step: bool = False
    logging_steps: float = 500
    logging_nan_inf_filter: bool = True
    report_to: str | list[str] | None = None  # "none" (default) | "tensorboard"
    run_name: str | None = None
    disable_tqdm: bool | None = None
    include_tokens_per_second: bool = False
    include_num_input_tokens_seen: bool | str = False
    skip_memory_metrics: bool = True
    # -- checkpoints --------------------------------------------------------------------------
    save_strategy: str = "steps"  # "no" | "steps" | "epoch" | "best"
    save_steps: float = 500
    save_total_limit: int | None = None
    save_safetensors: bool = True
    save_on_each_node: bool = False
    save_only_model: bool = False
    restore_callback_states_from_checkpoint: bool = False
    load_best_model_at_end: bool = False
    metric_for_best_model: str | None = None
    greater_is_better: bool | None = None
    resume_from_checkpoint: str | None = None
    ignore_data_skip: bool = False
    # -- reproducibility and hardware ---------------------------------------------------------
    seed: int = 42
    data_seed: int | None = None  # seeds the data order; defaults to seed
    full_determinism: bool = False
    use_cpu: bool = False
    no_cuda: bool = False  # deprecated spelling of use_cpu
    bf16: bool = False
    fp16: bool = False
    bf16_full_eval: bool = False
    fp16_full_eval: bool = False
    tf32: bool | None = None
    torch_compile: bool = False
    torch_compile_backend: str | None = None
    torch_compile_mode: str | None = None
    torch_empty_cache_steps: int | None = None
    # -- data ---------------------------------------------------------------------------------
    dataloader_drop_last: bool = False
    dataloader_num_workers: int = 0
    dataloader_prefetch_factor: int | None = None
    dataloader_pin_memory: bool = True
    dataloader_persistent_workers: bool = False
    remove_unused_columns: bool = True
    label_names: list[str] | None = None
    length_column_name: str = "length"
    past_index: int = -1
    # -- distributed (torchrun) ----------------------------------------------------------------
    local_rank: int = -1
    ddp_backend: str | None = None  # "gloo" | "nccl"; default: nccl on GPU, gloo on CPU
    ddp_timeout: int = 1800
    ddp_find_unused_parameters: bool | None = None
    ddp_bucket_cap_mb: int | None = None
    ddp_broadcast_buffers: bool | None = None
    # -- Hub (accepted for compatibility; pushing is not implemented) ---------------------------
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_strategy: str = "every_save"
    hub_token: str | None = None
    hub_private_repo: bool | None = None
    hub_always_push: bool = False
    hub_revision: str | None = None

    def __post_init__(self) -> None:
        if self.output_dir is None:
            self.output_dir = "trainer_output"
        self.output_dir = os.path.expanduser(os.fspath(self.output_dir))
        if self.logging_dir is None:
            self.logging_dir = os.path.join(self.output_dir, "runs")
        self._merge_evaluation_strategy()
        self._check_choices()
        self._check_steps()
        self._check_best_model()
        self._check_precision()
        self._check_misc()

    # -- validation ----------------------------------------------------------------------------
    def _merge_evaluation_strategy(self) -> None:
        old = _enum_value(self.evaluation_strategy)
        new = _enum_value(self.eval_strategy)
        if old is not None:
            if new != "no" and new != old:
                raise ValueError(
                    f"evaluation_strategy={old!r} and eval_strategy={new!r} disagree; they are two spellings of "
                    "one option. Pass only eval_strategy."
                )
            new = old
        self.eval_strategy = self.evaluation_strategy = new

    def _check_choices(self) -> None:
        self.logging_strategy = _enum_value(self.logging_strategy)
        self.save_strategy = _enum_value(self.save_strategy)
        self.lr_scheduler_type = _enum_value(self.lr_scheduler_type)
        self.optim = _enum_value(self.optim)
        for name, value, allowed in (
            ("eval_strategy", self.eval_strategy, STRATEGIES),
            ("logging_strategy", self.logging_strategy, STRATEGIES),
            ("save_strategy", self.save_strategy, SAVE_STRATEGIES),
            ("lr_scheduler_type", self.lr_scheduler_type, SCHEDULERS),
            ("optim", self.optim, OPTIMIZERS),
        ):
            if value not in allowed:
                close = difflib.get_close_matches(str(value), allowed, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"{name}={value!r} is not supported.{hint} Choose one of: {', '.join(allowed)}."
                )
        if self.no_cuda:
            self.use_cpu = True
        if self.eval_strategy != "no":
            self.do_eval = True
        if self.report_to is None or self.report_to in ("none", ["none"]):
            self.report_to = []
        elif isinstance(self.report_to, str):
            self.report_to = [self.report_to]
        if self.report_to in ("all", ["all"]):
            self.report_to = ["tensorboard"] if _tensorboard_available() else []
        for name in self.report_to:
            if name != "tensorboard":
                raise ValueError(f"report_to={name!r} is not supported: use 'none' or 'tensorboard'.")
            if not _tensorboard_available():
                raise ValueError(
                    "report_to='tensorboard' needs the tensorboard package: pip install tensorboard."
                )
        if self.push_to_hub:
            raise ValueError(
                "push_to_hub=True is not supported: leanformers works offline. Call trainer.save_model(DIR) and "
                "upload DIR with huggingface_hub.upload_folder."
            )

    def _check_steps(self) -> None:
        positive = {
            "per_device_train_batch_size": self.per_device_train_batch_size,
            "per_device_eval_batch_size": self.per_device_eval_batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.eval_strategy == "steps" and not self.eval_steps:
            if not self.logging_steps:
                raise ValueError("eval_strategy='steps' needs eval_steps (or logging_steps) > 0.")
            self.eval_steps = self.logging_steps
        for name in ("logging_steps", "eval_steps", "save_steps"):
            value = getattr(self, name)
            if value is None:
                continue
            if value < 0 or (value > 1 and value != int(value)):
                raise ValueError(
                    f"{name} must be a positive integer (or a float in (0, 1) for a ratio), got {value}."
                )
            if value > 1:
                setattr(self, name, int(value))
        if self.logging_strategy == "steps" and not self.logging_steps:
            raise ValueError("logging_strategy='steps' needs logging_steps > 0.")
        if self.save_strategy == "steps" and not self.save_steps:
            raise ValueError("save_strategy='steps' needs save_steps > 0.")
        if not 0 <= self.warmup_ratio <= 1:
            raise ValueError(f"warmup_ratio must lie in [0, 1], got {self.warmup_ratio}.")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps!r}.")
        if self.max_steps == 0 or (self.max_steps < 0 and self.num_train_epochs <= 0):
            raise ValueError("Nothing to train: set max_steps > 0 or num_train_epochs > 0.")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ValueError(
                f"save_total_limit must be >= 1 (or None to keep every checkpoint), got {self.save_total_limit}."
            )

    def _check_best_model(self) -> None:
        if self.load_best_model_at_end and self.save_strategy != "best":
            if self.eval_strategy != self.save_strategy:
                raise ValueError(
                    "load_best_model_at_end=True needs a checkpoint at every evaluation, so eval_strategy and "
                    f"save_strategy must match, but eval_strategy={self.eval_strategy!r} and "
                    f"save_strategy={self.save_strategy!r}. Set both to 'steps' or both to 'epoch'."
                )
            if self.eval_strategy == "steps" and self.save_steps % self.eval_steps != 0:
                raise ValueError(
                    "load_best_model_at_end=True needs save_steps to be a multiple of eval_steps, but save_steps="
                    f"{self.save_steps} and eval_steps={self.eval_steps}."
                )
        if self.save_strategy == "best" and self.metric_for_best_model is None:
            self.metric_for_best_model = "loss"
        if (self.load_best_model_at_end or self.lr_scheduler_type == "reduce_lr_on_plateau") and (
            self.metric_for_best_model is None
        ):
            self.metric_for_best_model = "loss"
        if self.greater_is_better is None and self.metric_for_best_model is not None:
            self.greater_is_better = not self.metric_for_best_model.endswith("loss")
        if self.lr_scheduler_type == "reduce_lr_on_plateau" and self.eval_strategy == "no":
            raise ValueError(
                "lr_scheduler_type='reduce_lr_on_plateau' needs an eval_strategy ('steps' or 'epoch')."
            )

    def _check_precision(self) -> None:
        if self.fp16 and self.bf16:
            raise ValueError("fp16=True and bf16=True: pick one mixed-precision mode.")
        if self.fp16_full_eval and self.bf16_full_eval:
            raise ValueError("fp16_full_eval=True and bf16_full_eval=True: pick one.")
        if self.fp16 or self.fp16_full_eval:
            if self.device.type != "cuda":
                raise ValueError(
                    f"fp16 mixed precision needs a CUDA GPU, but training runs on {self.device.type}. "
                    "Use bf16=True on CPU, or drop fp16."
                )
        if (self.bf16 or self.bf16_full_eval) and self.device.type == "cuda":
            import torch

            if not torch.cuda.is_bf16_supported():
                raise ValueError(
                    "This GPU does not support bf16 (it needs an Ampere or newer GPU). Use fp16=True."
                )
        if self.tf32 is not None and self.device.type == "cuda":
            import torch

            torch.backends.cuda.matmul.allow_tf32 = self.tf32
            torch.backends.cudnn.allow_tf32 = self.tf32

    def _check_misc(self) -> None:
        if self.dataloader_num_workers < 0:
            raise ValueError(f"dataloader_num_workers must be >= 0, got {self.dataloader_num_workers}.")
        if self.dataloader_prefetch_factor is not None and self.dataloader_num_workers == 0:
            raise ValueError("dataloader_prefetch_factor only applies with dataloader_num_workers > 0.")
        if self.dataloader_persistent_workers and self.dataloader_num_workers == 0:
            raise ValueError("dataloader_persistent_workers=True needs dataloader_num_workers > 0.")
        if self.ddp_backend not in (None, "gloo", "nccl"):
            raise ValueError(f"ddp_backend={self.ddp_backend!r} is not supported: use 'gloo' or 'nccl'.")
        if self.label_smoothing_factor < 0 or self.label_smoothing_factor >= 1:
            raise ValueError(f"label_smoothing_factor must lie in [0, 1), got {self.label_smoothing_factor}.")
        if self.disable_tqdm is None:
            from ..utils import logger

            self.disable_tqdm = logger.getEffectiveLevel() > 30  # like the reference: hidden above WARNING
        if self.lr_scheduler_kwargs is None:
            self.lr_scheduler_kwargs = {}
        elif isinstance(self.lr_scheduler_kwargs, str):
            self.lr_scheduler_kwargs = json.loads(self.lr_scheduler_kwargs)

    # -- derived values ------------------------------------------------------------------------
    @cached_property
    def device(self):
        """cpu with use_cpu=True, else this process's GPU when there is one (LOCAL_RANK under torchrun)."""
        import torch

        if self.use_cpu or not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def n_gpu(self) -> int:
        return 1 if self.device.type == "cuda" else 0

    @property
    def world_size(self) -> int:
        from .distributed import world_size

        return world_size()

    @property
    def process_index(self) -> int:
        from .distributed import rank

        return rank()

    @property
    def local_process_index(self) -> int:
        return int(os.environ.get("LOCAL_RANK", 0))

    @property
    def parallel_mode(self) -> str:
        return "distributed" if self.world_size > 1 else "not_parallel"

    @property
    def should_save(self) -> bool:
        """Only the main process writes checkpoints and logs."""
        return self.process_index == 0 or (self.save_on_each_node and self.local_process_index == 0)

    @property
    def should_log(self) -> bool:
        return self.process_index == 0

    @property
    def train_batch_size(self) -> int:
        return self.per_device_train_batch_size

    @property
    def eval_batch_size(self) -> int:
        return self.per_device_eval_batch_size

    def get_warmup_steps(self, num_training_steps: int) -> int:
        """warmup_steps when set, else ceil(warmup_ratio * num_training_steps)."""
        if self.warmup_steps > 0:
            return self.warmup_steps
        return math.ceil(num_training_steps * self.warmup_ratio)

    # -- serialisation (JSON only: checkpoints never pickle the arguments) ----------------------
    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            out[f.name] = "<HUB_TOKEN>" if f.name == "hub_token" and value else value
        return out

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)

    def to_sanitized_dict(self) -> dict[str, Any]:
        """Values TensorBoard can show as hyper-parameters (lists and dicts become strings)."""
        return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in self.to_dict().items()}

    def __str__(self) -> str:
        return (
            f"{type(self).__name__}(\n" + "".join(f"  {k}={v!r},\n" for k, v in self.to_dict().items()) + ")"
        )

    __repr__ = __str__


@_check_kwargs
@dataclass
class Seq2SeqTrainingArguments(TrainingArguments):
    """TrainingArguments plus generation during evaluation (`predict_with_generate`)."""

    sortish_sampler: bool = False
    predict_with_generate: bool = False
    generation_max_length: int | None = None
    generation_num_beams: int | None = None
    generation_config: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sortish_sampler:
            raise ValueError(
                "sortish_sampler is not supported by leanformers: sort or bucket the dataset yourself."
            )


def _enum_value(value: Any) -> Any:
    """Accept the reference's enums (IntervalStrategy.EPOCH) as well as plain strings."""
    return getattr(value, "value", value)


def _tensorboard_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None
