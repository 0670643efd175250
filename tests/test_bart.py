"""BART parity with the reference on tiny random checkpoints built at test time."""

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
from leanformers import AutoModel, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification  # noqa: E402
from leanformers.models.bart import (  # noqa: E402
    BartConfig,
    BartForConditionalGeneration,
    BartForSequenceClassification,
    BartModel,
    shift_tokens_right,
)

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
)
PAD, EOS, START = 1, 2, 2


def build(tmp_path, cls=None, name="bart", **overrides):
    torch.manual_seed(0)
    cls = cls or transformers.BartForConditionalGeneration
    ref = cls(transformers.BartConfig(**{**TINY, **overrides})).eval()
    perturb(ref)
    path = tmp_path / name
    ref.save_pretrained(path)
    return ref, path


def batch():
    ids, mask = right_padded(TINY["vocab_size"], PAD, EOS)
    ids[:, 0] = 0  # <s>
    dec, dec_mask = decoder_batch(TINY["vocab_size"], START)
    return ids, mask, dec, dec_mask


def test_config_defaults_and_aliases():
    ours, ref = BartConfig(), transformers.BartConfig()
    for key, value in ref.to_dict().items():
        if hasattr(ours, key) and key not in ("transformers_version", "_name_or_path"):
            assert getattr(ours, key) == value, key
    assert ours.num_labels == 3 and ours.hidden_size == 1024 and ours.num_attention_heads == 16
    assert BartConfig(encoder_layers=3).num_hidden_layers == 3


@pytest.mark.parametrize("scale_embedding", [False, True])
def test_logits_match_reference(tmp_path, scale_embedding):
    ref, path = build(tmp_path, scale_embedding=scale_embedding)
    ours = AutoModelForSeq2SeqLM.from_pretrained(path)
    assert isinstance(ours, BartForConditionalGeneration)
    assert ours.lm_head.weight is ours.model.shared.weight is ours.model.encoder.embed_tokens.weight
    ids, mask, dec, dec_mask = batch()
    assert_outputs_match(
        ours, ref, input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask
    )
    # without decoder inputs BART shifts input_ids right (denoising)
    assert_outputs_match(ours, ref, input_ids=ids, attention_mask=mask)


def test_labels_give_the_reference_loss(tmp_path):
    ref, path = build(tmp_path)
    ours = BartForConditionalGeneration.from_pretrained(path)
    ids, mask, dec, _ = batch()
    labels = dec.clone()
    labels[-1, -2:] = -100
    assert_outputs_match(ours, ref, input_ids=ids, attention_mask=mask, labels=labels)
    shifted = shift_tokens_right(labels, PAD, START)
    assert shifted[:, 0].eq(START).all() and shifted[-1, -1] == PAD
    out = ours(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    assert ours.model.shared.weight.grad is not None


def test_hidden_states_and_attentions(tmp_path):
    _, path = build(tmp_path)
    ref = transformers.BartForConditionalGeneration.from_pretrained(path, attn_implementation="eager").eval()
    ours = BartForConditionalGeneration.from_pretrained(path)
    ids, mask, dec, dec_mask = batch()
    kwargs = dict(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask)
    with torch.no_grad():
        a = ours(**kwargs, output_attentions=True, output_hidden_states=True)
        b = ref(**kwargs, output_attentions=True, output_hidden_states=True)
    for field in (
        "encoder_hidden_states",
        "decoder_hidden_states",
        "encoder_attentions",
        "decoder_attentions",
        "cross_attentions",
    ):
        got, expected = getattr(a, field), getattr(b, field)
        assert len(got) == len(expected), field
        for x, y in zip(got, expected):
            torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


def test_base_model_and_encoder(tmp_path):
    ref, path = build(tmp_path)
    ours = AutoModel.from_pretrained(path)  # a task checkpoint into the bare model
    assert isinstance(ours, BartModel)
    ids, mask, dec, dec_mask = batch()
    with torch.no_grad():
        a = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask)
        b = ref.model(
            input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask
        )
        torch.testing.assert_close(a.last_hidden_state, b.last_hidden_state, atol=1e-5, rtol=1e-5)
        enc = ours.get_encoder()(ids, mask)
        torch.testing.assert_close(enc.last_hidden_state, b.encoder_last_hidden_state, atol=1e-5, rtol=1e-5)


def test_incremental_decoding_equals_full_forward(tmp_path):
    _, path = build(tmp_path)
    ours = BartForConditionalGeneration.from_pretrained(path)
    ids, mask, dec, _ = batch()
    check_incremental_decoding(ours, ids, mask, dec)


def test_generate_matches_reference(tmp_path):
    ref, path = build(tmp_path)
    ours = BartForConditionalGeneration.from_pretrained(path)
    assert ours.can_generate()
    ids, mask, _, _ = batch()
    check_generate(ours, ref, ids, mask)


def test_round_trip(tmp_path):
    _, path = build(tmp_path)
    ours = BartForConditionalGeneration.from_pretrained(path)
    ids, mask, dec, dec_mask = batch()
    check_round_trip(
        ours,
        transformers.BartForConditionalGeneration,
        tmp_path,
        input_ids=ids,
        attention_mask=mask,
        decoder_input_ids=dec,
        decoder_attention_mask=dec_mask,
    )


def test_sequence_classification_matches_reference(tmp_path):
    ref, path = build(tmp_path, transformers.BartForSequenceClassification, "bart-nli")
    ours = AutoModelForSequenceClassification.from_pretrained(path)
    assert isinstance(ours, BartForSequenceClassification) and ours.config.num_labels == 3
    ids, mask, _, _ = batch()
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        a, b = (
            ours(input_ids=ids, attention_mask=mask, labels=labels),
            ref(input_ids=ids, attention_mask=mask, labels=labels),
        )
    torch.testing.assert_close(a.logits, b.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.loss, b.loss, atol=1e-5, rtol=1e-5)
    ids[0, 3] = EOS  # one row with two <eos>: pooling is ambiguous
    with pytest.raises(ValueError, match="same number of <eos>"):
        ours(input_ids=ids, attention_mask=mask)


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path):
    _, path = build(tmp_path)
    ids, mask, dec, _ = batch()
    grads = []
    for checkpointing in (False, True):
        model = BartForConditionalGeneration.from_pretrained(path, dropout=0.0)
        model.train()
        if checkpointing:
            model.gradient_checkpointing_enable()
        model(input_ids=ids, attention_mask=mask, labels=dec).loss.backward()
        grads.append(model.model.encoder.layers[0].fc1.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_resize_token_embeddings_keeps_final_logits_bias_in_step(tmp_path):
    _, path = build(tmp_path)
    ours = BartForConditionalGeneration.from_pretrained(path)
    ours.resize_token_embeddings(104)
    assert ours.final_logits_bias.shape == (1, 104) and ours.lm_head.weight.shape[0] == 104
    ids, mask, dec, _ = batch()
    assert ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits.shape[-1] == 104


def test_cache_reorders_copy_into_spare_buffers_and_skip_equal_cross_rows():
    """What beam search relies on: DynamicCache.reorder_cache equals a plain row gather step after
    step; the cross-attention cache is left alone when beams only move within their own input."""
    from leanformers.models.bart import repeated_rows
    from leanformers.nn.cache import DynamicCache, EncoderDecoderCache

    g = torch.Generator().manual_seed(0)
    cache, expected = DynamicCache(chunk=4), []
    for _ in range(6):
        k, v = torch.randn(6, 2, 1, 3, generator=g), torch.randn(6, 2, 1, 3, generator=g)
        cache.update(0, k, v)
        expected.append((k, v))
        idx = torch.randint(0, 6, (6,), generator=g)
        cache.reorder_cache(idx)
        expected = [(a[idx], b[idx]) for a, b in expected]
        keys, values = cache.layer(0)
        assert torch.equal(keys, torch.cat([a for a, _ in expected], dim=2))
        assert torch.equal(values, torch.cat([b for _, b in expected], dim=2))
    cache.batch_select_indices(torch.tensor([1, 4]))
    assert cache.layer(0)[0].shape[0] == 2

    encoder_out = torch.randn(2, 5, 8, generator=g).repeat_interleave(3, dim=0)  # 2 inputs x 3 beams
    firsts, runs = repeated_rows(encoder_out)
    assert firsts.tolist() == [0, 3] and runs.tolist() == [0, 0, 0, 1, 1, 1]
    assert repeated_rows(torch.randn(3, 5, 8, generator=g)) is None
    cross = DynamicCache(chunk=1)
    cross.update(0, encoder_out[:, None], encoder_out[:, None])
    both = EncoderDecoderCache(DynamicCache(), cross)
    both.self_attention_cache.update(0, torch.randn(6, 1, 1, 8), torch.randn(6, 1, 1, 8))
    both.cross_row_groups = runs
    before = cross.keys[0]
    both.reorder_cache(torch.tensor([2, 2, 0, 5, 3, 3]))  # within each input: nothing to copy
    assert cross.keys[0] is before
    both.reorder_cache(torch.tensor([3, 4, 5, 0, 1, 2]))  # across inputs (not beam search): copied
    assert torch.equal(cross.layer(0)[0][:, 0], encoder_out[[3, 4, 5, 0, 1, 2]])
    assert both.cross_row_groups.tolist() == [1, 1, 1, 0, 0, 0]
    both.batch_select_indices(torch.tensor([0, 1, 2]))
    assert both.cross_row_groups.tolist() == [1, 1, 1] and cross.layer(0)[0].shape[0] == 3
