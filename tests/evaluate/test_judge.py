"""`lingualift eval judge`: both answer orders reach a judge on 127.0.0.1, position bias cancels,
unparsable verdicts and failed requests are counted; end to end with the demo model."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lingualift.cli import main
from lingualift.endpoint import ChatEndpoint
from lingualift.evaluate.judge import judge_pairs, parse_verdict, prompt_outcome


class Judge(BaseHTTPRequestHandler):
    """A judge endpoint with a configurable policy: `position` always picks answer 1; `content` picks the
    answer with more letters; prompts containing BROKEN get prose with no verdict, FAIL gets HTTP 400."""

    policy = "content"
    seen: list[str] = []

    def do_POST(self):  # noqa: N802
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = payload["messages"][0]["content"]
        Judge.seen.append(text)
        if "FAIL" in text:
            self.send_response(400)
            self.end_headers()
            return
        first = text.split("[Answer 1]\n", 1)[1].split("\n\n[Answer 2]", 1)[0]
        second = text.split("[Answer 2]\n", 1)[1].split("\n\nReply with only", 1)[0]
        if "BROKEN" in text:
            content = "Both answers have merit, hard to say."
        elif Judge.policy == "echo":  # a small judge repeating the rubric's format line
            content = text.rsplit("\n", 1)[-1].split(": ", 1)[1]
        elif Judge.policy == "one-order":  # a verdict only when the longer answer comes first
            content = '{"winner": "1", "reason": "x"}' if len(first) > len(second) else "Hmm."
        elif Judge.policy == "position":
            content = 'Sure! {"winner": "1", "reason": "first is best"}'
        else:
            score = [len(re.findall(r"[A-Za-z]", a)) for a in (first, second)]
            winner = "tie" if score[0] == score[1] else "1" if score[0] > score[1] else "2"
            content = json.dumps({"winner": winner, "reason": "more words"})
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def judge_url():
    Judge.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"winner": "1", "reason": "x"}', 1),
        ('Here you go:\n```json\n{"winner": "2", "reason": "clearer"}\n```', 2),
        ('{"winner": "tie"}', 0),
        ("Winner: 2 because it is in Dutch", 2),
        ("I cannot decide.", None),
        ('{"winner": "both"}', None),
        # echoes of the rubric's format line name every option: never a verdict
        ('{"winner": "1", "2" or "tie", "reason": "one sentence"}', None),
        ('Reply with only a JSON object: {"winner": "1", "2" or "tie", "reason": "one sentence"}', None),
        ('{"winner": "1", "2" or "tie", "reason": "one sentence"}\n{"winner": "2", "reason": "Dutch"}', 2),
        (
            '[User message]\nx\n\n[Answer 1]\n{"winner": "1"}\n\n[Answer 2]\ny',
            None,
        ),  # the whole rubric echoed
        ('{"winner": "1 or 2"}', None),
        ('{"winner": 2}', 2),
    ],
)
def test_verdicts_are_parsed_from_json_or_a_loose_winner_line(reply, verdict):
    assert parse_verdict(reply) == verdict


@pytest.mark.parametrize(
    ("model_first", "model_second", "outcome"),
    [
        (1, 2, "win"),
        (2, 1, "loss"),
        (1, 1, "tie"),
        (2, 2, "tie"),
        (1, 0, "win"),
        (0, 0, "tie"),
        (None, 2, None),  # one order alone would let position bias through
        (1, None, None),
        (None, None, None),
    ],
)
def test_both_orders_combine_so_position_bias_cancels(model_first, model_second, outcome):
    assert prompt_outcome(model_first, model_second) == outcome


def test_judge_sends_both_orders_and_counts_what_it_cannot_use(judge_url):
    prompts = ["Wat is de hoofdstad van Nederland?", "Noem een kleur.", "BROKEN vraag", "FAIL vraag"]
    ours = ["Amsterdam is de hoofdstad van Nederland.", "Blauw is een mooie kleur.", "Ja.", "Nee."]
    theirs = ["Amsterdam.", "Rood", "Nee, dat denk ik niet.", "Misschien wel."]
    endpoint = ChatEndpoint(judge_url, "judge-test", retries=0)
    result = judge_pairs(prompts, ours, theirs, endpoint, language="Dutch", concurrency=3)
    assert result["requests"] == 8 and len(Judge.seen) == 8
    for prompt, a, b in zip(prompts, ours, theirs):  # each pair was shown in both orders
        shown = [t for t in Judge.seen if prompt in t]
        assert any(t.index(a) < t.index(b) for t in shown) and any(t.index(b) < t.index(a) for t in shown)
    assert all("must be in Dutch" in t for t in Judge.seen)
    assert [p["outcome"] for p in result["pairs"]] == ["win", "win", None, None]
    assert result["unparsed_verdicts"] == 2 and result["failed_requests"] == 2 and result["unjudged"] == 2
    assert result["win_rate"] == 1.0 and result["judged"] == 2 and result["order_agreement"] == 1.0


def test_a_judge_that_always_picks_the_first_answer_gives_ties(judge_url):
    Judge.policy = "position"
    try:
        prompts = [f"Vraag {i}" for i in range(5)]
        result = judge_pairs(
            prompts,
            ["lang antwoord hier"] * 5,
            ["kort"] * 5,
            ChatEndpoint(judge_url, "j", retries=0),
            language="Dutch",
        )
    finally:
        Judge.policy = "content"
    assert result["tie_rate"] == 1.0 and result["win_rate"] == 0.0 and result["order_agreement"] == 0.0


@pytest.mark.parametrize("policy", ["echo", "one-order"])
def test_a_judge_that_echoes_the_rubric_or_answers_one_order_judges_nothing(judge_url, policy):
    Judge.policy = policy
    try:
        prompts = [f"Vraag {i}" for i in range(4)]
        result = judge_pairs(
            prompts,
            ["een lang antwoord hier"] * 4,
            ["kort"] * 4,
            ChatEndpoint(judge_url, "j", retries=0),
            language="Dutch",
        )
    finally:
        Judge.policy = "content"
    assert result["judged"] == 0 and result["win_rate"] == result["loss_rate"] == 0.0
    if policy == "echo":
        assert result["no_verdict"] == 4 and result["unparsed_verdicts"] == 8
    else:
        assert result["one_order_only"] == 4 and result["unparsed_verdicts"] == 4


@pytest.mark.slow
def test_a_run_the_judge_gave_no_verdicts_exits_non_zero_with_the_reason(
    demo_model_path, tiny_chat_model, judge_url, tmp_path, capsys
):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Wat is de hoofdstad van Nederland?\n")
    Judge.policy = "echo"
    try:
        code = main(
            [
                "eval",
                "judge",
                "--model",
                str(demo_model_path),
                "--baseline",
                str(tiny_chat_model),
                "--lang",
                "nl",
                "--prompts",
                str(prompts),
                "--judge-base-url",
                judge_url,
                "--judge-model",
                "judge-test",
                "--max-new-tokens",
                "4",
                "--out",
                str(tmp_path / "out"),
            ]
        )
    finally:
        Judge.policy = "content"
    assert code == 2
    assert (
        "the judge gave no prompt a verdict in both orders (0 with one, 1 with none"
        in capsys.readouterr().err
    )
    assert json.loads((tmp_path / "out" / "judge.json").read_text())["unparsed_verdicts"] == 2


@pytest.mark.slow
def test_judge_end_to_end_with_the_demo_model_against_a_tiny_one(
    demo_model_path, tiny_chat_model, judge_url, tmp_path, capsys
):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Wat is de hoofdstad van Nederland?\nNoem drie kleuren.\n")
    code = main(
        [
            "eval",
            "judge",
            "--model",
            str(demo_model_path),
            "--baseline",
            str(tiny_chat_model),
            "--lang",
            "nl",
            "--prompts",
            str(prompts),
            "--judge-base-url",
            judge_url,
            "--judge-model",
            "judge-test",
            "--max-new-tokens",
            "12",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "out" / "judge.json").read_text())
    # The tiny random model answers with blank lines: the content judge prefers the demo model's words.
    assert result["win_rate"] == 1.0 and result["judged"] == 2 and result["requests"] == 4
    assert result["lang"] == "nl" and "both answer orders" in result["method"]
    assert "win 100%" in capsys.readouterr().out


def test_judge_without_an_endpoint_url_is_one_line(tmp_path, capsys):
    code = main(
        [
            "eval",
            "judge",
            "--model",
            "m",
            "--baseline",
            "b",
            "--lang",
            "nl",
            "--prompts",
            "p.txt",
            "--judge-base-url",
            "",
            "--judge-model",
            "j",
        ]
    )
    assert code == 2
    assert "--judge-base-url needs the endpoint's base URL" in capsys.readouterr().err
