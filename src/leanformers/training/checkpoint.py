"""Checkpoints that are either complete or absent.

A checkpoint `output_dir/checkpoint-N/` holds the model (safetensors), optimizer and scheduler
states, RNG states, `trainer_state.json`, `training_args.json` and a manifest with every file's
size and SHA-256. It is written into a hidden temporary folder and renamed into place only when
every file is on disk, so a crash (even SIGKILL) mid-save leaves the previous checkpoints intact
and never a half checkpoint under a `checkpoint-N` name. Resuming verifies the manifest first: a
damaged checkpoint is reported by file, before any weight is touched.

Tensors and states are written with `torch.save` of plain data (tensors, numbers, lists, dicts)
and read back with `weights_only=True`; the training arguments are JSON. Nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..utils import atomic_write_text, get_logger
from . import distributed
from .callbacks import TrainerState

logger = get_logger(__name__)

PREFIX = "checkpoint"
MANIFEST = "checkpoint_manifest.json"
TRAINER_STATE = "trainer_state.json"
TRAINING_ARGS = "training_args.json"
OPTIMIZER = "optimizer.pt"
SCHEDULER = "scheduler.pt"
SCALER = "scaler.pt"
_TMP_PREFIX = ".tmp-"
_CHECKPOINT_RE = re.compile(rf"^{PREFIX}-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete or damaged; the message names the file and what to do."""


# ------------------------------------------------------------------------------------------------
# Finding checkpoints
# ------------------------------------------------------------------------------------------------
def sorted_checkpoints(output_dir: str) -> list[str]:
    """Complete checkpoints in `output_dir`, oldest step first (temporary folders are never listed)."""
    if not os.path.isdir(output_dir):
        return []
    found = []
    for name in os.listdir(output_dir):
        m = _CHECKPOINT_RE.match(name)
        path = os.path.join(output_dir, name)
        if m and os.path.isdir(path) and os.path.isfile(os.path.join(path, MANIFEST)):
            found.append((int(m.group(1)), path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(output_dir: str) -> str | None:
    checkpoints = sorted_checkpoints(output_dir)
    return checkpoints[-1] if checkpoints else None


def checkpoint_step(path: str) -> int | None:
    m = _CHECKPOINT_RE.match(os.path.basename(os.path.normpath(path)))
    return int(m.group(1)) if m else None


def rotate_checkpoints(output_dir: str, limit: int | None, keep: str | None = None) -> None:
    """Delete the oldest checkpoints beyond `limit`, never `keep` (the best model's checkpoint)."""
    if not limit:
        return
    checkpoints = sorted_checkpoints(output_dir)
    keep_abs = os.path.abspath(keep) if keep else None
    others = [c for c in checkpoints if os.path.abspath(c) != keep_abs]
    budget = limit - (len(checkpoints) - len(others))  # the best checkpoint counts towards the limit
    budget = max(budget, 1)  # but the newest one always stays, so that training can resume
    for path in others[: max(0, len(others) - budget)]:
        logger.info("Deleting older checkpoint %s (save_total_limit=%d)", path, limit)
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_temporaries(output_dir: str) -> None:
    """Folders left by saves that were killed half-way."""
    if not os.path.isdir(output_dir):
        return
    for name in os.listdir(output_dir):
        if name.startswith(_TMP_PREFIX + PREFIX):
            shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------
def write_checkpoint(final_dir: str, write: Callable[[str], None]) -> None:
    """Call `write(tmp_dir)`, record a manifest, then rename `tmp_dir` to `final_dir` in one step."""
    parent = os.path.dirname(os.path.abspath(final_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f"{_TMP_PREFIX}{os.path.basename(final_dir)}-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    try:
        write(tmp)
        manifest = {"files": {rel: _describe(os.path.join(tmp, rel)) for rel in _files(tmp)}}
        atomic_write_text(os.path.join(tmp, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _fsync_tree(tmp)
        if os.path.exists(final_dir):  # saving the same step twice: replace the old one
            old = f"{tmp}-old"
            os.replace(final_dir, old)
            os.replace(tmp, final_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final_dir)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_plain(obj: Any, path: str) -> None:
    """torch.save of plain data only (checked), so that `weights_only=True` can read it back."""
    torch.save(obj, path)


def rng_state() -> dict[str, Any]:
    """Every random generator the training loop draws from, as plain data."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "cpu": torch.random.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.random.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError, IndexError):
            torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------
def verify_checkpoint(folder: str) -> None:
    """Raise CheckpointError unless every file the manifest lists is present with its size and hash."""
    if not os.path.isdir(folder):
        raise CheckpointError(f"Checkpoint {folder} does not exist. Pass an existing checkpoint-N folder.")
    manifest_path = os.path.join(folder, MANIFEST)
    hint = _earlier_hint(folder)
    if not os.path.isfile(manifest_path):
        raise CheckpointError(
            f"{folder} is not a complete leanformers checkpoint: it has no {MANIFEST} (it was not written by "
            f"leanformers, or the save was interrupted). {hint}"
        )
    try:
        with open(manifest_path, encoding="utf-8") as f:
            files = json.load(f)["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{manifest_path} is damaged ({e}). {hint}") from None
    for rel, expected in files.items():
        path = os.path.join(folder, rel)
        if not os.path.isfile(path):
            raise CheckpointError(f"Checkpoint {folder} is missing {rel}. {hint}")
        actual = _describe(path)
        if actual != expected:
            what = "size" if actual["size"] != expected["size"] else "content (SHA-256)"
            raise CheckpointError(
                f"Checkpoint {folder} is corrupted: the {what} of {rel} changed since it was saved. {hint}"
            )


def load_plain(path: str, map_location: Any = "cpu") -> Any:
    """Read a file written by `save_plain`, refusing anything but plain data."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # unpickling / zip errors come in many types
        raise CheckpointError(
            f"Cannot read {path}: {str(e).splitlines()[0]}. {_earlier_hint(os.path.dirname(path))}"
        ) from None


def load_model_weights(model: torch.nn.Module, folder: str) -> None:
    """Copy the checkpoint's weights into `model` in place (tied copies are not stored, so not required)."""
    from ..modeling import load_state_dict

    try:
        state_dict = load_state_dict(folder)
    except OSError as e:
        raise CheckpointError(f"Cannot read the model weights of {folder}: {e}") from None
    if hasattr(model, "_adapt_checkpoint_keys"):
        state_dict = model._adapt_checkpoint_keys(state_dict)
    result = model.load_state_dict(state_dict, strict=False)
    tied = set(getattr(model, "_tied_weights_keys", []) or [])
    missing = [k for k in result.missing_keys if k not in tied]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"The weights in {folder} do not fit {type(model).__name__}: missing {missing[:5]}, unexpected "
            f"{result.unexpected_keys[:5]}. Resume with the model the checkpoint was trained from."
        )
    if hasattr(model, "tie_weights"):
        model.tie_weights()


def save_model_weights(model: torch.nn.Module, folder: str, safe_serialization: bool = True) -> None:
    """`save_pretrained` for leanformers models; a plain safetensors state dict for any other module."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(folder, safe_serialization=safe_serialization)
        return
    from safetensors.torch import save_model

    save_model(model, os.path.join(folder, "model.safetensors"))


# ------------------------------------------------------------------------------------------------
# The Trainer's side: what goes into a checkpoint and how a run picks up from one
# ------------------------------------------------------------------------------------------------
class CheckpointingMixin:
    """Saving and resuming for the Trainer (uses its args, state, model, optimizer and scheduler)."""

    def _save_checkpoint(self) -> None:
        args, state = self.args, self.state
        folder = os.path.join(args.output_dir, f"{PREFIX}-{state.global_step}")
        rng_states = distributed.gather_objects(rng_state())
        if args.metric_for_best_model is not None and state.best_global_step == state.global_step:
            state.best_model_checkpoint = folder
        state.stateful_callbacks = {
            type(cb).__name__: cb.state() for cb in self.callback_handler.callbacks if hasattr(cb, "state")
        }
        if args.should_save:
            write_checkpoint(folder, lambda tmp: self._write_checkpoint_files(tmp, rng_states))
            rotate_checkpoints(args.output_dir, args.save_total_limit, keep=state.best_model_checkpoint)
        distributed.barrier()

    def _write_checkpoint_files(self, folder: str, rng_states: list[dict]) -> None:
        save_model_weights(distributed.unwrap(self.model), folder, self.args.save_safetensors)
        if hasattr(self.processing_class, "save_pretrained"):
            self.processing_class.save_pretrained(folder)
        if not self.args.save_only_model:
            save_plain(self.optimizer.state_dict(), os.path.join(folder, OPTIMIZER))
            save_plain(self.lr_scheduler.state_dict(), os.path.join(folder, SCHEDULER))
            if self.scaler is not None:
                save_plain(self.scaler.state_dict(), os.path.join(folder, SCALER))
            for i, state in enumerate(rng_states):
                name = "rng_state.pth" if len(rng_states) == 1 else f"rng_state_{i}.pth"
                save_plain(state, os.path.join(folder, name))
        self.state.save_to_json(os.path.join(folder, TRAINER_STATE))
        atomic_write_text(os.path.join(folder, TRAINING_ARGS), self.args.to_json_string() + "\n")

    def _load_training_state(self, folder: str) -> dict | None:
        """Optimizer, scheduler, scaler, trainer state and callback states; returns this process's RNG state."""
        if not os.path.isfile(os.path.join(folder, OPTIMIZER)):
            raise CheckpointError(
                f"{folder} holds only the model (saved with save_only_model=True), so training cannot resume from "
                "it. Load the weights with from_pretrained and start a new run instead."
            )
        device = self.args.device
        self.optimizer.load_state_dict(load_plain(os.path.join(folder, OPTIMIZER), device))
        self.lr_scheduler.load_state_dict(load_plain(os.path.join(folder, SCHEDULER)))
        if self.scaler is not None and os.path.isfile(os.path.join(folder, SCALER)):
            self.scaler.load_state_dict(load_plain(os.path.join(folder, SCALER)))
        try:
            saved = TrainerState.load_from_json(os.path.join(folder, TRAINER_STATE))
        except (OSError, ValueError, TypeError) as e:
            raise CheckpointError(f"Cannot read {folder}/{TRAINER_STATE}: {e}") from None
        for name in (
            "max_steps",
            "num_train_epochs",
            "logging_steps",
            "eval_steps",
            "save_steps",
            "train_batch_size",
        ):
            setattr(saved, name, getattr(self.state, name))
        saved.is_local_process_zero = self.state.is_local_process_zero
        saved.is_world_process_zero = self.state.is_world_process_zero
        self.state = saved
        for cb in self.callback_handler.callbacks:
            stored = (saved.stateful_callbacks or {}).get(type(cb).__name__)
            if stored and hasattr(cb, "state"):
                for key, value in stored.get("attributes", {}).items():
                    setattr(cb, key, value)
        self._warn_changed_args(folder)
        world = self.args.world_size
        rng_file = os.path.join(
            folder, "rng_state.pth" if world == 1 else f"rng_state_{self.args.process_index}.pth"
        )
        if not os.path.isfile(rng_file):
            logger.warning(
                "%s has no RNG state for this process: random draws (dropout) will differ from the original run.",
                folder,
            )
            return None
        return load_plain(rng_file)

    def _warn_changed_args(self, folder: str) -> None:
        path = os.path.join(folder, TRAINING_ARGS)
        if not os.path.isfile(path):
            return
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        for name in (
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "seed",
            "data_seed",
            "learning_rate",
        ):
            if name in saved and saved[name] != getattr(self.args, name):
                logger.warning(
                    "%s differs from the checkpoint (%s now, %s then): the resumed run will not match the original.",
                    name,
                    getattr(self.args, name),
                    saved[name],
                )


# ------------------------------------------------------------------------------------------------
def _files(folder: str) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder)
        for name in names
        if name != MANIFEST
    )


def _describe(path: str) -> dict[str, Any]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"size": os.path.getsize(path), "sha256": h.hexdigest()}


def _fsync_tree(folder: str) -> None:
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(root)


def _fsync_dir(folder: str) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _earlier_hint(folder: str) -> str:
    parent = os.path.dirname(os.path.abspath(folder))
    others = [c for c in sorted_checkpoints(parent) if os.path.abspath(c) != os.path.abspath(folder)]
    if others:
        return f"Delete it and resume from {others[-1]}, or start fresh."
    return "Delete it and start training fresh."
