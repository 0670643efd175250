"""What `generate()` returns with `return_dict_in_generate=True` (the reference's classes and field names),
and the collector of the optional per-step outputs (scores, logits, attentions, hidden states)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ..outputs import ModelOutput
from .config import GenerationConfig


@dataclass
class GenerateDecoderOnlyOutput(ModelOutput):
    sequences: Tensor | None = None
    scores: tuple[Tensor, ...] | None = None
    logits: tuple[Tensor, ...] | None = None
    attentions: tuple | None = None
    hidden_states: tuple | None = None
    past_key_values: Any = None


@dataclass
class GenerateEncoderDecoderOutput(ModelOutput):
    sequences: Tensor | None = None
    scores: tuple[Tensor, ...] | None = None
    logits: tuple[Tensor, ...] | None = None
    encoder_attentions: tuple | None = None
    encoder_hidden_states: tuple | None = None
    decoder_attentions: tuple | None = None
    cross_attentions: tuple | None = None
    decoder_hidden_states: tuple | None = None
    past_key_values: Any = None


@dataclass
class GenerateBeamDecoderOnlyOutput(ModelOutput):
    sequences: Tensor | None = None
    sequences_scores: Tensor | None = None
    scores: tuple[Tensor, ...] | None = None
    logits: tuple[Tensor, ...] | None = None
    beam_indices: Tensor | None = None
    attentions: tuple | None = None
    hidden_states: tuple | None = None
    past_key_values: Any = None


@dataclass
class GenerateBeamEncoderDecoderOutput(ModelOutput):
    sequences: Tensor | None = None
    sequences_scores: Tensor | None = None
    scores: tuple[Tensor, ...] | None = None
    logits: tuple[Tensor, ...] | None = None
    beam_indices: Tensor | None = None
    encoder_attentions: tuple | None = None
    encoder_hidden_states: tuple | None = None
    decoder_attentions: tuple | None = None
    cross_attentions: tuple | None = None
    decoder_hidden_states: tuple | None = None
    past_key_values: Any = None


GenerateOutput = (
    GenerateDecoderOnlyOutput
    | GenerateEncoderDecoderOutput
    | GenerateBeamDecoderOnlyOutput
    | GenerateBeamEncoderDecoderOutput
)


class OutputCollector:
    """The optional per-step outputs of return_dict_in_generate (scores, logits, attentions, hidden states)."""

    def __init__(self, config: GenerationConfig, runner: Any):
        on = bool(config.return_dict_in_generate)
        self.runner = runner
        self.is_ed = runner.is_ed
        self.scores = () if on and config.output_scores else None
        self.logits = () if on and config.output_logits else None
        self.steps: list[dict] | None = (
            [] if on and (config.output_attentions or config.output_hidden_states) else None
        )
        self.any = self.scores is not None or self.logits is not None or self.steps is not None

    def add(self, scores: Tensor, logits: Tensor, clone: bool = False) -> None:
        if self.scores is not None:
            self.scores += (scores.clone() if clone else scores,)
        if self.logits is not None:
            self.logits += (logits.clone(),)
        if self.steps is not None:
            self.steps.append(self.runner.step_outputs())

    def _stacked(self, name: str) -> tuple | None:
        if self.steps is None or all(s.get(name) is None for s in self.steps):
            return None
        return tuple(s.get(name) for s in self.steps)

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"scores": self.scores, "logits": self.logits}
        if self.is_ed:
            enc = self.runner.encoder_outputs
            fields["encoder_attentions"] = (
                getattr(enc, "attentions", None) if self.steps is not None else None
            )
            fields["encoder_hidden_states"] = (
                getattr(enc, "hidden_states", None) if self.steps is not None else None
            )
            for name in ("decoder_attentions", "cross_attentions", "decoder_hidden_states"):
                fields[name] = self._stacked(name)
        else:
            fields["attentions"] = self._stacked("attentions")
            fields["hidden_states"] = self._stacked("hidden_states")
        return fields

    def result(self, sequences: Tensor, cache: Any) -> GenerateOutput:
        cls = GenerateEncoderDecoderOutput if self.is_ed else GenerateDecoderOnlyOutput
        return cls(sequences=sequences, past_key_values=cache, **self.fields())


__all__ = [
    "GenerateOutput",
    "GenerateDecoderOnlyOutput",
    "GenerateEncoderDecoderOutput",
    "GenerateBeamDecoderOnlyOutput",
    "GenerateBeamEncoderDecoderOutput",
    "OutputCollector",
]
