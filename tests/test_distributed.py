"""Data-parallel training under torchrun (2 CPU processes, gloo): the same losses and metrics as one
process with the same global batch, checkpoints written once, and resuming under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from _trainer_dist_worker import run
from _trainer_helpers import tiny_bert_folder

HERE = os.path.dirname(os.path.abspath(__file__))
pytestmark = pytest.mark.slow


def _torchrun(*argv: str) -> None:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        os.path.join(HERE, "_trainer_dist_worker.py"),
        *argv,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def _losses(history):
    return [(e["step"], e["loss"]) for e in history if "loss" in e]


def test_two_processes_match_one_process_and_resume(tmp_path):
    model_dir = tiny_bert_folder(tmp_path)  # dropout 0: one process draws masks for 8 rows, two for 4 each
    single = run(
        model_dir, str(tmp_path / "single"), per_device_batch=8
    )  # same global batch: 8 x 2 accumulation

    out = str(tmp_path / "ddp")
    _torchrun(model_dir, out, "3", "fresh")  # stops after step 3 (a checkpoint was saved at step 3)
    assert sorted(os.listdir(out)) == ["checkpoint-3"]
    # rank 0 wrote the checkpoint once, with each process's RNG state
    files = set(os.listdir(os.path.join(out, "checkpoint-3")))
    assert {"rng_state_0.pth", "rng_state_1.pth", "model.safetensors", "optimizer.pt"} <= files

    _torchrun(model_dir, out, "0", "resume")
    results = [json.load(open(tmp_path / f"result-True-{rank}.json")) for rank in (0, 1)]
    assert results[0]["world_size"] == 2
    ddp = results[0]
    # per-step losses (averaged over the processes) equal the single process's, across the resume
    single_losses, ddp_losses = _losses(single["log_history"]), _losses(ddp["log_history"])
    assert [s for s, _ in ddp_losses] == [s for s, _ in single_losses] == list(range(1, 7))
    for (_, a), (_, b) in zip(ddp_losses, single_losses):
        assert a == pytest.approx(b, abs=1e-5)
    # evaluation gathers both shards (10 examples, padded to 16 across the processes, then truncated)
    assert ddp["eval"]["eval_loss"] == pytest.approx(single["eval"]["eval_loss"], abs=1e-5)
    assert ddp["eval"]["eval_accuracy"] == single["eval"]["eval_accuracy"]
    assert (
        results[1]["eval"]["eval_loss"] == ddp["eval"]["eval_loss"]
    )  # every process gets the gathered metrics
    assert sorted(os.listdir(out)) == ["checkpoint-3", "checkpoint-6"]
