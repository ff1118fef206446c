"""Benchmarks translated as they ship: a question (and passage) and a list of choice strings in the
shapes of TruthfulQA, ARC, MMLU, HellaSwag and Belebele, each string translated once, the label never
touched (the tiny real Marian model)."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.multiple_choice import detect, label_index

QUESTIONS = ["What happens if you eat watermelon seeds?", "Which planet is closest to the sun?"]
CHOICES = [["Nothing happens.", "You grow watermelons.", "You fall ill."], ["Mercury.", "Venus.", "Mars."]]
SHAPES = {
    "truthfulqa_mc1": [
        {
            "question": q,
            "mc1_targets": {"choices": c, "labels": [1, 0, 0]},
            "mc2_targets": {"choices": c[:2], "labels": [1, 1]},
        }
        for q, c in zip(QUESTIONS, CHOICES)
    ],
    "arc": [
        {"id": f"a{i}", "question": q, "choices": {"text": c, "label": ["A", "B", "C"]}, "answerKey": "A"}
        for i, (q, c) in enumerate(zip(QUESTIONS, CHOICES))
    ],
    "mmlu": [
        {"question": q, "subject": "misc", "choices": c, "answer": 0} for q, c in zip(QUESTIONS, CHOICES)
    ],
    "hellaswag": [{"ctx": q, "endings": c, "label": "0"} for q, c in zip(QUESTIONS, CHOICES)],
    "belebele": [
        {
            "flores_passage": "The sun is a star.",
            "question": q,
            **{f"mc_answer{j + 1}": text for j, text in enumerate(c)},
            "correct_answer_num": "1",
        }
        for q, c in zip(QUESTIONS, CHOICES)
    ],
}
# where each shape keeps its choices, and its label column
CHOICES_AT = {
    "truthfulqa_mc1": lambda r: r["mc1_targets"]["choices"],
    "arc": lambda r: r["choices"]["text"],
    "mmlu": lambda r: r["choices"],
    "hellaswag": lambda r: r["endings"],
    "belebele": lambda r: [r[f"mc_answer{j}"] for j in (1, 2, 3)],
}
QUESTION_AT = {"hellaswag": "ctx"}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_benchmark_shape_is_detected_and_translated_string_by_string_with_its_label_kept(
    shape, tiny_marian, tmp_path
):
    rows = SHAPES[shape]
    source = tmp_path / "bench.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = datasets.load_dataset("json", data_files=str(source))["train"]
    found = detect(data.features)
    assert found is not None and found.name == shape
    assert [label_index(found, row, "row") for row in data] == [0, 0]
    out = tmp_path / "out"
    argv = ["translate", str(source), "--to", "nl", "--from", "en", "--backend", "opus"]
    argv += ["--model", str(tiny_marian), "--out", str(out), "--max-new-tokens", "8"]
    assert main(argv) == 0
    report = json.loads((out / "translate_report.json").read_text())
    assert report["format"] == "multiple_choice" and report["rows"] == 2
    translated = list(datasets.load_from_disk(str(out))["train"])
    question = QUESTION_AT.get(shape, "question")
    for before, after in zip(rows, translated):
        assert len(CHOICES_AT[shape](after)) == len(CHOICES_AT[shape](before))
        assert CHOICES_AT[shape](after) != CHOICES_AT[shape](before)  # every choice went to the model
        assert after[question] != before[question] and after[f"source_{question}"] == before[question]
        assert label_index(found, after, "row") == 0  # the label never changes
        for column in ("mc1_targets", "choices", "answerKey", "answer", "label", "correct_answer_num"):
            if column in before and column not in ("choices", "mc1_targets"):
                assert after[column] == before[column]
    if shape == "truthfulqa_mc1":
        assert translated[0]["mc1_targets"]["labels"] == [1, 0, 0]
        assert len(translated[0]["qe_flags_mc1_targets.choices"]) == 3  # flags per choice
        assert (
            translated[0]["mc2_targets"]["choices"] == translated[0]["mc1_targets"]["choices"][:2]
        )  # once each
    if shape == "arc":
        assert translated[0]["choices"]["label"] == ["A", "B", "C"]


def test_a_label_that_names_no_choice_is_one_line_naming_the_row():
    from lingualift.errors import DataError

    shape = detect(
        datasets.Features(
            {
                "question": datasets.Value("string"),
                "choices": datasets.Sequence(datasets.Value("string")),
                "answer": datasets.Value("int64"),
            }
        )
    )
    with pytest.raises(DataError, match=r"^row 7: label 5 \(answer\) names no choice of its 3"):
        label_index(shape, {"question": "q", "choices": ["a", "b", "c"], "answer": 5}, "row 7")


def test_a_list_of_strings_in_a_chat_column_is_still_refused(tiny_marian, tmp_path, capsys):
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps({"messages": ["hello", "there"]}) + "\n")
    argv = [
        "translate",
        str(source),
        "--to",
        "nl",
        "--from",
        "en",
        "--backend",
        "opus",
        "--model",
        str(tiny_marian),
    ]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "turn 0 is a str" in capsys.readouterr().err
