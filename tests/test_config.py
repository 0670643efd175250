"""PretrainedConfig and the encoder configs: defaults, overrides, labels, JSON round trips, AutoConfig."""

from __future__ import annotations

import json

import pytest

import leanformers
from leanformers.configuration import PretrainedConfig

transformers = pytest.importorskip("transformers")

CONFIGS = ["BertConfig", "DistilBertConfig", "RobertaConfig", "XLMRobertaConfig"]


@pytest.mark.parametrize("name", CONFIGS)
def test_defaults_match_the_reference(name):
    ours, ref = getattr(leanformers, name)(), getattr(transformers, name)()
    assert ours.model_type == ref.model_type
    for key in type(ours).defaults:
        assert getattr(ours, key) == getattr(ref, key), key
    for key in (
        "hidden_size",
        "num_attention_heads",
        "num_hidden_layers",
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
        "tie_word_embeddings",
        "is_encoder_decoder",
        "num_labels",
        "id2label",
    ):
        assert getattr(ours, key) == getattr(ref, key), key


@pytest.mark.parametrize("name", CONFIGS)
def test_reference_config_json_loads_and_ours_loads_in_the_reference(name, tmp_path):
    ref = getattr(transformers, name)(
        vocab_size=123, id2label={0: "a", 1: "b", 2: "c"}, label2id={"a": 0, "b": 1, "c": 2}
    )
    ref.save_pretrained(tmp_path / "ref")
    ours = leanformers.AutoConfig.from_pretrained(tmp_path / "ref")
    assert type(ours).__name__ == name
    assert ours.vocab_size == 123 and ours.id2label == {0: "a", 1: "b", 2: "c"} and ours.label2id["b"] == 1
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.AutoConfig.from_pretrained(tmp_path / "ours")
    assert type(back).__name__ == name
    mine, theirs = back.to_dict(), ref.to_dict()
    for key in set(mine) | set(theirs):
        if key in ("_name_or_path", "transformers_version", "dtype", "torch_dtype"):
            continue
        assert mine.get(key) == theirs.get(key), key


def test_distilbert_keeps_its_keys_with_aliases(tmp_path):
    config = leanformers.DistilBertConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=8)
    assert (config.dim, config.n_layers, config.n_heads) == (64, 3, 8)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (64, 3, 8)
    config.hidden_size = 128
    assert config.dim == 128
    data = config.to_dict()
    assert data["dim"] == 128 and "hidden_size" not in data
    config.save_pretrained(tmp_path)
    on_disk = json.loads((tmp_path / "config.json").read_text())
    assert on_disk["dim"] == 128 and on_disk["n_layers"] == 3 and "hidden_size" not in on_disk
    assert transformers.DistilBertConfig.from_pretrained(tmp_path).hidden_size == 128
    assert leanformers.DistilBertConfig.from_pretrained(tmp_path, hidden_size=32).dim == 32


def test_labels_are_int_keys_in_python_and_str_keys_in_json(tmp_path):
    config = leanformers.BertConfig(id2label={"0": "NEG", "1": "POS"})
    assert config.id2label == {0: "NEG", 1: "POS"} and config.label2id == {"NEG": 0, "POS": 1}
    assert config.num_labels == 2
    config.save_pretrained(tmp_path)
    on_disk = json.loads((tmp_path / "config.json").read_text())
    assert on_disk["id2label"] == {"0": "NEG", "1": "POS"} and on_disk["label2id"] == {"NEG": 0, "POS": 1}
    assert leanformers.BertConfig.from_pretrained(tmp_path).id2label == {0: "NEG", 1: "POS"}
    # num_labels resizes the maps, as the reference does
    config.num_labels = 4
    assert config.id2label == {i: f"LABEL_{i}" for i in range(4)}
    assert leanformers.BertConfig.from_pretrained(tmp_path, num_labels=3).id2label == {
        0: "LABEL_0",
        1: "LABEL_1",
        2: "LABEL_2",
    }
    assert leanformers.BertConfig.from_pretrained(tmp_path, num_labels=2).id2label == {0: "NEG", 1: "POS"}


def test_unknown_keys_survive_a_round_trip(tmp_path):
    data = leanformers.BertConfig(vocab_size=50).to_diff_dict()
    data.update(
        {"my_custom_key": {"nested": [1, 2, 3]}, "gradient_checkpointing": False, "summary_type": "first"}
    )
    (tmp_path / "config.json").write_text(json.dumps(data))
    config = leanformers.AutoConfig.from_pretrained(tmp_path)
    assert config.my_custom_key == {"nested": [1, 2, 3]} and config.summary_type == "first"
    config.save_pretrained(tmp_path / "again")
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    for key in ("my_custom_key", "gradient_checkpointing", "summary_type"):
        assert again[key] == data[key], key
    assert transformers.AutoConfig.from_pretrained(tmp_path / "again").my_custom_key == {"nested": [1, 2, 3]}


def test_from_dict_to_dict_and_overrides():
    config = leanformers.BertConfig.from_dict(
        {"hidden_size": 64, "model_type": "bert"}, output_hidden_states=True
    )
    assert config.hidden_size == 64 and config.output_hidden_states is True
    config, unused = leanformers.BertConfig.from_dict({"hidden_size": 64}, return_unused_kwargs=True, foo=1)
    assert unused == {"foo": 1}
    data = config.to_dict()
    assert data["model_type"] == "bert" and data["hidden_size"] == 64 and "num_labels" not in data
    assert leanformers.BertConfig.from_dict(data) == config
    assert leanformers.BertConfig.from_dict(data, hidden_size=32) != config


def test_from_pretrained_accepts_a_json_file_and_kwargs(tmp_path):
    leanformers.RobertaConfig(num_hidden_layers=2).save_pretrained(tmp_path)
    config = leanformers.RobertaConfig.from_pretrained(tmp_path / "config.json", num_labels=3)
    assert config.num_hidden_layers == 2 and config.num_labels == 3
    config, unused = leanformers.AutoConfig.from_pretrained(tmp_path, return_unused_kwargs=True, not_a_key=5)
    assert isinstance(config, leanformers.RobertaConfig) and unused == {"not_a_key": 5}


def test_auto_config_for_model_and_dtype_spellings():
    config = leanformers.AutoConfig.for_model("distilbert", dim=16)
    assert isinstance(config, leanformers.DistilBertConfig) and config.hidden_size == 16
    assert leanformers.BertConfig(torch_dtype="float16").dtype == "float16"
    assert leanformers.BertConfig(dtype="bfloat16").torch_dtype == "bfloat16"
    with pytest.raises(ValueError, match="Supported"):
        leanformers.AutoConfig.for_model("bort")


def test_invalid_values_are_errors():
    with pytest.raises(ValueError, match="problem_type"):
        leanformers.BertConfig(problem_type="ranking")
    with pytest.raises(ValueError, match="id2label"):
        leanformers.BertConfig(id2label=["a", "b"])


def test_config_json_is_written_atomically_and_sorted(tmp_path):
    config = leanformers.BertConfig(vocab_size=10)
    config.save_pretrained(tmp_path)
    text = (tmp_path / "config.json").read_text()
    keys = list(json.loads(text))
    assert keys == sorted(keys) and text.endswith("\n")
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp files left behind
    assert isinstance(config, PretrainedConfig)
    assert "vocab_size" in repr(config)
