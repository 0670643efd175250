"""GPT-2 parity with the reference on tiny random checkpoints built at test time."""

from __future__ import annotations

import pytest
import torch

from _decoder_checks import decode_stepwise

transformers = pytest.importorskip("transformers")

from leanformers import AutoModel, AutoModelForCausalLM  # noqa: E402
from leanformers.models.gpt2 import GPT2Config, GPT2LMHeadModel  # noqa: E402

TINY = dict(vocab_size=101, n_positions=32, n_embd=32, n_layer=2, n_head=4)


def build_reference(tmp_path, name="gpt2", **overrides):
    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(**{**TINY, **overrides})).eval()
    with torch.no_grad():  # non-trivial LayerNorms and biases
        for n, p in ref.named_parameters():
            if n.endswith(".bias") or "ln_" in n:
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if n.endswith("weight") else 0.0))
    path = tmp_path / name
    ref.save_pretrained(path)
    return ref, path


def padded_batch(lengths=(9, 4, 7), seed=1):
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    ids = torch.randint(0, TINY["vocab_size"], (len(lengths), t), generator=g)
    mask = torch.zeros(len(lengths), t, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, t - n :] = 1
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    return ids, mask, pos


def test_config_aliases():
    config = GPT2Config(**TINY)
    assert config.hidden_size == config.n_embd == 32
    assert config.num_hidden_layers == 2 and config.max_position_embeddings == 32
    config.hidden_size = 64
    assert config.n_embd == 64
    assert "hidden_size" not in config.to_dict() and config.to_dict()["n_embd"] == 64


def test_logits_match_reference_with_left_padding(tmp_path):
    ref, path = build_reference(tmp_path)
    ours = AutoModelForCausalLM.from_pretrained(path)
    assert isinstance(ours, GPT2LMHeadModel)
    assert ours.lm_head.weight is ours.transformer.wte.weight
    ids, mask, pos = padded_batch()
    with torch.no_grad():
        got = ours(ids, attention_mask=mask, position_ids=pos).logits
        expected = ref(ids, attention_mask=mask, position_ids=pos).logits
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)  # pad rows too
        torch.testing.assert_close(ours(ids).logits, ref(ids).logits, atol=1e-5, rtol=1e-5)
        # token_type_ids reuse the token embeddings, as in the reference
        tt = torch.randint(0, 5, ids.shape)
        torch.testing.assert_close(
            ours(ids, token_type_ids=tt).logits, ref(ids, token_type_ids=tt).logits, atol=1e-5, rtol=1e-5
        )


def test_base_model_and_hidden_states(tmp_path):
    ref, path = build_reference(tmp_path)
    ours = AutoModel.from_pretrained(path)
    ids, mask, pos = padded_batch()
    with torch.no_grad():
        a = ref.transformer(ids, attention_mask=mask, position_ids=pos, output_hidden_states=True)
        b = ours(ids, attention_mask=mask, position_ids=pos, output_hidden_states=True)
    assert len(a.hidden_states) == len(b.hidden_states) == TINY["n_layer"] + 1
    for x, y in zip(b.hidden_states, a.hidden_states):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "flags",
    [
        {"scale_attn_by_inverse_layer_idx": True},
        {"scale_attn_weights": False},
        {"activation_function": "relu"},
    ],
)
def test_config_flags_match_reference_eager(tmp_path, flags):
    # The reference honours the attention-scaling flags in its eager path only; compare with that.
    ref, path = build_reference(tmp_path, attn_implementation="eager", **flags)
    ref.config._attn_implementation = "eager"
    ours = AutoModelForCausalLM.from_pretrained(path)
    ids, mask, pos = padded_batch()
    with torch.no_grad():
        a = ref(ids, attention_mask=mask, position_ids=pos, output_attentions=True)
        b = ours(ids, attention_mask=mask, position_ids=pos, output_attentions=True)
    # Rows of left-pad queries differ by design in the reference's eager GPT-2 (it double-masks them).
    real = mask.bool()
    torch.testing.assert_close(b.logits[real], a.logits[real], atol=1e-5, rtol=1e-5)
    for x, y in zip(b.attentions, a.attentions):  # (B, H, T, S): rows of real queries
        torch.testing.assert_close(x.transpose(1, 2)[real], y.transpose(1, 2)[real], atol=1e-5, rtol=1e-5)


def test_incremental_decoding_equals_full_forward(tmp_path):
    ref, path = build_reference(tmp_path)
    ours = AutoModelForCausalLM.from_pretrained(path)
    ids, mask, pos = padded_batch(lengths=(6, 2), seed=2)
    new = torch.randint(0, TINY["vocab_size"], (2, 5), generator=torch.Generator().manual_seed(3))
    full_ids, full_mask = torch.cat([ids, new], 1), torch.cat([mask, torch.ones_like(new)], 1)
    full_pos = (full_mask.cumsum(-1) - 1).masked_fill(full_mask == 0, 1)
    with torch.no_grad():
        full = ours(full_ids, attention_mask=full_mask, position_ids=full_pos).logits
        out = ours(ids, attention_mask=mask, position_ids=pos)
        steps = decode_stepwise(ours, out, new, full_mask, full_pos)
        ref_full = ref(full_ids, attention_mask=full_mask, position_ids=full_pos).logits
    torch.testing.assert_close(steps, full[:, ids.shape[1] - 1 :], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full, ref_full, atol=1e-5, rtol=1e-5)
    # Unpadded batch-1 decoding without masks or position ids (the fast path).
    with torch.no_grad():
        out = ours(full_ids[:1, :4])
        step = ours(full_ids[:1, 4:5], past_key_values=out.past_key_values)
        torch.testing.assert_close(
            step.logits[:, -1], ours(full_ids[:1, :5]).logits[:, -1], atol=1e-5, rtol=1e-5
        )


def test_loss_matches_reference(tmp_path):
    ref, path = build_reference(tmp_path)
    ours = AutoModelForCausalLM.from_pretrained(path)
    ids, mask, pos = padded_batch()
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        a = ref(ids, attention_mask=mask, position_ids=pos, labels=labels).loss
        b = ours(ids, attention_mask=mask, position_ids=pos, labels=labels).loss
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_round_trip_and_legacy_buffers(tmp_path):
    ref, path = build_reference(tmp_path)
    ours = GPT2LMHeadModel.from_pretrained(path)
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "ours").eval()
    ids, _, _ = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(back(ids).logits, ref(ids).logits, atol=0, rtol=0)

    # Old checkpoints carry the causal-mask buffers `attn.bias` / `attn.masked_bias`: ignored on load.
    from safetensors.torch import load_file, save_file

    sd = load_file(tmp_path / "ours" / "model.safetensors")
    for i in range(TINY["n_layer"]):
        sd[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 32, 32))
        sd[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(sd, tmp_path / "ours" / "model.safetensors", metadata={"format": "pt"})
    old, info = GPT2LMHeadModel.from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert info["unexpected_keys"] == [] and info["missing_keys"] == []
    with torch.no_grad():
        torch.testing.assert_close(old(ids).logits, ref(ids).logits, atol=1e-5, rtol=1e-5)


def test_too_long_input_is_a_clear_error():
    model = GPT2LMHeadModel(GPT2Config(**TINY)).eval()
    with pytest.raises(ValueError, match="learned positions"):
        model(torch.zeros(1, 33, dtype=torch.long))


def test_gradient_checkpointing_trains():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**TINY, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)).train()
    ids = torch.randint(0, 101, (2, 8))
    model(ids, labels=ids).loss.backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.gradient_checkpointing_enable()
    model(ids, labels=ids).loss.backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, plain[n], atol=1e-6, rtol=1e-5)
