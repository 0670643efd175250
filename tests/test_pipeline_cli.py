"""`leanformers run` and `leanformers tasks`."""

from __future__ import annotations

import io
import json

import pytest

from _pipeline_checkpoints import NLI_LABELS, SENTIMENT_LABELS, build_bert
from leanformers.cli import main


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (and a busy machine makes thread pools crawl)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def seq(tmp_path_factory):
    return build_bert(tmp_path_factory.mktemp("cli") / "seq", "seq", SENTIMENT_LABELS)


def test_run_texts_from_arguments_as_json(seq, capsys):
    assert main(["run", "sentiment-analysis", "I love it", "I hate it", "--model", seq, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        result = json.loads(line)  # what pipe([text, ...]) gives per text
        assert result["label"] in SENTIMENT_LABELS and 0 <= result["score"] <= 1


def test_run_texts_from_stdin_batched(seq, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("first line\n\nsecond line\nthird\n"))
    assert main(["run", "text-classification", "--model", seq, "--batch-size", "2", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    assert main(["run", "feature-extraction", "--model", seq]) == 0
    assert "[1x3x32 floats] first token:" in capsys.readouterr().out


def test_run_json_objects(tmp_path, capsys):
    nli = build_bert(tmp_path / "nli", "seq", NLI_LABELS)
    line = json.dumps({"text": "I love football", "candidate_labels": ["sports", "politics"]})
    assert main(["run", "zero-shot-classification", line, "--model", nli, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["labels"]) == ["politics", "sports"]


def test_run_bad_usage_exits_2(seq, capsys, monkeypatch):
    assert main(["run", "sentimnt-analysis", "hi"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Did you mean 'sentiment-analysis'" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["run", "sentiment-analysis", "--model", seq]) == 2
    assert "no input" in capsys.readouterr().err
    assert main(["run", "fill-mask", "hi", "--model", seq]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit the task 'fill-mask'" in err
    assert main(["run", "sentiment-analysis", "hi", "--model", seq, "--batch-size", "0"]) == 2
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2


def test_tasks_lists_tasks_and_defaults(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "text-classification",
        "sentiment-analysis",
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "leanformers/all-MiniLM-L6-v2-sentiment",
        "translation_XX_to_YY",
        "zero-shot-classification",
    ):
        assert expected in out
