"""`generate()`: greedy search, sampling and beam search for decoder-only and encoder-decoder models.

The flow mirrors the reference `GenerationMixin.generate` (same defaults, same processor order,
same beam-search arithmetic), so outputs are token-identical; the loop itself is leaner:

- `Runner` (runner.py) owns the per-row model state (KV cache, attention mask buffer, position ids, encoder
  outputs) and feeds the model only the new tokens; masks and output ids live in preallocated
  buffers instead of being concatenated every step.
- Greedy/sampling rows that hit EOS are dropped from the running batch (their KV rows are
  discarded), so a batch whose rows finish early gets cheaper; sampling still draws its random
  numbers over the full batch, so the tokens equal the reference's under the same seed.
- The only host syncs per step are the ones stopping needs (none when only the length can stop).

Model contracts. Decoder-only: `forward(input_ids, attention_mask, position_ids, past_key_values,
use_cache, [logits_to_keep])` -> `.logits`, `.past_key_values`. Encoder-decoder: `get_encoder()(input_ids,
attention_mask)` -> `.last_hidden_state`; `forward(attention_mask, decoder_input_ids, encoder_outputs,
past_key_values, use_cache, [decoder_attention_mask])` -> `.logits`, `.past_key_values`.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from typing import Any

import torch
from torch import Tensor

from ..utils import get_logger
from .config import GenerationConfig
from .logits import build_logits_processors
from .outputs import (
    GenerateBeamDecoderOnlyOutput,
    GenerateBeamEncoderDecoderOutput,
    GenerateDecoderOnlyOutput,
    GenerateEncoderDecoderOutput,
    GenerateOutput,
    OutputCollector,
)
from .runner import Runner
from .stopping import MaxLengthCriteria, StoppingCriteriaList, build_stopping_criteria

logger = get_logger(__name__)
_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


# ------------------------------------------------------------------------------------------------
# generate()
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def generate(
    model: Any,
    input_ids: Tensor | None = None,
    generation_config: GenerationConfig | None = None,
    logits_processor: list | None = None,
    stopping_criteria: list | None = None,
    prefix_allowed_tokens_fn: Any = None,
    *,
    attention_mask: Tensor | None = None,
    streamer: Any = None,
    tokenizer: Any = None,
    use_model_defaults: bool | None = None,
    **kwargs: Any,
) -> Tensor | GenerateOutput:
    """Generate token ids after `input_ids` (decoder-only) or from the encoder input (encoder-decoder).

    kwargs naming `GenerationConfig` fields override the model's generation config
    (`max_new_tokens=40, do_sample=True, num_beams=4, ...`); other kwargs go to the model.
    Returns the sequences (prompt included for decoder-only models), or a `Generate*Output` with
    `return_dict_in_generate=True`. `tokenizer` is needed for `stop_strings`.
    """
    if "inputs" in kwargs:
        if input_ids is not None:
            raise ValueError("Pass the prompt once: either `inputs` or `input_ids`.")
        input_ids = kwargs.pop("inputs")
    for unsupported in ("assistant_model", "negative_prompt_ids", "custom_generate"):
        if kwargs.get(unsupported) is not None:
            raise ValueError(f"`{unsupported}` is not supported by leanformers' generate().")
        kwargs.pop(unsupported, None)
    kwargs.pop("synced_gpus", None)
    user_kwargs = dict(kwargs)
    config, model_kwargs = _prepare_config(model, generation_config, use_model_defaults, kwargs)
    _check_mode(config)
    is_ed = bool(getattr(model.config, "is_encoder_decoder", False))
    device = _model_device(model)
    forward_params = set(inspect.signature(model.forward).parameters)
    if "inputs_embeds" in model_kwargs:
        raise ValueError("Generating from `inputs_embeds` is not supported by leanformers; pass input_ids.")
    _check_model_kwargs(model_kwargs, forward_params, is_ed)

    # -- special tokens ---------------------------------------------------------------------------
    eos = _as_ids(config.eos_token_id, device)
    pad = config.pad_token_id
    if isinstance(pad, Tensor):
        pad = int(pad)
    if pad is None and eos is not None:
        if attention_mask is None:
            _warn_once(
                "The attention mask and the pad token id were not set. As a consequence, you may observe unexpected "
                "behavior. Please pass your input's `attention_mask` to obtain reliable results."
            )
        pad = int(eos[0])
        _warn_once(f"Setting `pad_token_id` to `eos_token_id`:{pad} for open-end generation.")
    if eos is not None and (eos < 0).any():
        logger.warning(
            f"`eos_token_id` should be token ids >= 0, but is {eos.tolist()}: generation will not stop early."
        )

    # -- inputs -----------------------------------------------------------------------------------
    if input_ids is None:
        input_ids = _default_prompt(model, config, model_kwargs, is_ed, device)
    if not isinstance(input_ids, Tensor) or input_ids.dim() != 2:
        shape = tuple(input_ids.shape) if isinstance(input_ids, Tensor) else type(input_ids).__name__
        raise ValueError(f"`input_ids` must be a 2-D tensor (batch, length) of token ids, got {shape}.")
    if input_ids.shape[1] == 0 and "encoder_outputs" not in model_kwargs:
        raise ValueError(
            f"`input_ids` is empty (shape {tuple(input_ids.shape)}): give a prompt of at least one token, or pass "
            "input_ids=None to start from the model's bos_token_id."
        )
    input_ids = input_ids.to(device)
    batch_size = input_ids.shape[0]
    if attention_mask is None and "encoder_outputs" not in model_kwargs:
        attention_mask = _infer_attention_mask(input_ids, pad, eos)
    elif attention_mask is not None:
        if attention_mask.dim() != 2:
            raise ValueError("`attention_mask` passed to generate() must be 2-D (batch, length).")
        attention_mask = attention_mask.to(device)
    if not is_ed and pad is not None and batch_size > 1 and bool((input_ids[:, -1] == pad).any()):
        logger.warning(
            "A decoder-only architecture is being used, but right-padding was detected! For correct generation "
            "results, please set `padding_side='left'` when initializing the tokenizer."
        )

    if is_ed:
        if "encoder_outputs" not in model_kwargs:
            model_kwargs["encoder_outputs"] = _run_encoder(
                model, input_ids, attention_mask, config, model_kwargs
            )
        input_ids, model_kwargs = _decoder_start(model, config, batch_size, model_kwargs, device)

    expand = max(config.num_beams, config.num_return_sequences)
    if expand > 1:
        input_ids = input_ids.repeat_interleave(expand, dim=0)
        attention_mask = (
            attention_mask.repeat_interleave(expand, dim=0) if attention_mask is not None else None
        )
        model_kwargs = _expand_kwargs(model_kwargs, expand)
    if streamer is not None:
        streamer.put(input_ids.cpu())

    # -- lengths ----------------------------------------------------------------------------------
    input_len = input_ids.shape[1]
    _prepare_lengths(model, config, user_kwargs, input_len, is_ed)

    processors = build_logits_processors(
        config,
        prompt_length=input_len,
        eos_token_ids=eos,
        device=device,
        prefix_allowed_tokens_fn=prefix_allowed_tokens_fn,
        custom=logits_processor,
    )
    criteria = build_stopping_criteria(
        config,
        eos_token_ids=eos,
        tokenizer=tokenizer,
        custom=stopping_criteria,
        max_position_embeddings=getattr(model.config, "max_position_embeddings", None),
    )
    runner = Runner(
        model, input_ids, attention_mask, model_kwargs, config, is_ed, forward_params, criteria.max_length
    )
    custom = bool(logits_processor) or bool(stopping_criteria) or prefix_allowed_tokens_fn is not None
    if config.num_beams > 1:
        result = _beam_search(runner, input_ids, processors, criteria, config, eos, pad, custom)
    else:
        result = _sample(runner, input_ids, processors, criteria, config, pad, streamer, custom)
    if streamer is not None:
        streamer.end()
    if config.return_legacy_cache and hasattr(result, "past_key_values"):
        cache = result.past_key_values
        if hasattr(cache, "to_legacy_cache"):
            result.past_key_values = cache.to_legacy_cache()
    return result


# ------------------------------------------------------------------------------------------------
# Preparation
# ------------------------------------------------------------------------------------------------
# Generation parameters that old checkpoints keep in config.json (the reference's global defaults).
_GLOBAL_GENERATION_DEFAULTS = {
    "max_length": 20, "min_length": 0, "do_sample": False, "early_stopping": False, "num_beams": 1,
    "temperature": 1.0, "top_k": 50, "top_p": 1.0, "typical_p": 1.0, "repetition_penalty": 1.0,
    "length_penalty": 1.0, "no_repeat_ngram_size": 0, "encoder_no_repeat_ngram_size": 0, "bad_words_ids": None,
    "num_return_sequences": 1, "output_scores": False, "return_dict_in_generate": False,
    "forced_bos_token_id": None, "forced_eos_token_id": None, "remove_invalid_values": False,
    "exponential_decay_length_penalty": None, "suppress_tokens": None, "begin_suppress_tokens": None,
    "num_beam_groups": 1, "diversity_penalty": 0.0,
}  # fmt: skip


def _prepare_config(
    model: Any, generation_config: GenerationConfig | None, use_model_defaults: bool | None, kwargs: dict
) -> tuple[GenerationConfig, dict]:
    """Priority: kwargs > the passed config > the model's generation config > GenerationConfig()."""
    model_gc = getattr(model, "generation_config", None)
    if model_gc is None:
        model_gc = GenerationConfig.from_model_config(model.config)
    if generation_config is None:
        # Legacy: generation parameters edited in model.config after loading still take effect.
        if getattr(model_gc, "_from_model_config", False) and getattr(
            model_gc, "_original_object_hash", None
        ) == hash(model_gc):
            default_model_config = _default_config(model.config)
            edited = any(
                getattr(model.config, k, None) is not None
                and getattr(model.config, k) != getattr(default_model_config, k, v)
                for k, v in _GLOBAL_GENERATION_DEFAULTS.items()
                if hasattr(model.config, k)
            )
            if edited:
                fresh = GenerationConfig.from_model_config(model.config)
                if fresh != model_gc:
                    warnings.warn(
                        "You have modified the pretrained model configuration to control generation. Set these values "
                        "in model.generation_config instead.",
                        UserWarning,
                        stacklevel=3,
                    )
                    model_gc = fresh
                    if hasattr(model, "generation_config"):
                        model.generation_config = fresh
        config = copy.deepcopy(model_gc)
    else:
        config = copy.deepcopy(generation_config)
        version = tuple(int(p) for p in str(model_gc.transformers_version).split(".")[:2] if p.isdigit())
        if use_model_defaults is True or (use_model_defaults is None and version >= (4, 50)):
            # Values the passed config leaves at the global default come from the model's config.
            global_default = GenerationConfig()
            for key, value in model_gc.__dict__.items():
                if key.startswith("_") or key == "transformers_version":
                    continue
                default = getattr(global_default, key, None)
                if getattr(config, key, None) == default and value != default:
                    setattr(config, key, value)
            if config.temperature == 0.0:
                config.do_sample = False
        else:
            for key in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
                if getattr(config, key) is None:
                    setattr(config, key, getattr(model_gc, key))
    model_kwargs = config.update(**kwargs)
    if config.output_attentions:
        model_kwargs["output_attentions"] = True
    if config.output_hidden_states:
        model_kwargs["output_hidden_states"] = True
    return config, model_kwargs


def _default_config(model_config: Any) -> Any:
    try:
        return type(model_config)()
    except Exception:  # configs that cannot be built without arguments
        return None


def _check_mode(config: GenerationConfig) -> None:
    """Decoding strategies the reference moved out of the library (to Hub repos) are not implemented."""
    if config.num_beam_groups and config.num_beam_groups > 1:
        raise ValueError(
            "Group (diverse) beam search (`num_beam_groups` > 1) is not supported by leanformers."
        )
    if config.penalty_alpha is not None and config.penalty_alpha > 0 and config.top_k and config.top_k > 1:
        raise ValueError("Contrastive search (`penalty_alpha`) is not supported by leanformers.")
    if config.constraints is not None or config.force_words_ids is not None:
        raise ValueError(
            "Constrained beam search (`constraints`, `force_words_ids`) is not supported by leanformers."
        )
    if config.dola_layers is not None:
        raise ValueError("DoLa decoding (`dola_layers`) is not supported by leanformers.")
    if config.prompt_lookup_num_tokens is not None or config.assistant_early_exit is not None:
        raise ValueError("Assisted generation is not supported by leanformers.")
    if config.token_healing:
        raise ValueError("`token_healing` is not supported by leanformers.")


def _check_model_kwargs(model_kwargs: dict, forward_params: set[str], is_ed: bool) -> None:
    handled = {
        "encoder_outputs",
        "decoder_input_ids",
        "decoder_attention_mask",
        "past_key_values",
        "use_cache",
    }
    handled |= {"output_attentions", "output_hidden_states"}
    accepts_any = any(p in forward_params for p in ("kwargs", "model_kwargs"))
    unused = [k for k in model_kwargs if k not in handled and k not in forward_params]
    if unused and not accepts_any:
        raise ValueError(
            f"The following `model_kwargs` are not used by the model: {unused} (note: typos in the generate "
            "arguments will also show up in this list)"
        )


def _model_device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def _as_ids(ids: Any, device: torch.device) -> Tensor | None:
    if ids is None:
        return None
    if isinstance(ids, Tensor):
        return ids.to(device).reshape(-1)
    return torch.tensor([ids] if isinstance(ids, int) else list(ids), dtype=torch.long, device=device)


def _default_prompt(model: Any, config: GenerationConfig, model_kwargs: dict, is_ed: bool, device) -> Tensor:
    encoder_outputs = model_kwargs.get("encoder_outputs")
    if is_ed and encoder_outputs is not None:  # placeholder ids: the encoder has already run
        shape = encoder_outputs.last_hidden_state.shape[:-1]
        return torch.full(shape, -100, dtype=torch.long, device=device)
    batch_size = next((v.shape[0] for v in model_kwargs.values() if isinstance(v, Tensor)), 1)
    if config.bos_token_id is None:
        raise ValueError("`bos_token_id` has to be defined when no `input_ids` are provided.")
    return torch.full((batch_size, 1), config.bos_token_id, dtype=torch.long, device=device)


def _infer_attention_mask(input_ids: Tensor, pad: int | None, eos: Tensor | None) -> Tensor:
    """1 everywhere, or `input_ids != pad` when the pad token occurs and differs from every EOS token."""
    ones = torch.ones_like(input_ids)
    if pad is None or not bool((input_ids == pad).any()):
        return ones
    if eos is not None and bool((eos == pad).any()):
        return ones
    return input_ids.ne(pad).long()


def _run_encoder(
    model: Any, input_ids: Tensor, attention_mask: Tensor | None, config, model_kwargs: dict
) -> Any:
    encoder = model.get_encoder()
    params = set(inspect.signature(encoder.forward).parameters)
    extra = {
        k: v
        for k, v in model_kwargs.items()
        if not k.startswith(("decoder_", "cross_attn", "use_cache", "past_key_values")) and k in params
    }
    if config.output_attentions and "output_attentions" in params:
        extra["output_attentions"] = True
    if config.output_hidden_states and "output_hidden_states" in params:
        extra["output_hidden_states"] = True
    return encoder(input_ids=input_ids, attention_mask=attention_mask, **extra)


def _decoder_start(
    model: Any, config: GenerationConfig, batch_size: int, model_kwargs: dict, device
) -> tuple:
    start = (
        config.decoder_start_token_id if config.decoder_start_token_id is not None else config.bos_token_id
    )
    if start is None:
        raise ValueError(
            "`decoder_start_token_id` or `bos_token_id` has to be defined for encoder-decoder generation: set "
            "model.generation_config.decoder_start_token_id."
        )
    if isinstance(start, (list, tuple, Tensor)):
        start = torch.as_tensor(start, dtype=torch.long, device=device).view(-1, 1)
        if start.shape[0] != batch_size:
            raise ValueError(
                f"`decoder_start_token_id` expected to have length {batch_size} but got {start.shape[0]}"
            )
    else:
        start = torch.full((batch_size, 1), int(start), dtype=torch.long, device=device)
    decoder_ids = model_kwargs.pop("decoder_input_ids", None)
    if decoder_ids is None:
        return start, model_kwargs
    decoder_ids = decoder_ids.to(device)
    if bool((decoder_ids[:, 0] != start[:, 0]).all()):  # user ids without the start token: prepend it
        decoder_ids = torch.cat([start, decoder_ids], dim=-1)
        if model_kwargs.get("decoder_attention_mask") is not None:
            mask = model_kwargs["decoder_attention_mask"]
            model_kwargs["decoder_attention_mask"] = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=-1)
    return decoder_ids, model_kwargs


def _expand_kwargs(model_kwargs: dict, n: int) -> dict:
    out = {}
    for key, value in model_kwargs.items():
        if isinstance(value, Tensor):
            value = value.repeat_interleave(n, dim=0)
        elif key == "encoder_outputs":
            value = copy.copy(value)
            for name in ("last_hidden_state", "hidden_states", "attentions"):
                field = getattr(value, name, None)
                if isinstance(field, Tensor):
                    setattr(value, name, field.repeat_interleave(n, dim=0))
        out[key] = value
    return out


def _prepare_lengths(
    model: Any, config: GenerationConfig, user_kwargs: dict, input_len: int, is_ed: bool
) -> None:
    """Turn max/min_new_tokens into absolute lengths and check them against the prompt and the context."""
    default_max = user_kwargs.get("max_length") is None and config.max_length is not None
    default_min = user_kwargs.get("min_length") is None and config.min_length is not None
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if config.max_new_tokens is not None:
        if not default_max and config.max_length is not None:
            logger.warning(
                f"Both `max_new_tokens` (={config.max_new_tokens}) and `max_length`(={config.max_length}) seem to have "
                "been set. `max_new_tokens` will take precedence."
            )
        config.max_length = config.max_new_tokens + input_len
    elif default_max and config.max_length == GenerationConfig().max_length:
        config.max_length = config.max_length + input_len  # by default, 20 new tokens
        if max_positions is not None:
            config.max_length = min(config.max_length, max_positions)
    if config.min_new_tokens is not None:
        if not default_min:
            logger.warning(
                f"Both `min_new_tokens` (={config.min_new_tokens}) and `min_length`(={config.min_length}) seem to have "
                "been set. `min_new_tokens` will take precedence."
            )
        config.min_length = config.min_new_tokens + input_len

    if default_max and config.max_new_tokens is None and config.max_length == 20:
        warnings.warn(
            "Using the model-agnostic default `max_length` (=20) to control the generation length. We recommend "
            "setting `max_new_tokens` to control the maximum length of the generation.",
            UserWarning,
            stacklevel=3,
        )
    name = "decoder_input_ids" if is_ed else "input_ids"
    if not is_ed and max_positions is not None and input_len > max_positions:
        raise ValueError(
            f"The prompt has {input_len} tokens but the model's context window (max_position_embeddings) is "
            f"{max_positions}. Shorten the prompt, e.g. tokenizer(..., truncation=True, max_length={max_positions})."
        )
    if input_len >= config.max_length:
        raise ValueError(
            f"Input length of {name} is {input_len}, but `max_length` is set to {config.max_length}. This can lead "
            "to unexpected behavior. You should consider increasing `max_length` or, better yet, setting "
            "`max_new_tokens`."
        )
    if config.min_length is not None and config.min_length > config.max_length:
        warnings.warn(
            f"Unfeasible length constraints: `min_length` ({config.min_length}) is larger than the maximum possible "
            f"length ({config.max_length}). Generation will stop at the defined maximum length.",
            UserWarning,
            stacklevel=3,
        )
    if not is_ed and max_positions is not None and config.max_length > max_positions:
        _warn_once(
            f"max_length ({config.max_length}) exceeds the model's context window ({max_positions}): tokens past it "
            "may be degraded, or the model may fail there."
        )


# ------------------------------------------------------------------------------------------------
# Greedy search and sampling
# ------------------------------------------------------------------------------------------------
def _sample(
    runner: Runner, input_ids, processors, criteria: StoppingCriteriaList, config, pad, streamer, custom
):
    batch, cur_len = input_ids.shape
    max_length = criteria.max_length or config.max_length
    device = input_ids.device
    want = OutputCollector(config, runner)
    has_eos = any(hasattr(c, "eos_token_id") for c in criteria)
    if has_eos and pad is None:
        raise ValueError(
            "Stopping on EOS needs a `pad_token_id` to fill finished rows: pass pad_token_id=..."
        )
    # Criteria other than the length need a look at every step (one host sync).
    step_criteria = StoppingCriteriaList(c for c in criteria if not isinstance(c, MaxLengthCriteria))
    # Finished rows leave the batch when nothing needs their per-step values.
    can_drop = has_eos and not want.any and streamer is None and not custom
    seqs = torch.full(
        (batch, max(max_length, cur_len)), pad if pad is not None else 0, dtype=torch.long, device=device
    )
    seqs[:, :cur_len] = input_ids
    out = seqs  # rows leave `seqs` when dropped; `out` keeps every row at its original index
    rows = torch.arange(batch, device=device)  # original index of each running row
    unfinished = torch.ones(batch, dtype=torch.bool, device=device)
    dropped = False
    while True:
        logits = runner.logits(seqs[:, :cur_len])
        scores = processors(seqs[:, :cur_len], logits) if processors else logits
        want.add(scores, logits)
        if config.do_sample:
            probs = torch.softmax(scores, dim=-1)
            if dropped:  # draw over the full batch so each row gets the random numbers it would have had
                full = torch.zeros((batch, probs.shape[-1]), dtype=probs.dtype, device=device)
                full[:, 0] = 1.0
                full[rows] = probs
                next_tokens = torch.multinomial(full, num_samples=1).squeeze(1)[rows]
            else:
                next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)
        else:
            next_tokens = torch.argmax(scores, dim=-1)
        if has_eos:
            next_tokens = torch.where(unfinished, next_tokens, pad)
        seqs[:, cur_len] = next_tokens
        cur_len += 1
        if streamer is not None:
            streamer.put(next_tokens.cpu())
        if cur_len >= max_length:
            break
        if not step_criteria:
            continue
        unfinished = unfinished & ~step_criteria(seqs[:, :cur_len], want.scores)
        done = (~unfinished).tolist()
        if all(done):
            break
        n_done = sum(done)
        if can_drop and n_done and n_done * 4 >= len(done) and max_length - cur_len >= 4:
            if not dropped:
                out = seqs.clone()
            keep = unfinished.nonzero().squeeze(1)
            out[rows, :cur_len] = seqs[:, :cur_len]
            rows, seqs, unfinished = rows[keep], seqs[keep], unfinished[keep]
            runner.keep(keep)
            dropped = True
    if dropped:
        out[rows, :cur_len] = seqs[:, :cur_len]
        seqs = out
    sequences = seqs[:, :cur_len]
    if not config.return_dict_in_generate:
        return sequences
    return want.result(sequences, runner.cache)


# ------------------------------------------------------------------------------------------------
# Beam search (the reference's vectorised algorithm: top-k over beams x vocabulary per step)
# ------------------------------------------------------------------------------------------------
def _gather(t: Tensor, idx: Tensor) -> Tensor:
    """t[b, idx[b, j], ...] for (B, K, ...) tensors and (B, J) indices."""
    while idx.dim() < t.dim():
        idx = idx.unsqueeze(-1)
    return torch.take_along_dim(t, idx, dim=1)


def _beam_search(
    runner: Runner, input_ids, processors, criteria, config, eos: Tensor | None, pad, custom: bool
):
    num_beams, n_return = config.num_beams, config.num_return_sequences
    length_penalty, early_stopping = config.length_penalty, config.early_stopping
    max_length = config.max_length
    flat_batch, prompt_len = input_ids.shape
    batch = total_batch = flat_batch // num_beams
    device = input_ids.device
    want = OutputCollector(config, runner)
    # Batch items whose finished hypotheses can no longer change leave the running batch.
    can_drop = not want.any and not custom

    # Keep enough candidates that num_beams of them survive even if all EOS continuations are taken.
    n_eos = 0 if eos is None else eos.shape[0]
    n_cand = max(2, 1 + n_eos) * num_beams
    is_top = (torch.arange(n_cand, device=device) < num_beams)[None, :]
    # The reference fills unused positions with `pad_token_id or eos_token_id[0]` (so pad 0 -> eos), else -1.
    fill = (pad if pad else int(eos[0])) if eos is not None else -1

    running = torch.full((batch, num_beams, max_length), fill, dtype=torch.long, device=device)
    running[:, :, :prompt_len] = input_ids.view(batch, num_beams, prompt_len)
    finished_seqs = running.clone()
    running_scores = torch.zeros((batch, num_beams), dtype=torch.float, device=device)
    running_scores[:, 1:] = -1e9  # all beams start identical: only the first one may expand at step 1
    finished_scores = torch.full((batch, num_beams), -1e9, dtype=torch.float, device=device)
    is_finished = torch.zeros((batch, num_beams), dtype=torch.bool, device=device)
    can_improve = torch.ones((batch, 1), dtype=torch.bool, device=device)
    running_idx = torch.full(
        (batch, num_beams, max_length - prompt_len), -1, dtype=torch.int32, device=device
    )
    finished_idx = running_idx.clone()
    items = torch.arange(batch, device=device)  # original index of each running batch item
    out = None  # (sequences, scores, beam indices) of every item, once items start leaving

    cur_len = prompt_len
    while True:
        flat = running[:, :, :cur_len].reshape(batch * num_beams, cur_len)
        logits = runner.logits(flat)
        log_probs = processors(flat, torch.log_softmax(logits, dim=-1))
        want.add(log_probs, logits, clone=True)
        vocab = log_probs.shape[-1]
        total = (log_probs.view(batch, num_beams, vocab) + running_scores[:, :, None]).view(
            batch, num_beams * vocab
        )

        # 1. the n_cand best (or sampled) continuations over all beams of each batch item
        if config.do_sample:
            cand = torch.multinomial(torch.softmax(total, dim=-1), num_samples=n_cand)
            cand_scores = torch.gather(total, 1, cand)
        else:
            cand_scores, cand = torch.topk(total, k=n_cand)
        src_beam = cand // vocab
        cand_seqs = _gather(running, src_beam)
        cand_seqs[:, :, cur_len] = cand % vocab
        cand_idx = _gather(running_idx, src_beam)
        # beam indices are reported as (original batch index) * num_beams + beam
        cand_idx[:, :, cur_len - prompt_len] = (src_beam + items[:, None] * num_beams).to(cand_idx.dtype)
        hits = criteria(cand_seqs[:, :, : cur_len + 1].reshape(batch * n_cand, cur_len + 1), want.scores)
        hits = hits.view(batch, n_cand)

        # 2. the best num_beams candidates that did not stop keep running
        open_scores = cand_scores + hits.to(torch.float32) * -1.0e9
        best = torch.topk(open_scores, k=num_beams)[1]
        running = _gather(cand_seqs, best)
        running_scores = _gather(open_scores, best)
        running_idx = _gather(cand_idx, best)
        # the cache rows they continue from (rows of the running batch)
        parents = _gather(src_beam, best) + torch.arange(batch, device=device)[:, None] * num_beams

        # 3. candidates that stopped (among the top num_beams) compete with the finished hypotheses
        just_finished = hits & is_top
        scores = cand_scores / ((cur_len + 1 - prompt_len) ** length_penalty)
        full = torch.all(is_finished, dim=-1, keepdim=True) & (early_stopping is True)
        scores += full.to(torch.float32) * -1.0e9
        scores += (~can_improve).to(torch.float32) * -1.0e9
        scores += (~just_finished) * -1.0e9
        merged_scores = torch.cat((finished_scores, scores), dim=1)
        best = torch.topk(merged_scores, k=num_beams)[1]
        finished_seqs = _gather(torch.cat((finished_seqs, cand_seqs), dim=1), best)
        finished_scores = _gather(merged_scores, best)
        finished_idx = _gather(torch.cat((finished_idx, cand_idx), dim=1), best)
        is_finished = _gather(torch.cat((is_finished, just_finished), dim=1), best)

        runner.reorder(parents.reshape(-1))
        cur_len += 1

        # 4. stop when no running beam can beat the worst finished one (length-penalty heuristic)
        if early_stopping == "never" and length_penalty > 0.0:
            best_len = max_length - prompt_len
        else:
            best_len = cur_len - prompt_len
        best_running = running_scores[:, :1] / (best_len**length_penalty)
        worst_finished = torch.where(is_finished, torch.min(finished_scores, dim=1, keepdim=True)[0], -1.0e9)
        can_improve = can_improve & torch.any(best_running > worst_finished, dim=-1, keepdim=True)
        # An item is settled when all its hypotheses are finished and none can be replaced any more.
        settled = torch.all(is_finished, dim=-1) & (~can_improve[:, 0] | (early_stopping is True))
        any_improve, all_finished, all_hit, n_settled = torch.stack(
            (can_improve.any(), is_finished.all(), hits.all(), settled.sum())
        ).tolist()
        if not any_improve or (all_finished and early_stopping is True) or all_hit:
            break

        if can_drop and n_settled and n_settled * 4 >= batch and max_length - cur_len >= 4:
            if out is None:
                out = [finished_seqs.clone(), finished_scores.clone(), finished_idx.clone()]
            out[0][items], out[1][items], out[2][items] = finished_seqs, finished_scores, finished_idx
            keep = (~settled).nonzero().squeeze(1)
            running, running_scores, running_idx = running[keep], running_scores[keep], running_idx[keep]
            finished_seqs, finished_scores, finished_idx = (
                finished_seqs[keep],
                finished_scores[keep],
                finished_idx[keep],
            )
            is_finished, can_improve, items = is_finished[keep], can_improve[keep], items[keep]
            runner.keep((keep[:, None] * num_beams + torch.arange(num_beams, device=device)).reshape(-1))
            batch = keep.shape[0]

    if out is not None:
        out[0][items], out[1][items], out[2][items] = finished_seqs, finished_scores, finished_idx
        finished_seqs, finished_scores, finished_idx = out
    sequences = finished_seqs[:, :n_return].reshape(total_batch * n_return, max_length)
    seq_scores = finished_scores[:, :n_return].reshape(-1)
    beam_indices = finished_idx[:, :n_return].reshape(total_batch * n_return, -1)
    generated = int((beam_indices + 1).bool().sum(dim=1).max())
    sequences = sequences[:, : prompt_len + generated]
    beam_indices = beam_indices[:, :generated]
    if not config.return_dict_in_generate:
        return sequences
    cls = GenerateBeamEncoderDecoderOutput if runner.is_ed else GenerateBeamDecoderOnlyOutput
    return cls(
        sequences=sequences,
        sequences_scores=seq_scores if config.output_scores else None,
        beam_indices=beam_indices,
        past_key_values=runner.cache,
        **want.fields(),
    )


__all__ = [
    "generate",
    "GenerateOutput",
    "GenerateDecoderOnlyOutput",
    "GenerateEncoderDecoderOutput",
    "GenerateBeamDecoderOnlyOutput",
    "GenerateBeamEncoderDecoderOutput",
]
