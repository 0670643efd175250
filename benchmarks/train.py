"""Training throughput and peak memory: leanformers' Trainer vs the reference Trainer.

A BERT-small-sized classifier (4 layers, hidden 256, 4 heads, vocab 30,522) on synthetic data,
batch 16 x 128 tokens, fp32 and bf16 autocast. Each (library, precision) runs in its own
subprocess so that peak RSS (ru_maxrss) is that run's alone; steps/s is timed from the end of the
warm-up steps to the last step with a callback (the same callback API in both libraries).

    python benchmarks/train.py                 # short default run
    python benchmarks/train.py --steps 30 --precisions fp32
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


def child(lib_name: str, precision: str, model_dir: str, steps: int, warmup: int) -> dict:
    import torch

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
    times: list[float] = []

    class Timer(lib.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter())

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
    measured = times[warmup - 1 :]
    return {
        "steps_per_second": (len(measured) - 1) / (measured[-1] - measured[0]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--child", nargs=3, metavar=("LIB", "PRECISION", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.steps, args.warmup)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "bert-small")
        build_model(model_dir)
        print(f"BERT-small classifier (4x256), batch {BATCH} x {SEQ} tokens, {args.steps} timed steps, CPU")
        print(f"{'precision':<10}{'library':<14}{'steps/s':>10}{'peak RSS MB':>14}")
        for precision in args.precisions:
            results = {}
            for lib in ("transformers", "leanformers"):
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
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                results[lib] = json.loads(out.strip().splitlines()[-1])
                r = results[lib]
                print(f"{precision:<10}{lib:<14}{r['steps_per_second']:>10.3f}{r['peak_rss_mb']:>14.0f}")
            ref, ours = results["transformers"], results["leanformers"]
            print(
                f"{precision:<10}{'ratio':<14}{ours['steps_per_second'] / ref['steps_per_second']:>9.2f}x"
                f"{ours['peak_rss_mb'] / ref['peak_rss_mb']:>13.2f}x   (steps/s: higher is better; RSS: lower)"
            )


if __name__ == "__main__":
    main()
