"""Data collators: same outputs as the reference's collators on the same features and tokenizer
(leanformers' collators with leanformers' tokenizer, the reference's with its own)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

import leanformers
from leanformers.training import DataCollatorForLanguageModeling, default_data_collator

WORDS = ["the", "movie", "was", "great", "bad", "awful", "good", "plot", "acting", "fine", "boring", "fun"]


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok")
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    transformers.BertTokenizerFast(str(path / "vocab.txt")).save_pretrained(str(path / "tok"))
    return str(path / "tok")


def _tokenizers(tok_dir, padding_side="right"):
    ref = transformers.AutoTokenizer.from_pretrained(tok_dir)
    ours = leanformers.AutoTokenizer.from_pretrained(tok_dir)
    ref.padding_side = ours.padding_side = padding_side
    return ref, ours


def _features(tokenizer, n=5, seed=0, **kwargs):
    g = torch.Generator().manual_seed(seed)
    texts = [
        " ".join(WORDS[int(j)] for j in torch.randint(0, len(WORDS), (int(k),), generator=g))
        for k in torch.randint(1, 9, (n,), generator=g)
    ]
    enc = tokenizer(texts, **kwargs)
    return [{k: enc[k][i] for k in enc} for i in range(n)]


def _assert_same(ours: dict, ref: dict) -> None:
    assert sorted(ours) == sorted(ref)
    for key in ref:
        if ref[key] is None:
            assert ours[key] is None
            continue
        a, b = np.asarray(ours[key]), np.asarray(ref[key])
        assert a.dtype == b.dtype, key
        np.testing.assert_array_equal(a, b, err_msg=key)


@pytest.mark.parametrize(
    "kwargs, side",
    [
        ({}, "right"),
        ({"pad_to_multiple_of": 8}, "right"),
        ({"padding": "max_length", "max_length": 16}, "right"),
        ({}, "left"),
    ],
)
def test_padding_collator(tok_dir, kwargs, side):
    ref_tok, our_tok = _tokenizers(tok_dir, side)
    out = []
    for lib, tok in ((transformers, ref_tok), (leanformers, our_tok)):
        feats = _features(tok)
        for i, f in enumerate(feats):
            f["label"] = i % 2
        out.append(lib.DataCollatorWithPadding(tok, **kwargs)(feats))
    _assert_same(dict(out[1]), dict(out[0]))
    assert "labels" in out[1] and "label" not in out[1]


@pytest.mark.parametrize("side, label_key", [("right", "labels"), ("left", "labels"), ("right", "label")])
def test_token_classification_collator(tok_dir, side, label_key):
    ref_tok, our_tok = _tokenizers(tok_dir, side)
    out = []
    for lib, tok in ((transformers, ref_tok), (leanformers, our_tok)):
        feats = _features(tok, n=4, seed=1)
        for f in feats:
            f[label_key] = [j % 3 for j in range(len(f["input_ids"]))]
        out.append(lib.DataCollatorForTokenClassification(tok, pad_to_multiple_of=4)(feats))
    _assert_same(dict(out[1]), dict(out[0]))
    assert (out[1][label_key] == -100).any()


class _ShiftRight:
    """Stands in for a seq2seq model: decoder inputs = labels shifted right (start id 2, -100 -> pad)."""

    def prepare_decoder_input_ids_from_labels(self, labels):
        shifted = torch.full_like(labels, 2)
        shifted[:, 1:] = labels[:, :-1]
        return shifted.masked_fill(shifted == -100, 0)


@pytest.mark.parametrize("kwargs", [{}, {"pad_to_multiple_of": 8}, {"model": _ShiftRight()}])
def test_seq2seq_collator(tok_dir, kwargs):
    ref_tok, our_tok = _tokenizers(tok_dir)
    out = []
    for lib, tok in ((transformers, ref_tok), (leanformers, our_tok)):
        feats = _features(tok, n=4, seed=2)
        targets = _features(tok, n=4, seed=3)
        for f, t in zip(feats, targets):
            f["labels"] = t["input_ids"]
        out.append(lib.DataCollatorForSeq2Seq(tok, **kwargs)(feats))
    _assert_same(dict(out[1]), dict(out[0]))


@pytest.mark.parametrize("as_dicts", [True, False])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": 123},
        {"seed": 7, "mask_replace_prob": 0.5, "random_replace_prob": 0.3},
        {"seed": 5, "mlm_probability": 0.5, "pad_to_multiple_of": 8},
    ],
)
def test_mlm_collator_same_masks(tok_dir, as_dicts, kwargs):
    ref_tok, our_tok = _tokenizers(tok_dir)
    out = []
    for lib, tok in ((transformers, ref_tok), (leanformers, our_tok)):
        feats = _features(tok, n=6, seed=4, return_special_tokens_mask=as_dicts)
        examples = feats if as_dicts else [f["input_ids"] for f in feats]
        collator = lib.DataCollatorForLanguageModeling(tok, **kwargs)
        out.append([dict(collator(examples)) for _ in range(3)])  # the generator advances between batches
    for ours, ref in zip(out[1], out[0]):
        _assert_same(ours, ref)


def test_mlm_collator_global_rng_and_causal(tok_dir):
    ref_tok, our_tok = _tokenizers(tok_dir)
    out = []
    for lib, tok in ((transformers, ref_tok), (leanformers, our_tok)):
        feats = _features(tok, n=5, seed=6)
        torch.manual_seed(0)
        mlm = dict(lib.DataCollatorForLanguageModeling(tok)(feats))
        causal = dict(lib.DataCollatorForLanguageModeling(tok, mlm=False)(feats))
        out.append((mlm, causal))
    _assert_same(out[1][0], out[0][0])
    _assert_same(out[1][1], out[0][1])
    assert (out[1][1]["labels"] == -100).any()  # padding is ignored by the causal loss


def test_mlm_80_10_10(tok_dir):
    _, tok = _tokenizers(tok_dir)
    ids = torch.randint(5, len(tok), (400, 64), generator=torch.Generator().manual_seed(0))
    inputs, labels = DataCollatorForLanguageModeling(tok, seed=1).torch_mask_tokens(
        ids.clone(), torch.zeros_like(ids)
    )
    masked = labels != -100
    assert 0.13 < masked.float().mean() < 0.17
    assert torch.equal(labels[masked], ids[masked])
    as_mask = (inputs == tok.mask_token_id) & masked
    kept = (inputs == ids) & masked
    randomized = masked & ~as_mask & ~kept
    total = masked.sum().item()
    assert 0.77 < as_mask.sum().item() / total < 0.83
    assert 0.07 < kept.sum().item() / total < 0.13
    assert 0.06 < randomized.sum().item() / total < 0.12


def test_mlm_needs_mask_token(tok_dir):
    _, tok = _tokenizers(tok_dir)

    class NoMask:
        mask_token = None

    with pytest.raises(ValueError, match="mlm=False"):
        DataCollatorForLanguageModeling(NoMask())
    with pytest.raises(ValueError, match="must not exceed 1"):
        DataCollatorForLanguageModeling(tok, mask_replace_prob=0.9, random_replace_prob=0.2)


@pytest.mark.parametrize(
    "features",
    [
        [
            {"input_ids": [1, 2, 3], "label": 1, "text": "a"},
            {"input_ids": [4, 5, 6], "label": 0, "text": "b"},
        ],
        [{"input_ids": [1, 2], "label": 0.5}, {"input_ids": [3, 4], "label": 1.5}],
        [{"x": torch.ones(2, 3), "label_ids": [1, 2]}, {"x": torch.zeros(2, 3), "label_ids": [3, 4]}],
        [
            {"x": np.arange(4), "label_ids": torch.tensor([1.0, 2.0])},
            {"x": np.arange(4), "label_ids": torch.tensor([0.0, 1.0])},
        ],
        [
            {"input_ids": [1, 2], "label": None, "extra": None},
            {"input_ids": [3, 4], "label": None, "extra": None},
        ],
    ],
)
def test_default_data_collator(features):
    ref = transformers.default_data_collator(features)
    ours = default_data_collator(features)
    _assert_same(ours, ref)
    np_ours = default_data_collator(features, return_tensors="np")
    assert all(isinstance(v, np.ndarray) for v in np_ours.values())


def test_default_collator_ragged_inputs_explain_padding():
    with pytest.raises(ValueError, match="DataCollatorWithPadding"):
        default_data_collator([{"input_ids": [1, 2, 3]}, {"input_ids": [4]}])
