"""Llama / Mistral / Qwen2 parity with the reference on tiny random checkpoints built at test time."""

from __future__ import annotations

import pytest
import torch

from _decoder_checks import decode_stepwise

transformers = pytest.importorskip("transformers")

from leanformers import AutoModelForCausalLM  # noqa: E402
from leanformers.models.llama import LlamaConfig, LlamaForCausalLM, LlamaModel, Qwen2Config  # noqa: E402
from leanformers.nn.cache import DynamicCache  # noqa: E402

TINY = dict(
    vocab_size=97,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)

VARIANTS = {
    "llama-gqa-untied": ("LlamaForCausalLM", "LlamaConfig", {}),
    "llama-mha-tied": (
        "LlamaForCausalLM",
        "LlamaConfig",
        {"num_key_value_heads": 4, "tie_word_embeddings": True},
    ),
    "llama-biases-headdim": (
        "LlamaForCausalLM",
        "LlamaConfig",
        {"attention_bias": True, "mlp_bias": True, "head_dim": 16, "rope_theta": 500.0},
    ),
    "mistral-window": ("MistralForCausalLM", "MistralConfig", {"sliding_window": 4}),
    "qwen2": ("Qwen2ForCausalLM", "Qwen2Config", {"tie_word_embeddings": True}),
    "qwen2-window": (
        "Qwen2ForCausalLM",
        "Qwen2Config",
        {"use_sliding_window": True, "sliding_window": 3, "max_window_layers": 1},
    ),
    "rope-linear": ("LlamaForCausalLM", "LlamaConfig", {"rope_scaling": {"type": "linear", "factor": 4.0}}),
    "rope-llama3": (
        "LlamaForCausalLM",
        "LlamaConfig",
        {
            "rope_theta": 50.0,
            "rope_scaling": {
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8,
            },
        },
    ),
    "rope-yarn": (
        "Qwen2ForCausalLM",
        "Qwen2Config",
        {"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}},
    ),
}


def build_reference(tmp_path, name: str, **overrides):
    model_cls, config_cls, extra = VARIANTS[name]
    torch.manual_seed(0)
    config = getattr(transformers, config_cls)(**{**TINY, **extra, **overrides})
    ref = getattr(transformers, model_cls)(config).eval()
    with torch.no_grad():  # non-trivial norms and biases, so a wrong mapping cannot hide
        for n, p in ref.named_parameters():
            if n.endswith("norm.weight") or n.endswith(".bias"):
                p.copy_(torch.rand_like(p) + 0.5 if n.endswith("norm.weight") else torch.randn_like(p) * 0.1)
    path = tmp_path / name
    ref.save_pretrained(path)
    return ref, path


def padded_batch(lengths=(10, 6, 8), vocab=97, seed=1):
    """Left-padded ids, mask and position ids as the reference's generate() computes them."""
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    ids = torch.randint(3, vocab, (len(lengths), t), generator=g)
    mask = torch.zeros(len(lengths), t, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, t - n :] = 1
    ids = ids.masked_fill(mask == 0, 0)
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    return ids, mask, pos


@pytest.mark.parametrize("name", list(VARIANTS))
def test_logits_match_reference_with_left_padding(tmp_path, name):
    ref, path = build_reference(tmp_path, name)
    ours = AutoModelForCausalLM.from_pretrained(path)
    assert type(ours).__name__ == type(ref).__name__
    ids, mask, pos = padded_batch()
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask, position_ids=pos).logits
        got = ours(ids, attention_mask=mask, position_ids=pos).logits
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)  # pad rows too
        # Unpadded, no mask at all (SDPA's is_causal path).
        torch.testing.assert_close(ours(ids[:1]).logits, ref(ids[:1]).logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["llama-gqa-untied", "mistral-window", "qwen2-window", "rope-llama3"])
def test_incremental_decoding_equals_full_forward(tmp_path, name):
    ref, path = build_reference(tmp_path, name)
    ours = AutoModelForCausalLM.from_pretrained(path)
    ids, mask, pos = padded_batch(lengths=(5, 3), seed=2)
    new = torch.randint(3, 97, (2, 6), generator=torch.Generator().manual_seed(3))
    full_ids = torch.cat([ids, new], 1)
    full_mask = torch.cat([mask, torch.ones_like(new)], 1)
    full_pos = (full_mask.cumsum(-1) - 1).masked_fill(full_mask == 0, 1)
    with torch.no_grad():
        full = ours(full_ids, attention_mask=full_mask, position_ids=full_pos).logits
        ref_full = ref(full_ids, attention_mask=full_mask, position_ids=full_pos).logits
        out = ours(ids, attention_mask=mask, position_ids=pos, use_cache=True)
        cache = out.past_key_values
        assert isinstance(cache, DynamicCache) and cache.get_seq_length() == ids.shape[1]
        steps = decode_stepwise(ours, out, new, full_mask, full_pos)
    torch.testing.assert_close(steps, full[:, ids.shape[1] - 1 :], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full, ref_full, atol=1e-5, rtol=1e-5)


def test_dynamic_rope_follows_the_reference_state(tmp_path):
    """Dynamic NTK scaling recomputes frequencies once a sequence outgrows the longest seen so far,
    and returns to the original ones for short inputs: the same calls give the same logits."""
    ref, path = build_reference(
        tmp_path,
        "llama-gqa-untied",
        max_position_embeddings=8,
        rope_scaling={"type": "dynamic", "factor": 2.0},
    )
    ours = AutoModelForCausalLM.from_pretrained(path)
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for length in (6, 12, 10, 16, 5):
            ids = torch.randint(3, 97, (1, length), generator=g)
            torch.testing.assert_close(ours(ids).logits, ref(ids).logits, atol=1e-5, rtol=1e-5)


def test_loss_hidden_states_and_attentions(tmp_path):
    ref, path = build_reference(tmp_path, "qwen2")
    ref.config._attn_implementation = "eager"  # the reference returns attention weights only in eager mode
    ours = AutoModelForCausalLM.from_pretrained(path)
    ids, mask, pos = padded_batch()
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        kw = dict(attention_mask=mask, position_ids=pos, labels=labels, output_hidden_states=True)
        a = ref(ids, output_attentions=True, **kw)
        b = ours(ids, output_attentions=True, **kw)
    torch.testing.assert_close(b.loss, a.loss, atol=1e-5, rtol=1e-5)
    assert len(b.hidden_states) == len(a.hidden_states) == TINY["num_hidden_layers"] + 1
    for x, y in zip(b.hidden_states, a.hidden_states):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)
    for x, y in zip(b.attentions, a.attentions):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["llama-gqa-untied", "mistral-window", "qwen2-window", "rope-llama3"])
def test_round_trip_our_save_loads_in_reference(tmp_path, name):
    ref, path = build_reference(tmp_path, name)
    ours = AutoModelForCausalLM.from_pretrained(path)
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "ours").eval()
    assert type(back) is type(ref)
    for key in ("sliding_window", "layer_types", "rope_scaling", "head_dim", "num_key_value_heads"):
        assert getattr(back.config, key, None) == getattr(ref.config, key, None), key
    ids, mask, pos = padded_batch()
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask, position_ids=pos).logits
        torch.testing.assert_close(
            back(ids, attention_mask=mask, position_ids=pos).logits, expected, atol=0, rtol=0
        )


def test_base_model_loads_from_a_causal_lm_checkpoint(tmp_path):
    ref, path = build_reference(tmp_path, "llama-gqa-untied")
    base = LlamaModel.from_pretrained(path)
    assert torch.equal(base.embed_tokens.weight, ref.model.embed_tokens.weight)
    ids, _, _ = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(
            base(ids).last_hidden_state, ref.model(ids).last_hidden_state, atol=1e-5, rtol=1e-5
        )


def test_tied_embeddings_share_storage_and_save_once(tmp_path):
    ref, path = build_reference(tmp_path, "llama-mha-tied")
    ours = LlamaForCausalLM.from_pretrained(path)
    assert ours.lm_head.weight is ours.model.embed_tokens.weight
    ours.save_pretrained(tmp_path / "ours")
    from safetensors import safe_open

    with safe_open(tmp_path / "ours" / "model.safetensors", "pt") as f:
        assert "lm_head.weight" not in f.keys()


def test_legacy_tuple_cache_and_logits_to_keep(tmp_path):
    _, path = build_reference(tmp_path, "llama-gqa-untied")
    ours = LlamaForCausalLM.from_pretrained(path)
    ids = torch.randint(3, 97, (2, 7), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        full = ours(ids).logits
        first = ours(ids[:, :5], use_cache=True)
        legacy = first.past_key_values.to_legacy_cache()
        rest = ours(ids[:, 5:], past_key_values=legacy, logits_to_keep=1).logits
    assert rest.shape == (2, 1, 97)
    torch.testing.assert_close(rest[:, -1], full[:, -1], atol=1e-5, rtol=1e-5)
    assert ours(ids, use_cache=False).past_key_values is None


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**TINY)).train()
    ids = torch.randint(3, 97, (2, 6))
    model(ids, labels=ids).loss.backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    out = model(ids, labels=ids)
    assert out.past_key_values is None
    out.loss.backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, plain[n], atol=1e-6, rtol=1e-5)


def test_config_defaults_and_errors():
    config = LlamaConfig(hidden_size=64, num_attention_heads=8)
    assert config.num_key_value_heads == 8 and config.head_dim == 8
    qwen = Qwen2Config(num_hidden_layers=4, use_sliding_window=True, max_window_layers=2)
    assert qwen.layer_types == ["full_attention"] * 2 + ["sliding_attention"] * 2
    assert Qwen2Config().sliding_window is None
    with pytest.raises(ValueError, match="longrope"):
        LlamaConfig(rope_scaling={"rope_type": "longrope", "factor": 2.0})
    with pytest.raises(ValueError, match="exactly one"):
        LlamaForCausalLM(LlamaConfig(**TINY))()
