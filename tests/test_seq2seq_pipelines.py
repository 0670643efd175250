"""summarization / translation / text2text-generation pipelines and the Marian tokenizer, against the
reference's pipelines and tokenizers on tiny checkpoints (tokenizers trained at test time)."""

from __future__ import annotations

import io
import json
import logging

import pytest
import torch

transformers = pytest.importorskip("transformers")
spm = pytest.importorskip("sentencepiece")

import leanformers  # noqa: E402
from leanformers.tokenization_marian import MarianTokenizer  # noqa: E402

EN = [
    "The quick brown fox jumps over the lazy dog.",
    "This course is produced by Hugging Face.",
    "I have been waiting for a course like this my whole life.",
    "Translation models turn one language into another.",
    "How old are you? Where is the bus stop?",
    "The weather is nice today, isn't it? We love reading books in the park.",
    "Summaries are shorter than the texts they summarize.",
    "Tokenizers split text into pieces called tokens.",
]
FR = [
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Ce cours est produit par Hugging Face.",
    "J'attends un cours comme celui-ci depuis toujours.",
    "Les modèles de traduction transforment une langue en une autre.",
    "Quel âge as-tu ? Où est l'arrêt de bus ?",
    "Il fait beau aujourd'hui, n'est-ce pas ? Nous aimons lire des livres au parc.",
    "Les résumés sont plus courts que les textes qu'ils résument.",
    "Les tokenizers découpent le texte en morceaux.",
]
ARTICLE = " ".join(EN)
MAX_LENGTH = 12  # the tiny models' generation_config.max_length: short, so the reference stays fast


def train_spm(lines: list[str], vocab_size: int = 90, **options) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 10),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
        **options,
    )
    return model.getvalue()


def marian_files(folder, codes=()):
    """source.spm (French), target.spm (English) and the joint vocab.json of a Marian checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "source.spm").write_bytes(train_spm(FR))
    (folder / "target.spm").write_bytes(train_spm(EN))
    vocab = {"</s>": 0, "<unk>": 1}
    for name in ("source.spm", "target.spm"):
        sp = spm.SentencePieceProcessor(model_file=str(folder / name))
        for i in range(sp.get_piece_size()):
            if not sp.is_control(i) and not sp.is_unknown(i):
                vocab.setdefault(sp.id_to_piece(i), len(vocab))
    for code in codes:
        vocab[code] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return folder


def save_model(model, path, max_length=MAX_LENGTH):
    model.eval()
    with torch.no_grad():  # non-trivial biases, so every path of the model matters
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0.0, 0.1)
    model.generation_config.max_length = max_length
    model.save_pretrained(path)


@pytest.fixture(scope="module")
def marian_path(tmp_path_factory):
    path = marian_files(tmp_path_factory.mktemp("marian") / "opus-mt-fr-en")
    tok = transformers.MarianTokenizer(*(str(path / f) for f in ("source.spm", "target.spm", "vocab.json")))
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.MarianConfig(
        vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=128,
        pad_token_id=tok.pad_token_id, decoder_start_token_id=tok.pad_token_id, eos_token_id=0,
        forced_eos_token_id=0, scale_embedding=True,
    )  # fmt: skip
    save_model(transformers.MarianMTModel(config), path)
    return path


@pytest.fixture(scope="module")
def bart_path(tmp_path_factory):
    from tokenizers import ByteLevelBPETokenizer

    path = tmp_path_factory.mktemp("bart") / "tiny-bart"
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        EN * 5, vocab_size=500, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    )
    path.mkdir()
    bpe.save_model(str(path))
    tok = transformers.BartTokenizerFast(
        vocab_file=str(path / "vocab.json"), merges_file=str(path / "merges.txt"), model_max_length=128
    )
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=128,
    )  # fmt: skip
    save_model(transformers.BartForConditionalGeneration(config), path)
    return path


T5_TASKS = {
    "summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 14, "min_length": 5,
                      "no_repeat_ngram_size": 3, "num_beams": 4, "prefix": "summarize: "},
    "translation_en_to_fr": {"early_stopping": True, "max_length": 10, "num_beams": 3,
                             "prefix": "translate English to French: "},
}  # fmt: skip


@pytest.fixture(scope="module")
def t5_path(tmp_path_factory):
    """A T5 v1.1 (flan-t5 style: gated-GELU, untied head) checkpoint; test_t5.py covers v1.0's generate."""
    path = tmp_path_factory.mktemp("t5") / "tiny-t5"
    path.mkdir()
    (path / "spiece.model").write_bytes(train_spm(EN + FR, pad_id=0, eos_id=1, unk_id=2, bos_id=-1))
    tok = transformers.T5TokenizerFast(vocab_file=str(path / "spiece.model"), extra_ids=4)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    version = dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False)
    config = transformers.T5Config(
        vocab_size=len(tok), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, decoder_start_token_id=0,
        task_specific_params=T5_TASKS, **version,
    )  # fmt: skip
    save_model(transformers.T5ForConditionalGeneration(config), path)
    return path


def both(task, path, **kwargs):
    return transformers.pipeline(task, model=str(path), **kwargs), leanformers.pipeline(
        task, model=str(path), **kwargs
    )


# ------------------------------------------------------------------------------------------------
# Marian tokenizer
# ------------------------------------------------------------------------------------------------
def test_marian_tokenizer_matches_reference(marian_path):
    ref = transformers.MarianTokenizer.from_pretrained(marian_path)
    ours = leanformers.AutoTokenizer.from_pretrained(marian_path)
    assert isinstance(ours, MarianTokenizer)
    odd = [
        "",
        "   ",
        "  Ce cours,   est   produit!  ",
        "\t\nCe\u00a0cours",
        "Zèbre ß!!! Zz",
        "le </s> et <pad> <unk>",
    ]
    for text in FR + odd:
        assert ours(text)["input_ids"] == ref(text)["input_ids"], text
    for text in EN + ["", "  How   old are you?  "]:
        assert ours(text_target=text)["input_ids"] == ref(text_target=text)["input_ids"], text
    a = ours(FR[:3], text_target=EN[:3], padding=True, return_tensors="pt")
    b = ref(FR[:3], text_target=EN[:3], padding=True, return_tensors="pt")
    for key in ("input_ids", "attention_mask", "labels"):
        assert torch.equal(a[key], b[key]), key
    g = torch.Generator().manual_seed(0)
    for _ in range(100):  # decoding arbitrary ids, with and without the special tokens
        ids = torch.randint(0, len(ref), (10,), generator=g).tolist()
        for skip in (True, False):
            assert ours.decode(ids, skip_special_tokens=skip) == ref.decode(ids, skip_special_tokens=skip), (
                ids
            )
    assert ours.batch_decode(
        [[5, 6, 0], [7, 8, ours.pad_token_id]], skip_special_tokens=True
    ) == ref.batch_decode([[5, 6, 0], [7, 8, ref.pad_token_id]], skip_special_tokens=True)
    assert (ours.pad_token_id, ours.eos_token_id, ours.unk_token_id) == (
        ref.pad_token_id,
        ref.eos_token_id,
        ref.unk_token_id,
    )
    assert len(ours) == len(ref) and ours.model_max_length == ref.model_max_length == 512


def test_marian_tokenizer_round_trip(marian_path, tmp_path):
    ours = leanformers.AutoTokenizer.from_pretrained(marian_path)
    ours.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "tokenizer.json").exists() and (tmp_path / "saved" / "source.spm").exists()
    ref = transformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    again = leanformers.AutoTokenizer.from_pretrained(tmp_path / "saved")
    assert type(ref).__name__ == "MarianTokenizer"
    for text in FR[:4]:
        assert again(text)["input_ids"] == ref(text)["input_ids"] == ours(text)["input_ids"]
    assert again(text_target=EN[0])["input_ids"] == ref(text_target=EN[0])["input_ids"]


def test_marian_conversion_is_cached_in_the_hub_cache(marian_path, tmp_path, monkeypatch):
    from leanformers import tokenization_marian
    from leanformers.hub import import_folder_to_cache

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import_folder_to_cache(marian_path, "Helsinki-NLP/opus-mt-fr-en")
    first = leanformers.AutoTokenizer.from_pretrained("Helsinki-NLP/opus-mt-fr-en")
    snapshots = list((tmp_path / "hub").glob("models--Helsinki-NLP--opus-mt-fr-en/snapshots/*"))
    assert len(snapshots) == 1
    assert (snapshots[0] / "tokenizer.json").is_file() and (snapshots[0] / "target_tokenizer.json").is_file()

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again although the cached conversion exists")

    monkeypatch.setattr(tokenization_marian, "marian_backend", no_conversion)
    second = leanformers.AutoTokenizer.from_pretrained("Helsinki-NLP/opus-mt-fr-en")
    for text in FR:
        assert second(text)["input_ids"] == first(text)["input_ids"]
    assert second(text_target=EN[1])["input_ids"] == first(text_target=EN[1])["input_ids"]


def test_marian_local_folders_are_not_written_to(marian_path):
    before = sorted(p.name for p in marian_path.iterdir())
    leanformers.AutoTokenizer.from_pretrained(marian_path)
    assert sorted(p.name for p in marian_path.iterdir()) == before


# ------------------------------------------------------------------------------------------------
# Pipelines: outputs identical to the reference's
# ------------------------------------------------------------------------------------------------
def test_translation_marian(marian_path):
    ref, ours = both("translation", marian_path)
    assert ours(FR[1]) == ref(FR[1])
    assert ours(FR[:4], batch_size=3) == ref(FR[:4], batch_size=3)
    settings = dict(num_beams=3, num_return_sequences=2, max_length=8)
    assert ours(FR[:2], **settings) == ref(FR[:2], **settings)
    assert ours(FR[2], num_beams=1) == ref(FR[2], num_beams=1)
    got, expected = ours(FR[0], return_tensors=True), ref(FR[0], return_tensors=True)
    assert got[0]["translation_token_ids"].tolist() == expected[0]["translation_token_ids"].tolist()


def test_translation_task_names_and_language_pairs(marian_path):
    ref, ours = both("translation_fr_to_en", marian_path)
    assert ours(FR[3]) == ref(FR[3])
    with pytest.raises(ValueError, match="translates fr to en; it cannot translate de to en"):
        leanformers.pipeline("translation_de_to_en", model=str(marian_path))
    with pytest.raises(ValueError, match="translates fr to en"):
        ours(FR[0], src_lang="fr", tgt_lang="es")


def test_multi_target_marian_gets_its_language_token(tmp_path):
    path = marian_files(tmp_path / "opus-mt-fr-ROMANCE", codes=(">>es<<", ">>it<<"))
    tok = transformers.MarianTokenizer(*(str(path / f) for f in ("source.spm", "target.spm", "vocab.json")))
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.MarianConfig(
        vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16, max_position_embeddings=64,
        pad_token_id=tok.pad_token_id, decoder_start_token_id=tok.pad_token_id, eos_token_id=0,
    )  # fmt: skip
    save_model(transformers.MarianMTModel(config), path)
    ours = leanformers.pipeline("translation_fr_to_es", model=str(path))
    assert ours.tokenizer.supported_language_codes == [">>es<<", ">>it<<"]
    ref = transformers.pipeline("translation_fr_to_es", model=str(path))
    assert ours(FR[1]) == ref(">>es<< " + FR[1])  # the reference needs the token written by hand
    assert ours(">>it<< " + FR[1]) == ref(">>it<< " + FR[1])
    with pytest.raises(ValueError, match=r">>es<<, >>it<<"):
        ours(FR[1], tgt_lang="de")


def test_summarization_bart(bart_path):
    ref, ours = both("summarization", bart_path)
    assert ours(ARTICLE) == ref(ARTICLE)
    texts = [ARTICLE, EN[2] + " " + EN[3], EN[5]]
    assert ours(texts, batch_size=2) == ref(texts, batch_size=2)
    assert ours(ARTICLE, min_length=6, max_length=10) == ref(ARTICLE, min_length=6, max_length=10)
    assert ours(texts[:2], num_beams=2, num_return_sequences=2) == ref(
        texts[:2], num_beams=2, num_return_sequences=2
    )
    assert ours(ARTICLE, clean_up_tokenization_spaces=True) == ref(ARTICLE, clean_up_tokenization_spaces=True)


def test_summarization_and_translation_t5_use_task_prefixes(t5_path):
    ref, ours = both("summarization", t5_path)
    assert ours.prefix == "summarize: " and ours.generation_config.min_length == 5
    assert ours([ARTICLE, EN[1], EN[2]], batch_size=2) == ref([ARTICLE, EN[1], EN[2]], batch_size=2)
    ref, ours = both("translation_en_to_fr", t5_path)
    assert ours.prefix == "translate English to French: "
    assert ours(EN[:2]) == ref(EN[:2])
    ref, ours = both("text2text-generation", t5_path)
    assert ours.prefix is None
    assert ours(EN[:2], batch_size=2, max_new_tokens=6) == ref(EN[:2], batch_size=2, max_new_tokens=6)


def test_translation_without_a_pair_picks_the_models_first_translation_task(t5_path):
    ours = leanformers.pipeline("translation", model=str(t5_path))
    assert ours.task == "translation_en_to_fr" and ours.prefix == "translate English to French: "


def test_pipeline_objects_and_inferred_task(marian_path):
    model = leanformers.AutoModelForSeq2SeqLM.from_pretrained(marian_path)
    tokenizer = leanformers.AutoTokenizer.from_pretrained(marian_path)
    pipe = leanformers.pipeline("translation_fr_to_en", model=model, tokenizer=tokenizer)
    inferred = leanformers.pipeline(model=str(marian_path))
    assert type(inferred).__name__ == "TranslationPipeline"
    assert pipe(FR[0]) == inferred(FR[0])


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------
def test_long_input_is_truncated_with_a_warning(bart_path, caplog):
    ref, ours = both("summarization", bart_path)
    long_text = " ".join(EN * 3)  # far more than the 128 positions of the tiny model
    assert len(ours.tokenizer(long_text)["input_ids"]) > 128
    with caplog.at_level(logging.WARNING, logger="leanformers"):
        got = ours(long_text)
    assert "truncated" in caplog.text
    assert got == ref(long_text, truncation=True)


def test_min_length_above_max_length_warns_like_the_reference(bart_path, caplog):
    ref, ours = both("summarization", bart_path)
    with caplog.at_level(logging.WARNING, logger="leanformers"):
        got = ours(ARTICLE, min_length=9, max_length=6)
    assert "min_length=9 must be inferior than your max_length=6" in caplog.text
    assert got == ref(ARTICLE, min_length=9, max_length=6)


def test_empty_and_invalid_texts(marian_path, t5_path):
    ref, ours = both("translation", marian_path)
    assert ours("") == ref("")  # only </s>: the reference translates it too
    ref, ours = both("summarization", t5_path)
    assert ours("") == ref("")
    with pytest.raises(ValueError, match="expects a string"):
        ours(42)
    with pytest.raises(ValueError, match="None"):
        ours(None)
