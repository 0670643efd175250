"""Hub resolution through huggingface_hub against a loopback server (tests/hub_server.py): download
into the cache with the Hub layout, offline use of the cache, errors, cache_dir / subfolder / revision,
and `leanformers cache import`."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import huggingface_hub
import pytest
import torch

import leanformers
from hub_server import HubServer
from leanformers.hub import HubError, resolve_file
from test_encoders import make_inputs, max_diff, tiny_reference

transformers = pytest.importorskip("transformers")


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """HF_HOME in tmp_path, online, no token; returns the Hub cache folder."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    for var in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    # huggingface_hub reads HF_HUB_OFFLINE once at import; a CI that sets it globally must not break these tests.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return tmp_path / "hf_home" / "hub"


@pytest.fixture
def tiny_bert(tmp_path):
    folder = tmp_path / "tiny-bert"
    tiny_reference("BertForSequenceClassification").save_pretrained(folder)
    return folder


def go_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_download_into_the_cache_then_offline(hub_env, tiny_bert, monkeypatch):
    expected_model = leanformers.BertForSequenceClassification.from_pretrained(tiny_bert)
    inputs = make_inputs(expected_model.config)
    with torch.no_grad():
        expected = expected_model(**inputs).logits

    with HubServer({"org/tiny-bert": tiny_bert}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        model = leanformers.AutoModelForSequenceClassification.from_pretrained("org/tiny-bert")
        # the weights came through the LFS redirect
        assert any(path.startswith("/lfs/") for _, path in hub.requests)
        commit = hub.repos["org/tiny-bert"]["main"].commit
    with torch.no_grad():
        assert max_diff(model(**inputs).logits, expected) == 0
    assert model.config.name_or_path == "org/tiny-bert"

    # the Hub cache layout: refs/main -> commit, snapshots/<commit>/<file> -> ../../blobs/<etag>
    repo_dir = hub_env / "models--org--tiny-bert"
    assert (repo_dir / "refs" / "main").read_text() == commit
    snapshot = repo_dir / "snapshots" / commit
    assert sorted(os.listdir(snapshot)) == ["config.json", "model.safetensors"]
    for name in os.listdir(snapshot):
        assert (snapshot / name).is_symlink()
        assert os.path.realpath(snapshot / name).startswith(str(repo_dir / "blobs"))
        assert (snapshot / name).read_bytes() == (tiny_bert / name).read_bytes()
    import hashlib

    sha256 = hashlib.sha256((tiny_bert / "model.safetensors").read_bytes()).hexdigest()
    assert os.path.basename(os.path.realpath(snapshot / "model.safetensors")) == sha256

    # server gone + offline: loads from the cache
    go_offline(monkeypatch)
    again = leanformers.AutoModelForSequenceClassification.from_pretrained("org/tiny-bert")
    with torch.no_grad():
        assert max_diff(again(**inputs).logits, expected) == 0
    # server gone, not offline: the unreachable Hub falls back to the cache (as the reference does);
    # huggingface_hub's connection retries (~20 s per file) are turned off to keep the test fast
    monkeypatch.delenv("HF_HUB_OFFLINE")
    from huggingface_hub import file_download
    from huggingface_hub.utils import http_backoff

    monkeypatch.setattr(file_download, "http_backoff", functools.partial(http_backoff, max_retries=0))
    leanformers.AutoModelForSequenceClassification.from_pretrained("org/tiny-bert")
    # ... and the reference library reads the cache we filled
    ref = transformers.AutoModelForSequenceClassification.from_pretrained(
        "org/tiny-bert", cache_dir=str(hub_env), local_files_only=True
    ).eval()
    with torch.no_grad():
        assert max_diff(ref(**inputs).logits, expected) <= 1e-5


def test_offline_mode_makes_no_request(hub_env, tiny_bert, monkeypatch):
    with HubServer({"org/tiny-bert": tiny_bert}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        leanformers.AutoModel.from_pretrained("org/tiny-bert")
        n = len(hub.requests)
        go_offline(monkeypatch)
        leanformers.AutoModel.from_pretrained("org/tiny-bert")
        leanformers.AutoModel.from_pretrained("org/tiny-bert", local_files_only=True)
        assert len(hub.requests) == n, hub.requests[n:]
        with pytest.raises(HubError, match="offline"):
            leanformers.AutoModel.from_pretrained("org/never-downloaded")
        assert len(hub.requests) == n
        # force_download goes back to the server once online again
        monkeypatch.delenv("HF_HUB_OFFLINE")
        leanformers.AutoModel.from_pretrained("org/tiny-bert", force_download=True)
        assert len(hub.requests) > n


def test_missing_file_and_unknown_repo(hub_env, tiny_bert, monkeypatch):
    (tiny_bert / "model.safetensors").unlink()
    with HubServer({"org/no-weights": tiny_bert}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(HubError) as e:
            leanformers.AutoModel.from_pretrained("org/no-weights")
        assert "No weights found in org/no-weights" in str(e.value)
        with pytest.raises(HubError, match="org/no-weights has no file tokenizer.json"):
            resolve_file("org/no-weights", "tokenizer.json")
        assert resolve_file("org/no-weights", "tokenizer.json", required=False) is None
        with pytest.raises(HubError) as e:
            leanformers.AutoModel.from_pretrained("org/does-not-exist")
        assert "'org/does-not-exist' is neither a local folder nor a repository on the Hub" in str(e.value)
        with pytest.raises(HubError, match="has no revision 'v9'"):
            leanformers.AutoConfig.from_pretrained("org/no-weights", revision="v9")
    # optional files the Hub said are absent stay absent offline; required ones name the fix
    go_offline(monkeypatch)
    assert resolve_file("org/no-weights", "tokenizer.json", required=False) is None
    assert resolve_file("org/no-weights", "vocab.txt", required=False) is None
    with pytest.raises(HubError) as e:
        resolve_file("org/no-weights", "vocab.txt")
    assert "cache import" in str(e.value) and "org/no-weights" in str(e.value)


def test_sharded_and_bin_checkpoints_download(hub_env, tmp_path, monkeypatch):
    ref = tiny_reference("RobertaForMaskedLM")
    ref.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    ref.save_pretrained(tmp_path / "bin", safe_serialization=False)
    inputs = make_inputs(ref.config)
    with torch.no_grad():
        expected = ref(**inputs).logits
    with HubServer({"org/sharded": tmp_path / "sharded", "org/bin": tmp_path / "bin"}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        for repo in ("org/sharded", "org/bin"):
            model = leanformers.AutoModelForMaskedLM.from_pretrained(repo)
            with torch.no_grad():
                assert max_diff(model(**inputs).logits, expected) <= 1e-5, repo


def test_cache_dir_subfolder_and_revision(hub_env, tmp_path, monkeypatch):
    v1 = tmp_path / "v1"
    tiny_reference("BertModel", seed=1).save_pretrained(v1 / "encoder")
    v2 = tmp_path / "v2"
    tiny_reference("BertModel", seed=2).save_pretrained(v2 / "encoder")
    custom = tmp_path / "custom-cache"
    ids = torch.tensor([[5, 6, 7]])

    def out(model):
        with torch.no_grad():
            return model(ids).last_hidden_state

    with HubServer({"org/multi": {"main": v1, "v2": v2}}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        main = leanformers.AutoModel.from_pretrained("org/multi", subfolder="encoder", cache_dir=custom)
        second = leanformers.AutoModel.from_pretrained(
            "org/multi", subfolder="encoder", revision="v2", cache_dir=custom
        )
        by_commit = leanformers.AutoModel.from_pretrained(
            "org/multi", subfolder="encoder", revision=hub.repos["org/multi"]["v2"].commit, cache_dir=custom
        )
        with pytest.raises(HubError, match="has no file"):  # the files are in the subfolder
            leanformers.AutoModel.from_pretrained("org/multi", cache_dir=custom)
    assert max_diff(out(main), out(leanformers.AutoModel.from_pretrained(v1 / "encoder"))) == 0
    assert max_diff(out(second), out(leanformers.AutoModel.from_pretrained(v2 / "encoder"))) == 0
    assert max_diff(out(by_commit), out(second)) == 0
    assert (custom / "models--org--multi" / "refs" / "v2").exists()
    assert not hub_env.exists(), "cache_dir= must be used instead of HF_HOME"
    go_offline(monkeypatch)
    again = leanformers.AutoModel.from_pretrained(
        "org/multi", subfolder="encoder", revision="v2", cache_dir=custom
    )
    assert max_diff(out(again), out(second)) == 0
    # a local folder with subfolder= works the same way
    assert max_diff(out(leanformers.AutoModel.from_pretrained(v1, subfolder="encoder")), out(main)) == 0


def test_server_model_info_route(hub_env, tiny_bert):
    """The fixture's /api/models route answers huggingface_hub's model_info like the Hub does."""
    with HubServer({"org/tiny-bert": tiny_bert}) as hub:
        info = huggingface_hub.HfApi(endpoint=hub.url).model_info("org/tiny-bert")
        assert info.sha == hub.repos["org/tiny-bert"]["main"].commit
        assert sorted(s.rfilename for s in info.siblings) == ["config.json", "model.safetensors"]
        with pytest.raises(huggingface_hub.errors.RepositoryNotFoundError):
            huggingface_hub.HfApi(endpoint=hub.url).model_info("org/missing")


def test_hf_hub_cache_variable(hub_env, tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    with HubServer({"org/tiny-bert": tiny_bert}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        leanformers.AutoConfig.from_pretrained("org/tiny-bert")
    assert (tmp_path / "elsewhere" / "models--org--tiny-bert" / "snapshots").is_dir()


def test_cache_import_then_offline_load(hub_env, tiny_bert, monkeypatch, capsys):
    from leanformers.cli import main

    assert main(["cache", "import", str(tiny_bert), "--repo-id", "my-org/imported"]) == 0
    assert "my-org/imported" in capsys.readouterr().out
    go_offline(monkeypatch)
    ours = leanformers.AutoModelForSequenceClassification.from_pretrained("my-org/imported")
    local = leanformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    ref = transformers.AutoModelForSequenceClassification.from_pretrained(
        "my-org/imported", cache_dir=str(hub_env), local_files_only=True
    ).eval()
    inputs = make_inputs(ours.config)
    with torch.no_grad():
        assert max_diff(ours(**inputs).logits, local(**inputs).logits) == 0
        assert max_diff(ref(**inputs).logits, local(**inputs).logits) <= 1e-5
    # importing again (same content) is idempotent
    assert main(["cache", "import", str(tiny_bert), "--repo-id", "my-org/imported"]) == 0


def test_cache_import_command_line(hub_env, tiny_bert, tmp_path):
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home")}
    cmd = [sys.executable, "-m", "leanformers.cli", "cache", "import"]
    done = subprocess.run(
        cmd + [str(tiny_bert), "--repo-id", "org/cli"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (hub_env / "models--org--cli" / "refs" / "main").exists()
    bad = subprocess.run(
        cmd + [str(tmp_path / "nope"), "--repo-id", "org/x"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "is not a folder" in bad.stderr
