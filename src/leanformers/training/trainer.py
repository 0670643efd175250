"""Trainer: the training / evaluation loop of the course, in one readable class.

    trainer = Trainer(model, TrainingArguments("out", eval_strategy="epoch"), train_dataset=...,
                      eval_dataset=..., data_collator=..., tokenizer=tokenizer, compute_metrics=...)
    trainer.train()

One optimizer step ("step") consumes `gradient_accumulation_steps` batches per process. Each
step: forward/backward per batch (DDP syncs gradients on the last one), clip, optimizer and
scheduler step, then the callbacks decide whether to log, evaluate, save or stop. The loss of a
batch is divided by the number of batches accumulated, so the logged loss is the mean over them
(as the reference computes it, which makes per-step losses comparable).

Split by topic: arguments (args.py), data order (data.py), schedules (optim.py), callbacks
(callbacks.py), checkpoints (checkpoint.py), torchrun (distributed.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from ..utils import atomic_write_text, get_logger
from . import checkpoint as ckpt
from . import distributed as dist
from .args import TrainingArguments
from .callbacks import (
    CallbackHandler,
    DefaultFlowCallback,
    PrinterCallback,
    ProgressCallback,
    TensorBoardCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from .checkpoint import CheckpointingMixin
from .collators import DataCollatorWithPadding, default_data_collator
from .data import (
    RemoveColumnsCollator,
    ShardedBatchSampler,
    accepts_loss_kwargs,
    find_labels,
    forward_parameters,
    is_hf_dataset,
    remove_unused_columns,
    seed_worker,
    to_device,
)
from .evaluation import EvalPrediction, EvaluationMixin, speed_metrics
from .optim import create_optimizer, get_scheduler

logger = get_logger(__name__)


# ------------------------------------------------------------------------------------------------
# Small public types
# ------------------------------------------------------------------------------------------------
class TrainOutput(NamedTuple):
    global_step: int
    training_loss: float
    metrics: dict[str, float]


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (all devices); `deterministic=True` also asks torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


# ------------------------------------------------------------------------------------------------
class Trainer(EvaluationMixin, CheckpointingMixin):
    """Train, evaluate and predict with a model whose forward returns a loss when given labels."""

    def __init__(
        self,
        model: nn.Module | None = None,
        args: TrainingArguments | None = None,
        data_collator: Callable | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: Any = None,
        model_init: Callable[[], nn.Module] | None = None,
        compute_loss_func: Callable | None = None,
        compute_metrics: Callable[[EvalPrediction], dict] | None = None,
        callbacks: list[TrainerCallback] | None = None,
        optimizers: tuple[torch.optim.Optimizer | None, Any] = (None, None),
        optimizer_cls_and_kwargs: tuple[type, dict] | None = None,
        preprocess_logits_for_metrics: Callable | None = None,
        tokenizer: Any = None,
    ):
        if tokenizer is not None:
            if processing_class is not None and processing_class is not tokenizer:
                raise ValueError("Pass the tokenizer once: either tokenizer= or processing_class=, not both.")
            processing_class = tokenizer
        self.args = args if args is not None else TrainingArguments("trainer_output")
        dist.init_from_env(self.args)
        set_seed(self.args.seed, self.args.full_determinism)
        self.model_init = model_init
        if model is None:
            if model_init is None:
                raise ValueError("Trainer needs a model (or a model_init function that builds one).")
            model = model_init()
        self.model = model.to(self.args.device)
        self.processing_class = processing_class
        if data_collator is None:
            data_collator = (
                DataCollatorWithPadding(processing_class) if hasattr(processing_class, "pad") else None
            )
        self.data_collator = data_collator or default_data_collator
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        if self.args.eval_strategy != "no" and eval_dataset is None:
            raise ValueError(
                f"eval_strategy={self.args.eval_strategy!r} evaluates during training, but no eval_dataset was given. "
                "Pass eval_dataset= to Trainer, or set eval_strategy='no'."
            )
        self.compute_loss_func = compute_loss_func
        self.compute_metrics = compute_metrics
        self.preprocess_logits_for_metrics = preprocess_logits_for_metrics
        self.optimizer, self.lr_scheduler = optimizers
        if optimizer_cls_and_kwargs is not None and self.optimizer is not None:
            raise ValueError(
                "Pass either optimizers=(optimizer, scheduler) or optimizer_cls_and_kwargs, not both."
            )
        self.optimizer_cls_and_kwargs = optimizer_cls_and_kwargs
        self._created_scheduler = False
        self.label_names = (
            self.args.label_names if self.args.label_names is not None else find_labels(self.model)
        )
        self.model_accepts_loss_kwargs = accepts_loss_kwargs(self.model)
        self.current_gradient_accumulation_steps = 1
        self.scaler = torch.amp.GradScaler("cuda") if self.args.fp16 else None
        self.is_in_train = False

        default = [DefaultFlowCallback, PrinterCallback if self.args.disable_tqdm else ProgressCallback]
        if "tensorboard" in self.args.report_to:
            default.append(TensorBoardCallback)
        self.callback_handler = CallbackHandler(
            default + list(callbacks or []), self.model, processing_class, self.optimizer, self.lr_scheduler
        )
        self.state = TrainerState(
            is_local_process_zero=self.args.local_process_index == 0,
            is_world_process_zero=self.args.process_index == 0,
        )
        self.control = TrainerControl()
        self._flos_per_token = None
        self.current_flos = 0.0
        self.control = self._event("on_init_end")

    # -- small API ---------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        return self.processing_class

    def add_callback(self, callback) -> None:
        self.callback_handler.add_callback(callback)

    def pop_callback(self, callback):
        return self.callback_handler.pop_callback(callback)

    def remove_callback(self, callback) -> None:
        self.callback_handler.remove_callback(callback)

    def is_world_process_zero(self) -> bool:
        return self.args.process_index == 0

    def is_local_process_zero(self) -> bool:
        return self.args.local_process_index == 0

    def _event(self, name: str, **kwargs) -> TrainerControl:
        return self.callback_handler.call_event(name, self.args, self.state, self.control, **kwargs)

    # -- data ------------------------------------------------------------------------------------
    def _signature_columns(self) -> list[str]:
        return forward_parameters(dist.unwrap(self.model)) + ["label", "label_ids", *self.label_names]

    def _loader(self, dataset: Any, batch_size: int, *, shuffle: bool, description: str):
        if dataset is None:
            raise ValueError(
                f"Trainer: {description} needs a dataset; pass {description}_dataset= to Trainer."
            )
        if not hasattr(dataset, "__len__"):
            raise TypeError(
                f"The {description} dataset has no length ({type(dataset).__name__}); leanformers needs a map-style "
                "dataset: a datasets.Dataset, a list of dicts or a torch Dataset with __len__."
            )
        collator = self.data_collator
        if self.args.remove_unused_columns:
            model_name = type(dist.unwrap(self.model)).__name__
            if is_hf_dataset(dataset):
                dataset = remove_unused_columns(dataset, self._signature_columns(), description, model_name)
            else:
                collator = RemoveColumnsCollator(collator, self._signature_columns())
        args = self.args
        sampler = ShardedBatchSampler(
            len(dataset),
            batch_size,
            shuffle=shuffle,
            seed=args.data_seed if args.data_seed is not None else args.seed,
            drop_last=args.dataloader_drop_last,
            world_size=args.world_size,
            rank=args.process_index,
        )
        workers = args.dataloader_num_workers
        return torch.utils.data.DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=collator,
            num_workers=workers,
            pin_memory=args.dataloader_pin_memory and args.device.type == "cuda",
            persistent_workers=args.dataloader_persistent_workers,
            prefetch_factor=args.dataloader_prefetch_factor if workers else None,
            worker_init_fn=seed_worker if workers else None,
            # Its own generator: creating an iterator must not draw from the global RNG (exact resume).
            generator=torch.Generator().manual_seed(args.seed),
        )

    def get_train_dataloader(self):
        return self._loader(self.train_dataset, self.args.train_batch_size, shuffle=True, description="train")

    def get_eval_dataloader(self, eval_dataset: Any = None):
        if isinstance(eval_dataset, str):
            eval_dataset = self.eval_dataset[eval_dataset]
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        return self._loader(dataset, self.args.eval_batch_size, shuffle=False, description="eval")

    def get_test_dataloader(self, test_dataset: Any):
        return self._loader(test_dataset, self.args.eval_batch_size, shuffle=False, description="test")

    # -- optimizer ---------------------------------------------------------------------------------
    def create_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            if self.optimizer_cls_and_kwargs is not None:
                cls, kwargs = self.optimizer_cls_and_kwargs
                self.optimizer = cls([p for p in self.model.parameters() if p.requires_grad], **kwargs)
            else:
                self.optimizer = create_optimizer(self.model, self.args)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None):
        if self.lr_scheduler is None:
            args = self.args
            self.lr_scheduler = get_scheduler(
                args.lr_scheduler_type,
                optimizer or self.optimizer,
                num_warmup_steps=args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
                scheduler_specific_kwargs=args.lr_scheduler_kwargs,
            )
            self._created_scheduler = True
        return self.lr_scheduler

    def create_optimizer_and_scheduler(self, num_training_steps: int) -> None:
        self.create_optimizer()
        self.create_scheduler(num_training_steps, self.optimizer)

    def _get_learning_rate(self) -> float:
        if isinstance(self.lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            return self.optimizer.param_groups[0]["lr"]
        return self.lr_scheduler.get_last_lr()[0]

    # -- training ----------------------------------------------------------------------------------
    def train(
        self,
        resume_from_checkpoint: str | bool | None = None,
        trial: Any = None,
        ignore_keys_for_eval=None,
        **kwargs,
    ):
        """Train; `resume_from_checkpoint=True` continues from the newest complete checkpoint in output_dir."""
        if kwargs:
            raise TypeError(f"train() got unexpected keyword arguments: {', '.join(kwargs)}.")
        args = self.args
        if resume_from_checkpoint is None:
            resume_from_checkpoint = args.resume_from_checkpoint
        if self.train_dataset is None:
            raise ValueError("Trainer.train() needs a train_dataset: pass train_dataset= to Trainer.")
        if args.save_strategy != "no" or args.load_best_model_at_end:
            self._check_output_dir()
        if self.model_init is not None:
            set_seed(args.seed, args.full_determinism)
            self.model = self.model_init().to(args.device)
            self.callback_handler.model = self.model
            self.optimizer, self.lr_scheduler = None, None
        checkpoint = self._resolve_checkpoint(resume_from_checkpoint)
        if checkpoint is not None:
            ckpt.verify_checkpoint(checkpoint)  # before anything is loaded: a damaged one changes nothing
            ckpt.load_model_weights(dist.unwrap(self.model), checkpoint)
        self.is_in_train = True
        try:
            return self._train_loop(checkpoint, ignore_keys_for_eval)
        finally:
            self.is_in_train = False

    def _resolve_checkpoint(self, resume: str | bool | None) -> str | None:
        if resume is None or resume is False:
            return None
        if resume is True:
            found = ckpt.latest_checkpoint(self.args.output_dir)
            if found is None:
                logger.warning(
                    "resume_from_checkpoint=True but %s holds no complete checkpoint: starting fresh.",
                    self.args.output_dir,
                )
            return found
        return os.fspath(resume)

    def _check_output_dir(self) -> None:
        if not self.args.should_save:
            return
        out = self.args.output_dir
        try:
            os.makedirs(out, exist_ok=True)
            probe = os.path.join(out, f".write-test-{os.getpid()}")
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as e:
            raise PermissionError(
                f"Cannot write checkpoints to output_dir {out!r}: {e.strerror or e}. Choose a writable output_dir "
                "(TrainingArguments(output_dir=...)), or save_strategy='no' to train without checkpoints."
            ) from None
        ckpt.remove_stale_temporaries(out)

    def _train_loop(self, checkpoint: str | None, ignore_keys_for_eval) -> TrainOutput:
        args = self.args
        loader = self.get_train_dataloader()
        sampler: ShardedBatchSampler = loader.batch_sampler
        batches_per_epoch = sampler.batches_per_epoch()
        if batches_per_epoch == 0:
            raise ValueError(
                f"The training dataset ({sampler.num_samples} examples) gives no batch of "
                f"{args.train_batch_size}{' with dataloader_drop_last=True' if args.dataloader_drop_last else ''}."
            )
        ga = args.gradient_accumulation_steps
        updates_per_epoch = max(math.ceil(batches_per_epoch / ga), 1)
        if args.max_steps > 0:
            max_steps = args.max_steps
            num_epochs = math.ceil(max_steps / updates_per_epoch)
            num_samples = max_steps * args.train_batch_size * ga * args.world_size
        else:
            max_steps = math.ceil(args.num_train_epochs * updates_per_epoch)
            num_epochs = math.ceil(args.num_train_epochs)
            num_samples = int(sampler.num_samples * args.num_train_epochs)

        if self._created_scheduler:  # a second train() call builds a fresh schedule for its own length
            self.lr_scheduler, self._created_scheduler = None, False
        self.create_optimizer_and_scheduler(max_steps)
        self.state = TrainerState(
            max_steps=max_steps,
            num_train_epochs=num_epochs,
            train_batch_size=args.train_batch_size,
            is_local_process_zero=self.is_local_process_zero(),
            is_world_process_zero=self.is_world_process_zero(),
        )
        self.state.compute_steps(args, max_steps)
        if args.gradient_checkpointing:
            if not hasattr(self.model, "gradient_checkpointing_enable"):
                raise ValueError(
                    f"gradient_checkpointing=True but {type(self.model).__name__} does not support it."
                )
            self.model.gradient_checkpointing_enable(args.gradient_checkpointing_kwargs)
        model = dist.wrap_model(self.model, args)
        if args.torch_compile:
            model = torch.compile(
                model, backend=args.torch_compile_backend or "inductor", mode=args.torch_compile_mode
            )
        self.model_wrapped = model
        for name in ("model", "optimizer", "lr_scheduler"):
            setattr(self.callback_handler, name, getattr(self, name))
        self.callback_handler.train_dataloader = loader

        epochs_done, batches_to_skip, rng = 0, 0, None
        if checkpoint is not None:
            rng = self._load_training_state(checkpoint)
            epochs_done = self.state.global_step // updates_per_epoch
            batches_to_skip = (
                0 if args.ignore_data_skip else (self.state.global_step % updates_per_epoch) * ga
            )
            logger.info("Resuming from %s (step %d)", checkpoint, self.state.global_step)
        start_step = self.state.global_step

        logger.info(
            "***** Running training *****  examples=%d epochs=%d batch/device=%d accumulation=%d steps=%d",
            sampler.num_samples,
            num_epochs,
            args.train_batch_size,
            ga,
            max_steps,
        )
        self._tr_loss = torch.zeros((), device=args.device)
        self._total_loss = 0.0
        self._last_logged_step = self.state.global_step
        self._grad_norm: torch.Tensor | None = None
        self._learning_rate: float | None = None
        self._labels_checked = False
        model.zero_grad(set_to_none=True)
        start_time = time.time()
        self.control.should_training_stop = False
        self.control = self._event("on_train_begin")
        if args.eval_on_start:
            self._evaluate(ignore_keys_for_eval)

        for epoch in range(epochs_done, num_epochs):
            sampler.set_epoch(epoch)
            sampler.skip = batches_to_skip if epoch == epochs_done else 0
            self.control.should_epoch_stop = False
            self.control = self._event("on_epoch_begin")
            iterator = iter(loader)
            if rng is not None:  # after the iterator exists, right before the first resumed step
                ckpt.set_rng_state(rng)
                rng = None
            self._train_epoch(model, iterator, epoch, sampler.skip, batches_per_epoch, ignore_keys_for_eval)
            self.control = self._event("on_epoch_end")
            self._maybe_log_save_evaluate(model, ignore_keys_for_eval)
            if self.control.should_training_stop:
                break

        if args.load_best_model_at_end and self.state.best_model_checkpoint is not None:
            logger.info(
                "Loading the best model from %s (%s=%s)",
                self.state.best_model_checkpoint,
                args.metric_for_best_model,
                self.state.best_metric,
            )
            ckpt.load_model_weights(dist.unwrap(self.model), self.state.best_model_checkpoint)
        self._total_loss += dist.mean_across_processes(self._tr_loss).item()
        steps_run = max(self.state.global_step - start_step, 1)
        train_loss = self._total_loss / steps_run
        metrics = speed_metrics("train", start_time, num_samples=num_samples, num_steps=max_steps)
        self._store_flos()
        metrics["total_flos"] = self.state.total_flos
        metrics["train_loss"] = train_loss
        self.log(metrics)
        self.control = self._event("on_train_end")
        if self.args.should_save and os.path.isdir(args.output_dir):
            _plot_history(self.state.log_history, args.output_dir)
        return TrainOutput(self.state.global_step, train_loss, metrics)

    def _train_epoch(
        self, model, iterator, epoch: int, skipped: int, steps_in_epoch: int, ignore_keys
    ) -> None:
        """The rest of one epoch: groups of `gradient_accumulation_steps` batches, one optimizer step each."""
        args = self.args
        ga = args.gradient_accumulation_steps
        step = skipped - 1  # index of the last batch processed in this epoch
        while step + 1 < steps_in_epoch:
            group = [next(iterator) for _ in range(min(ga, steps_in_epoch - step - 1))]
            self.current_gradient_accumulation_steps = len(group)
            num_items = self._num_items_in_batch(group)
            for i, inputs in enumerate(group):
                step += 1
                self._check_training_batch(inputs)
                if i == 0:
                    self.control = self._event("on_step_begin")
                last = i == len(group) - 1
                no_sync = (
                    model.no_sync if (not last and hasattr(model, "no_sync")) else contextlib.nullcontext
                )
                with no_sync():
                    loss = self.training_step(model, inputs, num_items)
                if not torch.isfinite(loss).item():
                    raise FloatingPointError(
                        f"The training loss is {loss.item()} at step {self.state.global_step + 1} (epoch {epoch}, "
                        f"batch {step}). Lower the learning rate, check the inputs and labels of this batch, or "
                        "train in float32 instead of fp16."
                    )
                self._tr_loss += loss
                self.current_flos += self._flos(inputs)
                if not last:
                    self.control = self._event("on_substep_end")
                    continue
                self._optimizer_step(model)
                self.state.global_step += 1
                self.state.epoch = epoch + (step + 1) / steps_in_epoch
                self.control = self._event("on_step_end")
                self._maybe_log_save_evaluate(model, ignore_keys)
            if self.control.should_epoch_stop or self.control.should_training_stop:
                return

    def _optimizer_step(self, model) -> None:
        args = self.args
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if args.max_grad_norm is not None and args.max_grad_norm > 0:
            # kept as a tensor: converting it here would wait for the GPU at every step
            self._grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        self.control = self._event("on_pre_optimizer_step")
        skipped = False
        if self.scaler is not None:
            scale = self.scaler.get_scale()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            skipped = self.scaler.get_scale() < scale  # inf/nan gradients: fp16 skips this step
        else:
            self.optimizer.step()
        self.control = self._event("on_optimizer_step")
        self._learning_rate = self._get_learning_rate()
        if not skipped and not isinstance(self.lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.lr_scheduler.step()
        model.zero_grad(set_to_none=True)

    def _num_items_in_batch(self, group: list[Any]) -> torch.Tensor | None:
        """Label tokens over the accumulated batches (for models that normalise their loss by it)."""
        if not self.model_accepts_loss_kwargs or not all(
            isinstance(b, Mapping) and "labels" in b for b in group
        ):
            return None
        count = sum(int((b["labels"] != -100).sum()) for b in group)
        count = torch.tensor(count, device=self.args.device)
        if self.args.average_tokens_across_devices:
            count = dist.sum_across_processes(count)
        return count

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch=None
    ) -> torch.Tensor:
        """Forward and backward on one batch; returns the (detached) loss as used for the gradient."""
        model.train()
        inputs = self._prepare_inputs(inputs)
        with self.autocast():
            loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        if (
            not self.model_accepts_loss_kwargs or num_items_in_batch is None
        ) and self.compute_loss_func is None:
            loss = loss / self.current_gradient_accumulation_steps
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        return loss.detach()

    def compute_loss(
        self, model: nn.Module, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch=None
    ):
        """The model's own loss (or `compute_loss_func`, or label smoothing); override for custom losses."""
        labels = None
        if (
            self.args.label_smoothing_factor > 0 or self.compute_loss_func is not None
        ) and "labels" in inputs:
            inputs = dict(inputs)
            labels = inputs.pop("labels")
        if self.model_accepts_loss_kwargs and num_items_in_batch is not None:
            inputs = {**inputs, "num_items_in_batch": num_items_in_batch}
        outputs = model(**inputs)
        if self.compute_loss_func is not None:
            loss = self.compute_loss_func(outputs, labels, num_items_in_batch=num_items_in_batch)
        elif labels is not None:
            shift = (
                type(dist.unwrap(model)).__name__.endswith("ForCausalLM")
                or "LMHead" in type(dist.unwrap(model)).__name__
            )
            loss = label_smoothed_loss(
                _get(outputs, "logits", 0), labels, self.args.label_smoothing_factor, shift
            )
        else:
            loss = _get(outputs, "loss", 0)
            if loss is None:
                keys = list(outputs.keys()) if hasattr(outputs, "keys") else type(outputs).__name__
                raise ValueError(
                    f"The model returned no loss (outputs: {keys}; inputs: {', '.join(inputs)}). Training needs labels: "
                    "add a 'labels' (or 'label') column to the dataset, or override compute_loss."
                )
        if (
            self.args.average_tokens_across_devices
            and (self.model_accepts_loss_kwargs or self.compute_loss_func is not None)
            and num_items_in_batch is not None
        ):
            loss = (
                loss * self.args.world_size
            )  # DDP averages gradients; the loss was normalised by the global count
        return (loss, outputs) if return_outputs else loss

    def autocast(self):
        if self.args.bf16 or self.args.fp16:
            dtype = torch.bfloat16 if self.args.bf16 else torch.float16
            return torch.autocast(self.args.device.type, dtype=dtype)
        return contextlib.nullcontext()

    def _prepare_inputs(self, inputs: Any) -> Any:
        inputs = to_device(inputs, self.args.device)
        if isinstance(inputs, Mapping) and not inputs:
            raise ValueError(
                f"A batch is empty: no column of the dataset is an argument of the model's forward "
                f"({', '.join(self._signature_columns())})."
            )
        return inputs

    def _check_training_batch(self, inputs: Any) -> None:
        """Clear errors for missing labels (first batch) and out-of-range class ids (every batch)."""
        if not isinstance(inputs, Mapping):
            return
        model = dist.unwrap(self.model)
        if not self._labels_checked:
            self._labels_checked = True
            overridden = (
                type(self).compute_loss is not Trainer.compute_loss or self.compute_loss_func is not None
            )
            if (
                self.label_names
                and not overridden
                and not any(inputs.get(k) is not None for k in self.label_names)
            ):
                raise ValueError(
                    f"The training data has no labels: a batch holds {', '.join(inputs) or 'nothing'}, but "
                    f"{type(model).__name__} needs {', '.join(self.label_names)} to compute a loss. Add a 'labels' "
                    "(or 'label') column to the train dataset, or use a data collator that makes labels."
                )
        labels = inputs.get("labels")
        config = getattr(model, "config", None)
        name = type(model).__name__
        if (
            isinstance(labels, torch.Tensor)
            and not labels.is_floating_point()
            and labels.numel()
            and config is not None
            and name.endswith(("ForSequenceClassification", "ForTokenClassification"))
            and getattr(config, "num_labels", 0) > 1
        ):
            valid = labels[labels != -100]
            if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= config.num_labels):
                bad = int(valid.max()) if int(valid.max()) >= config.num_labels else int(valid.min())
                raise ValueError(
                    f"Label {bad} at step {self.state.global_step + 1} is out of range for {name} with "
                    f"num_labels={config.num_labels} (valid ids: 0..{config.num_labels - 1}, or -100 to ignore). Load "
                    f"the model with num_labels= the number of classes, or fix the dataset's labels."
                )

    def _flos(self, inputs: Any) -> float:
        """6 x tokens x non-embedding parameters (the reference's estimate)."""
        model = dist.unwrap(self.model)
        if not isinstance(inputs, Mapping) or getattr(model, "main_input_name", "input_ids") not in inputs:
            return 0.0
        if self._flos_per_token is None:
            embedding = {
                id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()
            }
            self._flos_per_token = 6 * sum(p.numel() for p in model.parameters() if id(p) not in embedding)
        return float(self._flos_per_token * inputs[model.main_input_name].numel())

    def _store_flos(self) -> None:
        total = dist.sum_across_processes(torch.tensor(self.current_flos, dtype=torch.float64)).item()
        self.state.total_flos += total
        self.current_flos = 0.0

    # -- logging, evaluation and saving during training -------------------------------------------
    def _maybe_log_save_evaluate(self, model, ignore_keys) -> None:
        if self.control.should_log and self.state.global_step > self._last_logged_step:
            loss = dist.mean_across_processes(self._tr_loss).item()
            self._tr_loss.zero_()
            logs: dict[str, float] = {"loss": loss / (self.state.global_step - self._last_logged_step)}
            if self._grad_norm is not None:
                logs["grad_norm"] = float(self._grad_norm)
            logs["learning_rate"] = (
                self._learning_rate if self._learning_rate is not None else self._get_learning_rate()
            )
            self._total_loss += loss
            self._last_logged_step = self.state.global_step
            self._store_flos()
            self.log(logs)
        self.control.should_log = False
        if self.control.should_evaluate:
            self.control.should_evaluate = False
            metrics = self._evaluate(ignore_keys)
            is_best = self._update_best_metric(metrics)
            if self.args.save_strategy == "best":
                self.control.should_save = is_best
        if self.control.should_save:
            self.control.should_save = False
            self._save_checkpoint()
            self.control = self._event("on_save")

    def _evaluate(self, ignore_keys) -> dict[str, float]:
        metrics = self.evaluate(ignore_keys=ignore_keys)
        if isinstance(self.lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.lr_scheduler.step(metrics[self._best_metric_key(metrics)])
        return metrics

    def _best_metric_key(self, metrics: dict) -> str:
        name = self.args.metric_for_best_model
        name = name if name.startswith("eval_") else f"eval_{name}"
        if name not in metrics:
            raise KeyError(
                f"metric_for_best_model={self.args.metric_for_best_model!r} is not among the evaluation metrics "
                f"{sorted(metrics)}. Return it from compute_metrics or choose another one."
            )
        return name

    def _update_best_metric(self, metrics: dict) -> bool:
        if self.args.metric_for_best_model is None:
            return False
        value = metrics[self._best_metric_key(metrics)]
        best = self.state.best_metric
        if best is None or (value > best if self.args.greater_is_better else value < best):
            self.state.best_metric = value
            self.state.best_global_step = self.state.global_step
            return True
        return False

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Record `logs` in state.log_history (with epoch and step) and pass them to the callbacks."""
        if self.state.epoch is not None:
            logs["epoch"] = self.state.epoch
        self.state.log_history.append({**logs, "step": self.state.global_step})
        self.control = self._event("on_log", logs=logs)

    # -- saving ----------------------------------------------------------------------------------
    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Model (safetensors + config), tokenizer and training arguments (JSON) in `output_dir`."""
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            dist.barrier()
            return
        os.makedirs(output_dir, exist_ok=True)
        ckpt.save_model_weights(dist.unwrap(self.model), output_dir, self.args.save_safetensors)
        if hasattr(self.processing_class, "save_pretrained"):
            self.processing_class.save_pretrained(output_dir)
        atomic_write_text(os.path.join(output_dir, ckpt.TRAINING_ARGS), self.args.to_json_string() + "\n")
        dist.barrier()

    def save_state(self) -> None:
        """trainer_state.json (log history, best metric, ...) in output_dir."""
        if self.args.should_save:
            os.makedirs(self.args.output_dir, exist_ok=True)
            self.state.save_to_json(os.path.join(self.args.output_dir, ckpt.TRAINER_STATE))

    def log_metrics(self, split: str, metrics: dict[str, float]) -> None:
        if self.is_world_process_zero():
            print(f"***** {split} metrics *****")
            for key in sorted(metrics):
                print(f"  {key:<30} = {metrics[key]}")

    def save_metrics(self, split: str, metrics: dict[str, float]) -> None:
        import json

        if self.args.should_save:
            os.makedirs(self.args.output_dir, exist_ok=True)
            atomic_write_text(
                os.path.join(self.args.output_dir, f"{split}_results.json"),
                json.dumps(metrics, indent=2, sort_keys=True),
            )


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def label_smoothed_loss(
    logits: torch.Tensor, labels: torch.Tensor, epsilon: float, shift: bool = False
) -> torch.Tensor:
    """(1 - eps) * NLL + eps * mean(-log p) over the vocabulary, ignoring labels == -100."""
    if shift:
        logits, labels = logits[..., :-1, :].contiguous(), labels[..., 1:].contiguous()
    log_probs = -torch.nn.functional.log_softmax(logits, dim=-1)
    if labels.dim() == log_probs.dim() - 1:
        labels = labels.unsqueeze(-1)
    padding = labels.eq(-100)
    nll = log_probs.gather(dim=-1, index=labels.clamp(min=0)).masked_fill(padding, 0.0)
    smooth = log_probs.sum(dim=-1, keepdim=True, dtype=torch.float32).masked_fill(padding, 0.0)
    active = padding.numel() - padding.long().sum()
    return (1 - epsilon) * nll.sum() / active + epsilon * smooth.sum() / (active * log_probs.shape[-1])


def _get(outputs: Any, key: str, index: int) -> Any:
    if hasattr(outputs, "keys"):
        return outputs.get(key) if hasattr(outputs, "get") else getattr(outputs, key, None)
    return outputs[index]


def _plot_history(history: list[dict], output_dir: str) -> None:
    """loss_curve.png: training and evaluation loss per step (only if matplotlib is installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    if not train and not evals:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for points, label in ((train, "train loss"), (evals, "eval loss")):
        if points:
            ax.plot(*zip(*points), marker="o" if len(points) < 30 else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "loss_curve.png"))
    plt.close(fig)
