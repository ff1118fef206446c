"""`lingualift eval benchmark`: an ARC-shaped set written here, translated by the demo model, scored
through lm-evaluation-harness's real harness; the source-language score equals one computed here by
hand, flagged items are left out and counted, chance is beside the scores."""

import importlib.util
import json

import datasets
import pytest
import torch

from lingualift.cli import main
from lingualift.errors import DataError
from lingualift.evaluate.benchmark import benchmark_items

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lm_eval") is None,
    reason="lm-eval not installed (pip install 'lingualift[harness]')",
)

ITEMS = [
    ("Which planet is closest to the sun?", ["Mercury", "Jupiter", "Neptune"], "A"),
    ("What do bees make?", ["Steel", "Honey", "Glass"], "B"),
    ("Which animal barks?", ["A cat", "A fish", "A dog"], "C"),
    ("What is frozen water called?", ["Ice", "Sand", "Smoke"], "A"),
]


def arc_rows():
    return [
        {"id": f"q{i}", "question": q, "choices": {"text": c, "label": ["A", "B", "C"]}, "answerKey": key}
        for i, (q, c, key) in enumerate(ITEMS)
    ]


def accuracy_by_hand(model_path) -> float:
    """lm-eval's multiple_choice, written out: log-probability of ' choice' after the query, argmax."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    right = 0
    for question, choices, key in ITEMS:
        query = f"Question: {question}\nAnswer:"
        context = tokenizer(query, add_special_tokens=False).input_ids
        scores = []
        for choice in choices:
            ids = tokenizer(query + " " + choice, add_special_tokens=False).input_ids
            with torch.no_grad():
                logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
            scores.append(sum(logprobs[i - 1, ids[i]].item() for i in range(len(context), len(ids))))
        right += max(range(3), key=scores.__getitem__) == "ABC".index(key)
    return right / len(ITEMS)


@pytest.mark.slow
def test_a_translated_benchmark_is_scored_beside_its_original_and_chance(
    tmp_path, demo_model_path, use_demo_cache, tiny_chat_model, capsys
):
    source = tmp_path / "arc.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in arc_rows()))
    translated = tmp_path / "arc-nl"
    argv = ["translate", str(source), "--to", "nl", "--from", "en", "--backend", "llm", "--model", "demo"]
    assert main([*argv, "--out", str(translated), "--max-new-tokens", "24"]) == 0
    rows = list(datasets.load_from_disk(str(translated))["train"])
    assert [r["answerKey"] for r in rows] == ["A", "B", "C", "A"]  # labels kept
    flagged = sum(bool(r["qe_flags"]) for r in rows)
    out = tmp_path / "bench"
    argv = ["eval", "benchmark", str(translated), "--model", "demo", "--compare", str(tiny_chat_model)]
    argv += ["--original", str(source), "--device", "cpu", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "benchmark.json").read_text())
    assert report["shape"] == "arc" and report["items"] == 4 - flagged
    assert report["left_out"] == ({"translation_flagged": flagged} if flagged else {})
    assert report["chance"] == pytest.approx(1 / 3)
    tuned, compared, original = report["scores"]
    assert (tuned["model"], tuned["data"], tuned["items"]) == ("demo", str(translated), 4 - flagged)
    assert (compared["model"], original["data"], original["items"]) == (str(tiny_chat_model), str(source), 4)
    assert original["acc"] == pytest.approx(accuracy_by_hand(demo_model_path))  # the task is wired right
    low, high = original["acc_ci95"]
    assert low <= original["acc"] <= high and (low, high) != (original["acc"], original["acc"])
    assert "chance 0.333" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    page = (out / "report" / "report.html").read_text()
    assert "<h2>Translated benchmark</h2>" in page and "chance (guessing)" in page


def _data(rows):
    return datasets.Dataset.from_list(rows)


def test_flagged_items_are_left_out_and_unscorable_ones_refused_in_one_line():
    rows = [dict(r, qe_flags=[]) for r in arc_rows()]
    rows[1]["qe_flags"] = ["choices.text[0]:wrong_language:en"]
    items, left_out, shape = benchmark_items(_data(rows), "arc-nl")
    assert (len(items), left_out, shape) == (3, {"translation_flagged": 1}, "arc")
    assert items[0] == {
        "query": "Question: Which planet is closest to the sun?\nAnswer:",
        "choices": [" Mercury", " Jupiter", " Neptune"],
        "gold": 0,
    }
    assert [item["gold"] for item in items] == [0, 2, 0]
    rows[2]["choices"] = {"text": ["Een hond", "Een hond", "Een vis"], "label": ["A", "B", "C"]}
    with pytest.raises(DataError, match=r"^arc-nl row 2: two of its choices are identical or empty"):
        benchmark_items(_data(rows), "arc-nl")
    rows[2] = dict(arc_rows()[2], qe_flags=[], answerKey="D")
    with pytest.raises(DataError, match=r"^arc-nl row 2: label 'D' \(answerKey\) names no choice of its 3"):
        benchmark_items(_data(rows), "arc-nl")
    with pytest.raises(DataError, match="not a multiple-choice dataset"):
        benchmark_items(_data([{"text": "hello"}]), "plain")
