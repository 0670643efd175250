"""The tokenizer API around the engine: BatchEncoding, pad(), special tokens, chat templates, the
constructor the GGUF loader uses, AutoTokenizer's choice of class, saving, and bad input."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

import leanformers
from leanformers.tokenization import BatchEncoding, TokenizerInputError
from test_tokenization import GPT2_DIR, minilm_dir

CHATML = (  # SmolLM2-Instruct's template
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHAT = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "It is 4."},
    {"role": "user", "content": "And 3+3? Answer: 6 😀"},
]


@pytest.fixture(autouse=True)
def _quiet():
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


@pytest.fixture(scope="module")
def bert():
    return transformers.AutoTokenizer.from_pretrained(
        minilm_dir()
    ), leanformers.AutoTokenizer.from_pretrained(minilm_dir())


def tiny_bpe() -> Tokenizer:
    """A byte-level BPE trained here, with ChatML special tokens (like SmolLM2's)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    corpus = [
        "What is 2+2? It is 4.",
        "You are a helpful AI assistant named SmolLM",
        "user assistant system",
    ] * 30
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=300,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            show_progress=False,
        ),
    )
    return tok


def chat_pair(**kwargs):
    args = dict(
        tokenizer_object=tiny_bpe(),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
        chat_template=CHATML,
        add_bos_token=False,
        add_eos_token=False,
        model_max_length=8192,
        padding_side="left",
        **kwargs,
    )
    return transformers.PreTrainedTokenizerFast(**args), leanformers.PreTrainedTokenizerFast(**args)


# ------------------------------------------------------------------------------------- BatchEncoding
def test_batch_encoding_api(bert):
    _, tok = bert
    out = tok(["Hello world!", "Hi"], ["second one", "two"], padding=True, return_tensors="pt")
    assert isinstance(out, BatchEncoding) and out.input_ids is out["input_ids"]
    assert out.n_sequences == 2 and out.is_fast and len(out.encodings) == 2
    assert out.tokens(1) == ["[CLS]", "hi", "[SEP]", "two", "[SEP]", "[PAD]", "[PAD]", "[PAD]"]
    assert out.sequence_ids(1) == [None, 0, None, 1, None, None, None, None]
    assert out.word_ids(0) == [None, 0, 1, 2, None, 0, 1, None]
    assert out.char_to_token(0, 6) == 2 and out.char_to_token(6) == 2
    assert out.token_to_chars(0, 2) == (6, 11) and out.token_to_word(0, 2) == 1
    assert out.word_to_tokens(0, 1) == (2, 3) and out.word_to_chars(0, 1) == (6, 11)
    assert out[0].ids == out["input_ids"][0].tolist()
    moved = out.to("cpu")
    assert moved is out and out["attention_mask"].device.type == "cpu"
    with pytest.raises(AttributeError, match="input_ids"):
        _ = out.not_a_key
    again = pickle.loads(pickle.dumps(tok("Hello")))
    assert again["input_ids"] == [101, 7592, 102]
    np_out = tok(["a", "b c"], padding=True, return_tensors="np", return_offsets_mapping=True)
    assert np_out["input_ids"].dtype == np.int64 and np_out["offset_mapping"].shape == (2, 4, 2)
    plain = BatchEncoding({"input_ids": [[1, 2], [3, 4]]})
    assert plain[0:1] == {"input_ids": [[1, 2]]} and not plain.is_fast
    assert plain.convert_to_tensors("pt")["input_ids"].dtype == torch.int64


def test_text_target_gives_labels(bert):
    ref, tok = bert
    args = dict(
        text=["source one", "src"], text_target=["target sentence", "t"], padding=True, truncation=True
    )
    assert tok(**args) == ref(**args)
    assert tok(text_target="only target") == ref(text_target="only target")


def test_pad_like_the_reference(bert):
    ref, tok = bert
    features = [{"input_ids": [101, 7592, 102], "labels": 1}, {"input_ids": [101, 102], "labels": 0}]
    for kwargs in (
        {},
        {"return_tensors": "pt"},
        {"padding": "max_length", "max_length": 6},
        {"pad_to_multiple_of": 4, "padding_side": "left"},
        {"return_attention_mask": False},
    ):
        expected, got = (
            ref.pad([dict(f) for f in features], **kwargs),
            tok.pad([dict(f) for f in features], **kwargs),
        )
        assert list(got) == list(expected)
        for key in expected:
            a, b = expected[key], got[key]
            assert (a.tolist(), a.dtype) == (b.tolist(), b.dtype) if hasattr(a, "tolist") else a == b, key
    batch = {"input_ids": [[1, 2, 3], [4]], "token_type_ids": [[0, 0, 1], [0]]}
    assert tok.pad(dict(batch)) == ref.pad(dict(batch))
    tensors = {"input_ids": [torch.tensor([1, 2, 3]), torch.tensor([4])]}
    assert tok.pad(tensors)["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert tok.pad({"input_ids": [5, 6]}, padding="max_length", max_length=4) == {
        "input_ids": [5, 6, 0, 0],
        "attention_mask": [1, 1, 0, 0],
    }
    unpadded = tok.pad([{"input_ids": [1, 2], "labels": [1, 2]}, {"input_ids": [1], "labels": [1]}])
    assert unpadded["labels"] == [[1, 2], [1]]  # labels are not pad()'s business


# ------------------------------------------------------------------------------------ special tokens
def test_add_tokens_and_special_tokens_match_reference():
    ref, tok = (
        cls.from_pretrained(minilm_dir()) for cls in (transformers.AutoTokenizer, leanformers.AutoTokenizer)
    )
    for t in (ref, tok):
        assert t.add_tokens(["newword", "[NEW]"]) == 2
        assert t.add_special_tokens({"additional_special_tokens": ["<ent>"], "bos_token": "<bos>"}) == 2
        assert t.add_tokens("newword") == 0
    assert len(tok) == len(ref) == 30526 and tok.vocab_size == ref.vocab_size == 30522
    assert tok.all_special_tokens == ref.all_special_tokens and tok.all_special_ids == ref.all_special_ids
    assert tok.additional_special_tokens_ids == ref.additional_special_tokens_ids
    text = "a newword <ent> [NEW] here <bos>"
    assert tok(text).input_ids == ref(text).input_ids
    assert tok.decode(tok(text).input_ids, skip_special_tokens=True) == ref.decode(
        ref(text).input_ids, skip_special_tokens=True
    )
    assert tok.get_added_vocab() == ref.get_added_vocab()
    tok.pad_token = tok.sep_token
    assert tok.pad_token_id == 102
    tok.pad_token_id = 0
    assert tok.pad_token == "[PAD]"
    with pytest.raises(ValueError, match="not a special token"):
        tok.add_special_tokens({"weird_token": "<w>"})
    with pytest.raises(ValueError, match="non-string"):
        tok.pad_token = 5


@pytest.mark.slow
def test_padding_needs_a_pad_token():
    tok = leanformers.GPT2TokenizerFast.from_pretrained(GPT2_DIR)
    assert tok.pad_token is None and tok.pad_token_id is None
    with pytest.raises(ValueError, match="pad_token"):
        tok(["a", "b c"], padding=True)
    tok.pad_token = tok.eos_token
    assert tok(["a", "b c"], padding=True)["input_ids"] == [[64, 50256], [65, 269]]


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "bad, given",
    [
        (None, "`text` or `text_target`"),
        (3, "int"),
        ([1, 2], "list[int]"),
        ({"a": 1}, "dict"),
        ([[["a"]]], "list[list[list"),
        (["ok", None], "NoneType"),
        (["ok", 5], "int"),
    ],
)
def test_bad_text_raises_type_error_naming_it(bert, bad, given):
    _, tok = bert
    with pytest.raises(TypeError, match="str") as err:
        tok(bad)
    assert given in str(err.value)
    assert isinstance(err.value, ValueError)  # the reference raises ValueError for some of these


def test_bad_pairs_and_arguments(bert):
    _, tok = bert
    with pytest.raises(TokenizerInputError, match="does not match"):
        tok(["a", "b"], ["c"])
    with pytest.raises(TypeError, match="text_pair"):
        tok(["a", "b"], "c")
    with pytest.raises(TypeError, match="unexpected keyword"):
        tok("a", paddding=True)
    with pytest.raises(ValueError, match="padding=True"):
        tok(["short", "a much longer sentence"], return_tensors="pt")
    with pytest.raises(ValueError, match="not a valid PaddingStrategy"):
        tok("a", padding="longestt")
    with pytest.raises(ValueError, match="is_split_into_words|pre-split"):
        tok([["a", None]], is_split_into_words=True)


def test_folder_without_tokenizer_files(tmp_path):
    (tmp_path / "README.md").write_text("nothing here")
    with pytest.raises(OSError, match="tokenizer.json") as err:
        leanformers.AutoTokenizer.from_pretrained(tmp_path)
    assert "vocab.txt" in str(err.value) and "tokenizer_config.json" in str(err.value)
    with pytest.raises(OSError, match="vocab.txt"):
        leanformers.BertTokenizerFast.from_pretrained(tmp_path)


# ------------------------------------------------------------------------------------ chat templates
def test_chat_template_matches_reference():
    ref, tok = chat_pair()
    assert tok.bos_token_id == ref.bos_token_id and tok.padding_side == "left"
    for kwargs in (
        {"tokenize": False},
        {"tokenize": False, "add_generation_prompt": True},
        {},
        {"add_generation_prompt": True, "return_dict": True, "return_tensors": "pt"},
        {"tokenize": False, "continue_final_message": True},
    ):
        expected, got = ref.apply_chat_template(CHAT, **kwargs), tok.apply_chat_template(CHAT, **kwargs)
        if isinstance(expected, (str, list)):
            assert got == expected, kwargs
        else:
            assert {k: v.tolist() for k, v in got.items()} == {k: v.tolist() for k, v in expected.items()}
    batch = [CHAT, CHAT[:1]]
    assert tok.apply_chat_template(batch, tokenize=False) == ref.apply_chat_template(batch, tokenize=False)
    got = tok.apply_chat_template(batch, padding=True, return_dict=True)
    assert got == ref.apply_chat_template(batch, padding=True, return_dict=True)
    tools = [{"type": "function", "function": {"name": "add", "description": "Add two numbers"}}]
    template = "{% for t in tools %}{{ t | tojson }}{% endfor %}{{ messages[0]['content'] }}{{ bos_token }}"
    assert tok.apply_chat_template(
        CHAT, tools=tools, chat_template=template, tokenize=False
    ) == ref.apply_chat_template(CHAT, tools=tools, chat_template=template, tokenize=False)


def test_chat_template_tools_from_functions_and_generation_mask():
    ref, tok = chat_pair()

    def get_weather(city: str, unit: str | None = None) -> str:
        """Get the weather.

        Args:
            city: The city name.
            unit: Celsius or Fahrenheit.
        """
        return ""

    template = "{{ tools | tojson }}"
    assert tok.apply_chat_template(
        CHAT, tools=[get_weather], chat_template=template, tokenize=False
    ) == ref.apply_chat_template(CHAT, tools=[get_weather], chat_template=template, tokenize=False)
    masked = (
        "{% for m in messages %}{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}"
        "{% endgeneration %}{% else %}{{ m['content'] }}{% endif %}{% endfor %}"
    )
    args = dict(chat_template=masked, return_dict=True, return_assistant_tokens_mask=True)
    assert tok.apply_chat_template(CHAT, **args) == ref.apply_chat_template(CHAT, **args)


def test_chat_template_errors_show_the_line():
    _, tok = chat_pair()
    failing = "{% for m in messages %}\n{{ m['content'] }}\n{{ m['missing'].upper() }}\n{% endfor %}"
    with pytest.raises(ValueError, match=r"line 3") as err:
        tok.apply_chat_template(CHAT, chat_template=failing, tokenize=False)
    assert "m['missing'].upper()" in str(err.value)
    with pytest.raises(ValueError, match="line 2.*syntax"):
        tok.apply_chat_template(CHAT, chat_template="ok\n{% if %}", tokenize=False)
    with pytest.raises(ValueError, match="Only user and assistant"):
        tok.apply_chat_template(
            CHAT,
            tokenize=False,
            chat_template=(
                "{% if messages[0]['role'] == 'user' %}{{ raise_exception('Only user and assistant roles') }}{% endif %}"
            ),
        )
    with pytest.raises(ValueError, match="chat_template is not set"):
        leanformers.AutoTokenizer.from_pretrained(minilm_dir()).apply_chat_template(CHAT)
    with pytest.raises(ValueError, match="not compatible"):
        tok.apply_chat_template(CHAT, add_generation_prompt=True, continue_final_message=True)


def test_chat_template_sandboxed():
    _, tok = chat_pair()
    evil = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(ValueError, match="unsafe|access"):
        tok.apply_chat_template(CHAT, chat_template=evil, tokenize=False)


# ------------------------------------------------------------------------------ construction & saving
def test_constructor_for_gguf_loader_and_round_trip(tmp_path):
    ref, tok = chat_pair()
    text = "<|im_start|>user\nWhat is 2+2?<|im_end|>"
    assert tok(text).input_ids == ref(text).input_ids and tok.init_kwargs["add_bos_token"] is False
    assert tok.special_tokens_map == ref.special_tokens_map and tok.model_max_length == 8192
    assert tok.decode(tok(text).input_ids, skip_special_tokens=True) == ref.decode(
        ref(text).input_ids, skip_special_tokens=True
    )
    files = tok.save_pretrained(tmp_path / "ours")
    assert sorted(os.path.basename(f) for f in files) == [
        "chat_template.jinja",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert not [f for f in os.listdir(tmp_path / "ours") if f.startswith(".")]  # no temporary files left
    ref.save_pretrained(tmp_path / "ref")
    for folder in ("ours", "ref"):
        a = transformers.AutoTokenizer.from_pretrained(tmp_path / folder)
        b = leanformers.AutoTokenizer.from_pretrained(tmp_path / folder)
        assert type(b) is leanformers.PreTrainedTokenizerFast and b.chat_template == CHATML
        assert b(text).input_ids == a(text).input_ids and b.padding_side == a.padding_side == "left"
        assert b.apply_chat_template(CHAT, add_generation_prompt=True) == a.apply_chat_template(
            CHAT, add_generation_prompt=True
        )


def test_gguf_file_is_routed_to_the_gguf_loader(monkeypatch):
    calls = []
    fake = types.ModuleType("leanformers.gguf")
    fake.load_gguf_tokenizer = lambda path, gguf_file, **hub: (
        calls.append((path, gguf_file, hub)) or chat_pair()[1]
    )
    monkeypatch.setitem(sys.modules, "leanformers.gguf", fake)
    tok = leanformers.AutoTokenizer.from_pretrained(
        "some/folder", gguf_file="model.gguf", revision="main", padding_side="right"
    )
    assert calls == [("some/folder", "model.gguf", {"revision": "main"})] and tok.padding_side == "right"


def test_save_options_and_class_selection(tmp_path):
    tok = leanformers.AutoTokenizer.from_pretrained(minilm_dir())
    files = tok.save_pretrained(tmp_path / "fast", legacy_format=False)
    assert "vocab.txt" not in os.listdir(tmp_path / "fast") and any(
        f.endswith("tokenizer.json") for f in files
    )
    tok.save_pretrained(tmp_path / "prefixed", filename_prefix="mine")
    assert {"mine-tokenizer.json", "mine-vocab.txt", "mine-tokenizer_config.json"} <= set(
        os.listdir(tmp_path / "prefixed")
    )
    config = json.loads((tmp_path / "fast" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "BertTokenizer" and config["model_max_length"] == 512
    # config.json's model_type picks the class when tokenizer_config.json names none
    (tmp_path / "fast" / "tokenizer_config.json").write_text("{}")
    (tmp_path / "fast" / "config.json").write_text(json.dumps({"model_type": "distilbert"}))
    assert (
        type(leanformers.AutoTokenizer.from_pretrained(tmp_path / "fast")).__name__
        == "DistilBertTokenizerFast"
    )
    # a class leanformers has no file for still loads its tokenizer.json
    (tmp_path / "fast" / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "MPNetTokenizer"})
    )
    assert (
        type(leanformers.AutoTokenizer.from_pretrained(tmp_path / "fast"))
        is leanformers.PreTrainedTokenizerFast
    )
    assert leanformers.BertTokenizer is leanformers.BertTokenizerFast
    with pytest.raises(ValueError, match="legacy"):
        leanformers.PreTrainedTokenizerFast(tokenizer_object=tiny_bpe()).save_pretrained(
            tmp_path / "x", legacy_format=True
        )


def test_trained_tokenizers_of_each_model_kind_match_reference(tmp_path):
    corpus = ["The quick brown fox", "jumps over the lazy dog", "Les élèves étudient", "東京は日本"] * 10
    kinds = {
        "wordpiece": (
            models.WordPiece(unk_token="[UNK]"),
            trainers.WordPieceTrainer(vocab_size=120, special_tokens=["[UNK]", "[PAD]"], show_progress=False),
        ),
        "unigram": (
            models.Unigram(),
            trainers.UnigramTrainer(
                vocab_size=60, special_tokens=["<unk>", "<pad>"], unk_token="<unk>", show_progress=False
            ),
        ),
    }
    for name, (model, trainer) in kinds.items():
        engine = Tokenizer(model)
        engine.pre_tokenizer = pre_tokenizers.Whitespace()
        engine.train_from_iterator(corpus, trainer)
        pad = "[PAD]" if name == "wordpiece" else "<pad>"
        ref = transformers.PreTrainedTokenizerFast(tokenizer_object=engine, pad_token=pad)
        tok = leanformers.PreTrainedTokenizerFast(tokenizer_object=engine, pad_token=pad)
        texts = corpus[:4] + ["unseen wörds ☃", ""]
        assert tok(texts, padding=True, return_offsets_mapping=True) == ref(
            texts, padding=True, return_offsets_mapping=True
        )
        tok.save_pretrained(tmp_path / name)
        assert (
            transformers.AutoTokenizer.from_pretrained(tmp_path / name)(texts).input_ids
            == tok(texts).input_ids
        )


def test_import_does_not_load_torch():
    code = "import sys, leanformers.tokenization, leanformers.tokenization_families; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_legacy_added_tokens_and_special_tokens_map(tmp_path):
    """Old checkpoints: vocab.txt + added_tokens.json + special_tokens_map.json (dict form), no tokenizer.json."""
    import shutil

    shutil.copy(os.path.join(minilm_dir(), "vocab.txt"), tmp_path / "vocab.txt")
    (tmp_path / "added_tokens.json").write_text(json.dumps({"<ent>": 30522, "newword": 30523}))
    (tmp_path / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "cls_token": "[CLS]",
                "sep_token": "[SEP]",
                "pad_token": "[PAD]",
                "unk_token": "[UNK]",
                "mask_token": {
                    "content": "[MASK]",
                    "lstrip": True,
                    "rstrip": False,
                    "normalized": False,
                    "single_word": False,
                },
                "additional_special_tokens": ["<ent>"],
            }
        )
    )
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": False, "model_max_length": 64, "tokenizer_class": "BertTokenizer"})
    )
    ref = transformers.AutoTokenizer.from_pretrained(tmp_path)
    tok = leanformers.AutoTokenizer.from_pretrained(tmp_path)
    assert tok.backend_tokenizer.to_str() == ref.backend_tokenizer.to_str()
    text = "Hello <ent> newword [MASK] World"
    assert tok(text, return_offsets_mapping=True) == ref(text, return_offsets_mapping=True)
    assert tok.all_special_tokens == ref.all_special_tokens and tok.model_max_length == 64
    assert tok.clean_up_tokenization_spaces is ref.clean_up_tokenization_spaces is True


def test_sentencepiece_missing_gives_install_hint(monkeypatch, tmp_path):
    (tmp_path / "spiece.model").write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    with pytest.raises(ImportError, match=r"pip install leanformers\[sentencepiece\]"):
        leanformers.T5TokenizerFast.from_pretrained(tmp_path)


def test_load_by_hub_id_then_offline(tmp_path, monkeypatch):
    import huggingface_hub

    from hub_server import HubServer

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    for var in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    folder = tmp_path / "repo"
    folder.mkdir()
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "config.json",
    ):
        (folder / name).write_bytes(open(os.path.join(minilm_dir(), name), "rb").read())
    with HubServer({"org/minilm": folder}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        tok = leanformers.AutoTokenizer.from_pretrained("org/minilm")
        assert tok("Hello world")["input_ids"] == [101, 7592, 2088, 102]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = leanformers.AutoTokenizer.from_pretrained("org/minilm")
    assert again("Hello world")["input_ids"] == [101, 7592, 2088, 102] and again.model_max_length == 512


@pytest.mark.slow
def test_train_new_from_iterator_like_reference():
    corpus = [["def add(a, b):\n    return a + b", "class Foo:\n    pass", "import numpy as np"]] * 10
    ref = transformers.GPT2TokenizerFast.from_pretrained(GPT2_DIR).train_new_from_iterator(corpus, 300)
    tok = leanformers.GPT2TokenizerFast.from_pretrained(GPT2_DIR).train_new_from_iterator(corpus, 300)
    assert tok.backend_tokenizer.to_str() == ref.backend_tokenizer.to_str() and len(tok) == len(ref) > 257
    assert type(tok) is leanformers.GPT2TokenizerFast and tok.special_tokens_map == ref.special_tokens_map
    code = "def foo(x):\n    return x * 2"
    assert tok(code).input_ids == ref(code).input_ids
