"""Training throughput and peak memory: leanformers' Trainer vs the reference Trainer.

A BERT-small-sized classifier (4 layers, hidden 256, 4 heads, vocab 30,522) on synthetic data,
batch 16 x 128 tokens, fp32 and bf16 autocast. Each (library, precision) runs in its own
subprocess so that peak RSS (ru_maxrss) is that run's alone; steps/s is timed from the end of the
warm-up steps to the last step with a callback (the same callback API in both libraries). Each
library runs `--repeats` times, alternating, and keeps its best figures. CPU seconds per step are
also printed: on a machine shared with other jobs, wall time swings widely while CPU time with
`--threads 1` stays exact.

    python benchmarks/train.py                          # short default run
    python benchmarks/train.py --threads 1 --steps 20   # steadiest comparison on a busy machine
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds a tokenize.py that would shadow the standard library's module of that name.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import json
import resource
import subprocess
import tempfile
import time

BATCH, SEQ, VOCAB = 16, 128, 30522


def build_model(folder: str) -> None:
    import torch
    import transformers

    config = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        num_labels=2,
    )
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(folder)


def child(
    lib_name: str, precision: str, model_dir: str, steps: int, warmup: int, threads: int | None
) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)

    if lib_name == "transformers":
        import transformers as lib

        lib.logging.set_verbosity_error()
    else:
        import leanformers as lib

    g = torch.Generator().manual_seed(0)
    data = [
        {
            "input_ids": torch.randint(1000, VOCAB, (SEQ,), generator=g).tolist(),
            "attention_mask": [1] * SEQ,
            "label": i % 2,
        }
        for i in range(BATCH * (steps + warmup))
    ]
    times: list[tuple[float, float]] = []

    class Timer(lib.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            times.append((time.perf_counter(), time.process_time()))

    args = lib.TrainingArguments(
        os.path.join(tempfile.gettempdir(), f"bench-{lib_name}"),
        per_device_train_batch_size=BATCH,
        max_steps=steps + warmup,
        logging_steps=10_000,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        bf16=precision == "bf16",
        use_cpu=True,
    )
    model = lib.AutoModelForSequenceClassification.from_pretrained(model_dir)
    trainer = lib.Trainer(model=model, args=args, train_dataset=data, callbacks=[Timer()])
    trainer.train()
    (wall0, cpu0), (wall1, cpu1) = times[warmup - 1], times[-1]
    n = len(times) - warmup
    return {
        "steps_per_second": n / (wall1 - wall0),
        # CPU seconds per step: on a shared machine this is steadier than wall time (with 1 thread, exact)
        "cpu_seconds_per_step": (cpu1 - cpu0) / n,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per library, alternating; the best is kept"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--child", nargs=3, metavar=("LIB", "PRECISION", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.steps, args.warmup, args.threads)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "bert-small")
        build_model(model_dir)
        threads = f"{args.threads} thread(s)" if args.threads else "default threads"
        print(
            f"BERT-small classifier (4x256), batch {BATCH} x {SEQ} tokens, {args.steps} timed steps, CPU, {threads}"
        )
        print(f"best of {args.repeats} alternating runs per library")
        print(f"{'precision':<10}{'library':<14}{'steps/s':>10}{'CPU s/step':>12}{'peak RSS MB':>14}")
        for precision in args.precisions:
            runs: dict[str, list[dict]] = {"transformers": [], "leanformers": []}
            for _ in range(args.repeats):
                for lib in runs:
                    cmd = [
                        sys.executable,
                        "-P",
                        __file__,
                        "--child",
                        lib,
                        precision,
                        model_dir,
                        "--steps",
                        str(args.steps),
                        "--warmup",
                        str(args.warmup),
                    ]
                    if args.threads:
                        cmd += ["--threads", str(args.threads)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                    runs[lib].append(json.loads(out.strip().splitlines()[-1]))
            best = {
                lib: {
                    "steps_per_second": max(r["steps_per_second"] for r in rs),
                    "cpu_seconds_per_step": min(r["cpu_seconds_per_step"] for r in rs),
                    "peak_rss_mb": min(r["peak_rss_mb"] for r in rs),
                }
                for lib, rs in runs.items()
            }
            for lib, r in best.items():
                print(
                    f"{precision:<10}{lib:<14}{r['steps_per_second']:>10.3f}{r['cpu_seconds_per_step']:>12.3f}"
                    f"{r['peak_rss_mb']:>14.0f}"
                )
            ref, ours = best["transformers"], best["leanformers"]
            print(
                f"{precision:<10}{'ratio':<14}{ours['steps_per_second'] / ref['steps_per_second']:>9.2f}x"
                f"{ref['cpu_seconds_per_step'] / ours['cpu_seconds_per_step']:>11.2f}x"
                f"{ours['peak_rss_mb'] / ref['peak_rss_mb']:>13.2f}x   (speed ratios: >1 is faster; RSS: <1 is smaller)"
            )


if __name__ == "__main__":
    main()
