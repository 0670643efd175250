"""token-classification (alias ner): a label per token, or per entity with `aggregation_strategy`.

Each result item has the reference's keys in its order: `entity, score, index, word, start, end`
per token (strategy "none"), or `entity_group, score, word, start, end` per grouped entity
("simple", "first", "average", "max"). `start`/`end` are character offsets into the text.
Texts longer than the model reads are truncated, or, with `stride=N`, cut into overlapping windows
whose entities are merged (the longest, then the best-scored, wins where two overlap).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .base import ChunkPipeline

STRATEGIES = ("none", "simple", "first", "average", "max")
_WORD_STRATEGIES = ("first", "average", "max")


class TokenClassificationPipeline(ChunkPipeline):
    model_auto_class = "AutoModelForTokenClassification"
    padded_outputs = ("logits",)

    def _sanitize_parameters(
        self,
        ignore_labels: list[str] | None = None,
        grouped_entities: bool | None = None,
        ignore_subwords: bool | None = None,
        aggregation_strategy: str | None = None,
        offset_mapping: list | None = None,
        is_split_into_words: bool = False,
        stride: int | None = None,
        delimiter: str | None = None,
    ) -> tuple[dict, dict, dict]:
        preprocess_params: dict[str, Any] = {"is_split_into_words": is_split_into_words}
        if is_split_into_words:
            preprocess_params["delimiter"] = " " if delimiter is None else delimiter
        if offset_mapping is not None:
            preprocess_params["offset_mapping"] = offset_mapping
        postprocess_params: dict[str, Any] = {}
        if grouped_entities is not None or ignore_subwords is not None:  # the deprecated spellings
            if grouped_entities and ignore_subwords:
                aggregation_strategy = "first"
            elif grouped_entities:
                aggregation_strategy = "simple"
            else:
                aggregation_strategy = "none"
            warnings.warn(
                f'grouped_entities/ignore_subwords are deprecated: use aggregation_strategy="{aggregation_strategy}".',
                stacklevel=3,
            )
        if aggregation_strategy is not None:
            aggregation_strategy = str(getattr(aggregation_strategy, "value", aggregation_strategy)).lower()
            if aggregation_strategy not in STRATEGIES:
                raise ValueError(
                    f"aggregation_strategy={aggregation_strategy!r} is not one of {', '.join(STRATEGIES)}."
                )
            postprocess_params["aggregation_strategy"] = aggregation_strategy
        if ignore_labels is not None:
            postprocess_params["ignore_labels"] = ignore_labels
        if stride is not None:
            if stride >= self.max_length:
                raise ValueError(
                    f"stride ({stride}) must be less than the model's max length ({self.max_length}), minus the "
                    "special tokens the tokenizer adds."
                )
            if aggregation_strategy in (None, "none"):
                raise ValueError(
                    "stride= reads the whole text in windows and merges their entities, which needs an aggregation: "
                    'pass aggregation_strategy="simple" (or "first", "average", "max").'
                )
            preprocess_params["tokenizer_params"] = {
                "return_overflowing_tokens": True,
                "padding": True,
                "stride": stride,
            }
        return preprocess_params, {}, postprocess_params

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Label the tokens of a text (or of a list of texts, or of a list of words with is_split_into_words=True)."""
        if inputs is None or (isinstance(inputs, (list, tuple)) and len(inputs) == 0):
            raise ValueError("At least one input is required: pass a text or a list of texts.")
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if kwargs.get("is_split_into_words") and isinstance(inputs, list):
            if not all(isinstance(x, list) for x in inputs):
                return super().__call__([inputs], **kwargs)
        offset_mapping = kwargs.get("offset_mapping")
        if offset_mapping and isinstance(offset_mapping, list) and isinstance(offset_mapping[0], tuple):
            kwargs["offset_mapping"] = [offset_mapping]
        return super().__call__(inputs, **kwargs)

    def preprocess(
        self,
        sentence: Any,
        offset_mapping: list | None = None,
        is_split_into_words: bool = False,
        delimiter: str = " ",
        tokenizer_params: dict | None = None,
    ):
        tokenizer_params = dict(tokenizer_params or {})
        word_to_chars_map = None
        if is_split_into_words:
            if not isinstance(sentence, list) or not all(isinstance(w, str) for w in sentence):
                raise ValueError(
                    "With is_split_into_words=True, each input must be a list of words (strings)."
                )
            words = sentence
            sentence = delimiter.join(words)  # the text that offsets point into
            word_to_chars_map, char_offset = [], 0
            for word in words:
                word_to_chars_map.append((char_offset, char_offset + len(word)))
                char_offset += len(word) + len(delimiter)
            to_tokenize: Any = words
            tokenizer_params["is_split_into_words"] = True
        else:
            to_tokenize = self._require_text(sentence, "text (an untokenized string)")
        if self.max_length < self._tokenizer_limit():
            tokenizer_params.setdefault(
                "max_length", self.max_length
            )  # the model reads less than the tokenizer claims
        inputs = self.tokenizer(
            to_tokenize,
            return_tensors="pt",
            truncation=True,
            return_special_tokens_mask=True,
            return_offsets_mapping=True,
            **tokenizer_params,
        )
        word_ids = (
            [inputs.word_ids(i) for i in range(len(inputs["input_ids"]))] if word_to_chars_map else None
        )
        inputs = {k: v for k, v in inputs.items() if k != "overflow_to_sample_mapping"}
        rows = []
        for i in range(len(inputs["input_ids"])):
            row = {k: v[i : i + 1] for k, v in inputs.items()}
            if offset_mapping is not None:
                row["offset_mapping"] = offset_mapping
            row["sentence"] = sentence if i == 0 else None
            if word_to_chars_map is not None:
                row["word_ids"] = word_ids[i]
                row["word_to_chars_map"] = word_to_chars_map
            rows.append(row)
        return rows

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        extra_keys = ("special_tokens_mask", "offset_mapping", "sentence", "word_ids", "word_to_chars_map")
        extras = {k: model_inputs[k] for k in extra_keys if k in model_inputs}
        inputs = {k: v for k, v in model_inputs.items() if k not in extra_keys}
        logits = self.model(**inputs)["logits"]
        return {"logits": logits, **extras, **inputs}

    def postprocess(
        self, all_outputs: list[dict[str, Any]], aggregation_strategy: str = "none", ignore_labels=None
    ):
        ignore_labels = ["O"] if ignore_labels is None else ignore_labels
        entities: list[dict] = []
        sentence = all_outputs[0]["sentence"]
        word_to_chars_map = all_outputs[0].get("word_to_chars_map")
        for out in all_outputs:
            logits = out["logits"][0].float().numpy()
            offsets = out.get("offset_mapping")
            offsets = offsets[0] if offsets is not None else None
            if hasattr(offsets, "tolist"):
                offsets = offsets.tolist()
            shifted = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
            scores = shifted / shifted.sum(axis=-1, keepdims=True)
            pre_entities = self.gather_pre_entities(
                sentence,
                out["input_ids"][0].tolist(),
                scores,
                offsets,
                out["special_tokens_mask"][0].tolist(),
                aggregation_strategy,
                out.get("word_ids"),
                word_to_chars_map,
            )
            grouped = self.aggregate(pre_entities, aggregation_strategy)
            entities += [
                e
                for e in grouped
                if e.get("entity") not in ignore_labels and e.get("entity_group") not in ignore_labels
            ]
        if len(all_outputs) > 1:
            entities = self.aggregate_overlapping_entities(entities)
        for e in entities:
            e["score"] = float(e["score"])
        return entities

    # -- the reference's algorithm, step by step -------------------------------------------------
    def aggregate_overlapping_entities(self, entities: list[dict]) -> list[dict]:
        """Entities of overlapping windows: where two overlap keep the longer, then the better-scored."""
        if not entities:
            return entities
        entities = sorted(entities, key=lambda x: x["start"])
        merged = []
        previous = entities[0]
        for entity in entities:
            if previous["start"] <= entity["start"] < previous["end"]:
                length, previous_length = entity["end"] - entity["start"], previous["end"] - previous["start"]
                if length > previous_length or (
                    length == previous_length and entity["score"] > previous["score"]
                ):
                    previous = entity
            else:
                merged.append(previous)
                previous = entity
        merged.append(previous)
        return merged

    def _continuing_subword_prefix(self) -> str | None:
        backend = getattr(self.tokenizer, "backend_tokenizer", None) or getattr(
            self.tokenizer, "_tokenizer", None
        )
        return getattr(getattr(backend, "model", None), "continuing_subword_prefix", None)

    def gather_pre_entities(
        self,
        sentence: str,
        input_ids: list[int],
        scores: np.ndarray,
        offset_mapping: list | None,
        special_tokens_mask: list[int],
        aggregation_strategy: str,
        word_ids: list[int | None] | None = None,
        word_to_chars_map: list[tuple[int, int]] | None = None,
    ) -> list[dict]:
        """One dict per non-special token: its text, scores, character span and whether it continues a word."""
        has_prefix = bool(self._continuing_subword_prefix())
        if not has_prefix and offset_mapping is not None and aggregation_strategy in _WORD_STRATEGIES:
            # Byte-level BPE has no "##" marker: a token continues a word when no space precedes it.
            warnings.warn(
                "Tokenizer does not support real words, using fallback heuristic", UserWarning, stacklevel=3
            )
        unk_id = self.tokenizer.unk_token_id
        pre_entities = []
        for idx, token_scores in enumerate(scores):
            if special_tokens_mask[idx]:
                continue
            word = self.tokenizer.convert_ids_to_tokens(int(input_ids[idx]))
            if offset_mapping is not None:
                start, end = (int(x) for x in offset_mapping[idx])
                if word_ids is not None and word_to_chars_map is not None and word_ids[idx] is not None:
                    word_start = word_to_chars_map[word_ids[idx]][0]
                    start, end = start + word_start, end + word_start
                word_ref = sentence[start:end]
                if has_prefix:
                    # A "##piece" token is longer than its text: it continues the previous word.
                    is_subword = len(word) != len(word_ref)
                else:
                    is_subword = start > 0 and " " not in sentence[start - 1 : start + 1]
                if int(input_ids[idx]) == unk_id:
                    word, is_subword = word_ref, False
            else:
                start = end = None
                is_subword = False
            pre_entities.append(
                {
                    "word": word,
                    "scores": token_scores,
                    "start": start,
                    "end": end,
                    "index": idx,
                    "is_subword": is_subword,
                }
            )
        return pre_entities

    def aggregate(self, pre_entities: list[dict], aggregation_strategy: str) -> list[dict]:
        id2label = self.model.config.id2label
        if aggregation_strategy in ("none", "simple"):
            entities = []
            for pre in pre_entities:
                idx = int(pre["scores"].argmax())
                entities.append(
                    {
                        "entity": id2label[idx],
                        "score": pre["scores"][idx],
                        "index": pre["index"],
                        "word": pre["word"],
                        "start": pre["start"],
                        "end": pre["end"],
                    }
                )
        else:
            entities = self.aggregate_words(pre_entities, aggregation_strategy)
        if aggregation_strategy == "none":
            return entities
        return self.group_entities(entities)

    def aggregate_word(self, entities: list[dict], aggregation_strategy: str) -> dict:
        """The tokens of one word -> one labelled word ("first", "max" or "average" picks the label)."""
        id2label = self.model.config.id2label
        word = self.tokenizer.convert_tokens_to_string([e["word"] for e in entities])
        if aggregation_strategy == "first":
            scores = entities[0]["scores"]
        elif aggregation_strategy == "max":
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        elif aggregation_strategy == "average":
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        else:
            raise ValueError(f"Invalid aggregation_strategy {aggregation_strategy!r} for word aggregation.")
        idx = int(scores.argmax())
        return {
            "entity": id2label[idx],
            "score": scores[idx],
            "word": word,
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }

    def aggregate_words(self, entities: list[dict], aggregation_strategy: str) -> list[dict]:
        words, group = [], None
        for entity in entities:
            if group is None:
                group = [entity]
            elif entity["is_subword"]:
                group.append(entity)
            else:
                words.append(self.aggregate_word(group, aggregation_strategy))
                group = [entity]
        if group is not None:
            words.append(self.aggregate_word(group, aggregation_strategy))
        return words

    def group_sub_entities(self, entities: list[dict]) -> dict:
        """Consecutive tokens/words of one entity -> `{"entity_group", "score" (mean), "word", "start", "end"}`."""
        return {
            "entity_group": entities[0]["entity"].split("-", 1)[-1],
            "score": np.mean(np.nanmean([e["score"] for e in entities])),
            "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }

    @staticmethod
    def get_tag(entity_name: str) -> tuple[str, str]:
        """("B" | "I", tag): "B-PER" -> ("B", "PER"); a label without a prefix counts as "I"."""
        if entity_name.startswith("B-"):
            return "B", entity_name[2:]
        if entity_name.startswith("I-"):
            return "I", entity_name[2:]
        return "I", entity_name

    def group_entities(self, entities: list[dict]) -> list[dict]:
        groups, current = [], []
        for entity in entities:
            if not current:
                current.append(entity)
                continue
            bi, tag = self.get_tag(entity["entity"])
            _, last_tag = self.get_tag(current[-1]["entity"])
            if tag == last_tag and bi != "B":
                current.append(entity)
            else:
                groups.append(self.group_sub_entities(current))
                current = [entity]
        if current:
            groups.append(self.group_sub_entities(current))
        return groups


NerPipeline = TokenClassificationPipeline
