"""Every encoder task against the reference's pipelines on the same tiny checkpoints.

Same labels, spans, answers and key order; scores within 1e-4; for single inputs, lists and batches.
"""

from __future__ import annotations

import numbers

import pytest

from _pipeline_checkpoints import (
    NER_LABELS,
    NLI_LABELS,
    SENTIMENT_LABELS,
    build_bert,
    build_roberta,
    minilm_folder,
)
from leanformers import pipeline

transformers = pytest.importorskip("transformers")

TEXTS = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
    "",
    "Sylvain works at Hugging Face in Brooklyn, and lives in Paris with Gérard.",
    "short",
    "The unbelievably incomprehensible tokenization of antidisestablishmentarianism.",
]
CONTEXT = (
    "Hugging Face is a company based in New York City. Its headquarters are in DUMBO, therefore very close to "
    "the Manhattan Bridge. The company was founded in 2016 by Clément Delangue, Julien Chaumond and Thomas Wolf. "
    "It builds the transformers library, which provides thousands of pretrained models for text, vision and audio."
)


def assert_same(ours, ref, tol=1e-4, path="result"):
    """Equal structure, key order, strings and ints; floats within `tol`."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict), f"{path}: {type(ours).__name__} is not a dict"
        assert list(ours) == list(ref), f"{path}: keys {list(ours)} != {list(ref)}"
        for k in ref:
            assert_same(ours[k], ref[k], tol, f"{path}[{k!r}]")
    elif isinstance(ref, (list, tuple)):
        assert isinstance(ours, (list, tuple)), f"{path}: {type(ours).__name__} is not a list"
        assert len(ours) == len(ref), f"{path}: length {len(ours)} != {len(ref)}"
        for i, (a, b) in enumerate(zip(ours, ref)):
            assert_same(a, b, tol, f"{path}[{i}]")
    elif isinstance(ref, str) or ref is None or isinstance(ref, bool):
        assert ours == ref, f"{path}: {ours!r} != {ref!r}"
    elif isinstance(ref, numbers.Integral):
        assert ours == ref and isinstance(ours, numbers.Integral), f"{path}: {ours!r} != {ref!r}"
    elif isinstance(ref, numbers.Real):
        assert isinstance(ours, float), f"{path}: {ours!r} is a {type(ours).__name__}, not a Python float"
        assert abs(ours - float(ref)) <= tol, f"{path}: {ours} != {ref}"
    else:  # tensors
        import torch

        torch.testing.assert_close(ours, ref, atol=tol, rtol=tol)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (and a busy machine makes thread pools crawl)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """name -> folder, built on first use."""
    root = tmp_path_factory.mktemp("pipeline_ckpts")
    recipes = {
        "bert-base": lambda p: build_bert(p, "base"),
        "bert-seq": lambda p: build_bert(p, "seq", SENTIMENT_LABELS),
        "bert-mlm": lambda p: build_bert(p, "mlm"),
        "bert-ner": lambda p: build_bert(p, "token", NER_LABELS),
        "bert-qa": lambda p: build_bert(p, "qa"),
        "bert-nli": lambda p: build_bert(p, "seq", NLI_LABELS),
        "distilbert-qa": lambda p: build_bert(p, "qa", model_type="distilbert", seed=1),
        "roberta-mlm": lambda p: build_roberta(p, "mlm"),
        "roberta-ner": lambda p: build_roberta(p, "token", NER_LABELS),
    }
    built: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in built:
            built[name] = recipes[name](root / name)
        return built[name]

    return get


@pytest.fixture(scope="module")
def pipes(ckpt):
    """(task, checkpoint) -> (our pipeline, the reference's pipeline), cached."""
    cache = {}

    def get(task: str, name: str):
        if (task, name) not in cache:
            folder = ckpt(name)
            cache[task, name] = (pipeline(task, model=folder), transformers.pipeline(task, model=folder))
        return cache[task, name]

    return get


def both(pair, *args, **kwargs):
    ours, ref = pair
    return ours(*args, **kwargs), ref(*args, **kwargs)


# -- feature-extraction -------------------------------------------------------------------------
def test_feature_extraction(pipes):
    pair = pipes("feature-extraction", "bert-base")
    for args in (TEXTS[0], TEXTS[:3], [TEXTS[2]]):
        ours, ref = both(pair, args)
        assert_same(ours, ref, 1e-5)
    ours, ref = both(pair, TEXTS[1], return_tensors=True)
    assert_same(ours, ref, 1e-5)
    ours, ref = both(pair, TEXTS[3], truncation=True, tokenize_kwargs={"max_length": 6})
    assert len(ours[0]) == 6
    assert_same(ours, ref, 1e-5)
    # batched: the reference pads every row to the batch's longest; we trim back, so compare at batch 1.
    ours = pair[0](TEXTS, batch_size=4)
    assert_same(ours, pair[1](TEXTS), 1e-5)


# -- text-classification ------------------------------------------------------------------------
def test_text_classification(pipes):
    pair = pipes("sentiment-analysis", "bert-seq")
    options = [
        {},
        {"top_k": None},
        {"top_k": 1},
        {"top_k": 2},
        {"function_to_apply": "sigmoid"},
        {"function_to_apply": "none"},
        {"return_all_scores": True},
        {"return_all_scores": False},
    ]
    for kwargs in options:
        for args in (TEXTS[0], TEXTS, [TEXTS[1]]):
            assert_same(*both(pair, args, **kwargs))
    for kwargs in options[:2]:
        assert_same(pair[0](TEXTS, batch_size=16, **kwargs), pair[1](TEXTS, batch_size=16, **kwargs))


def test_text_classification_pairs_and_init_options(pipes, ckpt):
    pair = pipes("text-classification", "bert-seq")
    inputs = {"text": "I love it", "text_pair": "It is great"}
    assert_same(*both(pair, inputs))
    assert_same(*both(pair, [inputs, {"text": TEXTS[3], "text_pair": TEXTS[0]}]))
    # options given at construction time (the reference's quirk: a single text is still wrapped)
    ours = pipeline("text-classification", model=ckpt("bert-seq"), top_k=None)
    ref = transformers.pipeline("text-classification", model=ckpt("bert-seq"), top_k=None)
    assert_same(ours(TEXTS[0]), ref(TEXTS[0]))
    assert_same(ours(TEXTS[:2]), ref(TEXTS[:2]))


def test_text_classification_problem_types(tmp_path):
    """num_labels=1 -> sigmoid by default; multi-label -> sigmoid; regression -> raw."""
    import torch

    for name, cfg in {
        "one": {"num_labels": 1},
        "multi": {"num_labels": 3, "problem_type": "multi_label_classification"},
        "regression": {"num_labels": 2, "problem_type": "regression"},
    }.items():
        torch.manual_seed(0)
        config = transformers.BertConfig(
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            initializer_range=0.3,
            **cfg,
        )
        transformers.BertForSequenceClassification(config).save_pretrained(tmp_path / name)
        transformers.BertTokenizerFast.from_pretrained(minilm_folder()).save_pretrained(tmp_path / name)
        folder = str(tmp_path / name)
        pair = (
            pipeline("text-classification", model=folder),
            transformers.pipeline("text-classification", model=folder),
        )
        assert_same(*both(pair, TEXTS[:2]))
        assert_same(*both(pair, TEXTS[0], top_k=None))


# -- fill-mask ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,mask", [("bert-mlm", "[MASK]"), ("roberta-mlm", "<mask>")])
def test_fill_mask(pipes, name, mask):
    pair = pipes("fill-mask", name)
    one = f"Paris is the {mask} of France."
    two = f"My {mask} is Sylvain and I work at {mask} in Brooklyn."
    for args in (one, [one], [one, two], two):
        assert_same(*both(pair, args))
    assert_same(*both(pair, one, top_k=2))
    assert_same(pair[0]([one, two, one], batch_size=3), pair[1]([one, two, one]))


def test_fill_mask_targets(pipes):
    pair = pipes("fill-mask", "bert-mlm")
    text = "Paris is the [MASK] of France."
    assert_same(*both(pair, text, targets=["capital", "city", "heart"]))
    assert_same(*both(pair, text, targets="capital"))
    # not one vocabulary entry: replaced by its first token, as the reference does
    assert_same(*both(pair, text, targets=["capitalistically", "city"], top_k=1))


def test_fill_mask_roberta_targets(pipes):
    pair = pipes("fill-mask", "roberta-mlm")
    assert_same(*both(pair, "Paris is the <mask> of France.", targets=[" capital", "Ġcity", "town"]))


# -- token-classification -----------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
@pytest.mark.parametrize("name", ["bert-ner", "roberta-ner"])
def test_token_classification(pipes, strategy, name):
    pair = pipes("ner", name)
    for args in (TEXTS[3], TEXTS[:2]):
        assert_same(*both(pair, args, aggregation_strategy=strategy))
    assert_same(*both(pair, TEXTS[5], aggregation_strategy=strategy, ignore_labels=[]))
    assert_same(
        pair[0](TEXTS, aggregation_strategy=strategy, batch_size=4),
        pair[1](TEXTS, aggregation_strategy=strategy),
    )


def test_token_classification_stride_and_words(pipes):
    pair = pipes("token-classification", "bert-ner")
    long_text = " ".join([TEXTS[3]] * 30)  # ~600 tokens for a 128-token model
    for strategy in ("simple", "first", "max"):
        assert_same(*both(pair, long_text, aggregation_strategy=strategy, stride=16))
    assert_same(*both(pair, long_text))  # truncated, as the reference
    words = ["Sylvain", "works", "at", "Hugging", "Face"]
    assert_same(*both(pair, words, is_split_into_words=True, aggregation_strategy="simple"))


# -- question-answering -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bert-qa", "distilbert-qa"])
def test_question_answering(pipes, name):
    pair = pipes("question-answering", name)
    q = "Where is Hugging Face based?"
    assert_same(*both(pair, question=q, context=CONTEXT))
    assert_same(*both(pair, {"question": q, "context": CONTEXT}))
    assert_same(*both(pair, question=[q, "Who founded it?"], context=CONTEXT))
    assert_same(
        *both(pair, [{"question": q, "context": CONTEXT}, {"question": "When?", "context": TEXTS[3]}])
    )
    assert_same(*both(pair, question=q, context=CONTEXT, top_k=3))
    assert_same(*both(pair, question=q, context=CONTEXT, top_k=2, max_answer_len=3, align_to_words=False))
    assert_same(*both(pair, question=q, context=CONTEXT, handle_impossible_answer=True, top_k=2))
    assert_same(*both(pair, q, CONTEXT))


def test_question_answering_long_context_windows(pipes):
    """A context several windows long: answers pooled across windows, spans crossing boundaries found."""
    pair = pipes("question-answering", "bert-qa")
    context = " ".join([CONTEXT] * 4)
    q = "Who founded Hugging Face?"
    for kwargs in ({}, {"top_k": 4}, {"doc_stride": 20, "max_seq_len": 48, "top_k": 3}, {"max_seq_len": 40}):
        assert_same(*both(pair, question=q, context=context, **kwargs))
    ours = pair[0](question=[q, "Where?", "When?"], context=context, batch_size=8, top_k=2)
    assert_same(ours, pair[1](question=[q, "Where?", "When?"], context=context, top_k=2))


# -- zero-shot-classification -------------------------------------------------------------------
def test_zero_shot(pipes):
    pair = pipes("zero-shot-classification", "bert-nli")
    labels = ["education", "politics", "business"]
    assert_same(*both(pair, TEXTS[0], candidate_labels=labels))
    assert_same(*both(pair, TEXTS[0], labels))
    assert_same(*both(pair, TEXTS[0], candidate_labels="education, politics,business"))
    assert_same(*both(pair, TEXTS[0], candidate_labels=labels, multi_label=True))
    assert_same(*both(pair, TEXTS[0], candidate_labels=["sports"]))
    assert_same(*both(pair, TEXTS[:2], candidate_labels=labels, hypothesis_template="The topic is {}."))
    assert_same(
        pair[0](TEXTS[:2], candidate_labels=labels, batch_size=1), pair[1](TEXTS[:2], candidate_labels=labels)
    )


@pytest.mark.slow
def test_feature_extraction_real_minilm():
    folder = minilm_folder()
    ours = pipeline("feature-extraction", model=folder)
    ref = transformers.pipeline("feature-extraction", model=folder)
    for text in ("This is an example sentence", TEXTS[0]):
        assert_same(ours(text), ref(text), 1e-4)
    batched = ours(TEXTS, batch_size=8)
    assert_same(batched, ref(TEXTS), 1e-4)
