"""from_pretrained / save_pretrained: heads, dtypes, devices, memory behaviour, bad input, atomic saves."""

from __future__ import annotations

import json
import logging
import os
import pickle

import pytest
import torch

import leanformers
from leanformers.hub import HubError
from test_encoders import make_inputs, max_diff, tiny_config, tiny_reference

transformers = pytest.importorskip("transformers")

ATOL = 1e-5


@pytest.fixture
def bert_base_ckpt(tmp_path):
    """A reference BertModel checkpoint (with pooler) in tmp_path/base."""
    tiny_reference("BertModel").save_pretrained(tmp_path / "base")
    return tmp_path / "base"


# ------------------------------------------------------------------------------------------------
# Heads
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["Bert", "Roberta", "XLMRoberta", "DistilBert"])
def test_base_checkpoint_into_classifier_initialises_the_new_head(arch, tmp_path, caplog):
    tiny_reference(f"{arch}Model").save_pretrained(tmp_path)
    name = f"{arch}ForSequenceClassification"
    with caplog.at_level(logging.WARNING, logger="leanformers"):
        ours, info = getattr(leanformers, name).from_pretrained(
            tmp_path, num_labels=3, output_loading_info=True
        )
    _, ref_info = getattr(transformers, name).from_pretrained(
        tmp_path, num_labels=3, output_loading_info=True
    )
    assert set(info["missing_keys"]) == set(ref_info["missing_keys"]) and info["missing_keys"]
    # the user is told which weights are new, as the reference tells them
    assert "newly initialized" in caplog.text and all(k in caplog.text for k in info["missing_keys"])
    head_weights = [p for k, p in ours.named_parameters() if k in info["missing_keys"]]
    assert all(p.device.type == "cpu" and torch.isfinite(p).all() for p in head_weights)
    for key in info["missing_keys"]:
        p = ours.get_parameter(key)
        if key.endswith("bias"):
            assert torch.all(p == 0), key
        else:
            assert 0.005 < p.std().item() < 0.04, key  # normal(0, initializer_range=0.02)
    # the encoder is the checkpoint's
    base = getattr(leanformers, f"{arch}Model").from_pretrained(tmp_path)
    inputs = make_inputs(base.config)
    with torch.no_grad():
        assert max_diff(ours.base_model(**inputs).last_hidden_state, base(**inputs).last_hidden_state) == 0


def test_task_checkpoint_into_the_base_model_drops_the_head(tmp_path):
    tiny_reference("BertForSequenceClassification").save_pretrained(tmp_path)
    ours, info = leanformers.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    ref, ref_info = transformers.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert type(ours).__name__ == "BertModel"
    assert info["missing_keys"] == []
    assert (
        set(info["unexpected_keys"])
        == set(ref_info["unexpected_keys"])
        == {"classifier.weight", "classifier.bias"}
    )
    inputs = make_inputs(ref.config)
    with torch.no_grad():
        o, r = ours(**inputs), ref.eval()(**inputs)
    assert max_diff(o.last_hidden_state, r.last_hidden_state) <= ATOL
    assert max_diff(o.pooler_output, r.pooler_output) <= ATOL


def test_num_labels_and_label_maps_override(bert_base_ckpt):
    model = leanformers.AutoModelForSequenceClassification.from_pretrained(bert_base_ckpt, num_labels=5)
    assert model.classifier.out_features == 5 and model.config.num_labels == 5
    assert model.config.id2label == {i: f"LABEL_{i}" for i in range(5)}
    id2label = {0: "NEGATIVE", 1: "POSITIVE"}
    model = leanformers.AutoModelForTokenClassification.from_pretrained(
        bert_base_ckpt, id2label=id2label, label2id={v: k for k, v in id2label.items()}
    )
    assert model.classifier.out_features == 2 and model.config.label2id == {"NEGATIVE": 0, "POSITIVE": 1}
    # kwargs that name config attributes override them; unknown ones are an error
    model = leanformers.AutoModel.from_pretrained(bert_base_ckpt, output_hidden_states=True)
    assert len(model(torch.tensor([[4, 5]])).hidden_states) == 3
    with pytest.raises(TypeError, match="not_an_option"):
        leanformers.AutoModel.from_pretrained(bert_base_ckpt, not_an_option=1)


def test_shape_mismatch_names_the_key_and_the_fix(tmp_path):
    tiny_reference("BertForSequenceClassification", num_labels=3).save_pretrained(tmp_path)
    with pytest.raises(ValueError) as e:
        leanformers.BertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    assert "classifier.weight" in str(e.value) and "ignore_mismatched_sizes=True" in str(e.value)
    assert "classifier.bias" in str(e.value) and "(3, 32)" in str(e.value) and "(5, 32)" in str(e.value)

    ours, info = leanformers.BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    _, ref_info = transformers.BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert (
        set(info["mismatched_keys"])
        == set(ref_info["mismatched_keys"])
        == {"classifier.weight", "classifier.bias"}
    )
    assert info["missing_keys"] == ref_info["missing_keys"] == []
    assert ours.classifier.weight.shape == (5, 32) and torch.all(ours.classifier.bias == 0)


def test_output_loading_info_shape(bert_base_ckpt):
    model, info = leanformers.BertModel.from_pretrained(bert_base_ckpt, output_loading_info=True)
    assert isinstance(model, leanformers.BertModel)
    assert set(info) == {"missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"}
    assert all(v == [] for v in info.values())


def test_legacy_checkpoint_keys_load(tmp_path):
    """gamma/beta LayerNorm names and a saved position_ids buffer (old BERT checkpoints)."""
    ref = tiny_reference("BertModel")
    sd = {
        k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
        for k, v in ref.state_dict().items()
    }
    sd["embeddings.position_ids"] = torch.arange(64)[None]
    ref.config.save_pretrained(tmp_path)
    torch.save(sd, tmp_path / "pytorch_model.bin")
    ours, info = leanformers.BertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert all(v == [] for v in info.values())
    inputs = make_inputs(ref.config)
    with torch.no_grad():
        assert max_diff(ours(**inputs).last_hidden_state, ref(**inputs).last_hidden_state) <= ATOL


def test_loading_does_not_initialise_weights_the_checkpoint_provides(bert_base_ckpt, monkeypatch):
    calls = []
    original = torch.nn.init.normal_

    def counting_normal(tensor, *args, **kwargs):
        if not tensor.is_meta:  # initialising a meta tensor (while building the module) costs nothing
            calls.append(tuple(tensor.shape))
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "normal_", counting_normal)
    leanformers.BertModel.from_pretrained(bert_base_ckpt)
    assert calls == []
    leanformers.BertForSequenceClassification.from_pretrained(bert_base_ckpt, num_labels=4)
    assert calls == [(4, 32)]  # only the new classifier


def test_safetensors_weights_are_memory_mapped_not_copied(bert_base_ckpt):
    """A float32 load keeps the tensors in the memory-mapped file: no second copy of the weights."""
    path = os.path.realpath(bert_base_ckpt / "model.safetensors")
    model = leanformers.BertModel.from_pretrained(bert_base_ckpt)
    with open("/proc/self/maps") as f:  # Linux: which address ranges map the checkpoint file
        ranges = [
            tuple(int(x, 16) for x in line.split()[0].split("-"))
            for line in f
            if line.rstrip().endswith(path)
        ]
    assert ranges, "the checkpoint is not memory-mapped"
    for key, p in model.named_parameters():
        assert any(lo <= p.data_ptr() < hi for lo, hi in ranges), f"{key} was copied out of the mapped file"
    assert not any(p.is_meta for p in model.parameters())


# ------------------------------------------------------------------------------------------------
# dtype and device
# ------------------------------------------------------------------------------------------------
def test_dtypes(tmp_path):
    ref = tiny_reference("BertForMaskedLM")
    ref.to(torch.bfloat16).save_pretrained(tmp_path)
    inputs = make_inputs(ref.config)

    default = leanformers.BertForMaskedLM.from_pretrained(tmp_path)
    assert default.dtype == torch.float32  # like the reference: float32 unless asked
    assert transformers.BertForMaskedLM.from_pretrained(tmp_path).dtype == torch.float32
    auto = leanformers.BertForMaskedLM.from_pretrained(tmp_path, dtype="auto")
    ref_auto = transformers.BertForMaskedLM.from_pretrained(tmp_path, dtype="auto").eval()
    assert auto.dtype == ref_auto.dtype == torch.bfloat16
    assert auto.config.dtype == "bfloat16"
    with torch.no_grad():
        assert max_diff(auto(**inputs).logits, ref_auto(**inputs).logits) <= 0.05
    for kwargs, wanted in (
        ({"dtype": torch.bfloat16}, torch.bfloat16),
        ({"dtype": torch.float32}, torch.float32),
        ({"dtype": "float16"}, torch.float16),
        ({"torch_dtype": torch.float16}, torch.float16),  # the pre-4.56 spelling
    ):
        model = leanformers.BertForMaskedLM.from_pretrained(tmp_path, **kwargs)
        assert {p.dtype for p in model.parameters()} == {wanted}, kwargs
    # tied weights survive the cast
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    with pytest.raises(ValueError, match="Unknown dtype"):
        leanformers.BertForMaskedLM.from_pretrained(tmp_path, dtype="float17")

    # a float32 save of a bfloat16 model records its dtype, and "auto" reads it back
    auto.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["dtype"] == "bfloat16"
    assert (
        leanformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "again", dtype="auto").dtype
        == torch.bfloat16
    )


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_device_argument(device, bert_base_ckpt):
    for kwargs in ({"device": device}, {"device_map": device}):
        model = leanformers.BertForSequenceClassification.from_pretrained(bert_base_ckpt, **kwargs)
        assert {p.device.type for p in model.parameters()} == {device}
        ids = torch.tensor([[4, 5, 6]], device=device)
        assert model(ids, attention_mask=torch.ones_like(ids)).logits.device.type == device
    ref = transformers.BertModel.from_pretrained(bert_base_ckpt).eval()
    ours = leanformers.BertModel.from_pretrained(bert_base_ckpt, device=device)
    inputs = make_inputs(ref.config)
    with torch.no_grad():
        o = ours(**{k: v.to(device) for k, v in inputs.items()}).last_hidden_state.cpu()
        assert max_diff(o, ref(**inputs).last_hidden_state) <= (ATOL if device == "cpu" else 1e-4)


# ------------------------------------------------------------------------------------------------
# Bad input: each a clear message naming the problem and the fix
# ------------------------------------------------------------------------------------------------
def test_folder_that_does_not_exist(tmp_path):
    missing = tmp_path / "no" / "such" / "model"
    with pytest.raises(OSError) as e:
        leanformers.AutoModel.from_pretrained(missing)
    assert str(missing) in str(e.value) and "not an existing folder" in str(e.value)
    with pytest.raises(OSError, match="not an existing folder"):
        leanformers.BertModel.from_pretrained("./relative/missing/folder")


def test_folder_without_config(tmp_path, bert_base_ckpt):
    (bert_base_ckpt / "config.json").unlink()
    with pytest.raises(HubError) as e:
        leanformers.AutoModel.from_pretrained(bert_base_ckpt)
    assert "config.json" in str(e.value) and "model.safetensors" in str(e.value)


def test_folder_without_weights(tmp_path, bert_base_ckpt):
    (bert_base_ckpt / "model.safetensors").unlink()
    with pytest.raises(HubError) as e:
        leanformers.AutoModel.from_pretrained(bert_base_ckpt)
    assert "No weights found" in str(e.value) and "model.safetensors" in str(e.value)
    assert "pytorch_model.bin" in str(e.value)


def test_unknown_model_type_lists_supported_ones(bert_base_ckpt):
    config = json.loads((bert_base_ckpt / "config.json").read_text())
    config["model_type"] = "bort"
    (bert_base_ckpt / "config.json").write_text(json.dumps(config))
    for auto in (leanformers.AutoModel, leanformers.AutoConfig):
        with pytest.raises(ValueError) as e:
            auto.from_pretrained(bert_base_ckpt)
        assert "'bort'" in str(e.value)
        assert all(t in str(e.value) for t in ("bert", "distilbert", "roberta", "xlm-roberta"))
    del config["model_type"]
    (bert_base_ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="no 'model_type'"):
        leanformers.AutoModel.from_pretrained(bert_base_ckpt)


def test_head_without_architecture(bert_base_ckpt):
    """A model type that exists but has no such head: the error lists the types that do."""
    config = json.loads((bert_base_ckpt / "config.json").read_text())
    config["model_type"] = "gpt2"
    (bert_base_ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError) as e:
        leanformers.AutoModelForTokenClassification.from_pretrained(bert_base_ckpt)
    assert (
        "AutoModelForTokenClassification" in str(e.value)
        and "'gpt2'" in str(e.value)
        and "bert" in str(e.value)
    )


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_safetensors(damage, bert_base_ckpt):
    path = bert_base_ckpt / "model.safetensors"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x93NUMPY" + os.urandom(200))
    else:
        path.write_bytes(b"")
    with pytest.raises(OSError) as e:
        leanformers.AutoModel.from_pretrained(bert_base_ckpt)
    message = str(e.value)
    assert str(path) in message and "truncated or corrupted" in message and "force_download=True" in message


class _CreatesAFile:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_bin_with_python_objects_is_refused_without_running_them(tmp_path, bert_base_ckpt):
    marker = tmp_path / "pwned"
    ref = transformers.BertModel.from_pretrained(bert_base_ckpt)
    sd = dict(ref.state_dict())
    sd["payload"] = _CreatesAFile(str(marker))
    (bert_base_ckpt / "model.safetensors").unlink()
    torch.save(sd, bert_base_ckpt / "pytorch_model.bin")
    assert not marker.exists()
    with pytest.raises(OSError) as e:
        leanformers.AutoModel.from_pretrained(bert_base_ckpt)
    assert not marker.exists(), "unpickling executed code from the checkpoint"
    assert "Refused" in str(e.value) and "pytorch_model.bin" in str(e.value) and "safetensors" in str(e.value)

    # a plain pickle (not a torch zip file) is refused too
    with open(bert_base_ckpt / "pytorch_model.bin", "wb") as f:
        pickle.dump({"payload": _CreatesAFile(str(marker))}, f)
    with pytest.raises(OSError):
        leanformers.AutoModel.from_pretrained(bert_base_ckpt)
    assert not marker.exists()


def test_bin_holding_no_state_dict(bert_base_ckpt):
    (bert_base_ckpt / "model.safetensors").unlink()
    torch.save([torch.zeros(2)], bert_base_ckpt / "pytorch_model.bin")
    with pytest.raises(OSError, match="does not hold a state dict"):
        leanformers.AutoModel.from_pretrained(bert_base_ckpt)


def test_offline_with_nothing_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError) as e:
        leanformers.AutoModel.from_pretrained("some-org/some-model")
    message = str(e.value)
    assert "some-org/some-model" in message and "offline" in message and "cache import" in message


# ------------------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------------------
def test_interrupted_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    model = leanformers.BertModel.from_config(
        leanformers.BertConfig.from_dict(tiny_config("Bert").to_diff_dict())
    )
    model.save_pretrained(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    import safetensors.torch

    real_save_file = safetensors.torch.save_file

    def dies_halfway(tensors, filename, metadata=None):
        real_save_file(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as f:  # half a file on disk, then the process "dies"
            f.truncate(os.path.getsize(filename) // 2)
        raise KeyboardInterrupt("simulated crash mid-write")

    monkeypatch.setattr(safetensors.torch, "save_file", dies_halfway)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        model.save_pretrained(tmp_path)
    after = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    assert after.keys() == before.keys(), "a temporary or half-written file was left behind"
    assert after["model.safetensors"] == before["model.safetensors"]
    monkeypatch.undo()
    leanformers.BertModel.from_pretrained(tmp_path)  # still loads


def test_save_into_a_file_path_is_an_error(tmp_path):
    model = leanformers.BertModel.from_config(
        leanformers.BertConfig.from_dict(tiny_config("Bert").to_diff_dict())
    )
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        model.save_pretrained(tmp_path / "file")
