"""Backends through their real generate paths: CTranslate2 vs transformers, OpenAI endpoint, LLM."""

import json
from http.server import BaseHTTPRequestHandler

import datasets
import pytest

from lingualift.cli import main
from lingualift.languages import get_language
from lingualift.translate.backends.llm import clean_output
from tests.fixtures_teacher import local_server

EN, NL = get_language("en"), get_language("nl")
TEXTS = ["Hello there, how are you?", "A list can change after you create it.", "Short."]


def test_ct2_conversion_of_a_tiny_marian_gives_the_same_greedy_output_as_transformers(
    tiny_marian, monkeypatch, tmp_path
):
    pytest.importorskip("ctranslate2")
    from lingualift.translate.backends.ct2 import CT2Translator
    from lingualift.translate.backends.seq2seq import Seq2SeqTranslator

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path))
    hf = Seq2SeqTranslator("opus", str(tiny_marian))
    ct2 = CT2Translator("opus", str(tiny_marian), compute_type="float32")
    expected = [t.text for t in hf.translate(TEXTS, EN, NL, max_new_tokens=12)]
    assert [t.text for t in ct2.translate(TEXTS, EN, NL, max_new_tokens=12)] == expected
    assert list((tmp_path / "ct2").iterdir())  # converted once into the cache
    again = CT2Translator("opus", str(tiny_marian), compute_type="float32")  # reuses the conversion
    assert [t.text for t in again.translate(TEXTS, EN, NL, max_new_tokens=12)] == expected


def test_ct2_flag_through_the_command(tiny_marian, monkeypatch, tmp_path):
    pytest.importorskip("ctranslate2")
    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": t, "lang": "en"}) + "\n" for t in TEXTS))
    assert (
        main(
            [
                "translate",
                str(src),
                "--to",
                "nl",
                "--backend",
                "opus",
                "--model",
                str(tiny_marian),
                "--ct2",
                "--out",
                str(tmp_path / "o"),
                "--max-new-tokens",
                "8",
            ]
        )
        == 0
    )
    rows = datasets.load_from_disk(str(tmp_path / "o"))["train"]
    assert set(rows["translator"]) == {f"opus:{tiny_marian}:ct2-int8"}


CHAT_TEXTS = [*TEXTS, "Two lines:\nthe second one.", "ha ha ha ha ha ha ha ha"]


@pytest.mark.parametrize("strict", [False, True])
def test_ct2_generator_gives_the_same_text_and_flags_as_transformers_for_a_chat_model(
    talkative_chat_model, strict, monkeypatch, tmp_path
):
    pytest.importorskip("ctranslate2")
    from lingualift.translate.backends.ct2 import CT2LLMTranslator
    from lingualift.translate.backends.llm import LLMTranslator

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path))
    hf = LLMTranslator(str(talkative_chat_model))
    ct2 = CT2LLMTranslator(str(talkative_chat_model), compute_type="float32")
    for early_stop in (False, True):
        hf.early_stop = ct2.early_stop = early_stop
        expected = [
            (t.text, t.flags) for t in hf.translate(CHAT_TEXTS, EN, NL, max_new_tokens=30, strict=strict)
        ]
        assert all(text for text, _ in expected)  # the model writes: the comparison means something
        assert [
            (t.text, t.flags) for t in ct2.translate(CHAT_TEXTS, EN, NL, max_new_tokens=30, strict=strict)
        ] == expected


@pytest.mark.parametrize(
    ("lengths", "strict", "rows", "groups"),
    [
        ([30, 5, 30, 12], True, None, [[0, 2], [1], [3]]),  # a retry: one length per call
        ([30, 5, 30, 12], True, 2, [[0, 2], [1], [3]]),
        ([30, 5, 30, 12], False, None, [[0, 1, 2, 3]]),  # one call, in order
        ([30, 5, 30, 12], False, 4, [[0, 1, 2, 3]]),
        ([30, 5, 30, 12, 7], False, 2, [[1, 4], [3, 0], [2]]),  # like lengths, shortest first
        ([], False, 2, [[]]),
    ],
)
def test_prompt_groups(lengths, strict, rows, groups):
    from lingualift.translate.backends.ct2 import prompt_groups

    assert prompt_groups(lengths, strict=strict, rows=rows) == groups


def test_ct2_generator_splits_a_batch_into_like_length_calls_and_each_row_keeps_its_text(
    talkative_chat_model, monkeypatch, tmp_path
):
    """hardware.ct2_generator_rows: on a CPU a batch larger than it is generated in calls of like prompt
    length, side by side; each row gets its own text and flags back (those of the transformers path)."""
    pytest.importorskip("ctranslate2")
    from lingualift.translate.backends.ct2 import CT2LLMTranslator
    from lingualift.translate.backends.llm import LLMTranslator

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path))
    hf = LLMTranslator(str(talkative_chat_model))
    ct2 = CT2LLMTranslator(str(talkative_chat_model), compute_type="float32")
    assert ct2.rows_per_call  # a CPU splits its batches
    calls = []

    class Spy:
        def __init__(self, generator):
            self.generator = generator

        def generate_batch(self, prompts, **options):
            calls.append([len(prompt) for prompt in prompts])
            return self.generator.generate_batch(prompts, **options)

    ct2.generator, ct2.rows_per_call = Spy(ct2.generator), 2
    expected = [(t.text, t.flags) for t in hf.translate(CHAT_TEXTS, EN, NL, max_new_tokens=30)]
    assert all(text for text, _ in expected)
    assert [(t.text, t.flags) for t in ct2.translate(CHAT_TEXTS, EN, NL, max_new_tokens=30)] == expected
    assert len(calls) == (len(CHAT_TEXTS) + 1) // 2 and all(len(call) <= 2 for call in calls)
    assert all(max(a) <= min(b) for a, b in zip(calls, calls[1:]))  # like lengths, shortest first


@pytest.mark.parametrize(
    ("template", "texts", "prefix_end", "forwarded_once"),
    [
        (None, CHAT_TEXTS, "\nEnglish:", True),
        # the prefix ends in "ch" of "Dutch", which "es" merges with: that batch forwards its prompts whole
        ("Translate from {src} into {tgt}{text}", ["Fine.", "es fine", "Two words."], "into Dutch", False),
        ("Translate from {src} into {tgt}{text}", ["Fine.", "Two words."], "into Dutch", True),
    ],
)
def test_the_prompts_shared_prefix_is_forwarded_once_and_changes_no_token(
    talkative_chat_model, template, texts, prefix_end, forwarded_once
):
    """The pruned loop starts each batch from the cached key-values of the tokens every prompt of the
    pair starts with; its output is generate's on the whole prompts, and a text that merges with the
    prefix's last token leaves the batch on whole prompts."""
    import torch

    from lingualift.translate.backends.llm import LLMTranslator
    from lingualift.translate.backends.pruned import PromptPrefix

    translator = LLMTranslator(str(talkative_chat_model), prompt_template=template)
    forwarded = []
    cache_for = PromptPrefix.cache_for

    def spy(self, model, rows, name):
        forwarded.append((self.ids, rows))
        return cache_for(self, model, rows, name)

    outputs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PromptPrefix, "cache_for", spy)
        for pruned in (False, True):
            translator.pruned = pruned
            torch.manual_seed(0)
            outputs[pruned] = [
                (t.text, t.flags) for t in translator.translate(texts, EN, NL, max_new_tokens=30)
            ]
    assert all(text for text, _ in outputs[False])  # the model writes: the comparison means something
    assert outputs[True] == outputs[False]
    shared = translator.prompt_prefix(EN, NL).ids
    assert translator.tokenizer.decode(shared).endswith(prefix_end)
    assert forwarded == ([(shared, len(texts))] if forwarded_once else [])


LONG_AND_SHORT = [
    "Short.",
    "Fine.",
    "A list can change after you create it, and a tuple cannot; both keep their order.",
    "Yes.",
    "Keep the bedroom dark, quiet and cool, and go to bed at the same time every night, even at weekends.",
]


def test_prompts_forwarded_in_groups_of_like_length_give_what_one_padded_batch_gives(
    talkative_chat_model, monkeypatch
):
    """hardware.pack_prefill (a CPU): a batch's prompts are forwarded in groups of like length and their
    caches joined; every row writes what it writes in the padded batch, and the groups were several."""
    from lingualift.translate.backends import pruned
    from lingualift.translate.backends.llm import LLMTranslator

    translator = LLMTranslator(str(talkative_chat_model))
    groups = []
    real_groups = pruned.like_length_groups
    monkeypatch.setattr(
        pruned, "like_length_groups", lambda lengths: groups.append(real_groups(lengths)) or groups[-1]
    )
    outputs = {}
    for packed in (False, True):
        monkeypatch.setattr("lingualift.hardware.pack_prefill", lambda device, packed=packed: packed)
        outputs[packed] = [
            (t.text, t.flags) for t in translator.translate(LONG_AND_SHORT, EN, NL, max_new_tokens=30)
        ]
    assert len(groups) == 1 and len(groups[0]) > 1  # the packed run joined several groups' caches
    assert all(text for text, _ in outputs[False])
    assert outputs[True] == outputs[False]


@pytest.mark.parametrize("backend", ["transformers", "ct2"])
def test_a_row_writes_up_to_its_own_cap_whatever_rows_share_its_batch(
    talkative_chat_model, backend, monkeypatch, tmp_path
):
    """Per-row caps (engine.batch_plans): a short segment batched with a long one writes what it writes
    alone, though the talkative model would go on to the long one's cap."""
    from lingualift.translate.backends.llm import LLMTranslator
    from lingualift.translate.engine import new_token_cap

    if backend == "ct2":
        pytest.importorskip("ctranslate2")
        from lingualift.translate.backends.ct2 import CT2LLMTranslator

        monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path))
        translator = CT2LLMTranslator(str(talkative_chat_model), compute_type="float32")
    else:
        translator = LLMTranslator(str(talkative_chat_model))
    texts = ["Fine.", LONG_AND_SHORT[4]]
    caps = [new_token_cap(translator, n) for n in translator.count_tokens(texts)]
    assert caps[0] < caps[1]
    alone = translator.translate(texts[:1], EN, NL, max_new_tokens=caps[:1])[0]
    together = translator.translate(texts, EN, NL, max_new_tokens=caps)[0]
    to_the_batch_cap = translator.translate(texts, EN, NL, max_new_tokens=caps[1])[0]
    assert (together.text, together.flags) == (alone.text, alone.flags)
    assert len(to_the_batch_cap.text) > len(alone.text)  # the row would have written on: its cap stopped it
    assert alone.flags == ["truncated_output"]  # and says so


@pytest.mark.parametrize(
    ("lengths", "groups"),
    [
        ([10, 11, 10, 12], [[0, 2, 1, 3]]),  # a few tokens of padding: one forward
        ([5, 200, 6, 190], [[0, 2], [3, 1]]),  # short and long apart
        ([40, 80, 41, 300], [[0, 2], [1], [3]]),
        ([7], [[0]]),
        ([], []),
    ],
)
def test_like_length_groups(lengths, groups):
    from lingualift.translate.backends.pruned import like_length_groups

    assert like_length_groups(lengths) == groups


def test_ct2_for_the_llm_backend_through_the_command(talkative_chat_model, monkeypatch, tmp_path):
    pytest.importorskip("ctranslate2")
    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": t, "lang": "en"}) + "\n" for t in TEXTS))
    assert (
        main(
            [
                "translate",
                str(src),
                "--to",
                "nl",
                "--backend",
                "llm",
                "--model",
                str(talkative_chat_model),
                "--ct2",
                "--out",
                str(tmp_path / "o"),
                "--max-new-tokens",
                "8",
            ]
        )
        == 0
    )
    rows = datasets.load_from_disk(str(tmp_path / "o"))["train"]
    assert set(rows["translator"]) == {f"llm:{talkative_chat_model}:ct2-int8"}
    assert all(rows["text"]) and len(rows) == len(TEXTS)


def test_ct2_excludes_bitsandbytes_quantization(tmp_path, capsys):
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"text": "Hello there.", "lang": "en"}) + "\n")
    code = main(
        [
            "translate",
            str(src),
            "--to",
            "nl",
            "--backend",
            "llm",
            "--model",
            "demo",
            "--ct2",
            "--quant4",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "drop quant4/quant8" in capsys.readouterr().err


def test_ct2_refuses_a_family_without_converter(tmp_path, capsys):
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"text": "Hello there.", "lang": "en"}) + "\n")
    code = main(
        [
            "translate",
            str(src),
            "--to",
            "nl",
            "--backend",
            "seamless",
            "--ct2",
            "--model",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "CTranslate2 has no converter for the seamless family" in capsys.readouterr().err


class Endpoint(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint: echoes a fake translation, fails some requests."""

    calls: list[dict] = []
    failures_left = {"Flaky sentence.": 2}

    def do_POST(self):  # noqa: N802
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Endpoint.calls.append({"payload": payload, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":  # as vLLM and llama.cpp's server answer a wrong path
            body = json.dumps({"error": {"message": f"File Not Found: {self.path}", "code": 404}}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
            return
        prompt = payload["messages"][0]["content"]
        text = prompt.split("\nEnglish: ", 1)[1].rsplit("\nDutch:", 1)[0]
        if Endpoint.failures_left.get(text, 0) > 0:
            Endpoint.failures_left[text] -= 1
            self.send_response(503)
            self.end_headers()
            return
        if text == "Broken sentence.":
            self.send_response(400)
            self.end_headers()
            return
        body = json.dumps(
            {
                "choices": [
                    {"message": {"role": "assistant", "content": f"Here is the translation: NL({text})"}}
                ]
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture()
def endpoint():
    Endpoint.calls = []
    Endpoint.failures_left = {"Flaky sentence.": 2}
    with local_server(Endpoint) as url:
        yield url


def test_openai_backend_against_a_local_endpoint(endpoint, tmp_path, monkeypatch):
    import lingualift.endpoint as endpoint_module

    monkeypatch.setattr(endpoint_module.time, "sleep", lambda s: None)  # no real backoff waits in tests
    monkeypatch.setenv("MY_KEY", "sk-test-123")
    rows = [{"text": t, "lang": "en"} for t in ("Good morning.", "Flaky sentence.", "Broken sentence.")]
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(
        [
            "translate",
            str(src),
            "--to",
            "nl",
            "--backend",
            "openai",
            "--model",
            "tower-test",
            "--base-url",
            endpoint,
            "--api-key-env",
            "MY_KEY",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    out = {r["source_text"]: r for r in datasets.load_from_disk(str(tmp_path / "o"))["train"]}
    assert out["Good morning."]["text"] == "NL(Good morning.)"
    assert "commentary" in out["Good morning."]["qe_flags"]
    assert out["Flaky sentence."]["text"] == "NL(Flaky sentence.)"  # retried after two 503s
    assert out["Broken sentence."]["text"] is None
    assert out["Broken sentence."]["qe_flags"][0].startswith("failed:EndpointError: HTTP 400")
    assert {c["auth"] for c in Endpoint.calls} == {"Bearer sk-test-123"}
    assert all(
        c["payload"]["model"] == "tower-test" and c["payload"]["temperature"] == 0 for c in Endpoint.calls
    )
    report = json.loads((tmp_path / "o" / "translate_report.json").read_text())
    assert report["failed_segments"] == 1 and report["rows_by_outcome"]["failed"] == 1
    assert "sk-test-123" not in json.dumps(report)


def test_a_wrong_base_url_fails_loudly_with_the_likely_fix(endpoint, tmp_path, capsys):
    rows = [{"text": t, "lang": "en"} for t in ("Good morning.", "Good night.")]
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = endpoint.removesuffix("/v1")  # the user forgot /v1
    code = main(
        [
            "translate",
            str(src),
            "--to",
            "nl",
            "--backend",
            "openai",
            "--model",
            "tower-test",
            "--base-url",
            base,
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(err) == 1
    assert err[0].startswith(
        "error: every segment failed (2 of 2 requests failed: 2 × EndpointError: HTTP 404 from"
    )
    assert "does --base-url end in /v1?" in err[0] and "File Not Found: /chat/completions" in err[0]
    out = datasets.load_from_disk(str(tmp_path / "o"))["train"]  # the rows are kept, flagged
    assert out["text"] == [None, None] and all(f[0].startswith("failed:") for f in out["qe_flags"])
    report = json.loads((tmp_path / "o" / "translate_report.json").read_text())
    assert list(report["failures_by_reason"].values()) == [2]


def test_a_run_where_the_first_requests_all_fail_alike_stops_early(endpoint, tmp_path, capsys):
    rows = [{"text": f"Sentence number {i} is here.", "lang": "en"} for i in range(40)]
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(
        [
            "translate",
            str(src),
            "--to",
            "nl",
            "--backend",
            "openai",
            "--model",
            "tower-test",
            "--base-url",
            endpoint.removesuffix("/v1"),
            "--batch-tokens",
            "16",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "stopped: the first" in err and "does --base-url end in /v1?" in err
    assert 8 <= len(Endpoint.calls) < 40  # the rest were never sent
    assert (
        main(
            [
                "translate",
                str(src),
                "--to",
                "nl",
                "--backend",
                "openai",
                "--model",
                "tower-test",
                "--base-url",
                endpoint,
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )  # fixed: failed ones retried
    assert all(t.startswith("NL(") for t in datasets.load_from_disk(str(tmp_path / "o"))["train"]["text"])


@pytest.mark.parametrize(
    "raw, text, flags",
    [
        ("Here is the translation: Hallo wereld.", "Hallo wereld.", ["commentary"]),
        ("Dutch: Hallo wereld.", "Hallo wereld.", []),
        ('"Hallo wereld."', "Hallo wereld.", []),
        ("Hallo wereld.\n\nNote: I kept it informal.", "Hallo wereld.", ["commentary"]),
        ("Hallo wereld.", "Hallo wereld.", []),
    ],
)
def test_llm_output_cleaning(raw, text, flags):
    cleaned = clean_output(raw, "Hello world.", NL)
    assert (cleaned.text, cleaned.flags) == (text, flags)


@pytest.mark.slow
@pytest.mark.parametrize("strict", [False, True])
def test_dropping_finished_rows_gives_what_generate_gives_with_the_demo_model(demo_model_path, strict):
    """The demo model loops, ends lines and stops at different points in one batch: the pruned loop
    must write the same tokens and flags as transformers' generate with the same stopping criteria."""
    from lingualift.translate.backends.llm import LLMTranslator

    texts = [
        "Good morning, how are you?",
        "Keep the bedroom dark, quiet and cool.",
        "Short.",
        "The steps:",
        "If you prefer something short, try *The Old Man and the Sea* by Ernest Hemingway.",
        "Heat a little butter in a pan, pour in a small ladle of batter, and turn the pancake when bubbles "
        "appear.",
    ]
    translator = LLMTranslator(str(demo_model_path))
    outputs = {}
    for pruned in (False, True):
        translator.pruned = pruned
        outputs[pruned] = [
            (t.text, t.flags) for t in translator.translate(texts, EN, NL, max_new_tokens=40, strict=strict)
        ]
    assert outputs[True] == outputs[False]
    lengths = {len(text) for text, _ in outputs[True]}
    assert len(lengths) > 2  # rows ended at different points: rows really left the batch early


@pytest.mark.slow
def test_llm_backend_translates_with_the_demo_model(demo_model_path, use_demo_cache, tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps({"text": "Good morning, how are you?", "lang": "en"}) + "\n")
    assert (
        main(
            [
                "translate",
                str(src),
                "--to",
                "nl",
                "--backend",
                "llm",
                "--model",
                "demo",
                "--out",
                str(tmp_path / "o"),
                "--max-new-tokens",
                "24",
            ]
        )
        == 0
    )
    row = datasets.load_from_disk(str(tmp_path / "o"))["train"][0]
    assert row["translator"] == "llm:demo" and row["text"] and row["lang"] == "nl"


@pytest.mark.parametrize("backend", ["opus", "llm"])
def test_ct2_on_cpu_runs_two_batches_at_once_with_the_same_result_as_one_at_a_time(
    backend, tiny_marian, talkative_chat_model, monkeypatch, tmp_path
):
    """hardware.ct2_threads: two CTranslate2 workers on a CPU of two cores or more, and the engine keeps
    two batches (and retry groups) in flight; nothing in the output may depend on it."""
    pytest.importorskip("ctranslate2")
    from lingualift.translate.backends import ct2

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path / "cache"))
    model = tiny_marian if backend == "opus" else talkative_chat_model
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": t, "lang": "en"}) + "\n" for t in [*CHAT_TEXTS] * 3))
    results = {}
    for threads in ((1, 2), (2, 1)):
        monkeypatch.setattr(ct2, "ct2_threads", lambda device, cores, threads=threads: threads)
        out = tmp_path / f"out-{threads[0]}"
        args = ["translate", str(src), "--to", "nl", "--backend", backend, "--model", str(model), "--ct2"]
        assert main([*args, "--batch-tokens", "64", "--max-new-tokens", "16", "--out", str(out)]) == 0
        report = json.loads((out / "translate_report.json").read_text())
        rows = datasets.load_from_disk(str(out))["train"]
        results[threads[0]] = (rows["text"], rows["qe_flags"], report["retried_for_repetition"])
    assert results[1] == results[2]
    if backend == "opus":  # the random tiny Marian loops: retries ran side by side too (the chat model's
        assert results[2][2] > 0  # strict groups are compared with transformers above)


@pytest.mark.parametrize("ct2", [False, True])
def test_a_seq2seq_hypothesis_cut_at_the_cap_with_no_watch_on_it_is_flagged(
    tiny_marian, ct2, monkeypatch, tmp_path
):
    """Beam search (transformers) and the retry (CTranslate2, strict) run without the per-token watch:
    a hypothesis that reached the cap without its end token is still flagged truncated_output."""
    from lingualift.translate.backends.seq2seq import Seq2SeqTranslator

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path))
    if ct2:
        pytest.importorskip("ctranslate2")
        from lingualift.translate.backends.ct2 import CT2Translator

        translator = CT2Translator("opus", str(tiny_marian))
    else:
        translator = Seq2SeqTranslator("opus", str(tiny_marian), num_beams=2)
    out = translator.translate(TEXTS, EN, NL, max_new_tokens=3, strict=ct2)
    assert [t.flags for t in out] == [["truncated_output"]] * len(TEXTS)


def _load_only(names):
    def load(name):
        if name not in names:
            raise OSError(f"{name}: cannot open shared object file")

    return load


@pytest.mark.parametrize(
    "device, found, candidates, refused",
    [
        ("cpu", set(), ["libcublas.so.12"], False),  # a CPU needs no cuBLAS
        ("cuda", {"libcublas.so.12"}, ["libcublas.so.12"], False),  # a CUDA 12 stack
        (
            "cuda:1",
            {"/site/nvidia/cublas/lib/libcublas.so.12"},
            ["libcublas.so.12", "/site/nvidia/cublas/lib/libcublas.so.12"],
            False,
        ),
        ("cuda", {"libcublas.so.13"}, ["libcublas.so.12"], True),  # torch cu13 only: CTranslate2 issue 1933
    ],
)
def test_ct2_on_cuda_looks_for_its_cublas_first_and_names_the_fix(device, found, candidates, refused):
    from lingualift.translate.backends.ct2 import missing_cuda_library

    said = missing_cuda_library(device, _load_only(found), candidates)
    assert (said is not None) is refused
    if refused:
        assert "pip install nvidia-cublas-cu12" in said and device in said and "\n" not in said


def test_ct2_on_a_machine_without_cuda_12_is_one_line_before_anything_converts(
    tiny_marian, monkeypatch, tmp_path, capsys
):
    pytest.importorskip("ctranslate2")
    from lingualift.translate.backends.ct2 import CT2_CUBLAS, require_cuda_library

    try:
        require_cuda_library("cuda")
        pytest.skip(f"{CT2_CUBLAS} loads on this machine")
    except Exception:
        pass
    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"text": t, "lang": "en"}) + "\n" for t in TEXTS))
    argv = ["translate", str(src), "--to", "nl", "--backend", "opus", "--model", str(tiny_marian), "--ct2"]
    assert main([*argv, "--device", "cuda", "--out", str(tmp_path / "o")]) == 2
    said = [s for s in capsys.readouterr().err.splitlines() if s.strip() and not s.startswith("translate →")]
    assert len(said) == 1 and "pip install nvidia-cublas-cu12" in said[0]
    assert not (tmp_path / "cache" / "ct2").exists()  # refused before the conversion
