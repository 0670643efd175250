"""Encoder-decoder generation speed: leanformers vs the reference (transformers 4.57.6), side by side.

Two random models of real sizes (no download needed):
- translation: a Marian (opus-mt) sized model, 6+6 layers, d_model 512, vocab 58,101, sentence-length inputs;
- summarization: a BART-base sized model, 6+6 layers, d_model 768, vocab 50,265, paragraph-length inputs.
Each runs greedy and beam-4 generation at batch 1 and 16; the table gives sentences/s for both
libraries and the ratio. Random weights rarely emit </s>, so every run generates exactly
`max_new_tokens` tokens: both libraries do the same work.

    python benchmarks/seq2seq.py          # short run (about 2-3 minutes on 2 cores)
    python benchmarks/seq2seq.py --full   # 200 sentences everywhere, longer outputs
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

# benchmarks/tokenize.py would shadow the standard library's `tokenize` (which torch imports).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import torch  # noqa: E402
import transformers  # noqa: E402

import leanformers  # noqa: E402

MARIAN = dict(
    vocab_size=58101, d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
    decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512,
    pad_token_id=58100, decoder_start_token_id=58100, eos_token_id=0, forced_eos_token_id=0, scale_embedding=True,
    activation_function="swish",
)  # fmt: skip
BART_BASE = dict(
    vocab_size=50265, d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
    decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_position_embeddings=1024,
)  # fmt: skip


def build(tmp: str, name: str):
    torch.manual_seed(0)
    if name == "marian":
        model = transformers.MarianMTModel(transformers.MarianConfig(**MARIAN))
    else:
        model = transformers.BartForConditionalGeneration(transformers.BartConfig(**BART_BASE))
    path = os.path.join(tmp, name)
    model.save_pretrained(path)
    del model
    ref_class = transformers.MarianMTModel if name == "marian" else transformers.BartForConditionalGeneration
    return ref_class.from_pretrained(path).eval(), leanformers.AutoModelForSeq2SeqLM.from_pretrained(path)


def inputs(
    n: int, lengths: tuple[int, int], vocab: int, pad: int, eos: int, seed: int = 0
) -> list[torch.Tensor]:
    """n token sequences of random length in `lengths`, ending with </s> (what a tokenizer gives)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        length = int(torch.randint(lengths[0], lengths[1] + 1, (1,), generator=g))
        ids = torch.randint(3, vocab - 2, (length,), generator=g)
        ids[-1] = eos
        out.append(ids)
    return out


def batches(seqs: list[torch.Tensor], batch_size: int, pad: int):
    """Right-padded batches, sorted by length as the pipelines do."""
    order = sorted(seqs, key=len, reverse=True)
    for i in range(0, len(order), batch_size):
        chunk = order[i : i + batch_size]
        t = max(len(s) for s in chunk)
        ids = torch.full((len(chunk), t), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), t), dtype=torch.long)
        for j, s in enumerate(chunk):
            ids[j, : len(s)] = s
            mask[j, : len(s)] = 1
        yield ids, mask


def run(model, seqs, batch_size: int, pad: int, settings: dict) -> tuple[float, float, list[list[int]]]:
    """(wall seconds, CPU seconds, generated ids). CPU time is less sensitive to a busy machine."""
    outputs = []
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        for ids, mask in batches(seqs, batch_size, pad):
            out = model.generate(input_ids=ids, attention_mask=mask, **settings)
            outputs.extend(out.tolist())
    return time.perf_counter() - wall, time.process_time() - cpu, outputs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="200 sentences in every setting, longer outputs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()

    # (task, model, input lengths, new tokens, sentences at batch 1, sentences at batch 16)
    if args.full:
        plan = [
            ("translation", "marian", (12, 40), 48, 200, 200),
            ("summarization", "bart", (200, 400), 64, 200, 200),
        ]
    else:
        plan = [
            ("translation", "marian", (12, 40), 24, 16, 64),
            ("summarization", "bart", (100, 200), 24, 4, 16),
        ]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, name, lengths, new_tokens, n1, n16 in plan:
            ref, ours = build(tmp, name)
            cfg = ref.config
            seqs_all = inputs(max(n1, n16), lengths, cfg.vocab_size, cfg.pad_token_id, cfg.eos_token_id)
            for mode, beams in (("greedy", 1), ("beam 4", 4)):
                settings = dict(
                    max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, num_beams=beams
                )
                for batch_size, n in ((1, n1), (16, n16)):
                    seqs = seqs_all[:n]
                    run(ours, seqs[:batch_size], batch_size, cfg.pad_token_id, settings)  # warm-up
                    run(ref, seqs[:batch_size], batch_size, cfg.pad_token_id, settings)
                    w_ours, c_ours, out_ours = run(ours, seqs, batch_size, cfg.pad_token_id, settings)
                    w_ref, c_ref, out_ref = run(ref, seqs, batch_size, cfg.pad_token_id, settings)
                    same = out_ours == out_ref
                    rows.append(
                        (
                            task,
                            mode,
                            batch_size,
                            n,
                            n / w_ref,
                            n / w_ours,
                            w_ref / w_ours,
                            c_ref / c_ours,
                            same,
                        )
                    )
                    print(
                        f"{task:13s} {mode:6s} batch {batch_size:2d}: reference {n / w_ref:7.2f}/s  leanformers "
                        f"{n / w_ours:7.2f}/s  x{w_ref / w_ours:.2f} (CPU time x{c_ref / c_ours:.2f})  identical={same}",
                        flush=True,
                    )
            del ref, ours
            gc.collect()

    print()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, transformers {transformers.__version__}"
    )
    print(
        "| task | decoding | batch | sentences | reference /s | leanformers /s | speed-up (wall) | (CPU) | same |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for task, mode, bs, n, r, o, x, xc, same in rows:
        print(
            f"| {task} | {mode} | {bs} | {n} | {r:.2f} | {o:.2f} | {x:.2f}x | {xc:.2f}x | {'yes' if same else 'NO'} |"
        )


if __name__ == "__main__":
    main()
