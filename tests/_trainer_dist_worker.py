"""Run by tests/test_distributed.py under `torchrun --standalone --nproc_per_node 2`, and in-process
for the single-process baseline: trains the tiny classifier and writes what it saw to result.json."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _trainer_helpers import accuracy, make_data, recording  # noqa: E402
from leanformers import AutoModelForSequenceClassification, Trainer, TrainerCallback, TrainingArguments  # noqa: E402


class StopAt(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def run(model_dir: str, out_dir: str, per_device_batch: int, stop_at: int = 0, resume: bool = False) -> dict:
    args = TrainingArguments(
        out_dir,
        per_device_train_batch_size=per_device_batch,
        per_device_eval_batch_size=4,
        gradient_accumulation_steps=2,
        learning_rate=1e-3,
        warmup_steps=1,
        num_train_epochs=2,
        logging_steps=1,
        save_steps=3,
        eval_strategy="epoch",
        report_to="none",
        disable_tqdm=True,
        seed=3,
    )
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    trainer = recording(Trainer)(
        model,
        args,
        train_dataset=make_data(40),
        eval_dataset=make_data(10, seed=4),
        compute_metrics=accuracy,
        callbacks=[StopAt(stop_at)] if stop_at else None,
    )
    trainer.train(resume_from_checkpoint=True if resume else None)
    return {
        "world_size": args.world_size,
        "log_history": trainer.state.log_history,
        "eval": trainer.evaluate(),
    }


if __name__ == "__main__":
    model_dir, out_dir, stop_at, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "resume"
    result = run(model_dir, out_dir, per_device_batch=4, stop_at=stop_at, resume=resume)
    rank = int(os.environ["RANK"])
    with open(os.path.join(os.path.dirname(out_dir), f"result-{resume}-{rank}.json"), "w") as f:
        json.dump(result, f)
