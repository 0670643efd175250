"""Trainer and TrainingArguments: the API surface, inputs, callbacks, and clear errors on bad input."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pytest
import torch

from _trainer_helpers import accuracy, make_data, recording, tiny_bert_folder
from leanformers import (
    AutoModelForSequenceClassification,
    EarlyStoppingCallback,
    Trainer,
    TrainingArguments,
)


def _args(out, **kw):
    defaults = dict(
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        num_train_epochs=1,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    return TrainingArguments(str(out), **{**defaults, **kw})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_bert_folder(tmp_path_factory.mktemp("model"))


def _model(model_dir, **kw):
    return AutoModelForSequenceClassification.from_pretrained(model_dir, **kw)


# -- TrainingArguments -----------------------------------------------------------------------------
def test_defaults_equal_the_reference():
    import transformers

    ref = {f.name: f for f in dataclasses.fields(transformers.TrainingArguments)}
    checked = 0
    for f in dataclasses.fields(TrainingArguments):
        if f.name not in ref or f.name in ("evaluation_strategy",):
            continue
        ours = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        theirs = (
            ref[f.name].default
            if ref[f.name].default is not dataclasses.MISSING
            else ref[f.name].default_factory()
        )
        assert ours == getattr(theirs, "value", theirs), f.name
        checked += 1
    assert checked > 80


def test_course_spelling_and_positional_output_dir(tmp_path):
    args = TrainingArguments("test-trainer", evaluation_strategy="epoch")
    assert args.output_dir == "test-trainer" and args.eval_strategy == "epoch" and args.do_eval
    assert TrainingArguments(str(tmp_path), eval_strategy="steps", eval_steps=7).eval_steps == 7
    assert json.loads(args.to_json_string())["eval_strategy"] == "epoch"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"learning_rat": 1e-3}, TypeError, "Did you mean 'learning_rate'"),
        ({"deepspeed": "ds.json"}, ValueError, "DeepSpeed is not supported"),
        ({"eval_strategy": "epoch", "load_best_model_at_end": True}, ValueError, "must match"),
        (
            {"eval_strategy": "steps", "eval_steps": 3, "save_steps": 5, "load_best_model_at_end": True},
            ValueError,
            "multiple",
        ),
        ({"fp16": True}, ValueError, "CUDA GPU"),
        ({"fp16": True, "bf16": True}, ValueError, "pick one"),
        ({"evaluation_strategy": "epoch", "eval_strategy": "steps"}, ValueError, "disagree"),
        ({"eval_strategy": "epochs"}, ValueError, "Did you mean 'epoch'"),
        ({"lr_scheduler_type": "cosin"}, ValueError, "Did you mean 'cosine'"),
        ({"report_to": "wandb"}, ValueError, "report_to"),
        ({"push_to_hub": True}, ValueError, "offline"),
        ({"per_device_train_batch_size": 0}, ValueError, "positive integer"),
        ({"warmup_ratio": 1.5}, ValueError, "warmup_ratio"),
        ({"max_steps": 0}, ValueError, "Nothing to train"),
    ],
)
def test_bad_arguments_are_explained(tmp_path, kwargs, error, match):
    if kwargs.get("fp16") and not kwargs.get("bf16") and torch.cuda.is_available():
        pytest.skip("fp16 is valid on a GPU")
    with pytest.raises(error, match=match):
        TrainingArguments(str(tmp_path), **kwargs)


# -- inputs ------------------------------------------------------------------------------------------
def test_lists_torch_datasets_and_hf_datasets(model_dir, tmp_path):
    import datasets

    data = make_data(12)

    class TorchData(torch.utils.data.Dataset):
        def __len__(self):
            return len(data)

        def __getitem__(self, i):
            return {**data[i], "note": "dropped: not an argument of forward"}

    hf = datasets.Dataset.from_list([{**d, "text": "some raw text", "idx": i} for i, d in enumerate(data)])
    losses = []
    for train in (data, TorchData(), hf):
        trainer = recording(Trainer)(_model(model_dir), _args(tmp_path), train_dataset=train)
        trainer.train()
        losses.append(trainer.losses)
    np.testing.assert_allclose(losses[1], losses[0], atol=1e-6)
    np.testing.assert_allclose(losses[2], losses[0], atol=1e-6)


def test_dataset_without_model_columns_is_explained(model_dir, tmp_path):
    import datasets

    raw = datasets.Dataset.from_dict({"sentence": ["a", "b"], "label": [0, 1]})
    trainer = Trainer(_model(model_dir), _args(tmp_path), train_dataset=raw.remove_columns("label"))
    with pytest.raises(ValueError, match="Tokenize the texts first"):
        trainer.train()


def test_training_without_labels_is_explained(model_dir, tmp_path):
    data = [{k: v for k, v in d.items() if k != "label"} for d in make_data(8)]
    trainer = Trainer(_model(model_dir), _args(tmp_path), train_dataset=data)
    with pytest.raises(ValueError, match="no labels.*'labels'"):
        trainer.train()


def test_label_out_of_range_is_explained(model_dir, tmp_path):
    data = make_data(8)
    data[5]["label"] = 7
    trainer = Trainer(_model(model_dir), _args(tmp_path, per_device_train_batch_size=8), train_dataset=data)
    with pytest.raises(ValueError, match=r"Label 7 at step 1 .*num_labels=3"):
        trainer.train()


def test_nan_loss_stops_with_the_step(tmp_path):
    model_dir = tiny_bert_folder(tmp_path, num_labels=1)  # regression: a NaN target makes the loss NaN
    data = make_data(16)
    for i, d in enumerate(data):
        d["label"] = float(i % 5)
    data[10]["label"] = float("nan")
    order = torch.randperm(16, generator=torch.Generator().manual_seed(42)).tolist()
    step = order.index(10) // 4 + 1
    trainer = Trainer(_model(model_dir), _args(tmp_path), train_dataset=data)
    with pytest.raises(FloatingPointError, match=f"nan at step {step} "):
        trainer.train()


def test_unwritable_output_dir_is_explained(model_dir, tmp_path):
    (tmp_path / "a-file").write_text("x")
    args = _args(tmp_path / "a-file" / "out", save_strategy="epoch")
    trainer = Trainer(_model(model_dir), args, train_dataset=make_data(4))
    with pytest.raises(PermissionError, match="Cannot write checkpoints to output_dir"):
        trainer.train()


def test_tokenizer_and_processing_class(model_dir, tmp_path):
    marker = object()
    assert Trainer(_model(model_dir), _args(tmp_path), tokenizer=marker).processing_class is marker
    assert Trainer(_model(model_dir), _args(tmp_path), processing_class=marker).tokenizer is marker
    with pytest.raises(ValueError, match="either tokenizer= or processing_class="):
        Trainer(_model(model_dir), _args(tmp_path), tokenizer=marker, processing_class=object())


# -- evaluation and prediction --------------------------------------------------------------------
def test_evaluate_and_predict_outputs(model_dir, tmp_path):
    trainer = Trainer(
        _model(model_dir),
        _args(tmp_path),
        train_dataset=make_data(8),
        eval_dataset=make_data(6),
        compute_metrics=accuracy,
    )
    metrics = trainer.evaluate()
    assert {
        "eval_loss",
        "eval_accuracy",
        "eval_runtime",
        "eval_samples_per_second",
        "eval_steps_per_second",
    } <= set(metrics)
    both = trainer.evaluate({"a": make_data(3), "b": make_data(5, seed=9)})
    assert {"eval_a_loss", "eval_a_accuracy", "eval_b_loss", "eval_b_runtime"} <= set(both)

    unlabeled = [{k: v for k, v in d.items() if k != "label"} for d in make_data(5)]
    out = trainer.predict(unlabeled)
    assert out.predictions.shape == (5, 3) and out.label_ids is None
    assert "test_loss" not in out.metrics and "test_runtime" in out.metrics
    trainer.train()
    assert trainer.evaluate()["epoch"] == 1.0


def test_compute_metrics_sees_eval_prediction_fields(model_dir, tmp_path):
    seen = {}

    def metrics(p):
        logits, labels, inputs = p  # as the reference: inputs follow when include_for_metrics asks for them
        seen.update(logits=logits, labels=labels, inputs=inputs)
        return {"n": len(labels)}

    args = _args(tmp_path, include_for_metrics=["inputs"], per_device_eval_batch_size=4)
    trainer = Trainer(_model(model_dir), args, eval_dataset=make_data(10), compute_metrics=metrics)
    assert trainer.evaluate()["eval_n"] == 10
    assert seen["logits"].shape == (10, 3) and seen["inputs"].shape == (10, 12)


# -- customisation -----------------------------------------------------------------------------------
def test_callback_events_follow_the_reference_order(model_dir, tmp_path):
    import transformers

    import leanformers

    orders = []
    for lib in (transformers, leanformers):
        events = []

        class Recorder(lib.TrainerCallback):
            pass

        for name in (
            "on_train_begin",
            "on_epoch_begin",
            "on_step_begin",
            "on_substep_end",
            "on_pre_optimizer_step",
            "on_optimizer_step",
            "on_step_end",
            "on_log",
            "on_evaluate",
            "on_save",
            "on_epoch_end",
            "on_train_end",
        ):
            setattr(Recorder, name, lambda self, *a, _n=name, _e=events, **k: _e.append(_n))
        args = lib.TrainingArguments(
            str(tmp_path / lib.__name__),
            per_device_train_batch_size=4,
            gradient_accumulation_steps=2,
            num_train_epochs=1,
            logging_steps=2,
            eval_strategy="epoch",
            save_strategy="epoch",
            report_to="none",
            disable_tqdm=True,
        )
        model = lib.AutoModelForSequenceClassification.from_pretrained(model_dir)
        lib.Trainer(
            model=model,
            args=args,
            train_dataset=make_data(16),
            eval_dataset=make_data(4),
            callbacks=[Recorder()],
        ).train()
        orders.append(events)
    assert orders[1] == orders[0]


def test_early_stopping(model_dir, tmp_path):
    scores = iter([0.5, 0.6, 0.55, 0.58, 0.9, 0.9])
    args = _args(
        tmp_path,
        max_steps=6,
        eval_strategy="steps",
        eval_steps=1,
        save_strategy="steps",
        save_steps=1,
        load_best_model_at_end=True,
        metric_for_best_model="acc",
        save_total_limit=2,
    )
    trainer = Trainer(
        _model(model_dir),
        args,
        train_dataset=make_data(24),
        eval_dataset=make_data(4),
        compute_metrics=lambda p: {"acc": next(scores)},
        callbacks=[EarlyStoppingCallback(early_stopping_patience=2)],
    )
    trainer.train()
    assert (
        trainer.state.global_step == 4
    )  # 0.55 and 0.58 do not beat 0.6: stop after two evaluations without progress
    assert trainer.state.best_metric == 0.6 and trainer.state.best_global_step == 2


def test_custom_optimizer_and_scheduler(model_dir, tmp_path):
    model = _model(model_dir)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 / (step + 1))
    trainer = Trainer(
        model, _args(tmp_path, max_steps=3), train_dataset=make_data(12), optimizers=(opt, sched)
    )
    trainer.train()
    lrs = [e["learning_rate"] for e in trainer.state.log_history if "learning_rate" in e]
    assert lrs == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert trainer.optimizer is opt


def test_compute_loss_override(model_dir, tmp_path):
    seen = []

    class WeightedTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            weight = torch.tensor([1.0, 2.0, 3.0])
            loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=weight)
            seen.append(loss.item())
            return (loss, outputs) if return_outputs else loss

    trainer = WeightedTrainer(_model(model_dir), _args(tmp_path, max_steps=2), train_dataset=make_data(8))
    trainer.train()
    assert len(seen) == 2
    assert [e["loss"] for e in trainer.state.log_history if "loss" in e] == pytest.approx(seen, abs=1e-6)


def test_model_init_and_bf16_and_gradient_checkpointing(model_dir, tmp_path):
    plain = recording(Trainer)(_model(model_dir), _args(tmp_path, max_steps=3), train_dataset=make_data(12))
    plain.train()
    ckpt = recording(Trainer)(
        model_init=lambda: _model(model_dir),
        args=_args(tmp_path, max_steps=3, gradient_checkpointing=True),
        train_dataset=make_data(12),
    )
    ckpt.train()
    np.testing.assert_allclose(
        ckpt.losses, plain.losses, atol=1e-6
    )  # recomputation does not change the maths
    bf16 = recording(Trainer)(
        _model(model_dir), _args(tmp_path, max_steps=3, bf16=True), train_dataset=make_data(12)
    )
    bf16.train()
    np.testing.assert_allclose(bf16.losses, plain.losses, atol=0.05)
    assert all(math.isfinite(x) for x in bf16.losses)


def test_save_model_and_state_load_in_both_libraries(model_dir, tmp_path):
    import transformers

    trainer = Trainer(_model(model_dir), _args(tmp_path / "out", max_steps=2), train_dataset=make_data(8))
    trainer.train()
    trainer.save_model(str(tmp_path / "final"))
    trainer.save_state()
    assert json.loads((tmp_path / "out" / "trainer_state.json").read_text())["global_step"] == 2
    ids = torch.tensor([make_data(1)[0]["input_ids"]])
    ref = transformers.AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "final"))
    ours = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "final"))
    trainer.model.eval()
    with torch.no_grad():
        expected = trainer.model(input_ids=ids).logits
        torch.testing.assert_close(ours(input_ids=ids).logits, expected)
        torch.testing.assert_close(ref(input_ids=ids).logits, expected, atol=1e-5, rtol=0)
    assert os.path.isfile(tmp_path / "final" / "training_args.json")


def test_eval_strategy_without_eval_dataset_is_explained(model_dir, tmp_path):
    with pytest.raises(ValueError, match="no eval_dataset was given"):
        Trainer(_model(model_dir), _args(tmp_path, eval_strategy="epoch"), train_dataset=make_data(4))
