"""`lingualift translate` end to end with a tiny real Marian model: contract, resume, kill -9, shards."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from lingualift.cli import main
from lingualift.demo.sample import sample_rows
from lingualift.translate.engine import plan_batches
from lingualift.translate.store import Segment

CODE_MESSAGE = "Run this:\n\n```python\nprint('hi')\n```\n\nThen check https://example.org/docs."


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def source(tmp_path):
    train = [
        {"message_id": "m1", "text": "Hello there. How are you?", "lang": "en"},
        {"message_id": "m2", "text": "Hello there. How are you?", "lang": "en"},  # duplicate
        {"message_id": "m3", "text": CODE_MESSAGE, "lang": "en"},
        {"message_id": "m4", "text": "", "lang": "en"},
        {"message_id": "m5", "text": None, "lang": "en"},
        {"message_id": "m6", "text": "Dit is al Nederlands.", "lang": "nl"},
        {"message_id": "m7", "text": "Unknown language here.", "lang": "xx"},
    ]
    test = [{"message_id": "t1", "text": "How are you?", "lang": "en"}]
    directory = tmp_path / "src"
    directory.mkdir()
    write_jsonl(directory / "train.jsonl", train)
    write_jsonl(directory / "test.jsonl", test)
    return [str(directory), str(directory / "train.jsonl")]


def run_translate(args: list[str]) -> int:
    return main(["translate", *args])


def test_output_keeps_splits_and_columns_and_accounts_for_every_row(source, tiny_marian, tmp_path):
    out = tmp_path / "out"
    code = run_translate(
        [
            source[0],
            "--to",
            "nl",
            "--backend",
            "opus",
            "--model",
            str(tiny_marian),
            "--out",
            str(out),
            "--max-new-tokens",
            "24",
        ]
    )
    assert code == 0
    data = datasets.load_from_disk(str(out))
    assert {k: len(v) for k, v in data.items()} == {"train": 7, "test": 1}
    rows = {r["message_id"]: r for r in data["train"]}
    assert set(data["train"].column_names) == {
        "message_id",
        "text",
        "lang",
        "source_text",
        "translator",
        "qe_flags",
    }
    assert rows["m1"]["text"] == rows["m2"]["text"] and rows["m1"]["lang"] == "nl"
    assert rows["m1"]["translator"] == f"opus:{tiny_marian}"
    assert rows["m1"]["source_text"] == "Hello there. How are you?"
    assert "```python\nprint('hi')\n```" in rows["m3"]["text"]  # code kept byte for byte
    assert rows["m4"]["qe_flags"] == ["empty_source"] and rows["m5"]["qe_flags"] == ["empty_source"]
    assert rows["m6"]["text"] == "Dit is al Nederlands." and rows["m6"]["qe_flags"] == []
    assert rows["m7"]["qe_flags"] == ["unknown_source_language:xx"] and rows["m7"]["translator"] == "none"
    report = json.loads((out / "translate_report.json").read_text())
    # m1/m2 share two sentences and t1 repeats one of them: 3 unique sentences + m3's two.
    assert report["unique_segments"] == 4
    assert report["rows"] == 8 and sum(report["rows_by_outcome"].values()) == 8
    # the random model loops: those segments were cut early and retried once with repetition controls
    assert 0 < report["retried_for_repetition"] <= report["unique_segments"] and report["retry_seconds"] >= 0


def test_running_again_resumes_from_the_store(source, tiny_marian, tmp_path):
    args = [
        source[1],
        "--to",
        "nl",
        "--backend",
        "opus",
        "--model",
        str(tiny_marian),
        "--out",
        str(tmp_path / "o"),
        "--max-new-tokens",
        "16",
    ]
    assert run_translate(args) == 0
    first = datasets.load_from_disk(str(tmp_path / "o"))["train"].to_list()
    assert run_translate(args) == 0
    report = json.loads((tmp_path / "o" / "translate_report.json").read_text())
    assert report["translated_segments"] == 0 and report["reused_from_store"] == report["unique_segments"]
    assert datasets.load_from_disk(str(tmp_path / "o"))["train"].to_list() == first


def test_generating_ahead_in_a_worker_thread_gives_the_same_dataset_and_store(
    tiny_marian, tmp_path, monkeypatch
):
    """On a GPU (or an endpoint) the next batch generates while the previous one is checked and
    committed; the result must not depend on it."""
    src = _big_source(tmp_path)
    common = [
        str(src),
        "--to",
        "nl",
        "--backend",
        "opus",
        "--model",
        str(tiny_marian),
        "--batch-tokens",
        "96",
        "--max-new-tokens",
        "12",
    ]
    results = {}
    for ahead in (False, True):
        monkeypatch.setattr("lingualift.hardware.overlap_generation", lambda *_, ahead=ahead: ahead)
        out = tmp_path / f"ahead-{ahead}"
        assert run_translate([*common, "--out", str(out)]) == 0
        report = json.loads((out / "translate_report.json").read_text())
        results[ahead] = (
            datasets.load_from_disk(str(out))["train"].to_list(),
            report["unique_segments"],
            report["retried_for_repetition"],
        )
    assert results[True] == results[False]


def test_batches_follow_the_token_budget_in_length_order():
    lengths = [1, 2, 2, 3, 5, 8, 8, 9]
    segments = [Segment(str(i), " ".join(["w"] * n), "en", "nl") for i, n in enumerate(lengths)]
    batches = list(plan_batches(segments, lengths, budget=16))
    for batch, longest in batches:
        assert longest * len(batch) <= 16
    assert [s for b, _ in batches for s in b] == segments  # nothing lost, order kept


def test_an_input_over_what_the_model_reads_is_planned_at_what_it_reads():
    from lingualift.translate.engine import batch_plans

    class Counter:
        max_input_tokens = 10  # the model reads 20 tokens at most
        max_length = 512

        def count_tokens(self, texts):
            return [len(t.split()) for t in texts]

    segments = [Segment(str(i), " ".join(["w"] * n), "en", "nl") for i, n in enumerate([5, 300])]
    (plan,) = batch_plans(Counter(), segments, budget=64)
    assert plan.longest == 20 and plan.caps == [2 * 5 + 16, 2 * 20 + 16]  # twice the input plus 16


def test_each_segment_of_a_batch_gets_its_own_token_cap():
    from lingualift.translate.engine import batch_plans

    class Counter:
        max_input_tokens = 100
        max_length = 512

        def count_tokens(self, texts):
            return [len(t.split()) for t in texts]

    segments = [Segment(str(i), " ".join(["w"] * n), "en", "nl") for i, n in enumerate([1, 3, 30])]
    plans = list(batch_plans(Counter(), segments, budget=4096, limit=60))
    assert [(len(plan.batch), plan.longest) for plan in plans] == [(3, 30)]
    assert plans[0].caps == [18, 22, 60]  # 2n + 16 each, the 30-token one held to the limit of 60


class _Spy:
    """Wraps the engine's real translator and records each call's batch (and can stop the run)."""

    def __init__(self, monkeypatch, stop_at_retry: bool = False):
        from lingualift.translate import engine

        self.calls: list[tuple[bool, list[str]]] = []
        real_build = engine.build_translator

        def build(*args, **kwargs):
            translator = self.translator = real_build(*args, **kwargs)
            real_translate = translator.translate

            def translate(texts, *a, strict=False, **kw):
                self.calls.append((strict, list(texts)))
                if strict and stop_at_retry:
                    raise KeyboardInterrupt  # like Ctrl-C between the first pass and the retries
                return real_translate(texts, *a, strict=strict, **kw)

            translator.translate = translate
            return translator

        monkeypatch.setattr(engine, "build_translator", build)


def test_looping_segments_are_retried_together_in_full_batches(tiny_marian, tmp_path, monkeypatch):
    spy = _Spy(monkeypatch)
    src = _big_source(tmp_path)
    args = [
        str(src),
        "--to",
        "nl",
        "--backend",
        "opus",
        "--model",
        str(tiny_marian),
        "--batch-tokens",
        "96",
        "--max-new-tokens",
        "12",
        "--out",
        str(tmp_path / "o"),
    ]
    assert run_translate(args) == 0
    report = json.loads((tmp_path / "o" / "translate_report.json").read_text())
    first = [texts for strict, texts in spy.calls if not strict]
    retries = [texts for strict, texts in spy.calls if strict]
    assert sum(map(len, first)) == report["unique_segments"]
    assert sum(map(len, retries)) == report["retried_for_repetition"] > len(first)  # more loops than batches
    # pooled: fewer retry batches than first-pass batches that had a loop (retried there, each would be one)
    looped = {text for batch in retries for text in batch}
    assert len(retries) < sum(1 for batch in first if looped & set(batch))


def test_where_batches_run_side_by_side_a_batchs_loops_are_retried_beside_the_next_batches(
    tiny_marian, tmp_path, monkeypatch
):
    """engine.retry_with_batch: CTranslate2 on a CPU runs two batches at once; a batch's looping
    segments are retried as soon as it is checked, beside the next batches, not pooled at the page's
    end, and the page's first-pass batches run longest first."""
    pytest.importorskip("ctranslate2")
    from lingualift.translate.backends import ct2

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ct2, "ct2_threads", lambda device, cores: (2, 1))
    spy = _Spy(monkeypatch)
    args = [str(_big_source(tmp_path)), "--to", "nl", "--backend", "opus", "--model", str(tiny_marian)]
    args += ["--ct2", "--batch-tokens", "96", "--max-new-tokens", "12", "--out", str(tmp_path / "o")]
    assert run_translate(args) == 0
    report = json.loads((tmp_path / "o" / "translate_report.json").read_text())
    first = [set(texts) for strict, texts in spy.calls if not strict]
    retries = [set(texts) for strict, texts in spy.calls if strict]
    assert sum(map(len, retries)) == report["retried_for_repetition"] > 0
    assert all(any(retry <= batch for batch in first) for retry in retries)  # each from one batch
    last_first_pass = max(i for i, (strict, _) in enumerate(spy.calls) if not strict)
    assert any(strict for strict, _ in spy.calls[:last_first_pass])  # a retry began before it
    passes = [spy.translator.count_tokens(texts) for strict, texts in spy.calls if not strict]
    longest = [max(counts) for counts in passes]  # two workers: neighbouring calls may swap
    assert longest[0] > longest[-1] and all(a >= b for a, b in zip(longest, longest[2:]))


def test_a_stop_before_the_retries_leaves_the_looping_segments_pending_then_resumes_identically(
    tiny_marian, tmp_path, monkeypatch
):
    from lingualift.translate.store import TranslationStore

    src = _big_source(tmp_path)
    common = [
        str(src),
        "--to",
        "nl",
        "--backend",
        "opus",
        "--model",
        str(tiny_marian),
        "--batch-tokens",
        "96",
        "--max-new-tokens",
        "12",
    ]
    assert run_translate([*common, "--out", str(tmp_path / "reference")]) == 0
    reference = datasets.load_from_disk(str(tmp_path / "reference"))["train"].to_list()
    spy = _Spy(monkeypatch, stop_at_retry=True)
    assert run_translate([*common, "--out", str(tmp_path / "o")]) == 130  # click: "Aborted!", 128 + SIGINT
    assert spy.calls[-1][0]  # stopped at the first retry
    translated = sum(len(texts) for strict, texts in spy.calls if not strict)
    (store_path,) = (tmp_path / "o.work").glob("store-*.sqlite")
    store = TranslationStore(store_path)
    # the first pass is done; what looped is still pending, not committed with its flagged first output
    committed = store.db.execute("SELECT flags FROM segments").fetchall()
    assert 0 < store.pending_count() == translated - len(committed)
    assert not any("repetition" in json.loads(flags) for (flags,) in committed)  # (repetition_trimmed may be)
    store.close()
    monkeypatch.undo()
    assert run_translate([*common, "--out", str(tmp_path / "o")]) == 0
    assert datasets.load_from_disk(str(tmp_path / "o"))["train"].to_list() == reference


def _big_source(tmp_path: Path) -> Path:
    rows = [{"message_id": r["message_id"], "text": r["text"], "lang": "en"} for r in sample_rows()]
    return write_jsonl(tmp_path / "big.jsonl", rows)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "lingualift", "translate", *args]


def _kill_mid_run(process: subprocess.Popen, work: Path, rng: random.Random) -> None:
    """kill -9 at a random moment once the run has committed its first batches (however fast this
    machine runs it), unless it finished first."""
    import sqlite3

    committed, target = 0, rng.randint(1, 60)
    while process.poll() is None and committed < target:
        time.sleep(0.02)
        for path in work.glob("store-*.sqlite"):
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1) as db:
                    committed = db.execute("SELECT COUNT(*) FROM segments").fetchone()[0]
            except sqlite3.Error:  # not created yet, or locked by the writer this instant
                pass
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["transformers", "ct2"])
def test_kill_9_at_random_points_then_resume_equals_an_uninterrupted_run(engine, tiny_marian, tmp_path):
    src = _big_source(tmp_path)
    common = [
        "--to",
        "nl",
        "--backend",
        "opus",
        "--model",
        str(tiny_marian),
        "--batch-tokens",
        "48",
        "--max-new-tokens",
        "12",
        *(["--ct2"] if engine == "ct2" else []),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LINGUALIFT_CACHE": str(tmp_path / "cache")}
    reference = tmp_path / "reference"
    subprocess.run(_cli(str(src), *common, "--out", str(reference)), check=True, env=env, capture_output=True)
    resumed = tmp_path / "resumed"
    rng = random.Random(1234)
    interrupted = 0
    for _ in range(3):
        process = subprocess.Popen(
            _cli(str(src), *common, "--out", str(resumed)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _kill_mid_run(process, tmp_path / "resumed.work", rng)
        interrupted += not resumed.exists()
    assert interrupted >= 1  # at least one kill landed before the run could finish
    subprocess.run(_cli(str(src), *common, "--out", str(resumed)), check=True, env=env, capture_output=True)
    report = json.loads((resumed / "translate_report.json").read_text())
    assert report["reused_from_store"] > 0  # the killed runs' committed batches were kept
    expected = datasets.load_from_disk(str(reference))["train"].to_list()
    got = datasets.load_from_disk(str(resumed))["train"].to_list()
    assert got == expected
    assert len({r["message_id"] for r in got}) == len(got) == len(sample_rows())


@pytest.mark.slow
def test_two_process_torchrun_shards_equal_a_single_process_run(tiny_marian, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this Python")
    src = _big_source(tmp_path)
    common = ["--to", "nl", "--backend", "opus", "--model", str(tiny_marian), "--max-new-tokens", "12"]
    single = tmp_path / "single"
    assert main(["translate", str(src), *common, "--out", str(single)]) == 0
    sharded = tmp_path / "sharded"
    result = subprocess.run(
        [
            torchrun,
            "--nproc_per_node=2",
            "--master_port=29517",
            "-m",
            "lingualift",
            "translate",
            str(src),
            *common,
            "--out",
            str(sharded),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stores = sorted(p.name for p in Path(f"{sharded}.work").glob("store-*.sqlite"))
    assert stores == ["store-0-of-2.sqlite", "store-1-of-2.sqlite"]
    assert (
        datasets.load_from_disk(str(sharded))["train"].to_list()
        == datasets.load_from_disk(str(single))["train"].to_list()
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--to", "xx"], "unknown language 'xx'"),
        (["--to", "zh-Hant", "--backend", "m2m"], "m2m does not support Chinese (Traditional)"),
        (["--to", "nl", "--quant8", "--device", "cpu"], "--quant8 runs on a CUDA GPU only"),
        (["--to", "nl", "--text-field", "body"], "missing column 'body'"),
        (["--to", "nl", "--backend", "llm"], "backend llm needs --model"),
        (["--to", "nl", "--shard", "2/2"], "shard index must be in 0..1"),
    ],
)
def test_bad_input_is_one_clear_error_before_any_model_loads(source, tmp_path, capsys, extra, message):
    assert run_translate([source[1], "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # progress bars of the data loading may come before it
    assert last.startswith("error: ") and message in last and "Traceback" not in err


def test_mixed_type_column_gives_a_flagged_row(tiny_marian, tmp_path):
    src = write_jsonl(tmp_path / "mixed.jsonl", [{"text": "Hello there."}, {"text": 42}])
    out = tmp_path / "o"
    assert (
        run_translate(
            [
                str(src),
                "--to",
                "nl",
                "--from",
                "en",
                "--backend",
                "opus",
                "--model",
                str(tiny_marian),
                "--out",
                str(out),
                "--max-new-tokens",
                "8",
            ]
        )
        == 0
    )
    rows = datasets.load_from_disk(str(out))["train"].to_list()
    assert rows[0]["translator"].startswith("opus:") and rows[0]["qe_flags"] != ["not_text:int"]
    assert (
        rows[1]["qe_flags"] == ["not_text:int"] and rows[1]["text"] is None and rows[1]["source_text"] == 42
    )


def test_model_that_cannot_load_is_one_line_error(tmp_path, capsys):
    src = write_jsonl(tmp_path / "a.jsonl", [{"text": "Hello there."}])
    missing = tmp_path / "no-such-model"
    assert (
        run_translate(
            [
                str(src),
                "--to",
                "nl",
                "--from",
                "en",
                "--backend",
                "m2m",
                "--model",
                str(missing),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: cannot load m2m model") and "Traceback" not in err


def test_a_200k_character_row_is_translated_in_bounded_segments(tiny_marian, tmp_path):
    long_text = "This is a sentence. " * 10_000
    src = write_jsonl(tmp_path / "long.jsonl", [{"text": long_text.strip(), "lang": "en"}])
    out = tmp_path / "o"
    assert (
        run_translate(
            [
                str(src),
                "--to",
                "nl",
                "--backend",
                "opus",
                "--model",
                str(tiny_marian),
                "--out",
                str(out),
                "--max-new-tokens",
                "8",
            ]
        )
        == 0
    )
    row = datasets.load_from_disk(str(out))["train"][0]
    assert row["text"] and row["source_text"] == long_text.strip()
    assert json.loads((out / "translate_report.json").read_text())["unique_segments"] == 1  # deduped


def test_another_backend_continues_a_partly_translated_dataset(source, tiny_marian, tiny_m2m, tmp_path):
    out, work = tmp_path / "o", tmp_path / "work"
    common = [source[1], "--to", "nl", "--out", str(out), "--work-dir", str(work), "--max-new-tokens", "8"]
    assert run_translate([*common, "--backend", "opus", "--model", str(tiny_marian), "--limit", "1"]) == 0
    assert run_translate([*common, "--backend", "m2m", "--model", str(tiny_m2m)]) == 0
    rows = {r["message_id"]: r for r in datasets.load_from_disk(str(out))["train"]}
    assert rows["m1"]["translator"] == f"opus:{tiny_marian}"  # kept from the first run
    assert rows["m2"]["translator"] == f"opus:{tiny_marian}"  # same text: reused, not retranslated
    assert rows["m3"]["translator"] == f"m2m:{tiny_m2m}"
    report = json.loads((out / "translate_report.json").read_text())
    assert report["reused_from_store"] == 2 and report["translated_segments"] == 2


def test_a_segment_over_the_input_limit_is_cut_by_tokens_translated_whole_and_never_truncated(
    tiny_marian, tmp_path, monkeypatch
):
    """Dense text reaches the model's input limit in few characters: the engine cuts it by the
    translator's own token count instead of letting the tokenizer drop the end."""
    from lingualift.translate import engine

    long_sentence = (
        ", ".join(
            f"the {word} house is big"
            for word in ("red", "blue", "green", "old", "new", "tall", "small", "warm", "cold", "quiet")
        )
        + "."
    )
    source = write_jsonl(
        tmp_path / "long.jsonl",
        [
            {"message_id": "m1", "text": long_sentence, "lang": "en"},
            {"message_id": "m2", "text": "Hello there.", "lang": "en"},
        ],
    )
    sent, outputs = [], []
    real_build = engine.build_translator

    def small_window(config, backend, model):
        translator = real_build(config, backend, model)
        translator.max_input_tokens = 12
        real_translate = translator.translate

        def spy(texts, *args, **kwargs):
            sent.extend(texts)
            result = real_translate(texts, *args, **kwargs)
            outputs.extend(t.text for t in result)
            return result

        translator.translate = spy
        return translator

    monkeypatch.setattr(engine, "build_translator", small_window)
    out = tmp_path / "out"
    assert (
        run_translate(
            [
                str(source),
                "--to",
                "nl",
                "--backend",
                "opus",
                "--model",
                str(tiny_marian),
                "--out",
                str(out),
                "--max-new-tokens",
                "16",
            ]
        )
        == 0
    )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_marian))  # the translator's own count
    assert long_sentence not in sent and max(len(tokenizer(t).input_ids) for t in sent) <= 12
    row = {r["message_id"]: r for r in datasets.load_from_disk(str(out))["train"]}["m1"]
    assert row["text"] is not None and "truncated_input" not in row["qe_flags"]
    assert sum(o in row["text"] for o in set(outputs) if o) >= 2  # the parts' translations, joined
    report = json.loads((out / "translate_report.json").read_text())
    assert report["cut_by_tokens"] == 1 and report["rows_by_outcome"].get("failed", 0) == 0


@pytest.mark.parametrize(
    "spans, busy",
    [([], 0.0), ([(0, 2)], 2.0), ([(0, 2), (1, 3)], 3.0), ([(0, 1), (2, 3)], 2.0), ([(1, 3), (0, 4)], 4.0)],
)
def test_batches_generating_together_count_their_seconds_once(spans, busy):
    from lingualift.translate.engine import _busy_seconds

    assert _busy_seconds(spans) == busy


def test_an_out_of_memory_batch_is_retried_in_halves_after_its_memory_is_given_back():
    """A translator that runs out of memory above two segments a batch, holding (like generate's
    KV cache and logits) a buffer in its frame when it raises: each retry must see the failed
    call's buffer freed, so the halves succeed instead of failing down to single segments."""
    import weakref

    from lingualift.languages import get_language
    from lingualift.translate.backends.base import Translation
    from lingualift.translate.engine import _generate

    class Buffer:
        pass

    class OutOfMemoryError(RuntimeError):  # torch.cuda.OutOfMemoryError is a RuntimeError too
        pass

    class Translator:
        name = "oom-above-2"

        def __init__(self):
            self.held, self.seen_alive, self.sizes = [], [], []

        def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
            self.seen_alive.append(sum(ref() is not None for ref in self.held))
            self.sizes.append(len(texts))
            cache = Buffer()  # what the failed generate call holds until its frames are released
            self.held.append(weakref.ref(cache))
            if len(texts) > 2:
                raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return [Translation(t.upper(), []) for t in texts]

    translator = Translator()
    batch = [Segment(str(i), f"zin {i}", "en", "nl") for i in range(8)]
    outputs = _generate(translator, batch, get_language("en"), get_language("nl"), 16)
    assert [o.text for o in outputs] == [f"ZIN {i}" for i in range(8)]  # every segment translated
    assert translator.sizes == [8, 4, 2, 2, 4, 2, 2]
    assert translator.seen_alive == [0] * 7  # no retry ran while a failed call's memory was held
