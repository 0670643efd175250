"""Checks shared by the encoder-decoder tests (BART, Marian, T5): the reference model and ours are
given the same tiny random checkpoint and must agree on logits, cached decoding and generate()."""

from __future__ import annotations

import torch

ATOL = RTOL = 1e-5


def perturb(model: torch.nn.Module, seed: int = 0) -> None:
    """Random biases, LayerNorms and logit biases, so parity does not hide behind zeros and ones."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias") or "layer_norm" in name or "layernorm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(0.1 * torch.randn(model.final_logits_bias.shape, generator=g))


def right_padded(vocab: int, pad: int, eos: int, lengths=(9, 5, 7), low: int = 3, seed: int = 1):
    """(ids, mask): encoder inputs ending in eos, right-padded as tokenizers pad them."""
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    ids = torch.full((len(lengths), t), pad, dtype=torch.long)
    mask = torch.zeros(len(lengths), t, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, : n - 1] = torch.randint(low, vocab, (n - 1,), generator=g)
        ids[i, n - 1] = eos
        mask[i, :n] = 1
    return ids, mask


def decoder_batch(vocab: int, start: int, batch: int = 3, length: int = 6, low: int = 3, seed: int = 2):
    """(decoder_input_ids, decoder_attention_mask) with the last row padded at the end."""
    g = torch.Generator().manual_seed(seed)
    dec = torch.randint(low, vocab, (batch, length), generator=g)
    dec[:, 0] = start
    mask = torch.ones_like(dec)
    mask[-1, length - 2 :] = 0
    return dec, mask


def assert_outputs_match(ours, ref, **inputs) -> None:
    with torch.no_grad():
        a = ours(**inputs)
        b = ref(**inputs)
    torch.testing.assert_close(a.logits, b.logits, atol=ATOL, rtol=RTOL)
    if getattr(b, "encoder_last_hidden_state", None) is not None:
        torch.testing.assert_close(
            a.encoder_last_hidden_state, b.encoder_last_hidden_state, atol=ATOL, rtol=RTOL
        )
    if getattr(b, "loss", None) is not None:
        torch.testing.assert_close(a.loss, b.loss, atol=ATOL, rtol=RTOL)


def check_incremental_decoding(model, ids, mask, dec) -> None:
    """Decoding with self- and cross-attention caches (a 3-token chunk, then one token at a time)
    gives the logits of one full forward over the whole decoder input."""
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, use_cache=False).logits
        encoder_outputs = model.get_encoder()(ids, mask)
        out = model(
            attention_mask=mask, encoder_outputs=encoder_outputs, decoder_input_ids=dec[:, :3], use_cache=True
        )
        steps = [out.logits]
        cache = out.past_key_values
        assert cache.get_seq_length() == 3
        for t in range(3, dec.shape[1]):
            out = model(
                attention_mask=mask,
                encoder_outputs=encoder_outputs,
                decoder_input_ids=dec[:, t : t + 1],
                past_key_values=cache,
                use_cache=True,
            )
            assert out.past_key_values is cache  # updated in place, cross-attention K/V reused
            steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=ATOL, rtol=RTOL)


GENERATE_SETTINGS = [
    dict(do_sample=False, max_new_tokens=12),
    dict(num_beams=4, max_new_tokens=12),
    dict(num_beams=3, num_return_sequences=2, max_new_tokens=8, length_penalty=0.5),
    dict(num_beams=2, min_length=6, max_length=10, no_repeat_ngram_size=2),
]


def check_generate(ours, ref, ids, mask) -> None:
    for settings in GENERATE_SETTINGS:
        expected = ref.generate(input_ids=ids, attention_mask=mask, **settings)
        got = ours.generate(input_ids=ids, attention_mask=mask, **settings)
        assert got.tolist() == expected.tolist(), settings


def check_round_trip(ours, ref_class, tmp_path, **inputs) -> None:
    """Our save loads in the reference and in leanformers with identical outputs."""
    path = tmp_path / "saved_by_leanformers"
    ours.save_pretrained(path)
    back = ref_class.from_pretrained(path).eval()
    again = type(ours).from_pretrained(path)
    with torch.no_grad():
        expected = ours(**inputs).logits
        torch.testing.assert_close(back(**inputs).logits, expected, atol=ATOL, rtol=RTOL)
        torch.testing.assert_close(again(**inputs).logits, expected, atol=0, rtol=0)
