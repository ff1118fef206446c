# ruff: noqa: E501 (one document a line in DOCS)
"""`lingualift generate`: documents → chunks → an LLM's question-answer pairs → validated conversations.

The endpoint is a local OpenAI-compatible server started here whose reply depends on a marker word
in the chunk: valid JSON, fenced JSON in prose, truncated JSON, labelled text, prose, English
answers, ungrounded answers, a repeated question, or an HTTP error (that heals on the next run).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import datasets
import pytest

from lingualift.cli import main
from lingualift.tools.generate.documents import chunk_document, clean_documents
from lingualift.tools.generate.replies import grounding, parse_pairs

DOCS = {
    "valid": "De Rijn ontspringt in de Zwitserse Alpen en stroomt via Duitsland naar Nederland, waar de rivier in de Noordzee uitmondt.",
    "fenced": "Amsterdam is de hoofdstad van Nederland en staat bekend om de grachten, de musea en de vele fietsen in de smalle straten.",
    "broken": "De tulp werd in de zestiende eeuw uit het Ottomaanse Rijk naar Nederland gebracht en groeide uit tot een symbool van het land.",
    "labelled": "Het Rijksmuseum in Amsterdam bewaart de Nachtwacht van Rembrandt, een van de beroemdste schilderijen uit de Gouden Eeuw.",
    "prose": "De Afsluitdijk werd tussen negentienhonderdzevenentwintig en negentienhonderdtweeëndertig gebouwd en sloot de Zuiderzee af.",
    "english": "Friesland is een provincie in het noorden van Nederland met een eigen taal, het Fries, die naast het Nederlands wordt gesproken.",
    "ungrounded": "De Waddenzee is een ondiepe zee tussen de Waddeneilanden en het vasteland, bekend om het wad dat bij eb droogvalt.",
    "repeat": "Rotterdam heeft de grootste haven van Europa; schepen uit de hele wereld brengen er containers, olie en grondstoffen binnen.",
    "fail": "Utrecht ligt midden in het land en is bekend om de Domtoren, de hoogste kerktoren van Nederland, en om de oude grachten.",
}
BOILERPLATE = "Home | Nieuws | Contact"


def _sentence(text):
    return text.split(",")[0].split(";")[0] + "."


def _reply(marker, chunk, healed):
    answer = _sentence(chunk)
    pairs = [
        {"question": f"Wat vertelt de tekst over {marker}?", "answer": answer},
        {"question": f"Waarom is dit belangrijk voor {marker}?", "answer": chunk},
    ]
    if marker == "valid":
        return json.dumps(pairs, ensure_ascii=False)
    if marker == "fenced":
        return (
            "Hier zijn de paren:\n```json\n"
            + json.dumps({"pairs": pairs}, ensure_ascii=False)
            + "\n```\nSucces!"
        )
    if marker == "broken":  # cut off inside the second answer: the first pair survives repair whole
        return json.dumps(pairs, ensure_ascii=False)[:-40]
    if marker == "labelled":
        return "\n\n".join(
            f"Question {i + 1}: {p['question']}\nAnswer {i + 1}: {p['answer']}" for i, p in enumerate(pairs)
        )
    if marker == "prose":
        return "Dit is een mooie tekst over de Afsluitdijk, maar ik schrijf liever een gedicht."
    if marker == "english":
        return json.dumps(
            [
                {
                    "question": "Wat is Friesland?",
                    "answer": "Friesland is a province in the north of the "
                    "Netherlands with its own language, Frisian, spoken next to Dutch.",
                }
            ]
        )
    if marker == "ungrounded":
        return json.dumps(
            [
                {
                    "question": "Wat eten Nederlanders graag?",
                    "answer": "Nederlanders eten graag "
                    "stamppot met rookworst, hutspot en erwtensoep in de koude wintermaanden.",
                }
            ]
        )
    if marker == "repeat":  # the same question as the "valid" chunk's first one
        return json.dumps(
            [{"question": "Wat vertelt de tekst over valid?", "answer": answer}], ensure_ascii=False
        )
    if marker == "fail" and not healed:
        return None
    return json.dumps(pairs[:1], ensure_ascii=False)


class Generator(BaseHTTPRequestHandler):
    requests: list[str] = []
    healed = False

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        chunk = prompt.split("Text:\n", 1)[1]
        marker = next(m for m, text in DOCS.items() if text in chunk)
        type(self).requests.append(marker)
        content = _reply(marker, chunk, type(self).healed)
        if content is None:
            self.send_response(400)
            self.end_headers()
            return
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def generator_url():
    Generator.requests, Generator.healed = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), Generator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _write_docs(folder, extra=()):
    folder.mkdir()
    for marker, text in list(DOCS.items()) + list(extra):
        (folder / f"{marker}.txt").write_text(f"{BOILERPLATE}\n\n{text}\n\n\nhttps://example.org/{marker}\n")
    return folder


@pytest.mark.parametrize(
    ("reply", "how", "pairs"),
    [
        ('[{"question": "a", "answer": "b"}]', "json", 1),
        ('{"pairs": [{"question": "a", "answer": "b"}, {"question": "c", "answer": "d"}]}', "json", 2),
        ('Zeker!\n```json\n{"question": "a", "answer": "b"}\n```', "json", 1),
        ('[{"question": "a", "answer": "b"}, {"question": "c", "ans', "repaired", 2),
        ("Q1: Wat?\nA1: Dit.\nQ2: Waar?\nA2: Daar.", "labelled", 2),
        ("Ik weet het niet.", "unparsed", None),
        ("", "unparsed", None),
    ],
)
def test_replies_are_parsed_as_json_repaired_json_or_labelled_lines(reply, how, pairs):
    items, found = parse_pairs(reply)
    assert found == how
    assert (len(items) if items is not None else None) == pairs


def test_cleaning_removes_boilerplate_and_skips_short_and_duplicate_documents():
    bodies = [text * 2 for text in (DOCS["valid"], DOCS["fenced"], DOCS["labelled"])]  # three distinct texts
    docs = [(f"d{i}", f"{BOILERPLATE}\n\n{bodies[i]}{i}\n{'*' * (i + 1)}\n") for i in range(3)]
    docs += [
        ("copy", f"{BOILERPLATE}\n\n{bodies[0]}0\n"),
        ("short", f"{BOILERPLATE}\nKort.\n"),
        ("blank", "  \n "),
    ]
    kept, report = clean_documents(docs, min_chars=100, boilerplate_docs=3)
    assert [doc_id for doc_id, _ in kept] == ["d0", "d1", "d2"]
    assert all(BOILERPLATE not in text and "*" not in text for _, text in kept)
    assert report["skipped"] == {"copy": "duplicate", "short": "too_short", "blank": "empty"}
    assert report["lines_removed"] == {"boilerplate": 5, "no_words": 3}


def test_chunks_stay_under_the_token_limit_and_keep_every_word():
    paragraph = " ".join(f"Zin nummer {i} gaat over iets anders dan de vorige zin." for i in range(30))
    text = f"Korte inleiding.\n\n{paragraph}\n\nEen slot."
    words = lambda t: len(t.split())  # noqa: E731
    chunks = chunk_document(text, words, 40, "nl")
    assert all(words(c) <= 40 for c in chunks) and len(chunks) > 5
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


@pytest.mark.parametrize(
    ("answer", "share"),
    [("De Rijn stroomt naar zee", 1.0), ("De Maas stroomt naar zee", 0.75), ("", 0.0), ("Nee", 0.0)],
)
def test_grounding_is_the_share_of_answer_words_found_in_the_chunk(answer, share):
    assert grounding(answer, "De Rijn stroomt door Duitsland naar de zee.") == pytest.approx(share)


def test_generate_against_an_endpoint_counts_every_reply_and_resumes(tmp_path, generator_url):
    docs = _write_docs(tmp_path / "docs", extra=[("tiny", "Te kort.")])
    out = tmp_path / "qa"
    argv = [
        "generate",
        "--docs",
        str(docs),
        "--lang",
        "nl",
        "--base-url",
        generator_url,
        "--model",
        "qa-writer",
        "--out",
        str(out),
        "--min-doc-chars",
        "60",
        "--concurrency",
        "3",
    ]
    assert main(argv) == 0
    assert sorted(Generator.requests) == sorted(DOCS)
    report = json.loads((out / "generate_report.json").read_text())
    assert report["cleaning"]["skipped"] == {"tiny.txt": "too_short"}
    assert report["cleaning"]["lines_removed"] == {"boilerplate": len(DOCS) + 1, "no_words": len(DOCS) + 1}
    assert report["replies"] == {"json": 5, "repaired": 1, "labelled": 1, "unparsed": 1, "request_failed": 1}
    assert report["pairs"]["rejected_by_reason"] == {
        "unparsed": 1,
        "request_failed": 1,
        "wrong_language": 1,
        "ungrounded": 1,
        "duplicate_question": 1,
        "cut_off": 1,
    }
    data = datasets.load_from_disk(str(out))
    accepted = {row["doc_id"].removesuffix(".txt") for row in data["train"]}
    assert accepted == {"valid", "fenced", "broken", "labelled", "repeat"}
    # documents go in file order: "repeat" asks valid's first question before "valid" does;
    # the broken reply keeps its one complete pair
    assert len(data["train"]) == 1 + 2 + 1 + 2 + 1
    reasons = {row["doc_id"].removesuffix(".txt"): row["reason"] for row in data["rejected"]}
    assert reasons["broken"] == "cut_off"
    assert reasons["english"] == "wrong_language:en" and reasons["ungrounded"] == "ungrounded"
    assert reasons["valid"] == "duplicate_question" and reasons["prose"] == "unparsed"
    assert reasons["fail"].startswith("request_failed: HTTP 400")
    first = data["train"][0]["messages"]
    assert [m["role"] for m in first] == ["user", "assistant"] and data["train"][0]["lang"] == "nl"
    chat = [json.loads(line) for line in (out / "chat.jsonl").read_text().splitlines()]
    assert [c["messages"] for c in chat] == data["train"]["messages"]
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    assert "Generated instructions" in (tmp_path / "report" / "report.html").read_text()

    Generator.requests, Generator.healed = [], True
    assert main(argv) == 0
    assert Generator.requests == ["fail"]  # only the failed chunk is asked again
    report = json.loads((out / "generate_report.json").read_text())
    assert report["reused_from_store"] == len(DOCS) - 1 and report["generated_this_run"] == 1
    assert "request_failed" not in report["replies"]
    assert "fail" in {
        row["doc_id"].removesuffix(".txt") for row in datasets.load_from_disk(str(out))["train"]
    }


def test_generate_from_jsonl_documents_with_context(tmp_path, generator_url):
    rows = [{"id": "a", "body": DOCS["valid"]}, {"id": "b", "body": None}]
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "qa"
    assert (
        main(
            [
                "generate",
                "--docs",
                str(source),
                "--text-field",
                "body",
                "--lang",
                "nl",
                "--base-url",
                generator_url,
                "--out",
                str(out),
                "--min-doc-chars",
                "60",
                "--include-context",
                "--system-prompt",
                "Antwoord in het Nederlands.",
            ]
        )
        == 0
    )
    data = datasets.load_from_disk(str(out))
    messages = data["train"][0]["messages"]
    assert messages[0] == {"role": "system", "content": "Antwoord in het Nederlands."}
    assert messages[1]["content"].startswith(DOCS["valid"]) and data["train"][0]["doc_id"] == "a"
    report = json.loads((out / "generate_report.json").read_text())
    assert report["cleaning"]["skipped"] == {"b": "empty"} and report["token_measure"].startswith(
        "4 characters"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lang", "nl", "--out", "x"], "needs a teacher: --model"),
        (["--lang", "nl", "--out", "x", "--model", "demo", "--text-field", "body"], "missing column 'body'"),
        (["--lang", "xx-nope", "--out", "x", "--model", "demo"], "xx-nope"),
    ],
)
def test_generate_bad_input_is_one_line(tmp_path, capsys, argv, message):
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps({"text": DOCS["valid"]}) + "\n")
    assert main(["generate", "--docs", str(source), *argv]) == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.slow
def test_generate_with_the_demo_model_accounts_for_every_chunk(tmp_path, demo_model_path):
    docs = _write_docs(tmp_path / "docs")
    out = tmp_path / "qa"
    for name in list(DOCS)[2:]:
        (docs / f"{name}.txt").unlink()
    assert (
        main(
            [
                "generate",
                "--docs",
                str(docs),
                "--lang",
                "nl",
                "--model",
                str(demo_model_path),
                "--out",
                str(out),
                "--min-doc-chars",
                "60",
                "--max-new-tokens",
                "48",
                "--pairs-per-chunk",
                "1",
            ]
        )
        == 0
    )
    report = json.loads((out / "generate_report.json").read_text())
    assert report["chunks"] == 2 and sum(report["replies"].values()) == 2
    data = datasets.load_from_disk(str(out))
    pair_rows = len(data["train"]) + sum(r["reason"] not in ("unparsed",) for r in data["rejected"])
    assert data["rejected"]["reason"].count("unparsed") == report["replies"].get("unparsed", 0)
    assert pair_rows == report["pairs"]["accepted"] + report["pairs"]["rejected"] - report["replies"].get(
        "unparsed", 0
    )


def test_generate_with_an_endpoint_nobody_listens_on_fails_loudly(tmp_path, capsys, monkeypatch):
    import socket

    import lingualift.endpoint as endpoint_module

    monkeypatch.setattr(endpoint_module.time, "sleep", lambda s: None)  # no real backoff waits in tests
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    docs = _write_docs(tmp_path / "docs")
    code = main(
        [
            "generate",
            "--docs",
            str(docs),
            "--lang",
            "nl",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--model",
            "qa-writer",
            "--out",
            str(tmp_path / "qa"),
            "--min-doc-chars",
            "60",
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(err) == 1
    assert (
        "failed" in err[0] and "Connection refused — is the server running, on this host and port?" in err[0]
    )


def test_cleaning_skips_near_duplicates_and_documents_in_another_language():
    """A document that differs from an earlier one by a word is a near duplicate; an English one among
    Dutch documents, or one identified with too little confidence, is not the language's."""
    from lingualift.language_id import use

    body = (
        "De Rijn ontspringt in de Zwitserse Alpen en stroomt via Duitsland naar Nederland, waar de rivier "
        "zich splitst in de Waal, de Nederrijn en de IJssel voordat het water de Noordzee bereikt. "
    ) * 2
    english = (
        "The Rhine rises in the Swiss Alps and flows through Germany to the Netherlands, where it splits. "
        * 2
    )
    docs = [("rijn", body), ("rijn-bis", body.replace("Waal", "Maas", 1)), ("english", english)]
    docs.append(("maas", DOCS["valid"].replace("Rijn", "Maas") + " " + DOCS["fenced"]))
    kept, report = clean_documents(
        docs, min_chars=50, boilerplate_docs=3, language=("nl", use(None).identify, 0.5)
    )
    assert [doc_id for doc_id, _ in kept] == ["rijn", "maas"]
    assert report["skipped"] == {"rijn-bis": "near_duplicate", "english": "other_language"}
    _, strict = clean_documents(
        docs[:1], min_chars=50, boilerplate_docs=3, language=("nl", lambda t: ("nl", 0.3), 0.5)
    )
    assert strict["skipped"] == {"rijn": "low_language_confidence"}
