"""T5 v1.0 (relu, tied head) and v1.1 (gated-gelu, untied head) parity with the reference on tiny
random checkpoints built at test time."""

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
from leanformers.models.t5 import (  # noqa: E402
    T5Config,
    T5EncoderModel,
    T5ForConditionalGeneration,
    T5Model,
    relative_position_bucket,
)

PAD, EOS = 0, 1
TINY = dict(
    vocab_size=99,
    d_model=32,
    d_kv=8,
    d_ff=37,
    num_layers=2,
    num_decoder_layers=3,
    num_heads=4,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=12,  # small, so the log-spaced buckets are exercised
    decoder_start_token_id=PAD,
)
VERSIONS = {
    "v1.0": dict(feed_forward_proj="relu", tie_word_embeddings=True),
    "v1.1": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
}


def build(tmp_path, version="v1.0", cls=None, **overrides):
    torch.manual_seed(0)
    cls = cls or transformers.T5ForConditionalGeneration
    ref = cls(transformers.T5Config(**{**TINY, **VERSIONS[version], **overrides})).eval()
    perturb(ref)
    path = tmp_path / f"t5-{version}"
    ref.save_pretrained(path)
    return ref, path


def batch(long: bool = False):
    lengths = (30, 12, 21) if long else (9, 5, 7)
    ids, mask = right_padded(TINY["vocab_size"], PAD, EOS, lengths=lengths, low=2)
    dec, dec_mask = decoder_batch(TINY["vocab_size"], PAD, length=20 if long else 6, low=2)
    return ids, mask, dec, dec_mask


def test_config():
    ours, ref = T5Config(), transformers.T5Config()
    for key, value in ref.to_dict().items():
        if hasattr(ours, key) and key not in ("transformers_version", "_name_or_path"):
            assert getattr(ours, key) == value, key
    v11 = T5Config(feed_forward_proj="gated-gelu")
    assert v11.is_gated_act and v11.dense_act_fn == "gelu_new" and v11.num_decoder_layers == 6
    assert T5Config(num_layers=3).num_hidden_layers == 3
    with pytest.raises(ValueError, match="feed_forward_proj"):
        T5Config(feed_forward_proj="gelu-relu")


def test_relative_position_buckets_match_the_reference():
    relative = torch.arange(-200, 200)[None, :] - torch.arange(0, 50)[:, None]
    bucket = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket
    for bidirectional in (True, False):
        for buckets, distance in ((32, 128), (8, 12)):
            expected = bucket(
                relative, bidirectional=bidirectional, num_buckets=buckets, max_distance=distance
            )
            assert torch.equal(relative_position_bucket(relative, bidirectional, buckets, distance), expected)


@pytest.mark.parametrize("version", VERSIONS)
def test_logits_match_reference(tmp_path, version):
    ref, path = build(tmp_path, version)
    ours = AutoModelForSeq2SeqLM.from_pretrained(path)
    assert isinstance(ours, T5ForConditionalGeneration)
    assert (ours.lm_head.weight is ours.shared.weight) == (version == "v1.0")
    ids, mask, dec, dec_mask = batch(long=True)
    assert_outputs_match(
        ours, ref, input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask
    )
    labels = dec.clone()
    labels[-1, -3:] = -100
    assert_outputs_match(ours, ref, input_ids=ids, attention_mask=mask, labels=labels)


def test_hidden_states_and_attentions(tmp_path):
    ref, path = build(tmp_path, "v1.1")
    ours = T5ForConditionalGeneration.from_pretrained(path)
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
    ):
        got, expected = getattr(a, field), getattr(b, field)
        assert len(got) == len(expected), field
        for x, y in zip(got, expected):
            torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)
    for x, y in zip(a.cross_attentions, b.cross_attentions):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


def test_base_and_encoder_models(tmp_path):
    ref, path = build(tmp_path, "v1.1")
    ids, mask, dec, dec_mask = batch()
    base = AutoModel.from_pretrained(path)
    assert isinstance(base, T5Model)
    encoder = T5EncoderModel.from_pretrained(path)  # the decoder and head are dropped
    with torch.no_grad():
        expected = ref(
            input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask
        )
        got = base(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask)
        torch.testing.assert_close(got.encoder_last_hidden_state, expected.encoder_last_hidden_state)
        ref_encoder = transformers.T5EncoderModel.from_pretrained(path).eval()
        torch.testing.assert_close(
            encoder(ids, attention_mask=mask).last_hidden_state,
            ref_encoder(ids, attention_mask=mask).last_hidden_state,
            atol=1e-5,
            rtol=1e-5,
        )
    assert (
        not encoder.config.is_encoder_decoder
        and encoder.config.is_encoder_decoder == ref_encoder.config.is_encoder_decoder
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_incremental_decoding_equals_full_forward(tmp_path, version):
    _, path = build(tmp_path, version)
    ours = T5ForConditionalGeneration.from_pretrained(path)
    ids, mask, dec, _ = batch(long=True)
    check_incremental_decoding(ours, ids, mask, dec)


@pytest.mark.parametrize("version", VERSIONS)
def test_generate_matches_reference(tmp_path, version):
    # equal depths: the reference's generate() sizes its cache by num_layers and fails otherwise
    ref, path = build(tmp_path, version, num_decoder_layers=TINY["num_layers"])
    ours = T5ForConditionalGeneration.from_pretrained(path)
    ids, mask, _, _ = batch()
    check_generate(ours, ref, ids, mask)


@pytest.mark.parametrize("version", VERSIONS)
def test_round_trip(tmp_path, version):
    _, path = build(tmp_path, version)
    ours = T5ForConditionalGeneration.from_pretrained(path)
    ids, mask, dec, _ = batch()
    check_round_trip(
        ours,
        transformers.T5ForConditionalGeneration,
        tmp_path,
        input_ids=ids,
        attention_mask=mask,
        decoder_input_ids=dec,
    )


def test_fp16_keeps_the_feed_forward_output_in_float32(tmp_path):
    ref, path = build(tmp_path, "v1.1")
    ours = T5ForConditionalGeneration.from_pretrained(path, dtype=torch.float16)
    ref16 = transformers.T5ForConditionalGeneration.from_pretrained(path, dtype=torch.float16).eval()
    wo = ours.encoder.block[0].layer[-1]["DenseReluDense"].wo.weight
    assert wo.dtype == torch.float32 and ours.shared.weight.dtype == torch.float16
    assert wo.dtype == ref16.encoder.block[0].layer[-1].DenseReluDense.wo.weight.dtype
    ids, mask, dec, _ = batch()
    with torch.no_grad():
        got = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        expected = ref16(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
    assert got.dtype == expected.dtype
    torch.testing.assert_close(got.float(), expected.float(), atol=1e-2, rtol=1e-2)
