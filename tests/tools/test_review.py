"""`lingualift review`: the decision API, the page in headless Chromium (accept, edit, reject, kill
the server, restart, reload: the decisions are still there) and `review export` applying them."""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import datasets
import pytest

from lingualift.cli import main
from lingualift.tools.review.decisions import ReviewConfig
from lingualift.tools.review.server import start_review

SOURCES = [
    "Good morning.",
    "The cat sleeps on the mat.",
    "Where is the station?",
    "I like green tea.",
    "Close the door, please.",
    "It is raining again today.",
]
TRANSLATIONS = [
    "Goedemorgen.",
    "De kat slaapt op de mat.",
    "Where is the station?",
    "Ik hou van groene thee thee thee.",
    "Doe de deur dicht, alstublieft.",
    "Het regent vandaag weer.",
]
FLAGS = [[], [], ["wrong_language", "echo"], ["repetition"], [], ["length_ratio"]]


@pytest.fixture
def translated(tmp_path):
    def split(sources, translations, flags, prefix):
        return datasets.Dataset.from_dict(
            {
                "message_id": [f"{prefix}{i}" for i in range(len(sources))],
                "text": translations,
                "source_text": sources,
                "qe_flags": flags,
                "lang": ["nl"] * len(sources),
                "translator": ["demo"] * len(sources),
            }
        )

    data = datasets.DatasetDict(
        {
            "train": split(SOURCES, TRANSLATIONS, FLAGS, "t"),
            "validation": split(SOURCES[:2], TRANSLATIONS[:2], FLAGS[:2], "v"),
        }
    )
    path = tmp_path / "translated"
    data.save_to_disk(str(path))
    return path


@pytest.fixture
def review_server(translated):
    server = start_review(str(translated), ReviewConfig(port=0), echo=lambda *_: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
    server.session.store.close()


TOKENS = {}  # review URL → the server's per-run token, as the page reads it from its own URL


@pytest.fixture
def review_url(review_server):
    host, port = review_server.server_address[:2]
    url = f"http://{host}:{port}"
    TOKENS[url] = review_server.guard.token
    return url


def _raw_post(url, body: bytes | None, headers: dict):
    """(status, JSON answer) of a request sent with exactly these headers (a GET without a body)."""
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _call(url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    base = url.split("/api/", 1)[0]
    sent = {"Content-Type": "application/json", "X-Lingualift-Token": TOKENS.get(base, ""), **(headers or {})}
    return _raw_post(url, data, {k: v for k, v in sent.items() if v is not None})


def test_rows_are_filtered_by_flag_and_decision(review_url):
    status, summary = _call(f"{review_url}/api/summary")
    assert status == 200 and summary["splits"] == {"train": 6, "validation": 2}
    assert summary["flags"] == {"wrong_language": 1, "echo": 1, "repetition": 1, "length_ratio": 1}
    rows = _call(f"{review_url}/api/rows?split=train&filter=flagged")[1]
    assert [r["row"] for r in rows["rows"]] == [2, 3, 5] and rows["total"] == 3
    assert [r["row"] for r in _call(f"{review_url}/api/rows?filter=flag:repetition")[1]["rows"]] == [3]
    assert _call(f"{review_url}/api/decision", {"split": "train", "row": 0, "action": "accept"})[0] == 200
    undecided = _call(f"{review_url}/api/rows?split=train&filter=undecided&offset=1&limit=2")[1]
    assert undecided["total"] == 5 and [r["row"] for r in undecided["rows"]] == [2, 3]
    first = _call(f"{review_url}/api/rows?split=train&limit=1")[1]["rows"][0]
    assert first == {
        "row": 0,
        "source": SOURCES[0],
        "text": TRANSLATIONS[0],
        "flags": [],
        "decision": {"action": "accept", "text": None, "reason": None},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"split": "train", "row": 9, "action": "accept"}, "no row train[9]"),
        ({"split": "test", "row": 0, "action": "accept"}, "no row test[0]"),
        ({"split": "train", "row": 0, "action": "approve"}, "action"),
        ({"split": "train", "row": 0, "action": "edit", "text": "  "}, "an edit needs the corrected text"),
        ({"split": "train", "action": "accept"}, "row"),
    ],
)
def test_bad_decisions_are_refused_with_a_reason(review_url, body, message):
    status, answer = _call(f"{review_url}/api/decision", body)
    assert status == 400 and message in answer["error"]


def test_bad_queries_are_refused_with_a_reason(review_url):
    assert _call(f"{review_url}/api/rows?split=nope")[1]["error"].startswith("no split 'nope'")
    assert "unknown filter" in _call(f"{review_url}/api/rows?filter=odd")[1]["error"]
    assert _call(f"{review_url}/api/rows?offset=-1")[0] == 400


def test_export_applies_every_decision_exactly(translated, review_url, tmp_path):
    decisions = [
        {"split": "train", "row": 0, "action": "accept"},
        {"split": "train", "row": 3, "action": "edit", "text": "Ik hou van groene thee."},
        {"split": "train", "row": 2, "action": "reject", "reason": "not translated"},
        {"split": "train", "row": 5, "action": "reject", "reason": "first thought"},
        {"split": "train", "row": 5, "action": "clear"},
        {"split": "validation", "row": 1, "action": "reject", "reason": "wrong"},
    ]
    for decision in decisions:
        assert _call(f"{review_url}/api/decision", decision)[0] == 200
    out = tmp_path / "reviewed"
    assert main(["review", "export", str(translated), "--out", str(out)]) == 0
    result = datasets.load_from_disk(str(out))
    assert result["train"]["message_id"] == ["t0", "t1", "t3", "t4", "t5"]
    assert result["train"]["review"] == ["accepted", "unreviewed", "edited", "unreviewed", "unreviewed"]
    assert (
        result["train"]["text"][2] == "Ik hou van groene thee."
        and result["train"]["text"][1] == TRANSLATIONS[1]
    )
    assert result["validation"]["message_id"] == ["v0"]
    rejected = result["rejected"]
    assert rejected["message_id"] == ["t2", "v1"] and rejected["reject_reason"] == ["not translated", "wrong"]
    assert rejected["source_split"] == ["train", "validation"] and rejected["source_row"] == [2, 1]
    assert rejected["text"] == [TRANSLATIONS[2], TRANSLATIONS[1]]  # the whole row moves, nothing lost
    assert len(result["train"]) + len(result["validation"]) + len(rejected) == 8
    report = json.loads((out / "review_report.json").read_text())
    assert (report["accepted"], report["edited"], report["rejected"], report["unreviewed"]) == (1, 1, 2, 4)
    assert main(["report", str(out)]) == 0  # the review's counts land in lingualift report
    assert "Translation review" in (out / "report" / "report.html").read_text()


def test_export_refuses_decisions_made_on_other_data(translated, review_url, tmp_path, capsys):
    assert _call(f"{review_url}/api/decision", {"split": "train", "row": 1, "action": "accept"})[0] == 200
    changed = datasets.load_from_disk(str(translated))
    changed["train"] = changed["train"].map(
        lambda row, i: {"source_text": row["source_text"] + ("!" if i == 1 else "")}, with_indices=True
    )
    other = tmp_path / "other"
    changed.save_to_disk(str(other))
    db = f"{translated}.review.sqlite"
    assert main(["review", "export", str(other), "--out", str(tmp_path / "o"), "--db", db]) == 2
    assert "split train row 1: its source_text changed" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["review", "export", "{data}"], "review export needs the dataset and --out"),
        (["review", "export", "{data}", "--out", "{tmp}/o"], "no review decisions at"),
        (["review", "{tmp}/missing"], "missing"),
    ],
)
def test_review_command_errors_are_one_line(translated, tmp_path, capsys, argv, message):
    argv = [a.format(data=translated, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def _start_review_process(data):
    process = subprocess.Popen(
        [sys.executable, "-m", "lingualift", "review", str(data), "--port", "0", "--page-size", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in process.stdout:
        if "http://" in line:  # the URL with the per-run token, as a user opens it
            return process, line.split("http://", 1)[1].split(" ", 1)[0]
    raise AssertionError(f"review did not start (exit {process.wait()})")


def _row(page, number):
    return page.locator(f'tr.row[data-row="{number}"]')


def test_review_page_decisions_survive_a_killed_server(translated, browser, artifacts_dir, tmp_path):
    process, address = _start_review_process(translated)
    page = browser.new_page()
    try:
        page.goto(f"http://{address}")
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("tr.row").count() == 4  # --page-size 4
        page.keyboard.press("a")  # row 0: accept; the cursor moves on
        page.wait_for_selector('tr.row[data-row="0"][data-state="accept"]')
        page.keyboard.press("j")  # skip row 1
        page.keyboard.press("r")  # row 2: reject with a reason (prefilled with its flags)
        page.fill("input.reason", "not translated at all")
        page.keyboard.press("Enter")
        page.wait_for_selector('tr.row[data-row="2"][data-state="reject"]')
        page.keyboard.press("e")  # row 3: edit
        page.fill("textarea.editor", "Ik hou van groene thee.")
        page.keyboard.press("Control+Enter")
        page.wait_for_selector('tr.row[data-row="3"][data-state="edit"]')
        assert "rejected: not translated at all" in _row(page, 2).inner_text()
        page.screenshot(path=os.path.join(artifacts_dir, "review-page.png"), full_page=True)
    finally:
        process.send_signal(signal.SIGKILL)  # mid-review, no clean shutdown
        process.wait()
    process, address = _start_review_process(translated)
    try:
        page.goto(f"http://{address}")
        page.wait_for_selector("body[data-ready=true]")
        states = [_row(page, n).get_attribute("data-state") for n in range(4)]
        assert states == ["accept", "", "reject", "edit"]
        assert "Ik hou van groene thee." in _row(page, 3).locator(".text").inner_text()
        page.select_option("#filter", "flag:length_ratio")
        page.wait_for_function("() => document.querySelectorAll('tr.row').length === 1")
        assert _row(page, 5).count() == 1
        page.select_option("#filter", "all")
        page.wait_for_function("() => document.querySelectorAll('tr.row').length === 4")
        page.keyboard.press("n")  # next page: rows 4 and 5
        page.wait_for_selector('tr.row[data-row="4"]')
        page.keyboard.press("u")  # undo on an undecided row is harmless
        page.wait_for_function("() => document.getElementById('status').textContent.includes('row 4')")
    finally:
        page.close()
        process.send_signal(signal.SIGTERM)
        process.wait()
    out = tmp_path / "reviewed"
    assert main(["review", "export", str(translated), "--out", str(out)]) == 0
    result = datasets.load_from_disk(str(out))
    assert result["train"]["message_id"] == ["t0", "t1", "t3", "t4", "t5"]
    assert result["train"]["text"][2] == "Ik hou van groene thee."
    assert result["rejected"]["reject_reason"] == ["not translated at all"]


def test_another_web_page_cannot_change_or_read_the_review(review_url):
    """The cross-site request a browser sends without asking (a text/plain POST from a foreign page,
    through a rebound host name) is refused, and nothing is recorded."""
    port = review_url.rsplit(":", 1)[1]
    decision = json.dumps({"split": "train", "row": 0, "action": "reject", "reason": "csrf"}).encode()
    token = TOKENS[review_url]
    status, body = _raw_post(
        review_url + "/api/decision",
        decision,
        {
            "Content-Type": "text/plain",
            "Origin": "http://evil.example",
            "Host": f"evil.example:{port}",
            "X-Lingualift-Token": token,
        },
    )
    assert status == 403 and "Host 'evil.example" in body["error"]
    cases = [
        ({"Content-Type": "text/plain", "X-Lingualift-Token": token}, "Content-Type: application/json"),
        (
            {
                "Content-Type": "application/json",
                "Origin": "http://evil.example",
                "X-Lingualift-Token": token,
            },
            "another web page",
        ),
        (
            {"Content-Type": "application/json", "Origin": "null", "X-Lingualift-Token": token},
            "another web page",
        ),
        ({"Content-Type": "application/json"}, "missing or wrong token"),
        (
            {"Content-Type": "application/json", "X-Lingualift-Token": token[:-1] + "x"},
            "missing or wrong token",
        ),
    ]
    for headers, reason in cases:
        status, body = _raw_post(review_url + "/api/decision", decision, headers)
        assert status == 403 and reason in body["error"], (headers, body)
    assert _call(review_url + "/api/summary", headers={"X-Lingualift-Token": None})[0] == 403  # reading, too
    assert _call(review_url + "/api/rows", headers={"Host": f"evil.example:{port}"})[0] == 403
    assert _call(review_url + "/api/summary")[1]["decided"] == {}  # nothing got through
    status, body = _call(
        review_url + "/api/decision",
        {"split": "train", "row": 0, "action": "accept"},
        headers={"Origin": review_url},
    )
    assert status == 200 and body["decision"]["action"] == "accept"  # the page's own same-origin JSON call
    assert _call(review_url + "/api/summary")[1]["decided"] == {"accept": 1}


PAIRS = [
    ("Ebee ka Enugwu dị?", "Enugwu dị n'ugwu.", "Enugwu bụ isi obodo Steeti Enugwu. Ọ dị n'ugwu."),
    ("Gịnị bụ oji?", "Oji bụ mkpụrụ osisi.", "Oji dị mkpa n'omenala ndị Igbo."),
    ("Kedu ebe ahịa a dị?", "Ọ dị n'Ọnịcha.", "Ahịa Ọnwụrụ Ọnịcha bụ ahịa kachasị ukwuu."),
]


@pytest.fixture
def generated(tmp_path):
    """`generate`'s output: question-answer conversations beside their chunk, and its own rejects."""
    rows = [
        {
            "id": f"g{i}",
            "lang": "ig",
            "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            "context": chunk,
        }
        for i, (q, a, chunk) in enumerate(PAIRS)
    ]
    rejected = [{"doc_id": "x", "question": None, "answer": None, "reason": "unparsed"}]
    path = tmp_path / "generated"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows), "rejected": datasets.Dataset.from_list(rejected)}
    ).save_to_disk(str(path))
    return path


def test_generated_pairs_are_reviewed_question_and_answer_beside_their_context(generated, tmp_path):
    """GlobalInstruct's hand correction: a pair shown beside the text it came from, question and
    answer edited in one box parted by a `---` line, a bad pair rejected; export applies both."""
    server = start_review(str(generated), ReviewConfig(port=0), echo=lambda *_: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}"
    TOKENS[url] = server.guard.token
    try:
        assert _call(f"{url}/api/summary")[1]["mode"] == "pairs"
        status, page = _call(f"{url}/api/rows?split=train")
        assert status == 200 and [r["source"] for r in page["rows"]] == [chunk for _, _, chunk in PAIRS]
        assert page["rows"][0]["text"] == "Ebee ka Enugwu dị?\n---\nEnugwu dị n'ugwu."
        edit = {
            "split": "train",
            "row": 0,
            "action": "edit",
            "text": "Ebee ka Enugwu dị na Naịjirịa?\n---\nN'ugwu.",
        }
        assert _call(f"{url}/api/decision", edit)[0] == 200
        status, error = _call(f"{url}/api/decision", {**edit, "text": "a question and no answer"})
        assert status == 400 and "a line holding only ---" in error["error"]
        reject = {"split": "train", "row": 1, "action": "reject", "reason": "not in the text"}
        assert _call(f"{url}/api/decision", reject)[0] == 200
    finally:
        server.shutdown()
        server.server_close()
        server.session.store.close()
    out = tmp_path / "reviewed"
    assert main(["review", "export", str(generated), "--out", str(out)]) == 0
    result = datasets.load_from_disk(str(out))
    assert result["train"]["id"] == ["g0", "g2"] and result["train"]["review"] == ["edited", "unreviewed"]
    assert result["train"][0]["messages"] == [
        {"role": "user", "content": "Ebee ka Enugwu dị na Naịjirịa?"},
        {"role": "assistant", "content": "N'ugwu."},
    ]
    assert result["rejected"]["id"] == ["g1"] and result["rejected"]["reject_reason"] == ["not in the text"]
