"""leanformers' Trainer against the reference Trainer (transformers 4.57.6) on the same tiny model,
data, seed and arguments: per-batch losses, logged values, eval metrics and lr schedules.

The data order is NOT fixed by hand here: both libraries shuffle with a generator seeded by
`seed + epoch`, so the reference's order is reproduced as is. Dropout is 0 in the parity model
because dropout masks depend on each library's model code, not on the Trainer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import transformers

import leanformers
from _trainer_helpers import accuracy, make_data, quiet_reference, recording, tiny_bert_folder


def _run(lib, model_dir, out_dir, train, evalset, trainer_kwargs=None, **kw):
    quiet_reference()
    model = lib.AutoModelForSequenceClassification.from_pretrained(model_dir)
    args = lib.TrainingArguments(out_dir, report_to="none", disable_tqdm=True, save_strategy="no", **kw)
    trainer = recording(lib.Trainer)(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=evalset,
        compute_metrics=accuracy,
        **(trainer_kwargs or {}),
    )
    output = trainer.train()
    return trainer, output


def _strip(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if "runtime" not in k and "per_second" not in k}


@pytest.mark.parametrize(
    "kw",
    [
        # AdamW (fused, the default) + linear schedule + warmup + accumulation with a short last group + clipping
        dict(
            per_device_train_batch_size=4,
            gradient_accumulation_steps=3,
            learning_rate=1e-3,
            warmup_steps=2,
            max_grad_norm=0.5,
            weight_decay=0.01,
            num_train_epochs=2,
            logging_steps=1,
            eval_strategy="epoch",
            seed=7,
        ),
        # plain AdamW, cosine with warmup ratio, max_steps across an epoch boundary, drop_last, eval every 3 steps
        dict(
            per_device_train_batch_size=8,
            gradient_accumulation_steps=2,
            learning_rate=5e-4,
            warmup_ratio=0.2,
            lr_scheduler_type="cosine",
            optim="adamw_torch",
            max_steps=7,
            logging_steps=2,
            eval_strategy="steps",
            eval_steps=3,
            dataloader_drop_last=True,
            seed=3,
            data_seed=11,
        ),
    ],
)
def test_training_matches_reference(tmp_path, kw):
    model_dir = tiny_bert_folder(tmp_path)
    train, evalset = make_data(44), make_data(10, seed=2)
    ref, ref_out = _run(transformers, model_dir, str(tmp_path / "ref"), train, evalset, **kw)
    ours, our_out = _run(leanformers, model_dir, str(tmp_path / "ours"), train, evalset, **kw)

    assert len(ours.losses) == len(ref.losses) > 0
    np.testing.assert_allclose(ours.losses, ref.losses, atol=1e-5, rtol=0)
    assert our_out.global_step == ref_out.global_step
    assert our_out.training_loss == pytest.approx(ref_out.training_loss, abs=1e-5)
    assert ours.state.total_flos == ref.state.total_flos

    ref_logs, our_logs = (
        [_strip(e) for e in ref.state.log_history],
        [_strip(e) for e in ours.state.log_history],
    )
    assert [sorted(e) for e in our_logs] == [sorted(e) for e in ref_logs]
    for r, o in zip(ref_logs, our_logs):
        for key, value in r.items():
            # The reference rounds the logged training loss to 4 decimals; leanformers keeps it exact.
            tol = 5.1e-5 if key == "loss" else 1e-5
            assert o[key] == pytest.approx(value, abs=tol), (key, r, o)

    final_ref, final_ours = ref.evaluate(), ours.evaluate()
    assert final_ours["eval_loss"] == pytest.approx(final_ref["eval_loss"], abs=1e-5)
    assert final_ours["eval_accuracy"] == final_ref["eval_accuracy"]


def test_predict_matches_reference(tmp_path):
    model_dir = tiny_bert_folder(tmp_path)
    data = make_data(11, seed=5)
    outputs = []
    for lib in (transformers, leanformers):
        quiet_reference()
        model = lib.AutoModelForSequenceClassification.from_pretrained(model_dir)
        args = lib.TrainingArguments(
            str(tmp_path / lib.__name__), per_device_eval_batch_size=4, report_to="none", disable_tqdm=True
        )
        outputs.append(lib.Trainer(model=model, args=args, compute_metrics=accuracy).predict(data))
    ref, ours = outputs
    np.testing.assert_allclose(ours.predictions, ref.predictions, atol=1e-5)
    np.testing.assert_array_equal(ours.label_ids, ref.label_ids)
    assert ours.metrics["test_loss"] == pytest.approx(ref.metrics["test_loss"], abs=1e-6)
    assert ours.metrics["test_accuracy"] == ref.metrics["test_accuracy"]
    # (the reference also times its accelerate model preparation; leanformers has no such step)
    assert set(ours.metrics) == set(ref.metrics) - {"test_model_preparation_time"}


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("linear", {}),
        ("cosine", {}),
        ("cosine", {"num_cycles": 1.5}),
        ("cosine_with_restarts", {"num_cycles": 3}),
        ("constant", {}),
        ("constant_with_warmup", {}),
        ("polynomial", {}),
        ("polynomial", {"lr_end": 1e-4, "power": 2.0}),
        ("inverse_sqrt", {}),
    ],
)
def test_schedules_match_reference(name, kwargs):
    from leanformers.training import get_scheduler

    lrs = []
    for factory in (transformers.get_scheduler, get_scheduler):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-3)
        sched = factory(
            name, opt, num_warmup_steps=4, num_training_steps=20, scheduler_specific_kwargs=dict(kwargs)
        )
        values = []
        for _ in range(25):  # past the end as well
            values.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        lrs.append(values)
    np.testing.assert_allclose(lrs[1], lrs[0], rtol=1e-12, atol=0)
    assert not all(math.isclose(v, lrs[0][0]) for v in lrs[0]) or name == "constant"


def test_course_chapter_flow_matches_reference(tmp_path):
    """datasets.Dataset + map(tokenize) + DataCollatorWithPadding + tokenizer= + compute_metrics, as in the course
    (leanformers with the course's `evaluation_strategy`, the reference with its renamed `eval_strategy`)."""
    import datasets

    words = [
        "the",
        "movie",
        "was",
        "great",
        "bad",
        "awful",
        "good",
        "plot",
        "acting",
        "fine",
        "boring",
        "fun",
    ]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok_dir = str(tmp_path / "tok")
    transformers.BertTokenizerFast(str(tmp_path / "vocab.txt")).save_pretrained(tok_dir)
    model_dir = tiny_bert_folder(tmp_path, num_labels=2)

    g = torch.Generator().manual_seed(0)
    rows = {"sentence1": [], "sentence2": [], "label": [], "idx": []}
    for i in range(24):
        n1, n2 = (int(x) for x in torch.randint(2, 7, (2,), generator=g))
        pick = lambda n: " ".join(words[int(j)] for j in torch.randint(0, len(words), (n,), generator=g))  # noqa: E731
        rows["sentence1"].append(pick(n1))
        rows["sentence2"].append(pick(n2))
        rows["label"].append(i % 2)
        rows["idx"].append(i)
    raw = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(rows), "validation": datasets.Dataset.from_dict(rows)}
    )

    results = []
    for lib, strategy in ((transformers, "eval_strategy"), (leanformers, "evaluation_strategy")):
        quiet_reference()
        tokenizer = lib.AutoTokenizer.from_pretrained(tok_dir)
        tokenized = raw.map(
            lambda ex, tok=tokenizer: tok(ex["sentence1"], ex["sentence2"], truncation=True), batched=True
        )
        collator = lib.DataCollatorWithPadding(tokenizer=tokenizer)
        args = lib.TrainingArguments(
            str(tmp_path / f"test-trainer-{lib.__name__}"),
            **{strategy: "epoch"},
            save_strategy="no",
            num_train_epochs=2,
            per_device_train_batch_size=5,
            logging_steps=2,
            report_to="none",
            disable_tqdm=True,
        )
        model = lib.AutoModelForSequenceClassification.from_pretrained(model_dir)
        trainer = recording(lib.Trainer)(
            model,
            args,
            train_dataset=tokenized["train"],
            eval_dataset=tokenized["validation"],
            data_collator=collator,
            tokenizer=tokenizer,
            compute_metrics=accuracy,
        )
        trainer.train()
        results.append((trainer.losses, trainer.evaluate()))
    (ref_losses, ref_metrics), (our_losses, our_metrics) = results
    np.testing.assert_allclose(our_losses, ref_losses, atol=1e-5)
    assert our_metrics["eval_loss"] == pytest.approx(ref_metrics["eval_loss"], abs=1e-5)
    assert our_metrics["eval_accuracy"] == ref_metrics["eval_accuracy"]
    assert our_metrics["epoch"] == ref_metrics["epoch"] == 2.0


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    words = [
        "the",
        "movie",
        "was",
        "great",
        "bad",
        "awful",
        "good",
        "plot",
        "acting",
        "fine",
        "boring",
        "fun",
    ]
    path = tmp_path_factory.mktemp("tok")
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    transformers.BertTokenizerFast(str(path / "vocab.txt")).save_pretrained(str(path / "tok"))
    return str(path / "tok"), words


def _texts(words, n, seed):
    g = torch.Generator().manual_seed(seed)
    return [
        " ".join(words[int(j)] for j in torch.randint(0, len(words), (int(k),), generator=g))
        for k in torch.randint(2, 10, (n,), generator=g)
    ]


@pytest.mark.parametrize("task", ["masked", "causal"])
def test_language_modeling_matches_reference(tmp_path, tiny_tokenizer, task):
    """DataCollatorForLanguageModeling (seeded masks / causal labels) + gradient accumulation over batches with
    different numbers of label tokens: the causal LM takes `num_items_in_batch`, so its loss is normalised over
    the whole accumulated batch, as in the reference."""
    tok_dir, words = tiny_tokenizer
    torch.manual_seed(0)
    if task == "masked":
        config = transformers.BertConfig(
            vocab_size=20,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        transformers.BertForMaskedLM(config).save_pretrained(tmp_path / "model")
    else:
        config = transformers.GPT2Config(
            vocab_size=20,
            n_embd=32,
            n_layer=2,
            n_head=2,
            n_positions=32,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            pad_token_id=0,
        )
        transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path / "model")
    texts = _texts(words, 24, seed=3)
    results = []
    for lib in (transformers, leanformers):
        quiet_reference()
        tokenizer = lib.AutoTokenizer.from_pretrained(tok_dir)
        features = [dict(tokenizer(t, return_special_tokens_mask=task == "masked")) for t in texts]
        collator = lib.DataCollatorForLanguageModeling(
            tokenizer, mlm=task == "masked", seed=11, mlm_probability=0.3
        )
        cls = lib.AutoModelForMaskedLM if task == "masked" else lib.AutoModelForCausalLM
        args = lib.TrainingArguments(
            str(tmp_path / lib.__name__),
            per_device_train_batch_size=4,
            gradient_accumulation_steps=2,
            learning_rate=2e-3,
            num_train_epochs=2,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            remove_unused_columns=False,
        )
        trainer = recording(lib.Trainer)(
            model=cls.from_pretrained(str(tmp_path / "model")),
            args=args,
            train_dataset=features,
            data_collator=collator,
        )
        trainer.train()
        results.append((trainer.losses, [e["loss"] for e in trainer.state.log_history if "loss" in e]))
    (ref_losses, ref_logged), (our_losses, our_logged) = results
    np.testing.assert_allclose(our_losses, ref_losses, atol=1e-5)
    np.testing.assert_allclose(our_logged, ref_logged, atol=5.1e-5)  # the reference rounds to 4 decimals


def test_seq2seq_predict_with_generate_matches_reference(tmp_path, tiny_tokenizer):
    tok_dir, words = tiny_tokenizer
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=20,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=32,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        decoder_start_token_id=2,
        forced_eos_token_id=None,
        dropout=0.0,
    )
    transformers.BartForConditionalGeneration(config).save_pretrained(tmp_path / "model")
    # 12 examples in eval batches of 4: the reference's Seq2SeqTrainer averages batch losses without weighting
    # a short last batch by its size (leanformers weights by examples), so equal batches compare the two exactly.
    sources, targets = _texts(words, 12, seed=5), _texts(words, 12, seed=6)
    results = []
    for lib in (transformers, leanformers):
        quiet_reference()
        tokenizer = lib.AutoTokenizer.from_pretrained(tok_dir)
        features = [{**tokenizer(s), "labels": tokenizer(t)["input_ids"]} for s, t in zip(sources, targets)]
        model = lib.AutoModelForSeq2SeqLM.from_pretrained(str(tmp_path / "model"))
        args = lib.Seq2SeqTrainingArguments(
            str(tmp_path / lib.__name__),
            per_device_train_batch_size=4,
            learning_rate=1e-3,
            max_steps=3,
            per_device_eval_batch_size=4,
            predict_with_generate=True,
            generation_max_length=8,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
        )
        trainer = recording(lib.Seq2SeqTrainer)(
            model=model,
            args=args,
            train_dataset=features,
            data_collator=lib.DataCollatorForSeq2Seq(tokenizer, model=model),
            processing_class=tokenizer,
        )
        trainer.train()
        out = trainer.predict(features)
        results.append((trainer.losses, out))
    (ref_losses, ref_out), (our_losses, our_out) = results
    np.testing.assert_allclose(our_losses, ref_losses, atol=1e-5)
    np.testing.assert_array_equal(our_out.predictions, ref_out.predictions)
    np.testing.assert_array_equal(our_out.label_ids, ref_out.label_ids)
    assert our_out.metrics["test_loss"] == pytest.approx(ref_out.metrics["test_loss"], abs=1e-5)
