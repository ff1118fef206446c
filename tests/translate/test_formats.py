"""`lingualift translate` on the datasets people have — Alpaca, Dolly, OpenAI `messages`, ShareGPT,
preference pairs — with the tiny real Marian model: structure kept, only the turns asked for,
dedupe across fields, flags per field and turn, kill -9 and resume, bad input in one line."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from lingualift.cli import main
from lingualift.demo.sample import sample_rows
from tests.translate.test_backends import endpoint  # noqa: F401 (a scripted OpenAI-compatible server)

LINES = [
    line.strip()
    for row in sample_rows()
    if row.get("lang") == "en"
    for line in row["text"].splitlines()
    if 20 < len(line.strip()) < 160 and "```" not in line
]


def _conversations(count: int = 6, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        turns = rng.choice([2, 4])
        out.append(
            [
                {"role": "user" if i % 2 == 0 else "assistant", "content": rng.choice(LINES)}
                for i in range(turns)
            ]
        )
    return out


def _rows(fmt: str) -> list[dict]:
    conversations = _conversations()
    if fmt == "alpaca":
        return [
            {"instruction": c[0]["content"], "input": "", "output": c[1]["content"]} for c in conversations
        ]
    if fmt == "dolly":
        return [
            {
                "instruction": c[0]["content"],
                "context": LINES[i],
                "response": c[1]["content"],
                "category": "qa",
            }
            for i, c in enumerate(conversations)
        ]
    if fmt == "openai":
        system = {"role": "system", "content": "You are a helpful assistant."}
        return [{"id": f"r{i}", "messages": [system, *c]} for i, c in enumerate(conversations)]
    if fmt == "sharegpt":
        names = {"user": "human", "assistant": "gpt"}
        return [
            {"id": f"r{i}", "conversations": [{"from": names[t["role"]], "value": t["content"]} for t in c]}
            for i, c in enumerate(conversations)
        ]
    raise ValueError(fmt)


def _write(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _translate(source, out, tiny_marian, *flags) -> dict:
    argv = ["translate", str(source), "--to", "nl", "--backend", "opus", "--model", str(tiny_marian)]
    argv += ["--out", str(out), "--max-new-tokens", "24", "--from", "en", *flags]
    assert main(argv) == 0
    return json.loads((Path(out) / "translate_report.json").read_text())


def _threads(source, out) -> list[list[tuple[str, int]]]:
    assert main(["threads", str(source), "--out", str(out), "--lang", "nl"]) == 0
    rows = datasets.load_from_disk(str(out))["train"]
    return [[m["role"] for m in r["messages"]] for r in rows]


@pytest.mark.parametrize("fmt", ["alpaca", "dolly", "openai", "sharegpt"])
def test_each_format_round_trips_through_threads_with_the_same_conversations(fmt, tiny_marian, tmp_path):
    source = _write(tmp_path, fmt, _rows(fmt))
    report = _translate(source, tmp_path / "out", tiny_marian)
    assert report["format"] == fmt and report["rows"] == 6
    assert report["rows_by_outcome"].get("failed", 0) == 0 and sum(report["rows_by_outcome"].values()) == 6
    translated = datasets.load_from_disk(str(tmp_path / "out"))["train"]
    for name in report["fields"]:
        assert translated[f"source_{name}"] == [r[name] for r in _rows(fmt)]  # the source copy, as given
    assert _threads(tmp_path / "out", tmp_path / "t-out") == _threads(source, tmp_path / "t-in")
    changed = [
        r for r in translated.to_list() if r[report["fields"][0]] != r[f"source_{report['fields'][0]}"]
    ]
    assert changed  # the model did write something else
    if fmt == "alpaca":  # an empty `input` is counted, not flagged
        assert report["strings_by_field"]["input"] == {"empty_source": 6}
        assert all(r["qe_flags_input"] == [] and r["input"] == "" for r in translated)


def test_roles_user_translates_the_prompts_and_keeps_every_answer_byte_identical(tiny_marian, tmp_path):
    rows = _rows("openai")
    source = _write(tmp_path, "chat", rows)
    report = _translate(source, tmp_path / "out", tiny_marian, "--roles", "user")
    assert report["roles"] == ["user"]
    out = datasets.load_from_disk(str(tmp_path / "out"))["train"]
    for given, got in zip(rows, out):
        assert [t["role"] for t in got["messages"]] == [t["role"] for t in given["messages"]]
        assert len(got["qe_flags_messages"]) == len(given["messages"])  # one flag list per turn
        for before, after in zip(given["messages"], got["messages"]):
            if before["role"] == "user":
                assert after["content"] != before["content"]
            else:
                assert after["content"] == before["content"]
    strings = report["strings_by_field"]["messages"]
    assert strings["role_not_selected"] == sum(t["role"] != "user" for r in rows for t in r["messages"])


def test_a_string_in_two_fields_and_two_rows_is_translated_once(tiny_marian, tmp_path):
    text, answer = "How are you today?", "I am fine, thank you."
    rows = [
        {
            "instruction": text,
            "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": answer}],
        },
        {"instruction": answer, "messages": [{"role": "user", "content": answer}]},
    ]
    report = _translate(
        _write(tmp_path, "both", rows), tmp_path / "out", tiny_marian, "--fields", "instruction,messages"
    )
    assert report["unique_segments"] == report["translated_segments"] == 2
    out = datasets.load_from_disk(str(tmp_path / "out"))["train"]
    assert out[0]["instruction"] == out[0]["messages"][0]["content"]
    assert out[1]["instruction"] == out[0]["messages"][1]["content"] == out[1]["messages"][0]["content"]


@pytest.mark.parametrize("shape", ["strings", "messages"])
def test_preference_pairs_translate_in_both_their_forms(shape, tiny_marian, tmp_path):
    conversations = _conversations(4, seed=3)
    if shape == "strings":
        rows = [
            {"prompt": c[0]["content"], "chosen": c[1]["content"], "rejected": LINES[i]}
            for i, c in enumerate(conversations)
        ]
    else:
        rows = [
            {
                "prompt": c[0]["content"],
                "chosen": c[:2],
                "rejected": [c[0], {"role": "assistant", "content": LINES[i]}],
                "score_chosen": 8.0,
            }
            for i, c in enumerate(conversations)
        ]
    report = _translate(
        _write(tmp_path, "pairs", rows), tmp_path / "out", tiny_marian, "--roles", "assistant"
    )
    assert report["format"] == "preference" and report["fields"] == ["prompt", "chosen", "rejected"]
    out = datasets.load_from_disk(str(tmp_path / "out"))["train"].to_list()
    for given, got in zip(rows, out):
        assert got["prompt"] == given["prompt"]  # a user string: not asked for
        assert (
            got["score_chosen" if shape == "messages" else "prompt"]
            == given["score_chosen" if shape == "messages" else "prompt"]
        )
        if shape == "strings":
            assert got["chosen"] != given["chosen"] and got["rejected"] != given["rejected"]
        else:
            assert got["chosen"][0] == given["chosen"][0] and got["chosen"][1] != given["chosen"][1]
            assert [t["role"] for t in got["rejected"]] == ["user", "assistant"]


def test_a_prompts_only_dataset_is_translated_for_a_teacher_to_answer(tiny_marian, tmp_path, teacher):
    """A `prompt` column alone (what respond answers): found as the prompts format, each prompt
    translated with its source kept, other columns untouched; respond reads the result."""
    rows = [{"prompt": LINES[i], "category": "qa"} for i in range(4)]
    report = _translate(_write(tmp_path, "prompts", rows), tmp_path / "out", tiny_marian)
    assert report["format"] == "prompts" and report["fields"] == ["prompt"]
    out = datasets.load_from_disk(str(tmp_path / "out"))["train"].to_list()
    assert [r["source_prompt"] for r in out] == [r["prompt"] for r in rows]
    assert all(r["prompt"] != g["prompt"] and r["category"] == "qa" for r, g in zip(out, rows))
    argv = ["respond", str(tmp_path / "out"), "--lang", "nl", "--out", str(tmp_path / "answered")]
    assert main([*argv, "--base-url", teacher, "--model", "t"]) == 0
    answered = json.loads((tmp_path / "answered" / "respond_report.json").read_text())
    assert answered["rows"] == 4


def test_image_parts_are_kept_untouched_and_counted(tiny_marian, tmp_path):
    parts = [{"type": "image_url", "text": None, "url": "https://example.org/cat.png"}]
    rows = [
        {
            "messages": [
                {"role": "user", "content": "Describe the picture."},
                {"role": "assistant", "content": "A cat."},
            ]
        },
    ]
    source = _write(tmp_path, "mm", rows)
    report = _translate(source, tmp_path / "out", tiny_marian)
    assert (
        report["strings_by_field"]["messages"].get("translated", 0)
        + report["strings_by_field"]["messages"].get("flagged", 0)
        == 2
    )
    image_rows = [{"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": parts}]}]
    report = _translate(_write(tmp_path, "img", image_rows), tmp_path / "img-out", tiny_marian)
    assert report["strings_by_field"]["messages"] == {"not_text": 2}
    out = datasets.load_from_disk(str(tmp_path / "img-out"))["train"].to_list()
    assert out[0]["messages"] == image_rows[0]["messages"]


@pytest.mark.parametrize(
    "rows, flags, message",
    [
        ([{"messages": ["just a string"]}], [], "train row 0, field 'messages': turn 0 is a str"),
        (
            [{"instruction": "Hi", "output": "Hello"}],
            ["--fields", "instruction,input"],
            "--fields: no column 'input'",
        ),
        (
            [{"question": "Hi", "answer": "Hello"}],
            [],
            "cannot tell which columns to translate (question, answer)",
        ),
        ([{"messages": [{"role": "user", "content": "Hi"}]}], None, "pass --from"),
    ],
)
def test_bad_input_is_one_line_naming_the_row_and_field(rows, flags, message, tiny_marian, tmp_path, capsys):
    argv = ["translate", str(_write(tmp_path, "bad", rows)), "--to", "nl", "--backend", "opus"]
    argv += ["--model", str(tiny_marian), "--out", str(tmp_path / "out")]
    argv += [] if flags is None else ["--from", "en", *flags]  # None: no language anywhere
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


@pytest.mark.slow
def test_kill_9_during_a_sharegpt_translation_then_the_same_command_equals_an_uninterrupted_run(
    tiny_marian, tmp_path
):
    from tests.translate.test_engine import _kill_mid_run

    rng = random.Random(7)
    names = {"user": "human", "assistant": "gpt"}
    rows = []
    for i in range(60):
        turns = [rng.choice(LINES) for _ in range(rng.choice([2, 4, 6]))]
        rows.append(
            {
                "id": f"r{i}",
                "conversations": [
                    {"from": names["user" if j % 2 == 0 else "assistant"], "value": t}
                    for j, t in enumerate(turns)
                ],
            }
        )
    source = _write(tmp_path, "sharegpt", rows)
    common = ["translate", str(source), "--to", "nl", "--backend", "opus", "--model", str(tiny_marian)]
    common += ["--from", "en", "--batch-tokens", "48", "--max-new-tokens", "12"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LINGUALIFT_CACHE": str(tmp_path / "cache")}
    cli = [sys.executable, "-m", "lingualift"]
    subprocess.run(
        [*cli, *common, "--out", str(tmp_path / "reference")], check=True, env=env, capture_output=True
    )
    resumed = tmp_path / "resumed"
    killed = 0
    for _ in range(2):
        process = subprocess.Popen(
            [*cli, *common, "--out", str(resumed)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _kill_mid_run(process, tmp_path / "resumed.work", rng)
        killed += not resumed.exists()
    assert killed >= 1
    subprocess.run([*cli, *common, "--out", str(resumed)], check=True, env=env, capture_output=True)
    report = json.loads((resumed / "translate_report.json").read_text())
    assert report["reused_from_store"] > 0
    expected = datasets.load_from_disk(str(tmp_path / "reference"))["train"].to_list()
    got = datasets.load_from_disk(str(resumed))["train"].to_list()
    assert got == expected and sorted(r["id"] for r in got) == sorted(r["id"] for r in rows)


def test_a_failed_turn_marks_its_row_and_field_and_leaves_the_other_turns(endpoint, tmp_path, monkeypatch):  # noqa: F811
    import lingualift.endpoint as endpoint_module

    monkeypatch.setattr(endpoint_module.time, "sleep", lambda s: None)
    good = [{"role": "user", "content": "Good morning."}, {"role": "assistant", "content": "Flaky sentence."}]
    bad = [{"role": "user", "content": "Good morning."}, {"role": "assistant", "content": "Broken sentence."}]
    source = _write(tmp_path, "chat", [{"messages": good}, {"messages": bad}])
    argv = ["translate", str(source), "--to", "nl", "--from", "en", "--backend", "openai", "--model", "t"]
    assert main([*argv, "--base-url", endpoint, "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "translate_report.json").read_text())
    assert report["rows_by_outcome"]["failed"] == 1 and sum(report["rows_by_outcome"].values()) == 2
    assert report["strings_by_field"]["messages"]["failed"] == 1
    first, second = datasets.load_from_disk(str(tmp_path / "out"))["train"]
    assert [t["content"] for t in first["messages"]] == ["NL(Good morning.)", "NL(Flaky sentence.)"]
    assert (
        second["messages"][0]["content"] == "NL(Good morning.)" and second["messages"][1]["content"] is None
    )
    assert second["qe_flags_messages"][1][0].startswith("failed:") and not any(
        f.startswith("failed") for f in second["qe_flags_messages"][0]
    )
    assert any(f.startswith("messages[1]:failed:EndpointError: HTTP 400") for f in second["qe_flags"])
    assert second["source_messages"] == bad
