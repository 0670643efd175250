"""`import leanformers` stays light (no torch) and the public names resolve lazily to the right objects."""

from __future__ import annotations

import subprocess
import sys

import pytest

import leanformers
from leanformers import auto


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_does_not_import_torch():
    out = _run(
        "import sys, leanformers\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
        "leanformers.AutoConfig\n"  # configs and Auto classes need no torch either
        "print('torch' in sys.modules)\n"
        "leanformers.AutoModel.from_config\n"
        "print('torch' in sys.modules)\n"
    )
    assert out.split() == ["False", "False", "False", "False"]


def test_model_classes_load_lazily_and_never_import_the_reference():
    out = _run(
        "import sys, leanformers\n"
        "cls = leanformers.BertForSequenceClassification\n"
        "print(cls.__module__, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
        "import leanformers.models.bert, leanformers.models.distilbert, leanformers.models.roberta\n"
        "print('transformers' in sys.modules)\n"
    )
    assert out.split() == ["leanformers.models.bert", "True", "False", "False"]


def test_public_names():
    assert leanformers.AutoModel is auto.AutoModel
    assert "BertModel" in dir(leanformers) and "AutoModelForQuestionAnswering" in leanformers.__all__
    with pytest.raises(AttributeError, match="no attribute 'BertModle'"):
        leanformers.BertModle  # noqa: B018


ENCODER_TYPES = ("bert", "distilbert", "roberta", "xlm-roberta")
ENCODER_MAPPINGS = [
    auto.MODEL_MAPPING,
    auto.MODEL_FOR_MASKED_LM_MAPPING,
    auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
    auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING,
    auto.MODEL_FOR_QUESTION_ANSWERING_MAPPING,
]


@pytest.mark.parametrize("model_type", ENCODER_TYPES)
def test_auto_tables_resolve_for_the_encoders(model_type):
    config_class = auto.import_class(auto.CONFIG_MAPPING[model_type])
    assert config_class.model_type == model_type
    for mapping in ENCODER_MAPPINGS:
        cls = auto.import_class(mapping[model_type])
        assert cls.config_class is config_class, mapping[model_type]
        # every exported name is the class the table names
        assert getattr(leanformers, cls.__name__) is cls


@pytest.mark.parametrize("model_type", ENCODER_TYPES)
def test_auto_classes_build_each_head(model_type):
    kwargs = (
        {"dim": 16, "n_layers": 1, "n_heads": 2, "hidden_dim": 20}
        if model_type == "distilbert"
        else {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 20}
    )
    config = leanformers.AutoConfig.for_model(model_type, vocab_size=50, **kwargs)
    for auto_class, mapping in zip(
        [
            leanformers.AutoModel,
            leanformers.AutoModelForMaskedLM,
            leanformers.AutoModelForSequenceClassification,
            leanformers.AutoModelForTokenClassification,
            leanformers.AutoModelForQuestionAnswering,
        ],
        ENCODER_MAPPINGS,
    ):
        model = auto_class.from_config(config)
        assert type(model).__name__ == mapping[model_type].split(":")[1]
        assert model_type in auto_class.supported_model_types()
