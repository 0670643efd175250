"""GenerationConfig: defaults, files and validation as the reference's."""

from __future__ import annotations

import json

import pytest
import transformers

from leanformers.generation import GenerationConfig


def test_defaults_equal_the_reference():
    ours, theirs = GenerationConfig().to_dict(), transformers.GenerationConfig().to_dict()
    assert set(ours) == set(theirs) - {"_original_object_hash"} | (set(ours) & {"_original_object_hash"})
    for key, value in theirs.items():
        if key in ("transformers_version", "_original_object_hash"):
            continue
        assert ours[key] == value, key


def test_json_round_trip_both_ways(tmp_path):
    kwargs = dict(
        max_new_tokens=7, do_sample=True, top_p=0.9, eos_token_id=[1, 2], pad_token_id=0, custom_key=3
    )
    GenerationConfig(**kwargs).save_pretrained(tmp_path / "ours")
    transformers.GenerationConfig(**kwargs).save_pretrained(tmp_path / "theirs")
    ours_file = json.loads((tmp_path / "ours" / "generation_config.json").read_text())
    theirs_file = json.loads((tmp_path / "theirs" / "generation_config.json").read_text())
    assert ours_file == theirs_file
    loaded = GenerationConfig.from_pretrained(tmp_path / "theirs")
    assert loaded.eos_token_id == [1, 2] and loaded.top_p == 0.9 and loaded.custom_key == 3
    assert transformers.GenerationConfig.from_pretrained(tmp_path / "ours").max_new_tokens == 7


@pytest.mark.filterwarnings("ignore:Some non-default generation parameters")
def test_from_model_config_takes_generation_fields(tmp_path):
    from leanformers import AutoConfig

    model_config = transformers.BartConfig(
        vocab_size=50, d_model=16, num_beams=4, max_length=30, forced_bos_token_id=0, no_repeat_ngram_size=3
    )
    model_config.save_pretrained(tmp_path)
    ours = GenerationConfig.from_model_config(AutoConfig.from_pretrained(tmp_path))
    theirs = transformers.GenerationConfig.from_model_config(model_config)
    assert ours.to_json_string(ignore_metadata=True) == theirs.to_json_string(ignore_metadata=True)
    assert not hasattr(ours, "d_model")  # model hyper-parameters are not generation parameters


def test_from_model_folder_prefers_the_file(tmp_path):
    from leanformers import AutoConfig

    config = AutoConfig.for_model("gpt2", eos_token_id=5, bos_token_id=5)
    assert GenerationConfig.from_model_folder(tmp_path, config).eos_token_id == 5
    GenerationConfig(eos_token_id=9, max_new_tokens=3).save_pretrained(tmp_path)
    loaded = GenerationConfig.from_model_folder(tmp_path, config)
    assert loaded.eos_token_id == 9 and loaded.max_new_tokens == 3


def test_update_returns_unused_and_from_pretrained_kwargs(tmp_path):
    config = GenerationConfig()
    unused = config.update(top_k=3, foo="bar", num_beams=2)
    assert unused == {"foo": "bar"} and config.top_k == 3 and config.num_beams == 2
    GenerationConfig(top_k=4, do_sample=True).save_pretrained(tmp_path)
    loaded, unused = GenerationConfig.from_pretrained(tmp_path, top_k=1, foo=False, return_unused_kwargs=True)
    # As the reference: unknown keys become custom attributes of the loaded config.
    assert loaded.top_k == 1 and loaded.foo is False and unused == {}


def test_equality_ignores_metadata():
    assert GenerationConfig(top_k=3) == GenerationConfig(top_k=3, transformers_version="4.40.0")
    assert GenerationConfig(top_k=3) != GenerationConfig(top_k=4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(num_beams=2, num_return_sequences=3), "num_return_sequences"),
        (dict(num_return_sequences=2), "num_return_sequences"),
        (dict(do_sample=True, temperature=0.0), "do_sample=False"),
        (dict(do_sample=True, top_p=0.0), "top_p"),
        (dict(do_sample=True, top_p=1.01), "top_p"),
        (dict(early_stopping="maybe"), "early_stopping"),
        (dict(streamer=object()), "streamer"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GenerationConfig(**kwargs)


def test_sampling_values_are_free_when_not_sampling():
    # The reference only warns about sampling values without do_sample; so do we (no error).
    GenerationConfig(temperature=0.0, top_p=5.0)
