"""`lingualift eval regression`: the demo model against itself moves nothing (the interval holds zero);
a deliberately damaged adapter is reported as a source-language regression."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.evaluate.fidelity import bootstrap_interval
from lingualift.evaluate.regression import regression_summary
from lingualift.io import save_dataset
from tests.conftest import save_random_lora

ENGLISH = [
    [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "The capital of France is Paris."},
    ],
    [
        {"role": "user", "content": "Name three colours."},
        {"role": "assistant", "content": "Red, green and blue."},
    ],
    [
        {"role": "user", "content": "How many days are in a week?"},
        {"role": "assistant", "content": "A week has seven days."},
    ],
    [{"role": "user", "content": "What do bees make?"}, {"role": "assistant", "content": "Bees make honey."}],
    [{"role": "user", "content": "Which animal barks?"}, {"role": "assistant", "content": "A dog barks."}],
    [
        {"role": "user", "content": "What is two plus three?"},
        {"role": "assistant", "content": "Two plus three is five."},
    ],
]


def test_the_summary_flags_a_regression_only_when_the_interval_is_above_zero():
    same = [(2.0, 4), (3.0, 3), (1.0, 2)]
    assert regression_summary(same, same)["regressed"] is False
    assert regression_summary(same, same)["loss_difference_ci95"] == [0.0, 0.0]
    worse = [(s + 2 * n, n) for s, n in same]
    summary = regression_summary(worse, same)
    assert summary["regressed"] is True and summary["loss_difference"] == pytest.approx(2.0)
    low, high = bootstrap_interval([1.0, 2.0, 3.0])
    assert 1.0 <= low <= 2.0 <= high <= 3.0


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    return str(
        save_dataset(
            datasets.Dataset.from_list([{"messages": m} for m in ENGLISH]),
            tmp_path_factory.mktemp("en") / "data",
        )
    )


@pytest.fixture(scope="module")
def damaged_adapter(demo_model_path, tmp_path_factory):
    """A LoRA adapter with large random weights: it wrecks the model's English."""
    path = tmp_path_factory.mktemp("damaged")
    return str(save_random_lora(demo_model_path, path, r=8, target_modules=["q_proj", "v_proj"], scale_b=20))


@pytest.mark.slow
def test_the_demo_model_against_itself_moves_nothing(demo_model_path, english, tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "regression",
                "--model",
                str(demo_model_path),
                "--baseline",
                str(demo_model_path),
                "--data",
                english,
                "--fidelity-limit",
                "2",
                "--max-new-tokens",
                "12",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "regression.json").read_text())
    low, high = result["loss_difference_ci95"]
    assert low <= 0 <= high and not result["regressed"] and result["conversations"] == 6
    assert result["tuned_perplexity"] == result["baseline_perplexity"]
    assert result["fidelity"]["tuned"] == result["fidelity"]["baseline"]  # greedy: the same replies
    assert "REGRESSED" not in capsys.readouterr().out


@pytest.mark.slow
def test_a_damaged_adapter_is_reported_as_a_regression(
    demo_model_path, damaged_adapter, english, tmp_path, capsys
):
    assert (
        main(
            [
                "eval",
                "regression",
                "--model",
                str(demo_model_path),
                "--adapter",
                damaged_adapter,
                "--baseline",
                str(demo_model_path),
                "--data",
                english,
                "--no-fidelity",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "regression.json").read_text())
    assert result["regressed"] and result["loss_difference_ci95"][0] > 0
    assert result["tuned_perplexity"] > 2 * result["baseline_perplexity"]
    assert "REGRESSED" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<h2>Source-language regression</h2>" in page and "— regressed" in page
