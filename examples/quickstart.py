"""The README's main job: the course's first snippet, offline, on a real model.

`pipeline("sentiment-analysis")` uses the reference library's default checkpoint when it is in the Hub
cache, and otherwise leanformers' own default: all-MiniLM-L6-v2 fine-tuned on real tweets with
leanformers' Trainer. When neither is cached, this script builds leanformers' default first (the same
as `leanformers build-default sentiment-analysis`, a couple of minutes on 2 cores).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no network on this machine: the Hub cache only

from leanformers import pipeline  # noqa: E402  (the course's import line, with leanformers)
from leanformers.hub import HubError  # noqa: E402


def sentiment_pipeline():
    try:
        return pipeline("sentiment-analysis")
    except HubError as missing:
        print(f"{missing}\n-> building leanformers' default sentiment model now.\n")
        from leanformers.training.sentiment import build_sentiment_model

        summary = build_sentiment_model()
        print(f"held-out accuracy: {summary['accuracy']:.1%}\n")
        return pipeline("sentiment-analysis")


classifier = sentiment_pipeline()
print(classifier("I've been waiting for a HuggingFace course my whole life."))
print(classifier("I hate this so much!"))
