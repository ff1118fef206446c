"""Multiple-choice datasets as the benchmarks ship them: which columns hold the question, the passage,
the choices and the label (TruthfulQA mc1/mc2, ARC, MMLU, HellaSwag, Belebele, or a plain
question/choices/label), read one way for `translate` (the strings to translate; the label never
changes) and for `eval benchmark` (one question, its choices and the index of the right one)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lingualift.errors import DataError

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Shape:
    """Where a row's parts are. Paths are `column` or `column.key` (a dict column); `choices` is one
    path to a list, or several paths to one string each (Belebele)."""

    name: str
    question: str
    choices: tuple[str, ...]
    label: str
    passage: str | None = None
    label_kind: str = "index"  # index, letter (or a choice's own label), ones (a 0/1 list: TruthfulQA)
    choice_labels: str | None = None  # ARC: the choices' own labels (A-E, or 1-4)
    also: tuple[str, ...] = ()  # other strings translated with it (TruthfulQA's mc2 choices)

    @property
    def text_fields(self) -> tuple[str, ...]:
        """What translate translates, in order; the label is never among them."""
        return ((self.passage,) if self.passage else ()) + (self.question, *self.choices, *self.also)


def value(row: dict, path: str):
    """`column` or `column.key` of a row."""
    column, _, key = path.partition(".")
    found = row[column]
    return found[key] if key else found


def _is_dict(feature, *keys) -> bool:
    return isinstance(feature, dict) and all(k in feature for k in keys)


def detect(features) -> Shape | None:
    """The multiple-choice shape these columns (datasets Features, or a dict of them) have, or None."""
    have = set(features)
    if {"question", "mc1_targets"} <= have and _is_dict(features["mc1_targets"], "choices", "labels"):
        mc2 = ("mc2_targets.choices",) if _is_dict(features.get("mc2_targets"), "choices") else ()
        return Shape(
            "truthfulqa_mc1",
            "question",
            ("mc1_targets.choices",),
            "mc1_targets.labels",
            label_kind="ones",
            also=mc2,
        )
    if {"question", "choices", "answerKey"} <= have and _is_dict(features["choices"], "text", "label"):
        return Shape(
            "arc",
            "question",
            ("choices.text",),
            "answerKey",
            label_kind="letter",
            choice_labels="choices.label",
        )
    if {"ctx", "endings", "label"} <= have:
        return Shape("hellaswag", "ctx", ("endings",), "label")
    answers = sorted((c for c in have if re.fullmatch(r"mc_answer\d", c)), key=lambda c: int(c[-1]))
    if {"question", "flores_passage", "correct_answer_num"} <= have and answers:
        return Shape(
            "belebele",
            "question",
            tuple(answers),
            "correct_answer_num",
            passage="flores_passage",
            label_kind="number",
        )
    for label in ("answer", "label"):
        if {"question", "choices", label} <= have and not isinstance(features["choices"], dict):
            passage = next((c for c in ("passage", "context") if c in have), None)
            return Shape(
                "mmlu" if label == "answer" else "question_choices", "question", ("choices",), label, passage
            )
    return None


def choices(shape: Shape, row: dict) -> list:
    if len(shape.choices) == 1:
        return list(value(row, shape.choices[0]) or [])
    return [value(row, path) for path in shape.choices]


def label_index(shape: Shape, row: dict, where: str) -> int:
    """The right choice's index, checked against the number of choices (one line naming the row)."""
    raw, count = value(row, shape.label), len(choices(shape, row))
    try:
        if shape.label_kind == "ones":
            index = list(raw).index(1)
        elif shape.label_kind == "number":
            index = int(raw) - 1
        elif shape.label_kind == "letter":
            own = list(value(row, shape.choice_labels)) if shape.choice_labels else list(LETTERS[:count])
            index = own.index(str(raw))
        elif isinstance(raw, str) and raw.strip().upper() in LETTERS and not raw.strip().isdigit():
            index = LETTERS.index(raw.strip().upper())
        else:
            index = int(raw)
    except (ValueError, TypeError):
        index = -1
    if not 0 <= index < count:
        raise DataError(
            f"{where}: label {raw!r} ({shape.label}) names no choice of its {count} — fix the label or drop the row"
        )
    return index
