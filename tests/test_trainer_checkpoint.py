"""Checkpoints: exact resume, atomic saves (SIGKILL mid-save), rotation, corrupted checkpoints."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from _trainer_helpers import make_data, recording, tiny_bert_folder
from leanformers import AutoModelForSequenceClassification, Trainer, TrainerCallback, TrainingArguments
from leanformers.training.checkpoint import CheckpointError, latest_checkpoint, sorted_checkpoints

HERE = os.path.dirname(os.path.abspath(__file__))


class StopAt(TrainerCallback):
    """Simulates an interrupted run: stop right after optimizer step `step`."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def _trainer(model_dir, out, callbacks=None, **kw):
    # dropout 0.1: resuming must restore the RNG state too, or the dropout masks (and losses) differ
    defaults = dict(
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        learning_rate=1e-3,
        num_train_epochs=2,
        logging_steps=1,
        save_steps=3,
        warmup_steps=2,
        report_to="none",
        disable_tqdm=True,
        seed=5,
    )
    args = TrainingArguments(str(out), **{**defaults, **kw})
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    return recording(Trainer)(
        model, args, train_dataset=make_data(36), eval_dataset=make_data(8, seed=3), callbacks=callbacks
    )


def _step_losses(trainer):
    return {e["step"]: e["loss"] for e in trainer.state.log_history if "loss" in e}


@pytest.mark.parametrize("stop_at, kw", [(5, {}), (4, {"save_strategy": "epoch", "eval_strategy": "epoch"})])
def test_resume_gives_the_same_losses(tmp_path, stop_at, kw):
    model_dir = tiny_bert_folder(tmp_path, dropout=0.1)
    full = _trainer(model_dir, tmp_path / "full", **kw)
    full.train()

    interrupted = _trainer(model_dir, tmp_path / "run", callbacks=[StopAt(stop_at)], **kw)
    interrupted.train()
    saved = latest_checkpoint(str(tmp_path / "run"))
    k = int(saved.rsplit("-", 1)[1])
    assert 0 < k <= stop_at < full.state.global_step

    resumed = _trainer(model_dir, tmp_path / "run", **kw)
    resumed.train(resume_from_checkpoint=True)
    assert resumed.state.global_step == full.state.global_step
    # batches after step k: the same data (mid-epoch order), dropout masks and optimizer state
    np.testing.assert_allclose(resumed.losses, full.losses[k * 2 :], atol=1e-6, rtol=0)
    full_logs, resumed_logs = _step_losses(full), _step_losses(resumed)
    # the log history continues the checkpoint's: every step once, the same values as the uninterrupted run
    assert sorted(resumed_logs) == list(range(1, full.state.global_step + 1))
    for step, loss in resumed_logs.items():
        assert loss == pytest.approx(full_logs[step], abs=1e-6)
    for a, b in zip(resumed.model.parameters(), full.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_checkpoint_contents_are_plain_data(tmp_path):
    model_dir = tiny_bert_folder(tmp_path)
    trainer = _trainer(model_dir, tmp_path / "out", max_steps=3, save_steps=3, num_train_epochs=1)
    trainer.train()
    folder = tmp_path / "out" / "checkpoint-3"
    names = set(os.listdir(folder))
    assert {
        "model.safetensors",
        "config.json",
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pth",
        "trainer_state.json",
        "training_args.json",
        "checkpoint_manifest.json",
    } <= names
    assert not any(n.endswith(".bin") for n in names)
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        torch.load(folder / name, weights_only=True)  # plain data only: no pickled objects
    args = json.loads((folder / "training_args.json").read_text())
    assert args["per_device_train_batch_size"] == 4 and args["output_dir"] == str(tmp_path / "out")
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and len(state["log_history"]) == 3


def test_save_total_limit_rotates(tmp_path):
    model_dir = tiny_bert_folder(tmp_path)
    _trainer(model_dir, tmp_path / "out", max_steps=5, save_steps=1, save_total_limit=2).train()
    assert [os.path.basename(p) for p in sorted_checkpoints(str(tmp_path / "out"))] == [
        "checkpoint-4",
        "checkpoint-5",
    ]


def test_best_model_survives_rotation_and_is_loaded(tmp_path):
    model_dir = tiny_bert_folder(tmp_path)

    class Metric:
        """eval 'score' is best at the second evaluation."""

        def __init__(self):
            self.calls = 0

        def __call__(self, preds):
            self.calls += 1
            return {"score": [0.1, 0.9, 0.3, 0.2][self.calls - 1]}

    trainer = _trainer(
        model_dir,
        tmp_path / "out",
        max_steps=8,
        eval_strategy="steps",
        eval_steps=2,
        save_steps=2,
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="score",
    )
    trainer.compute_metrics = Metric()
    trainer.train()
    assert trainer.state.best_global_step == 4
    assert trainer.state.best_model_checkpoint.endswith("checkpoint-4")
    kept = [os.path.basename(p) for p in sorted_checkpoints(str(tmp_path / "out"))]
    assert kept == ["checkpoint-4", "checkpoint-8"]  # the best, and the newest (to resume from)
    best = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "out" / "checkpoint-4"))
    for a, b in zip(trainer.model.parameters(), best.parameters()):
        torch.testing.assert_close(a, b)


def test_resume_true_without_checkpoint_warns_and_starts_fresh(tmp_path, caplog):
    model_dir = tiny_bert_folder(tmp_path)
    trainer = _trainer(model_dir, tmp_path / "empty", max_steps=2, save_strategy="no")
    with caplog.at_level(logging.WARNING, logger="leanformers"):
        trainer.train(resume_from_checkpoint=True)
    assert "starting fresh" in caplog.text
    assert trainer.state.global_step == 2


@pytest.mark.parametrize("damage", ["flip_weights", "truncate_optimizer", "delete_state", "no_manifest"])
def test_corrupted_checkpoint_is_refused_before_loading(tmp_path, damage):
    model_dir = tiny_bert_folder(tmp_path)
    _trainer(model_dir, tmp_path / "out", max_steps=3, save_steps=3).train()
    folder = tmp_path / "out" / "checkpoint-3"
    if damage == "flip_weights":
        data = bytearray((folder / "model.safetensors").read_bytes())
        data[-5] ^= 0xFF
        (folder / "model.safetensors").write_bytes(bytes(data))
    elif damage == "truncate_optimizer":
        data = (folder / "optimizer.pt").read_bytes()
        (folder / "optimizer.pt").write_bytes(data[: len(data) // 2])
    elif damage == "delete_state":
        os.remove(folder / "trainer_state.json")
    else:
        os.remove(folder / "checkpoint_manifest.json")

    trainer = _trainer(model_dir, tmp_path / "out", max_steps=6, save_steps=3)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    expected = {
        "flip_weights": "model.safetensors",
        "truncate_optimizer": "optimizer.pt",
        "delete_state": "trainer_state.json",
        "no_manifest": "not a complete",
    }[damage]
    with pytest.raises(CheckpointError, match=expected):
        trainer.train(resume_from_checkpoint=str(folder))
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(value, before[key])  # nothing was loaded from the damaged checkpoint
    assert trainer.state.global_step == 0


def test_half_written_checkpoint_is_never_picked(tmp_path):
    model_dir = tiny_bert_folder(tmp_path)
    _trainer(model_dir, tmp_path / "out", max_steps=3, save_steps=3).train()
    # what a save killed half-way leaves: a hidden temporary folder, and a bare folder without manifest
    (tmp_path / "out" / ".tmp-checkpoint-9-deadbeef").mkdir()
    (tmp_path / "out" / ".tmp-checkpoint-9-deadbeef" / "model.safetensors").write_bytes(b"garbage")
    (tmp_path / "out" / "checkpoint-12").mkdir()
    assert latest_checkpoint(str(tmp_path / "out")).endswith("checkpoint-3")
    trainer = _trainer(model_dir, tmp_path / "out", max_steps=4, save_steps=4)
    trainer.train(resume_from_checkpoint=True)
    assert trainer.state.global_step == 4 and len(trainer.losses) == 2
    assert not (tmp_path / "out" / ".tmp-checkpoint-9-deadbeef").exists()  # cleaned up


_KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {here!r})
import leanformers.training.checkpoint as ckpt
from test_trainer_checkpoint import _trainer

original = ckpt.save_plain
def save_then_die(obj, path):
    original(obj, path)
    if "checkpoint-4" in path and path.endswith("optimizer.pt"):  # mid-save: model and optimizer written, rest not
        os.kill(os.getpid(), signal.SIGKILL)
ckpt.save_plain = save_then_die
_trainer({model_dir!r}, {out!r}, save_steps=2).train()
"""


def test_sigkill_during_save_keeps_previous_checkpoint_and_resume_matches(tmp_path):
    model_dir = tiny_bert_folder(tmp_path, dropout=0.1)
    out = str(tmp_path / "killed")
    script = _KILL_SCRIPT.format(here=HERE, model_dir=model_dir, out=out)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert [os.path.basename(p) for p in sorted_checkpoints(out)] == ["checkpoint-2"]
    assert any(
        n.startswith(".tmp-checkpoint-4") for n in os.listdir(out)
    )  # the interrupted save, never renamed

    full = _trainer(model_dir, tmp_path / "full", save_steps=2)
    full.train()
    resumed = _trainer(model_dir, out, save_steps=2)
    resumed.train(resume_from_checkpoint=True)
    np.testing.assert_allclose(resumed.losses, full.losses[2 * 2 :], atol=1e-6, rtol=0)
    assert resumed.state.global_step == full.state.global_step
