"""`lingualift report RUN_DIR`: the outputs of real (tiny) runs of translate, train, eval fidelity,
eval judge and bench-mt in one folder become one self-contained page that renders in headless
Chromium with every image loaded; unreadable files and empty folders are reported, not crashed on."""

import json
import os
import re
import threading
from http.server import ThreadingHTTPServer

import datasets
import pytest

from lingualift.cli import main
from lingualift.io import save_dataset
from tests.evaluate.test_judge import Judge
from tests.train.test_train import CONVERSATIONS

PAIRS = [
    ("Hello there, how are you?", "Hallo daar, hoe gaat het?"),
    ("The cat sleeps.", "De kat slaapt."),
    ("I like green apples.", "Ik hou van groene appels."),
]


@pytest.fixture(scope="module")
def run_dir(tiny_marian, tiny_chat_model, tmp_path_factory):
    """A folder holding what five lingualift commands wrote (each a real run on a tiny model)."""
    run = tmp_path_factory.mktemp("run")
    source = run / "source.jsonl"
    source.write_text("".join(json.dumps({"text": s, "lang": "en"}) + "\n" for s, _ in PAIRS))
    assert (
        main(
            [
                "translate",
                str(source),
                "--to",
                "nl",
                "--backend",
                "opus",
                "--model",
                str(tiny_marian),
                "--max-new-tokens",
                "8",
                "--out",
                str(run / "translated"),
            ]
        )
        == 0
    )
    threads = save_dataset(
        datasets.Dataset.from_list([{"messages": m} for m in CONVERSATIONS]), run / "threads"
    )
    assert (
        main(
            [
                "check",
                str(threads),
                "--model",
                str(tiny_chat_model),
                "--measure-steps",
                "0",
                "--out",
                str(run / "check"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(tiny_chat_model),
                "--data",
                str(threads),
                "--max-steps",
                "3",
                "--out",
                str(run / "sft"),
            ]
        )
        == 0
    )
    prompts = run / "prompts.txt"
    prompts.write_text("Hoe gaat het?\nWat is de hoofdstad van Nederland?\n")
    assert (
        main(
            [
                "eval",
                "fidelity",
                "--model",
                str(run / "sft"),
                "--baseline",
                str(tiny_chat_model),
                "--lang",
                "nl",
                "--prompts",
                str(prompts),
                "--max-new-tokens",
                "4",
                "--out",
                str(run / "eval"),
            ]
        )
        == 0
    )
    judge = ThreadingHTTPServer(("127.0.0.1", 0), Judge)
    threading.Thread(target=judge.serve_forever, daemon=True).start()
    try:
        assert (
            main(
                [
                    "eval",
                    "judge",
                    "--model",
                    str(run / "sft"),
                    "--baseline",
                    str(tiny_chat_model),
                    "--lang",
                    "nl",
                    "--prompts",
                    str(prompts),
                    "--judge-base-url",
                    f"http://127.0.0.1:{judge.server_address[1]}/v1",
                    "--judge-model",
                    "j",
                    "--max-new-tokens",
                    "4",
                    "--out",
                    str(run / "judge"),
                ]
            )
            == 0
        )
    finally:
        judge.shutdown()
        judge.server_close()
    pairs = run / "pairs.tsv"
    pairs.write_text("".join(f"{s}\t{r}\n" for s, r in PAIRS))
    assert (
        main(
            [
                "bench-mt",
                "--data",
                str(pairs),
                "--to",
                "nl",
                "--backend",
                f"opus={tiny_marian}",
                "--out",
                str(run / "bench"),
            ]
        )
        == 0
    )
    return run


def test_report_gathers_every_run_into_one_self_contained_page(run_dir, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles == [
        "Dataset check",
        "Translation",
        "Training: sft",
        "Replies in the language: usable, before and after",
        "LLM judge: win rate",
        "MT benchmark",
    ]
    images = re.findall(r"<img src='([^']*)'", page)
    assert len(images) == 6 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"(src|href)=['\"](?!data:|#)", page)  # nothing outside the page
    # each figure says what produced it
    assert f"check of {run_dir / 'threads'} with the tokenizer" in page
    assert "translate: backend opus" in page and "train sft (lora) of" in page and "transformers " in page
    assert "eval fidelity, language nl" in page and "judge j @ http://127.0.0.1" in page
    assert "nrefs:1|case:mixed|eff:no|tok:13a" in page
    assert sorted(p.name for p in out.glob("figure-*.png")) == [f"figure-{i}.png" for i in range(6)]
    markdown = (out / "report.md").read_text()
    assert "![Training: sft](figure-2.png)" in markdown and "| win rate |" in markdown


def test_the_report_renders_in_chromium_with_every_image_loaded(run_dir, tmp_path, browser, artifacts_dir):
    out = tmp_path / "report"
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate(
            "() => [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert len(images) == 6 and all(done and w > 300 and h > 100 for done, w, h in images)
        assert page.locator("h2").count() == 6
        shot = os.path.join(artifacts_dir, "report.png")
        page.screenshot(path=shot, full_page=True)
        assert os.path.getsize(shot) > 20_000
    finally:
        page.close()


def test_an_unreadable_file_is_a_section_saying_so(run_dir, tmp_path):
    broken = tmp_path / "broken-run"
    (broken / "sft").mkdir(parents=True)
    (broken / "sft" / "training_report.json").write_text("{not json")
    (broken / "checkpoints").mkdir()  # ignored: checkpoints hold copies of reports
    (broken / "checkpoints" / "training_report.json").write_text("{}")
    (broken / "eval").mkdir()
    (broken / "eval" / "fidelity.json").write_text((run_dir / "eval" / "fidelity.json").read_text())
    assert main(["report", str(broken)]) == 0
    page = (broken / "report" / "report.html").read_text()
    assert "Unreadable: sft/training_report.json" in page and page.count("<h2>") == 2


@pytest.mark.parametrize("make", [lambda p: p.mkdir(), lambda p: None])
def test_a_folder_with_nothing_to_report_is_one_line(tmp_path, capsys, make):
    target = tmp_path / "empty"
    make(target)
    assert main(["report", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ("nothing to report" in err or "no such run directory" in err)
