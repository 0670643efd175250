"""Shared pieces of the Trainer tests: a tiny BERT classifier built by the reference, tiny data,
and a Trainer subclass that records every training batch's loss (for both libraries)."""

from __future__ import annotations

import os

import torch

VOCAB, SEQ = 120, 12


def tiny_bert_folder(path, num_labels: int = 3, dropout: float = 0.0, seed: int = 0) -> str:
    """A 2-layer, hidden-32 BertForSequenceClassification saved by the reference (once per path)."""
    import transformers

    folder = os.path.join(os.fspath(path), f"bert-{num_labels}-{dropout}-{seed}")
    if not os.path.isdir(folder):
        config = transformers.BertConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            num_labels=num_labels,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
        )
        torch.manual_seed(seed)
        transformers.BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def make_data(n: int, num_labels: int = 3, seed: int = 1, learnable: bool = False) -> list[dict]:
    """Examples padded to SEQ tokens (pad id 0) with a random number of real tokens and a label.

    With `learnable=True` the label is a function of the first token, so a model can learn it.
    """
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n):
        length = int(torch.randint(4, SEQ, (1,), generator=g))
        ids = torch.randint(5, VOCAB, (length,), generator=g).tolist()
        label = ids[0] % num_labels if learnable else int(torch.randint(0, num_labels, (1,), generator=g))
        data.append(
            {
                "input_ids": ids + [0] * (SEQ - length),
                "attention_mask": [1] * length + [0] * (SEQ - length),
                "label": label,
            }
        )
    return data


def accuracy(eval_preds) -> dict:
    logits, labels = eval_preds
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


def recording(trainer_cls):
    """A subclass of `trainer_cls` whose `losses` list gets the loss of every training batch."""

    class Recording(trainer_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.losses: list[float] = []

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            if model.training:
                self.losses.append((out[0] if return_outputs else out).item())
            return out

    return Recording


def quiet_reference() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
