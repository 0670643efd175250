"""Text generation: `generate()`, its configuration, logits processors and streamers.

Names resolve lazily, so `from leanformers.generation import GenerationConfig` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "GenerationConfig": "config",
    "generate": "decoding",
    "GenerateOutput": "outputs",
    "GenerateDecoderOnlyOutput": "outputs",
    "GenerateEncoderDecoderOutput": "outputs",
    "GenerateBeamDecoderOnlyOutput": "outputs",
    "GenerateBeamEncoderDecoderOutput": "outputs",
    "TextStreamer": "streamers",
    "TextIteratorStreamer": "streamers",
    "BaseStreamer": "streamers",
    "LogitsProcessor": "logits",
    "LogitsProcessorList": "logits",
    "StoppingCriteria": "stopping",
    "StoppingCriteriaList": "stopping",
    "MaxLengthCriteria": "stopping",
    "EosTokenCriteria": "stopping",
    "StopStringCriteria": "stopping",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leanformers.generation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
