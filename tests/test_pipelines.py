"""pipeline(): the task table, defaults through the Hub cache, task inference, head checks, batching,
input kinds, bad inputs, dtype and the step-by-step API."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from _pipeline_checkpoints import NER_LABELS, NLI_LABELS, SENTIMENT_LABELS, build_bert
from leanformers import pipeline
from leanformers.hub import HubError, import_folder_to_cache
from leanformers.pipelines import TASKS, check_task, default_model_candidates, get_supported_tasks
from leanformers.pipelines.base import KeyDataset, PipelineException

TEXTS = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
    "",
    "Sylvain works at Hugging Face in Brooklyn, and lives in Paris with Gérard. " * 3,
    "short",
    "ok",
    "The unbelievably incomprehensible tokenization of antidisestablishmentarianism, again and again.",
]
CONTEXT = (
    "Hugging Face is a company based in New York City. Its headquarters are in DUMBO, therefore very close to "
    "the Manhattan Bridge. The company was founded in 2016 by Clément Delangue, Julien Chaumond and Thomas Wolf."
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (and a busy machine makes thread pools crawl)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipes")
    return {
        "base": build_bert(root / "base", "base"),
        "seq": build_bert(root / "seq", "seq", SENTIMENT_LABELS),
        "mlm": build_bert(root / "mlm", "mlm"),
        "ner": build_bert(root / "ner", "token", NER_LABELS),
        "qa": build_bert(root / "qa", "qa"),
        "nli": build_bert(root / "nli", "seq", NLI_LABELS),
    }


def close(a, b, tol):
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            close(a[k], b[k], tol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y, tol)
    elif isinstance(a, float):
        assert abs(a - b) <= tol, (a, b)
    else:
        assert a == b


# -- the task table ---------------------------------------------------------------------------------
def test_import_does_not_import_torch():
    code = "import sys, leanformers.pipelines as p; p.check_task('ner'); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_task_names_aliases_and_translation():
    assert check_task("sentiment-analysis")[0] == "text-classification"
    assert check_task("ner")[0] == "token-classification"
    assert check_task("translation_en_to_fr")[0::2] == ("translation", ("en", "fr"))
    assert (
        "sentiment-analysis" in get_supported_tasks() and "zero-shot-classification" in get_supported_tasks()
    )
    with pytest.raises(
        KeyError, match="Did you mean 'sentiment-analysis'.*Known tasks: .*zero-shot-classification"
    ):
        check_task("sentimnt-analysis")
    with pytest.raises(ValueError, match="translation_XX_to_YY"):
        check_task("translation_en_fr")
    with pytest.raises(ValueError, match="no default model"):
        default_model_candidates("translation_en_to_xx")
    with pytest.raises(ValueError, match="Unknown task"):
        pipeline("not-a-task")


def test_defaults_are_the_reference_ones():
    reference = pytest.importorskip("transformers.pipelines")
    for task, spec in TASKS.items():
        ref_default = reference.SUPPORTED_TASKS[task]["default"]
        if task == "translation":
            assert (
                default_model_candidates("translation_en_to_de")[0]
                == ref_default[("en", "de")]["model"]["pt"][0]
            )
        else:
            assert spec.defaults[0] == ref_default["model"]["pt"][0], task
    assert TASKS["text-classification"].defaults[1] == "leanformers/all-MiniLM-L6-v2-sentiment"


def test_default_model_from_the_hub_cache(folders, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError) as info:
        pipeline("sentiment-analysis")
    message = str(info.value)
    assert "distilbert/distilbert-base-uncased-finetuned-sst-2-english" in message
    assert "leanformers cache import FOLDER --repo-id" in message
    assert "leanformers build-default sentiment-analysis" in message
    import_folder_to_cache(folders["seq"], "leanformers/all-MiniLM-L6-v2-sentiment")
    with caplog.at_level("WARNING", logger="leanformers"):
        classifier = pipeline("sentiment-analysis")
    assert "defaulted to leanformers/all-MiniLM-L6-v2-sentiment" in caplog.text
    [result] = classifier(TEXTS[0])
    assert result["label"] in SENTIMENT_LABELS
    # the first candidate wins when it is cached too
    import_folder_to_cache(folders["seq"], "distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert pipeline("sentiment-analysis").model.config.name_or_path.startswith("distilbert/")
    # a model id resolves through the cache like any id
    assert pipeline(model="leanformers/all-MiniLM-L6-v2-sentiment").task == "text-classification"


def test_task_inferred_from_architectures(folders):
    assert pipeline(model=folders["seq"]).task == "text-classification"
    assert pipeline(model=folders["mlm"]).task == "fill-mask"
    assert pipeline(model=folders["ner"]).task == "token-classification"
    assert pipeline(model=folders["qa"]).task == "question-answering"
    assert pipeline(model=folders["base"]).task == "feature-extraction"
    with pytest.raises(RuntimeError, match="needs a task or a model"):
        pipeline()


def test_head_that_does_not_fit_the_task(folders):
    with pytest.raises(
        ValueError, match="does not fit the task 'fill-mask'. It supports: text-classification"
    ):
        pipeline("fill-mask", model=folders["seq"])
    with pytest.raises(ValueError, match="It supports: feature-extraction"):
        pipeline("sentiment-analysis", model=folders["base"])
    from leanformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(folders["qa"])
    with pytest.raises(ValueError, match="It supports: question-answering"):
        pipeline("ner", model=model, tokenizer=folders["qa"])
    # any checkpoint serves feature-extraction (its base model)
    assert len(pipeline("feature-extraction", model=folders["seq"])("hi")[0][0]) == 32


# -- batching -------------------------------------------------------------------------------------
def test_batch_sizes_give_the_same_results(folders):
    cases = [
        ("feature-extraction", "base", TEXTS, {}),
        ("text-classification", "seq", TEXTS, {"top_k": None}),
        ("token-classification", "ner", TEXTS, {"aggregation_strategy": "simple"}),
        ("fill-mask", "mlm", [f"{t} [MASK]." for t in TEXTS], {}),
        (
            "question-answering",
            "qa",
            [{"question": q, "context": CONTEXT * 3} for q in ("Where?", "Who?", "When?")],
            {"top_k": 2, "max_seq_len": 64, "doc_stride": 16},
        ),
        ("zero-shot-classification", "nli", TEXTS[:2] + TEXTS[3:], {"candidate_labels": ["a", "bb c", "d"]}),
    ]
    for task, name, inputs, kwargs in cases:
        pipe = pipeline(task, model=folders[name])
        one = pipe(inputs, batch_size=1, **kwargs)
        many = pipe(inputs, batch_size=16, **kwargs)
        tol = 1e-5 if task == "feature-extraction" else 1e-4
        close(many, one, tol)
        pipe.sort_window = 1  # several windows of 3 inputs, each sorted on its own
        close(pipe(inputs, batch_size=3, **kwargs), one, tol)


def test_input_kinds(folders):
    pipe = pipeline("text-classification", model=folders["seq"], batch_size=4)
    expected = pipe(TEXTS)
    assert isinstance(expected, list) and len(expected) == len(TEXTS)
    lazy = pipe(t for t in TEXTS)
    assert not isinstance(lazy, list)
    close(list(lazy), expected, 1e-6)
    close(list(pipe(KeyDataset([{"text": t} for t in TEXTS], "text"))), expected, 1e-6)
    datasets = pytest.importorskip("datasets")
    column = datasets.Dataset.from_dict({"text": TEXTS})["text"]
    close(pipe(column), expected, 1e-6)
    assert pipe([]) == []


def test_step_by_step_equals_call(folders):
    pipe = pipeline("sentiment-analysis", model=folders["seq"])
    preprocessed = pipe.preprocess(TEXTS[0])
    model_outputs = pipe.forward(preprocessed)
    assert not model_outputs["logits"].requires_grad
    assert [pipe.postprocess(model_outputs)] == pipe(TEXTS[0])


def test_bfloat16_on_cpu(folders):
    fp32 = pipeline("text-classification", model=folders["seq"], top_k=None)
    bf16 = pipeline("text-classification", model=folders["seq"], dtype=torch.bfloat16, top_k=None)
    assert bf16.model.dtype == torch.bfloat16 and bf16.torch_dtype == torch.bfloat16
    close(bf16(TEXTS[:2], batch_size=2), fp32(TEXTS[:2]), 0.05)
    features = pipeline("feature-extraction", model=folders["base"], torch_dtype="bfloat16")(TEXTS[0])
    assert isinstance(features[0][0][0], float)


def test_device_and_progress_bar(folders, capsys):
    pipe = pipeline("text-classification", model=folders["seq"], device=-1)
    assert pipe.device.type == "cpu" and pipeline("feature-extraction", model=folders["base"], device="cpu")
    pipe.progress_min_inputs = 2
    pipe(TEXTS, batch_size=4)
    assert "input" not in capsys.readouterr().err  # not a terminal: no bar
    pipe(TEXTS, batch_size=4, progress_bar=True)
    assert f"0/{len(TEXTS)}" in capsys.readouterr().err
    pipe(TEXTS, progress_bar=False)
    assert capsys.readouterr().err == ""


# -- bad input --------------------------------------------------------------------------------------
def test_bad_inputs_give_clear_errors_or_results(folders):
    classifier = pipeline("text-classification", model=folders["seq"])
    for bad in (None, 42):
        with pytest.raises(ValueError, match="expects a string|got None"):
            classifier(bad)
    assert len(classifier("")) == 1 and len(classifier([""])) == 1
    long_text = "the quick brown fox jumps over the lazy dog " * 150  # >10x the 128-token model
    for task, name, kwargs in (
        ("text-classification", "seq", {}),
        ("feature-extraction", "base", {}),
        ("token-classification", "ner", {}),
        ("token-classification", "ner", {"aggregation_strategy": "first", "stride": 32}),
    ):
        assert pipeline(task, model=folders[name])(long_text, **kwargs) is not None
    assert len(pipeline("feature-extraction", model=folders["base"])(long_text)[0]) == 128
    fill = pipeline("fill-mask", model=folders["mlm"])
    assert len(fill(long_text[:200] + " [MASK].")) == 5
    with pytest.raises(PipelineException, match=r"No mask_token \(\[MASK\]\) found"):
        fill("no mask here")
    qa = pipeline("question-answering", model=folders["qa"])
    assert set(qa(question="What?", context=long_text)) == {"score", "start", "end", "answer"}
    with pytest.raises(ValueError, match="`context` cannot be empty"):
        qa(question="What?", context="")
    with pytest.raises(ValueError, match="`question` cannot be None"):
        qa({"question": None, "context": CONTEXT})
    zero_shot = pipeline("zero-shot-classification", model=folders["nli"])
    for labels in ([], "", None):
        with pytest.raises(ValueError, match="at least one label"):
            zero_shot(TEXTS[0], candidate_labels=labels)
    with pytest.raises(ValueError, match="hypothesis_template"):
        zero_shot(TEXTS[0], candidate_labels=["a"], hypothesis_template="no slot")
    assert zero_shot(long_text, candidate_labels=["a", "b"])["labels"]
    with pytest.raises(ValueError, match="At least one input"):
        pipeline("ner", model=folders["ner"])([])
    with pytest.raises(ValueError, match="batch_size"):
        classifier(TEXTS, batch_size=0)


@pytest.mark.slow
def test_sentence_similarity_example_offline_without_transformers(tmp_path):
    """The README's main job: the real all-MiniLM-L6-v2 by its Hub id, from the cache, no `transformers`."""
    import os
    from pathlib import Path

    from _pipeline_checkpoints import minilm_folder

    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    import_folder_to_cache(
        minilm_folder(), "sentence-transformers/all-MiniLM-L6-v2", str(tmp_path / "hf" / "hub")
    )
    example = Path(__file__).resolve().parents[1] / "examples" / "sentence_similarity.py"
    code = f"import sys, runpy; sys.modules['transformers'] = None; runpy.run_path({str(example)!r}, run_name='__main__')"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert "'This is an example sentence' starts with 0.0677, 0.0635, 0.0487, 0.0793, 0.0374" in out
    assert "1.00   0.17" in out


def test_question_answering_finds_an_answer_cut_by_a_window_boundary(folders):
    """A QA head that marks "julien" as the start and "wolf" as the end: whatever the windows, the
    whole span is found (in the window that holds it whole) with exact character offsets."""
    from leanformers import AutoTokenizer
    from leanformers.models.bert import BertForQuestionAnswering as Base

    tokenizer = AutoTokenizer.from_pretrained(folders["qa"])
    start_id, end_id = tokenizer.convert_tokens_to_ids(["julien", "wolf"])

    class BertForQuestionAnswering(Base):  # the class name the pipeline accepts for the task
        def forward(self, input_ids=None, **kwargs):
            out = super().forward(input_ids=input_ids, **kwargs)
            out.start_logits = 20.0 * (input_ids == start_id).float()
            out.end_logits = 20.0 * (input_ids == end_id).float()
            return out

    qa = pipeline(
        "question-answering",
        model=BertForQuestionAnswering.from_pretrained(folders["qa"]),
        tokenizer=tokenizer,
    )
    filler = "the weather was mild and the river was calm. " * 5
    answer = "julien chaumond and thomas wolf"
    context = filler + f"it was founded by {answer} in new york." + filler
    cut = 0
    for max_seq_len, doc_stride in ((32, 12), (40, 16), (48, 20), (64, 24)):
        windows = tokenizer(
            "who?",
            context,
            max_length=max_seq_len,
            stride=doc_stride,
            truncation="only_second",
            return_overflowing_tokens=True,
        )["input_ids"]
        cut += any((start_id in w) != (end_id in w) for w in windows)
        result = qa(question="who?", context=context, max_seq_len=max_seq_len, doc_stride=doc_stride)
        assert result["answer"] == answer
        assert (result["start"], result["end"]) == (
            context.index(answer),
            context.index(answer) + len(answer),
        )
    assert cut > 0  # some configuration really cut the answer at a window edge
