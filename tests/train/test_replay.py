"""English replay: a seeded share of source-language conversations mixed into the SFT data."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.io import save_dataset
from lingualift.train.data import mix_replay, replay_count
from tests.train.test_train import CONVERSATIONS


def _conversations(prefix: str, n: int, extra_key: bool = False):
    turn = lambda role, text: {"role": role, "content": text, **({"name": None} if extra_key else {})}  # noqa: E731
    return datasets.Dataset.from_list(
        [
            {
                "id": f"{prefix}{i}",
                "messages": [
                    turn("user", f"{prefix} vraag {i}"),
                    turn("assistant", f"{prefix} antwoord {i}"),
                ],
            }
            for i in range(n)
        ]
    )


def _origin(mixed):
    return [row["messages"][0]["content"].split()[0] for row in mixed]


@pytest.mark.parametrize(
    ("rows", "ratio", "expected"), [(90, 0.1, 10), (100, 0.0, 0), (50, 0.5, 50), (3, 0.2, 1)]
)
def test_replay_count_makes_the_share_of_the_mixed_set(rows, ratio, expected):
    assert replay_count(rows, ratio) == expected


def test_mixing_takes_the_ratio_deterministically_by_seed():
    target, replay = _conversations("nl", 90), _conversations("en", 500, extra_key=True)  # schemas differ
    mixed, stats = mix_replay(target, replay, ratio=0.1, seed=1)
    assert len(mixed) == 100 and _origin(mixed).count("en") == 10 and stats["replay_share"] == 0.1
    again, _ = mix_replay(target, replay, ratio=0.1, seed=1)
    other, _ = mix_replay(target, replay, ratio=0.1, seed=2)
    assert again["messages"] == mixed["messages"]
    chosen = lambda d: sorted(m[0]["content"] for m in d["messages"] if m[0]["content"].startswith("en"))  # noqa: E731
    assert chosen(other) != chosen(mixed)
    assert sorted(m[0]["content"] for m in mixed["messages"] if m[0]["content"].startswith("nl")) == sorted(
        target["messages"][i][0]["content"] for i in range(90)
    )  # every target conversation kept


def test_too_little_replay_uses_all_of_it_and_says_so():
    mixed, stats = mix_replay(_conversations("nl", 90), _conversations("en", 4), ratio=0.1, seed=0)
    assert stats["replay_conversations"] == 4 and stats["replay_wanted"] == 10 and len(mixed) == 94


def test_replay_without_messages_is_a_data_error_naming_the_columns(tmp_path):
    bad = tmp_path / "en.jsonl"
    bad.write_text(json.dumps({"text": "plain"}) + "\n")
    from lingualift.errors import DataError

    with pytest.raises(DataError, match="needs a `messages` column.*; it has text"):
        mix_replay(
            _conversations("nl", 3),
            datasets.load_dataset("json", data_files=str(bad))["train"],
            ratio=0.5,
            seed=0,
        )


def test_sft_with_replay_reports_the_mix(tiny_chat_model, tmp_path):
    target = save_dataset(
        datasets.Dataset.from_list([{"messages": m} for m in CONVERSATIONS]), tmp_path / "nl"
    )
    english = save_dataset(_conversations("en", 20), tmp_path / "en")
    out = tmp_path / "sft"
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(tiny_chat_model),
                "--data",
                str(target),
                "--replay",
                str(english),
                "--replay-ratio",
                "0.5",
                "--max-steps",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    stats = json.loads((out / "training_report.json").read_text())["data_stats"]
    assert (
        stats["conversations"] == 8
        and stats["replay_conversations"] == 4
        and stats["target_conversations"] == 4
    )


def test_replay_is_refused_for_dpo_before_anything_loads(tmp_path, capsys):
    code = main(
        [
            "train",
            "dpo",
            "--model",
            "m",
            "--data",
            str(tmp_path),
            "--replay",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "replay applies to sft" in capsys.readouterr().err
