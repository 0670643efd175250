"""Marian parity with the reference on tiny random checkpoints built at test time."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from _seq2seq_checks import (  # noqa: E402
    assert_outputs_match,
    check_generate,
    check_incremental_decoding,
    check_round_trip,
    decoder_batch,
    perturb,
    right_padded,
)
from leanformers import AutoModel, AutoModelForSeq2SeqLM  # noqa: E402
from leanformers.models.marian import MarianConfig, MarianModel, MarianMTModel, sinusoidal_table  # noqa: E402

PAD, EOS = 98, 0
TINY = dict(
    vocab_size=99,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=37,
    decoder_ffn_dim=37,
    max_position_embeddings=64,
    pad_token_id=PAD,
    decoder_start_token_id=PAD,
    eos_token_id=EOS,
    forced_eos_token_id=EOS,
    scale_embedding=True,
)


def build(tmp_path, name="marian", **overrides):
    torch.manual_seed(0)
    ref = transformers.MarianMTModel(transformers.MarianConfig(**{**TINY, **overrides})).eval()
    perturb(ref)
    path = tmp_path / name
    ref.save_pretrained(path)
    return ref, path


def batch():
    ids, mask = right_padded(PAD, PAD, EOS, low=1)  # token ids 1..97: pad is the last id
    dec, dec_mask = decoder_batch(PAD, PAD, low=1)
    return ids, mask, dec, dec_mask


def test_config_defaults():
    ours, ref = MarianConfig(), transformers.MarianConfig()
    for key, value in ref.to_dict().items():
        if hasattr(ours, key) and key not in ("transformers_version", "_name_or_path"):
            assert getattr(ours, key) == value, key
    assert MarianConfig(vocab_size=10).decoder_vocab_size == 10


@pytest.mark.parametrize("n_pos,dim", [(64, 32), (512, 512), (50, 33)])
def test_sinusoidal_positions_equal_the_reference_bit_for_bit(n_pos, dim):
    ref = transformers.models.marian.modeling_marian.MarianSinusoidalPositionalEmbedding(n_pos, dim)
    ref._init_weight()
    assert torch.equal(sinusoidal_table(n_pos, dim), ref.weight)


@pytest.mark.parametrize("shared", [True, False])
def test_logits_match_reference(tmp_path, shared):
    ref, path = build(tmp_path, share_encoder_decoder_embeddings=shared)
    ours = AutoModelForSeq2SeqLM.from_pretrained(path)
    assert isinstance(ours, MarianMTModel)
    assert ours.lm_head.weight is ours.model.decoder.embed_tokens.weight
    assert (ours.model.encoder.embed_tokens is ours.model.decoder.embed_tokens) == shared
    ids, mask, dec, dec_mask = batch()
    assert_outputs_match(
        ours, ref, input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask
    )
    labels = dec.clone()
    labels[-1, -2:] = -100
    assert_outputs_match(ours, ref, input_ids=ids, attention_mask=mask, labels=labels)


def test_checkpoint_positions_are_used_when_present(tmp_path):
    """Hub checkpoints (saved by older versions) store embed_positions.weight: both libraries use the stored table."""
    from safetensors.torch import save_file

    ref, path = build(tmp_path)
    state = {k: v.clone() for k, v in ref.state_dict().items() if k != "lm_head.weight"}
    state.pop("model.encoder.embed_tokens.weight"), state.pop("model.decoder.embed_tokens.weight")
    state["model.decoder.embed_positions.weight"] += 0.25  # distinguishable from the computed table
    save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    ours, info = MarianMTModel.from_pretrained(path, output_loading_info=True)
    assert not info["unexpected_keys"] and "model.decoder.embed_positions.weight" not in info["missing_keys"]
    torch.testing.assert_close(
        ours.model.decoder.embed_positions.weight, state["model.decoder.embed_positions.weight"]
    )
    ref = transformers.MarianMTModel.from_pretrained(path).eval()
    ids, mask, dec, _ = batch()
    assert_outputs_match(ours, ref, input_ids=ids, attention_mask=mask, decoder_input_ids=dec)


def test_base_model(tmp_path):
    ref, path = build(tmp_path)
    ours = AutoModel.from_pretrained(path)
    assert isinstance(ours, MarianModel)
    ids, mask, dec, _ = batch()
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).last_hidden_state
        b = ref.model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).last_hidden_state
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="decoder_input_ids"):
        ours(input_ids=ids, attention_mask=mask)


def test_incremental_decoding_equals_full_forward(tmp_path):
    _, path = build(tmp_path)
    ours = MarianMTModel.from_pretrained(path)
    ids, mask, dec, _ = batch()
    check_incremental_decoding(ours, ids, mask, dec)


@pytest.mark.parametrize("shared", [True, False])
def test_generate_matches_reference(tmp_path, shared):
    ref, path = build(tmp_path, share_encoder_decoder_embeddings=shared)
    ours = MarianMTModel.from_pretrained(path)
    ids, mask, _, _ = batch()
    check_generate(ours, ref, ids, mask)


@pytest.mark.parametrize("shared", [True, False])
def test_round_trip(tmp_path, shared):
    _, path = build(tmp_path, share_encoder_decoder_embeddings=shared)
    ours = MarianMTModel.from_pretrained(path)
    ids, mask, dec, _ = batch()
    check_round_trip(
        ours, transformers.MarianMTModel, tmp_path, input_ids=ids, attention_mask=mask, decoder_input_ids=dec
    )
