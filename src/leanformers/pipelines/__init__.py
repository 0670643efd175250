"""`pipeline()`: a task name (or a checkpoint) -> a ready-to-call pipeline object.

The task table below is the one place that says which class runs a task, which Auto class loads
its model, and which Hub ids are its default models. Importing this module imports no torch; the
pipeline classes are imported when a pipeline is built.

    >>> from leanformers import pipeline
    >>> classifier = pipeline("sentiment-analysis")
    >>> classifier("I've been waiting for a HuggingFace course my whole life.")
    [{'label': 'POSITIVE', 'score': 0.95...}]
"""

from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from typing import Any

from ..utils import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True)
class Task:
    impl: str  # "module:Class" under leanformers.pipelines
    auto_class: str  # the Auto class in leanformers.auto that loads the model
    defaults: tuple[str, ...]  # Hub ids of default models: the first one found in the cache wins
    description: str


# Default ids are the reference library's (transformers 4.57.6 SUPPORTED_TASKS, PyTorch column);
# extra offline-buildable candidates follow them.
TASKS: dict[str, Task] = {
    "feature-extraction": Task(
        "feature_extraction:FeatureExtractionPipeline",
        "AutoModel",
        ("distilbert/distilbert-base-cased",),
        "one vector per token (the model's last hidden state)",
    ),
    "text-classification": Task(
        "text_classification:TextClassificationPipeline",
        "AutoModelForSequenceClassification",
        (
            "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
            "leanformers/all-MiniLM-L6-v2-sentiment",
        ),
        "a label (and score) per text or text pair",
    ),
    "token-classification": Task(
        "token_classification:TokenClassificationPipeline",
        "AutoModelForTokenClassification",
        ("dbmdz/bert-large-cased-finetuned-conll03-english",),
        "a label per token or entity (named entities)",
    ),
    "question-answering": Task(
        "question_answering:QuestionAnsweringPipeline",
        "AutoModelForQuestionAnswering",
        ("distilbert/distilbert-base-cased-distilled-squad",),
        "the answer span to a question in a context",
    ),
    "fill-mask": Task(
        "fill_mask:FillMaskPipeline",
        "AutoModelForMaskedLM",
        ("distilbert/distilroberta-base",),
        "the likeliest tokens for each mask token",
    ),
    "zero-shot-classification": Task(
        "zero_shot:ZeroShotClassificationPipeline",
        "AutoModelForSequenceClassification",
        ("facebook/bart-large-mnli",),
        "scores for labels chosen at call time (an NLI model)",
    ),
    "text-generation": Task(
        "text_generation:TextGenerationPipeline",
        "AutoModelForCausalLM",
        ("openai-community/gpt2",),
        "continues a prompt or a chat",
    ),
    "summarization": Task(
        "text2text:SummarizationPipeline",
        "AutoModelForSeq2SeqLM",
        ("sshleifer/distilbart-cnn-12-6",),
        "a shorter text with the gist of a long one",
    ),
    "translation": Task(
        "text2text:TranslationPipeline",
        "AutoModelForSeq2SeqLM",
        (),  # per language pair: TRANSLATION_DEFAULTS
        "text in another language (translation_xx_to_yy)",
    ),
    "text2text-generation": Task(
        "text2text:Text2TextGenerationPipeline",
        "AutoModelForSeq2SeqLM",
        ("google-t5/t5-base",),
        "text to text with a sequence-to-sequence model",
    ),
}

TASK_ALIASES: dict[str, str] = {"sentiment-analysis": "text-classification", "ner": "token-classification"}

TRANSLATION_DEFAULTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("en", "fr"): ("google-t5/t5-base",),
    ("en", "de"): ("google-t5/t5-base",),
    ("en", "ro"): ("google-t5/t5-base",),
}

# Offline recipes for default ids that leanformers can build itself (the error message points at them).
_BUILD_COMMANDS: dict[str, str] = {
    "leanformers/all-MiniLM-L6-v2-sentiment": "leanformers build-default sentiment-analysis",
}

# The task a checkpoint is for, read from its head class (config.architectures); first match wins.
_TASK_OF_AUTO_CLASS: dict[str, str] = {
    "AutoModelForSequenceClassification": "text-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForMaskedLM": "fill-mask",
    "AutoModelForCausalLM": "text-generation",
    "AutoModelForSeq2SeqLM": "text2text-generation",
    "AutoModel": "feature-extraction",
}


class UnknownTaskError(KeyError, ValueError):
    """A task name that is not in the table (a KeyError as in the reference, and a ValueError)."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_supported_tasks() -> list[str]:
    """Every task name and alias `pipeline()` accepts, sorted."""
    return sorted([*TASKS, *TASK_ALIASES])


def check_task(task: str) -> tuple[str, Task, tuple[str, str] | None]:
    """(normalised task, its table entry, options): aliases resolved, `translation_xx_to_yy` parsed."""
    if not isinstance(task, str):
        raise TypeError(f"task must be a string such as 'text-classification', got {type(task).__name__}.")
    name = TASK_ALIASES.get(task, task)
    if name in TASKS:
        return name, TASKS[name], None
    if name.startswith("translation"):
        parts = name.split("_")
        if len(parts) == 4 and parts[0] == "translation" and parts[2] == "to" and parts[1] and parts[3]:
            return "translation", TASKS["translation"], (parts[1], parts[3])
        raise UnknownTaskError(
            f"Invalid translation task {task!r}: use the 'translation_XX_to_YY' format, e.g. 'translation_en_to_fr'."
        )
    known = [*get_supported_tasks(), "translation_XX_to_YY"]
    close = difflib.get_close_matches(task, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownTaskError(f"Unknown task {task!r}.{hint} Known tasks: {', '.join(known)}.")


def default_model_candidates(task: str) -> tuple[str, ...]:
    """The Hub ids `pipeline(task)` tries, in order, when no model is given."""
    name, spec, options = check_task(task)
    if options is not None:
        if options not in TRANSLATION_DEFAULTS:
            pairs = ", ".join(f"translation_{s}_to_{t}" for s, t in TRANSLATION_DEFAULTS)
            raise ValueError(
                f"There is no default model for {task!r} (defaults exist for {pairs}). Pass model= a translation "
                "checkpoint for that language pair."
            )
        return TRANSLATION_DEFAULTS[options]
    if not spec.defaults:
        raise ValueError(
            f"The task {task!r} needs a language pair to pick a default model: use 'translation_XX_to_YY'."
        )
    return spec.defaults


def _is_cached(repo_id: str, cache_dir: str | None = None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    from ..hub import hub_cache_dir

    try:
        return isinstance(
            try_to_load_from_cache(repo_id, "config.json", cache_dir=hub_cache_dir(cache_dir)), str
        )
    except ValueError:  # not a valid repo id
        return False


def _missing_defaults_message(task: str, candidates: tuple[str, ...], cache_dir: str | None, why: str) -> str:
    from ..hub import hub_cache_dir

    ids = ", ".join(repr(c) for c in candidates)
    fixes = [
        f"`leanformers cache import FOLDER --repo-id {candidates[0]}` (FOLDER holds its config.json, weights and tokenizer files)"
    ]
    fixes += [f"`{_BUILD_COMMANDS[c]}` (builds {c} offline)" for c in candidates if c in _BUILD_COMMANDS]
    return (
        f"No model was given for task {task!r}, and its default model ({ids}) is not in the Hub cache "
        f"{hub_cache_dir(cache_dir)}: {why}. Install one with {' or '.join(fixes)}, or pass model= a folder or Hub id."
    )


def pick_default_model(task: str, cache_dir: str | None = None) -> tuple[str, bool]:
    """(Hub id, whether it is cached): the first cached candidate, else the first one (to download)."""
    from ..hub import HubError, is_offline

    candidates = default_model_candidates(task)
    for candidate in candidates:
        if _is_cached(candidate, cache_dir):
            return candidate, True
    if is_offline():
        raise HubError(
            _missing_defaults_message(task, candidates, cache_dir, "offline mode is on (HF_HUB_OFFLINE=1)")
        )
    return candidates[0], False


def _auto_class_names(auto_class: str) -> set[str]:
    from .. import auto

    if auto_class == "AutoModel":
        return {spec.split(":")[1] for spec in auto.MODEL_MAPPING.values()}
    return {spec.split(":")[1] for spec in getattr(auto, auto_class)._mapping.values()}


def tasks_for_architecture(architecture: str, model_type: str | None = None) -> list[str]:
    """The tasks a checkpoint with this head class can serve (feature-extraction serves any model)."""
    from .. import auto

    tasks = [
        name
        for name, spec in TASKS.items()
        if spec.auto_class != "AutoModel" and architecture in _auto_class_names(spec.auto_class)
    ]
    if "text-classification" in tasks:
        tasks.insert(0, tasks.pop(tasks.index("text-classification")))
    if model_type in auto.MODEL_MAPPING or architecture in _auto_class_names("AutoModel"):
        tasks.append("feature-extraction")
    return tasks


def infer_task(config: Any, model_name: str = "the model") -> str:
    """The task a checkpoint is for, from `config.architectures` (its head class)."""
    architectures = list(getattr(config, "architectures", None) or [])
    for arch in architectures:
        for auto_class, task in _TASK_OF_AUTO_CLASS.items():
            if arch in _auto_class_names(auto_class):
                if task == "text2text-generation" and getattr(config, "model_type", "") == "marian":
                    return "translation"
                return task
    if not architectures:
        raise ValueError(
            f"Cannot infer the task of {model_name}: its config.json lists no 'architectures'. Pass the task, e.g. "
            f"pipeline('text-classification', model=...). Known tasks: {', '.join(get_supported_tasks())}."
        )
    raise ValueError(
        f"Cannot infer the task of {model_name}: leanformers has no pipeline for {', '.join(architectures)}. "
        f"Pass the task explicitly. Known tasks: {', '.join(get_supported_tasks())}."
    )


def check_head_fits(
    task: str, spec: Task, architectures: list[str], model_type: str | None, model_name: str
) -> None:
    """Refuse a checkpoint whose head cannot serve `task` (a new head would answer at random)."""
    if spec.auto_class == "AutoModel" or not architectures:
        return
    allowed = _auto_class_names(spec.auto_class)
    if any(arch in allowed for arch in architectures):
        return
    supported: list[str] = []
    for arch in architectures:
        supported += [t for t in tasks_for_architecture(arch, model_type) if t not in supported]
    raise ValueError(
        f"{model_name} is a {'/'.join(architectures)} checkpoint; its head does not fit the task {task!r}. "
        f"It supports: {', '.join(supported) or 'no pipeline task'}. Use one of those tasks, or a checkpoint "
        f"trained for {task!r}."
    )


def _model_name(model: Any) -> str | None:
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    return None


def pipeline(
    task: str | None = None,
    model: Any = None,
    config: Any = None,
    tokenizer: Any = None,
    device: Any = None,
    dtype: Any = None,
    batch_size: int | None = None,
    *,
    torch_dtype: Any = None,
    device_map: Any = None,
    revision: str | None = None,
    token: str | bool | None = None,
    use_fast: bool = True,
    model_kwargs: dict[str, Any] | None = None,
    pipeline_class: type | None = None,
    framework: str | None = None,
    trust_remote_code: bool | None = None,
    **kwargs: Any,
):
    """Build the pipeline for `task` (a name or alias; inferred from the model when omitted).

    `model` is a Hub id, a local folder or a model object; without one the task's default model is
    loaded from the Hub cache. `tokenizer` and `config` likewise (they default to the model's).
    `device` (-1/"cpu", 0/"cuda", a torch.device), `dtype` ("auto" by default: the checkpoint's;
    `torch.bfloat16`, "float32", ...) and `batch_size` apply to every call; other keyword arguments
    are the task's own options (`top_k=`, `aggregation_strategy=`, ...).
    """
    from .. import auto
    from ..configuration import PretrainedConfig
    from ..hub import HubError

    if trust_remote_code:
        raise ValueError("trust_remote_code=True is not supported: leanformers runs only its own model code.")
    if framework not in (None, "pt"):
        raise ValueError(f"framework={framework!r}: leanformers runs PyTorch models only.")
    if task is None and model is None:
        raise RuntimeError(
            "pipeline() needs a task or a model: e.g. pipeline('sentiment-analysis') or pipeline(model='org/name')."
        )
    model_kwargs = dict(model_kwargs or {})
    hub_kwargs = {"revision": revision, "token": token}
    for key in ("cache_dir", "local_files_only", "force_download"):
        if key in model_kwargs:
            hub_kwargs[key] = model_kwargs.pop(key)
    hub_kwargs = {k: v for k, v in hub_kwargs.items() if v is not None}
    dtype = dtype if dtype is not None else torch_dtype
    if dtype is None:
        dtype = model_kwargs.pop("dtype", model_kwargs.pop("torch_dtype", "auto"))
    model = _model_name(model) or model
    model_name = model if isinstance(model, str) else None

    if isinstance(config, (str, os.PathLike)):
        config = auto.AutoConfig.from_pretrained(os.fspath(config), **hub_kwargs)
    elif config is None and model_name is not None:
        config = auto.AutoConfig.from_pretrained(model_name, **hub_kwargs)
    elif config is None and model is not None:
        config = getattr(model, "config", None)
    if config is not None and not isinstance(config, PretrainedConfig):
        raise TypeError(
            f"config must be a PretrainedConfig, a folder or a Hub id, got {type(config).__name__}."
        )

    if task is None:
        task = infer_task(config, model_name or type(model).__name__)
        logger.info("Task inferred from %s: %s", model_name or type(model).__name__, task)
    normalized, spec, _ = check_task(task)

    if model is None:
        model_name, cached = pick_default_model(task, hub_kwargs.get("cache_dir"))
        model = model_name
        logger.warning(
            "No model was supplied, defaulted to %s%s. Pass model= to choose one (recommended in production).",
            model_name,
            "" if cached else " (downloading it)",
        )
        try:
            config = auto.AutoConfig.from_pretrained(model_name, **hub_kwargs)
        except HubError as e:
            why = "the Hub could not be reached" if "could not be reached" in str(e) else str(e)
            raise HubError(
                _missing_defaults_message(
                    task, default_model_candidates(task), hub_kwargs.get("cache_dir"), why
                )
            ) from None

    if pipeline_class is None:
        module, cls_name = spec.impl.split(":")
        pipeline_class = getattr(importlib.import_module(f"{__name__}.{module}"), cls_name)

    from .base import resolve_pipeline_device

    if device is None and device_map is not None:
        from ..modeling import resolve_device

        device = resolve_device(device=None, device_map=device_map)
    if isinstance(model, str):
        check_head_fits(normalized, spec, list(config.architectures or []), config.model_type, model)
        device = resolve_pipeline_device(device)  # load straight onto it
        auto_class = getattr(auto, pipeline_class.model_auto_class)
        model = auto_class.from_pretrained(
            model, config=config, dtype=dtype, device=device, **hub_kwargs, **model_kwargs
        )
    else:
        _check_model_object(normalized, spec, pipeline_class, model)
        dtype = None if dtype == "auto" else dtype

    if tokenizer is None:
        tokenizer = model_name or getattr(config, "name_or_path", None) or None
        if not tokenizer:
            raise ValueError(
                f"Cannot tell which tokenizer goes with this {type(model).__name__}: pass tokenizer= (a tokenizer "
                "object, a folder or a Hub id)."
            )
    if isinstance(tokenizer, tuple):  # (id, kwargs), as the reference accepts
        tokenizer_id, tokenizer_kwargs = tokenizer
        tokenizer = _load_tokenizer(tokenizer_id, {**hub_kwargs, **tokenizer_kwargs})
    elif isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = _load_tokenizer(os.fspath(tokenizer), {**hub_kwargs, "use_fast": use_fast})

    if normalized == "translation" and task == "translation":
        params = getattr(model.config, "task_specific_params", None) or {}
        for key in params:
            if key.startswith("translation"):
                logger.warning(
                    '"translation" task was used, instead of "translation_XX_to_YY", defaulting to "%s"', key
                )
                task = key
                break
    return pipeline_class(
        model=model,
        tokenizer=tokenizer,
        task=task,
        device=device,
        dtype=dtype,
        batch_size=batch_size,
        **kwargs,
    )


def _load_tokenizer(name: str, kwargs: dict[str, Any]):
    from ..tokenization import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, **kwargs)


def _check_model_object(task: str, spec: Task, pipeline_class: type, model: Any) -> None:
    if not hasattr(model, "config"):
        raise TypeError(
            f"model must be a Hub id, a folder or a leanformers model, got {type(model).__name__}."
        )
    if spec.auto_class == "AutoModel":
        return
    name = type(model).__name__
    allowed = _auto_class_names(pipeline_class.model_auto_class)
    if name not in allowed:
        supported = tasks_for_architecture(name, getattr(model.config, "model_type", None))
        raise ValueError(
            f"The model is a {name}; its head does not fit the task {task!r}. It supports: "
            f"{', '.join(supported) or 'no pipeline task'}. Load it with the matching Auto class "
            f"(leanformers.{pipeline_class.model_auto_class}) or pick one of those tasks."
        )


def __getattr__(name: str) -> Any:
    # `leanformers.Pipeline` and friends, imported on first use (they import torch).
    if name in ("Pipeline", "ChunkPipeline", "PipelineException", "KeyDataset", "KeyPairDataset"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
