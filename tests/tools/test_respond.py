"""`lingualift respond`: a teacher answers the prompts in the language. A scripted endpoint that
answers in Dutch, in English, loops, refuses, runs past the limit and fails — each reply lands
where it should, with its reason; `lingualift serve` and the demo model as real teachers; multi-turn
with the teacher's own earlier answers; resume after kill -9; pairs that `train dpo` reads."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import datasets
import pytest

from lingualift.cli import main
from lingualift.io import save_dataset
from tests.fixtures_teacher import DUTCH, SCRIPT, Teacher


def _prompts(tmp_path, rows, name="prompts"):
    return save_dataset(datasets.Dataset.from_list(rows), tmp_path / name)


def _respond(data, out, *flags) -> int:
    return main(["respond", str(data), "--lang", "nl", "--out", str(out), *flags])


ROWS = [
    {"id": "good", "messages": [{"role": "user", "content": "Hoe is het weer?"}]},
    *[{"id": key.split()[0].lower(), "messages": [{"role": "user", "content": key}]} for key in SCRIPT],
    {
        "id": "two-turns",
        "messages": [
            {"role": "user", "content": "Wat is de hoofdstad van Frankrijk?"},
            {"role": "assistant", "content": "The capital of France is Paris."},
            {"role": "user", "content": "En van Duitsland?"},
            {"role": "assistant", "content": "Berlin."},
        ],
    },
]


def test_each_reply_lands_where_it_should_and_the_counts_add_up(teacher, tmp_path, monkeypatch):
    import lingualift.endpoint as endpoint_module

    monkeypatch.setattr(endpoint_module.time, "sleep", lambda s: None)
    out = tmp_path / "out"
    assert (
        _respond(_prompts(tmp_path, ROWS), out, "--base-url", teacher, "--model", "t", "--concurrency", "3")
        == 0
    )
    report = json.loads((out / "respond_report.json").read_text())
    assert report["rows"] == len(ROWS) == report["accepted"] + report["rejected"]
    assert report["rejected_by_reason"] == {
        "wrong_language": 1,
        "loop": 1,
        "refusal": 1,
        "cut_off": 1,
        "request_failed": 1,
    }
    data = datasets.load_from_disk(str(out))
    assert sorted(data["train"]["id"]) == ["good", "two-turns"]
    rejected = {r["id"]: r for r in data["rejected"]}
    assert rejected["say"]["reason"] == "wrong_language" and rejected["say"]["reply"].startswith("This is")
    assert rejected["break"]["reason"].startswith("request_failed: HTTP 400")
    two = next(r for r in data["train"] if r["id"] == "two-turns")["messages"]
    assert [m["role"] for m in two] == ["user", "assistant", "user", "assistant"]
    assert two[1]["content"].startswith(DUTCH) and two[3]["content"].endswith("Antwoord 2.")
    # the second request carried the teacher's own first answer, not the input's English one
    second = next(p for p in Teacher.seen if p["messages"][-1]["content"] == "En van Duitsland?")
    assert second["messages"][2] == {"role": "assistant", "content": two[1]["content"]}
    assert second["messages"][0]["role"] == "system" and "Nederlands" in second["messages"][0]["content"]
    assert report["requests"]["this_run"] == len(Teacher.seen) == len(ROWS) + 1

    before = len(Teacher.seen)  # the same command: only the failed request is asked again
    assert _respond(_prompts(tmp_path, ROWS), out, "--base-url", teacher, "--model", "t") == 0
    assert [p["messages"][-1]["content"] for p in Teacher.seen[before:]] == ["Break the server"]


def test_identical_prompts_are_answered_once_and_a_budget_is_checked_before_anything_runs(
    teacher, tmp_path, capsys
):
    prompts = ["Hoe is het weer?", "Hoe is het weer?", "Wat is een fiets?", "Waar ligt Utrecht?"]
    data = _prompts(tmp_path, [{"messages": [{"role": "user", "content": p}]} for p in prompts])
    code = _respond(data, tmp_path / "o", "--base-url", teacher, "--model", "t", "--max-requests", "2")
    assert code == 2 and not Teacher.seen
    err = capsys.readouterr().err.strip()
    assert "may need 3 requests and --max-requests is 2" in err and len(err.splitlines()) == 1
    flags = [
        "--base-url",
        teacher,
        "--model",
        "t",
        "--price-per-million-tokens",
        "2.0",
        "--max-new-tokens",
        "100",
    ]
    assert _respond(data, tmp_path / "o", *flags) == 0
    report = json.loads((tmp_path / "o" / "respond_report.json").read_text())
    assert len(Teacher.seen) == 3 and report["accepted"] == 4
    # worked out by hand: the prompts' 16 + 16 + 17 + 18 = 67 characters are 17 tokens (4 characters
    # a token, rounded up), 3 distinct requests of at most 100 new tokens: 317 tokens at $2 a million
    assert report["estimate"]["tokens_at_most"] == 317 and report["estimate"]["cost_at_most"] == 0.0006


def test_kill_9_mid_run_then_the_same_command_asks_only_what_was_not_answered(teacher, tmp_path):
    rows = [
        {"id": f"r{i}", "messages": [{"role": "user", "content": f"Vraag nummer {i}?"}]} for i in range(40)
    ]
    data = _prompts(tmp_path, rows)
    Teacher.delay = 0.05
    base = teacher
    command = [sys.executable, "-m", "lingualift", "respond", str(data), "--lang", "nl", "--base-url", base]
    command += ["--model", "t", "--concurrency", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run([*command, "--out", str(tmp_path / "reference")], check=True, env=env, capture_output=True)
    store = tmp_path / "resumed.work" / "respond.sqlite"
    process = subprocess.Popen(
        [*command, "--out", str(tmp_path / "resumed")], env=env, stderr=subprocess.DEVNULL
    )
    saved = 0
    while process.poll() is None and saved < 10:
        time.sleep(0.05)
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=0.1) as db:
                saved = db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
        except sqlite3.Error:
            pass
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "resumed").exists()
    with sqlite3.connect(str(store)) as db:
        answered = {row[0] for row in db.execute("SELECT key FROM replies WHERE error IS NULL")}
    before = len(Teacher.seen)
    subprocess.run([*command, "--out", str(tmp_path / "resumed")], check=True, env=env, capture_output=True)
    assert len(Teacher.seen) - before == len(rows) - len(answered) < len(rows)
    reference = datasets.load_from_disk(str(tmp_path / "reference"))["train"].to_list()
    assert datasets.load_from_disk(str(tmp_path / "resumed"))["train"].to_list() == reference


def test_pairs_prefer_the_answer_in_the_language_and_train_dpo_reads_them(teacher, tiny_chat_model, tmp_path):
    rows = [
        {
            "instruction": f"Wat is {i} plus {i}?",
            "input": "",
            "output": f"The answer is {2 * i}, which is even.",
        }
        for i in range(1, 5)
    ]
    data = _prompts(tmp_path, rows)
    out, pairs = tmp_path / "out", tmp_path / "pairs"
    assert _respond(data, out, "--base-url", teacher, "--model", "t", "--pairs-out", str(pairs)) == 0
    got = datasets.load_from_disk(str(pairs))["train"]
    assert len(got) == 4 == json.loads((out / "respond_report.json").read_text())["pairs"]
    from lingualift.evaluate.fidelity import judge_reply
    from lingualift.languages import get_language

    dutch = get_language("nl")
    assert all(judge_reply(p["chosen"][0]["content"], dutch).passed for p in got)
    assert not any(judge_reply(p["rejected"][0]["content"], dutch).passed for p in got)
    assert [p["prompt"][-1]["content"] for p in got] == [r["instruction"] for r in rows]
    argv = [
        "train",
        "dpo",
        "--model",
        str(tiny_chat_model),
        "--data",
        str(pairs),
        "--out",
        str(tmp_path / "dpo"),
    ]
    assert main([*argv, "--max-steps", "2", "--batch-size", "2"]) == 0


def test_lingualift_serve_is_a_teacher(tiny_chat_model, tmp_path):
    from lingualift.serve.config import ServeConfig
    from lingualift.serve.server import start_server

    server = start_server(ServeConfig(model=str(tiny_chat_model), port=0), echo=lambda *_: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        rows = [{"prompt": p} for p in ("Hoe gaat het?", "Wat is een fiets?", "Waar ligt Utrecht?")]
        out = tmp_path / "out"
        assert _respond(_prompts(tmp_path, rows), out, "--base-url", url, "--max-new-tokens", "16") == 0
    finally:
        server.shutdown()
        server.server_close()
    report = json.loads((out / "respond_report.json").read_text())
    assert report["rows"] == 3 == report["accepted"] + report["rejected"]
    assert report["requests"]["answered"] == 3  # a random tiny model: whatever it says is judged, not lost


@pytest.mark.slow
def test_the_demo_model_answers_as_a_local_teacher(tmp_path, demo_model_path):
    rows = [
        {"id": "capital", "prompt": "Wat is de hoofdstad van Nederland?"},
        {"id": "colours", "prompt": "Noem drie kleuren."},
    ]
    out = tmp_path / "out"
    assert _respond(_prompts(tmp_path, rows), out, "--model", "demo", "--max-new-tokens", "48") == 0
    report = json.loads((out / "respond_report.json").read_text())
    assert report["rows"] == 2 == report["accepted"] + report["rejected"]
    data = datasets.load_from_disk(str(out))
    replies = {r["id"]: r["messages"][-1]["content"] for r in data["train"]}
    replies.update({r["id"]: r["reply"] for r in data["rejected"]})
    assert all(r["reason"] for r in data["rejected"])  # every rejection says why
    # each answer is the demo model's own greedy reply to its prompt under respond's system prompt,
    # worked out here through transformers' generate (respond runs the pruned batch loop)
    from lingualift.chat import reply_once
    from lingualift.languages import get_language
    from lingualift.models import load_chat_model
    from lingualift.tools.respond.filters import system_prompt

    model, tokenizer = load_chat_model("demo")
    system = system_prompt(get_language("nl"), None)
    for row in rows:
        chat = [{"role": "system", "content": system}, {"role": "user", "content": row["prompt"]}]
        expected = reply_once(model, tokenizer, chat, max_new_tokens=48)[0]
        assert expected and replies[row["id"]] == expected
    assert len(set(replies.values())) == 2


def test_no_prompts_is_one_line(tmp_path, capsys):
    data = _prompts(tmp_path, [{"question": "x"}])
    assert _respond(data, tmp_path / "o", "--base-url", "http://127.0.0.1:9/v1") == 2
    err = capsys.readouterr().err.strip()
    assert "no prompts to answer (columns: question)" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_pairs_rejected_from_a_model_that_still_answers_in_english(teacher, tmp_path, demo_model_path):
    rows = [
        {"prompt": p}
        for p in ("What is the capital of France?", "Name three colours.", "How do I boil an egg?")
    ]
    out, pairs = tmp_path / "out", tmp_path / "pairs"
    flags = ["--base-url", teacher, "--model", "t", "--pairs-out", str(pairs), "--rejected-from", "demo"]
    assert _respond(_prompts(tmp_path, rows), out, *flags, "--max-new-tokens", "40") == 0
    from lingualift.evaluate.fidelity import judge_reply
    from lingualift.languages import get_language

    got = datasets.load_from_disk(str(pairs))["train"]
    assert 0 < len(got) <= 3 and json.loads((out / "respond_report.json").read_text())["pairs"] == len(got)
    dutch = get_language("nl")
    assert all(judge_reply(p["chosen"][0]["content"], dutch).passed for p in got)
    assert not any(judge_reply(p["rejected"][0]["content"], dutch).passed for p in got)


def test_a_teacher_that_fails_every_request_stops_the_run_early_in_one_line(tmp_path, monkeypatch, capsys):
    from http.server import BaseHTTPRequestHandler

    import lingualift.endpoint as endpoint_module
    from tests.fixtures_teacher import local_server

    monkeypatch.setattr(endpoint_module.time, "sleep", lambda s: None)
    seen = []

    class Refusing(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    rows = [{"prompt": f"Vraag {i}?"} for i in range(40)]
    with local_server(Refusing) as url:
        code = _respond(_prompts(tmp_path, rows), tmp_path / "o", "--base-url", url, "--concurrency", "2")
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "stopped: the first" in errors[0] and "HTTP 404" in errors[0]
    assert len(seen) < 20  # not all 40 were sent


def test_a_thinking_teacher_s_reasoning_never_reaches_the_data(teacher, tmp_path):
    """Reasoning in `content` (vLLM without a reasoning parser): taken out and counted; a reply that
    is only reasoning, or never closes it, is rejected with its reason; chat_template_kwargs are sent."""
    rows = [
        {"id": p, "messages": [{"role": "user", "content": p}]}
        for p in ("Think first", "Only think", "Think forever")
    ]
    out = tmp_path / "o"
    kwargs = '{"enable_thinking": false}'
    assert (
        _respond(
            _prompts(tmp_path, rows),
            out,
            "--base-url",
            teacher,
            "--model",
            "t",
            "--chat-template-kwargs",
            kwargs,
        )
        == 0
    )
    report = json.loads((out / "respond_report.json").read_text())
    assert report["rejected_by_reason"] == {"only_reasoning": 1, "unclosed_reasoning": 1}
    assert report["reasoning_removed"] == 1 and report["accepted"] == 1
    data = datasets.load_from_disk(str(out))
    assert data["train"][0]["messages"][-1]["content"] == DUTCH  # the answer alone
    assert all(p["chat_template_kwargs"] == {"enable_thinking": False} for p in Teacher.seen)
