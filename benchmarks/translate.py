"""Translation benchmarks, each measured side by side in one run; ratios are printed last.

    python benchmarks/translate.py throughput [--model tiny|base|demo] [--ct2] [--rows 1000] [--device cuda]
    python benchmarks/translate.py overhead [--rows 1000] [--size tiny|base] [--device cuda]
    python benchmarks/translate.py overlap [--model base|tiny|demo] [--ct2] [--rows 300]
    python benchmarks/translate.py memory [--small 10000 --large 100000]
    python benchmarks/translate.py formats [--model tiny|base|demo] [--rows 1000] [--turns 4]

`tiny` is a random-weight Marian model built on the fly (like the tests'), so the numbers measure
the engine, not translation quality; `base` is the same with OPUS-MT's layer sizes. `demo` is the
bundled SmolLM2-135M-Instruct (LLM backend); any other --model is a chat model for the LLM backend.
`--device cuda` runs both sides on the GPU (the default is the CPU, also on a GPU machine).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def skewed_rows(count: int, seed: int = 0) -> list[dict]:
    """Skewed lengths (many short, few long messages) with about 10% exact duplicates."""
    from lingualift.demo.sample import sample_rows

    rng = random.Random(seed)
    sentences = [
        s.strip() + "." for r in sample_rows() for s in r["text"].replace("\n", " ").split(".") if len(s) > 20
    ]
    rows = []
    for i in range(count):
        if rows and rng.random() < 0.1:
            rows.append({"message_id": f"r{i}", "text": rng.choice(rows)["text"], "lang": "en"})
            continue
        length = min(12, int(rng.paretovariate(1.3)))
        rows.append({"message_id": f"r{i}", "text": " ".join(rng.sample(sentences, length)), "lang": "en"})
    return rows


CODE = [
    'def mean(values):\n    if not values:\n        raise ValueError("no values")\n    return sum(values) / len(values)',
    'import json\n\nwith open("data.json") as handle:\n    data = json.load(handle)\nprint(len(data))',
    "for i in range(10):\n    if i % 2 == 0:\n        continue\n    print(i)",
    'const items = await fetch("/api/items").then((r) => r.json());\nitems.forEach((item) => {\n  console.log(item.name);\n});',
    'git checkout -b feature\ngit add .\ngit commit -m "Add feature"\ngit push origin feature',
    "SELECT name, COUNT(*) AS orders\nFROM customers\nJOIN orders ON orders.customer_id = customers.id\nGROUP BY name\n"
    "ORDER BY orders DESC\nLIMIT 10;",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
    "    def push(self, item):\n        self.items.append(item)\n\n    def pop(self):\n        return self.items.pop()",
]


def chat_answer_rows(count: int, seed: int = 0) -> list[dict]:
    """Rows shaped like real assistant answers: paragraphs, numbered and bulleted lists, fenced code
    and inline code; median length ~380 characters, a long tail past 2,000, about 10% exact
    duplicates. Short one-line rows flatter a segmenting engine: on these its per-segment work and
    padding show."""
    from lingualift.demo.sample import sample_rows

    rng = random.Random(seed)
    prose = [r["text"] for r in sample_rows() if r["role"] == "assistant"]
    unwrapped = [re.sub(r"(?<=[^\n])\n(?=[^\n\d*-])", " ", text) for text in prose]
    sentences = sorted(
        {
            piece.strip()
            for text in unwrapped
            for line in text.splitlines()
            for piece in re.split(r"(?<=[.!?])\s+", line)
            if 25 < len(piece.strip()) < 220
            and piece.strip()[-1] in ".!?"
            and "`" not in piece
            and piece.lstrip()[:1].isalpha()
        }
    )
    snippets = ["len(values)", "config.json", "pip install requests", "x = 1", "--help", "None"]

    def sentence() -> str:
        """Mostly two sentences joined into one, so that rows rarely share a sentence (real answers
        don't; a pool of whole sentences would let the engine's dedupe do most of the work)."""
        first = rng.choice(sentences)
        if rng.random() < 0.5:
            return first
        second = rng.choice(sentences)
        return f"{first[:-1]}, and {second[0].lower()}{second[1:]}"

    def paragraph(low: int, high: int) -> str:
        return " ".join(sentence() for _ in range(rng.randint(low, high)))

    def listing() -> str:
        numbered = rng.random() < 0.5
        items = []
        for i, item in enumerate(sentence() for _ in range(rng.randint(2, 4))):
            if rng.random() < 0.25:  # inline code inside a list item
                words = item.split(" ")
                spot = rng.randrange(1, len(words))
                item = " ".join(words[:spot] + [f"`{rng.choice(snippets)}`"] + words[spot:])
            items.append((f"{i + 1}. " if numbered else "- ") + item)
        return "\n".join(items)

    def answer() -> str:
        blocks = [paragraph(1, 1)]
        for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 6)):
            kind = rng.random()
            if kind < 0.4:
                blocks.append(listing())
            elif kind < 0.6:
                fence = rng.choice(["python", "js", "bash", "sql", ""])
                blocks.append(f"```{fence}\n{rng.choice(CODE)}\n```")
            elif kind < 0.8:
                blocks.append(paragraph(1, 2))
        if rng.random() < 0.3:
            blocks.append(paragraph(1, 1))
        return "\n\n".join(blocks)

    rows = []
    for i in range(count):
        text = rng.choice(rows)["text"] if rows and rng.random() < 0.1 else answer()
        rows.append({"message_id": f"r{i}", "text": text, "lang": "en"})
    return rows


def tiny_marian() -> str:
    """Build the tests' tiny Marian model into a temporary directory."""
    from tests.builders import build_tiny_marian

    return str(build_tiny_marian(Path(tempfile.mkdtemp(prefix="tiny-marian"))))


def base_size_marian() -> str:
    """The tiny model's tokenizer on a model with OPUS-MT's dimensions (d_model 512, 6+6 layers, FFN
    2048, 8 heads; random weights, and a 330-piece vocabulary where OPUS-MT has ~58k), so each
    decoding step costs what a real model's layers cost."""
    import shutil

    import torch
    from transformers import MarianConfig, MarianMTModel

    tiny = Path(tiny_marian())
    path = Path(tempfile.mkdtemp(prefix="base-marian"))
    for item in tiny.iterdir():
        if item.suffix != ".safetensors" and item.name != "config.json":
            shutil.copy(item, path / item.name)
    small = MarianConfig.from_pretrained(tiny)
    config = MarianConfig(
        vocab_size=small.vocab_size,
        d_model=512,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=8,
        decoder_attention_heads=8,
        encoder_ffn_dim=2048,
        decoder_ffn_dim=2048,
        max_position_embeddings=512,
        pad_token_id=small.pad_token_id,
        eos_token_id=small.eos_token_id,
        decoder_start_token_id=small.pad_token_id,
        forced_eos_token_id=None,
        scale_embedding=True,
    )
    torch.manual_seed(0)
    MarianMTModel(config).eval().save_pretrained(path)
    return str(path)


def llama2lang_loop(
    model_path: str, backend: str, texts: list[str], batch_size: int, max_new_tokens: int, device: str = "cpu"
) -> float:
    """LLaMa2lang's translate loop: dataset order, fixed row batches, no dedupe, no length cap."""
    import torch

    from lingualift.languages import get_language
    from lingualift.translate.backends.llm import LLMTranslator
    from lingualift.translate.backends.seq2seq import Seq2SeqTranslator

    en, nl = get_language("en"), get_language("nl")
    if backend == "llm":
        translator = LLMTranslator(model_path, device=device)
    else:
        translator = Seq2SeqTranslator("opus", model_path, device=device)
    translator.early_stop = False  # plain generate: each batch runs until every row ends or hits the limit
    translator.pruned = False  # (finished rows stay in the batch, padded)
    # the model's default generation length, bounded by its position limit
    max_new_tokens = min(max_new_tokens, translator.max_length)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            translator.translate(texts[i : i + batch_size], en, nl, max_new_tokens=max_new_tokens)
    return time.perf_counter() - start


def batched_generate_loop(
    model_path: str, backend: str, texts: list[str], batch_size: int, device: str = "cpu"
) -> tuple[float, list[str]]:
    """What a competent user writes: whole rows in dataset order, padded batches of `batch_size`,
    one greedy `generate` each, the model's end-of-turn (or eos) as eos and the same length cap as
    lingualift (`new_token_cap` of the batch's longest row). The same prompt and output cleaning as
    lingualift, so outputs compare. Returns (seconds, translations); loading is not timed."""
    import torch

    from lingualift.languages import get_language
    from lingualift.translate.backends.llm import LLMTranslator, clean_output
    from lingualift.translate.backends.seq2seq import Seq2SeqTranslator
    from lingualift.translate.engine import new_token_cap

    en, nl = get_language("en"), get_language("nl")
    if backend == "llm":  # our loader, for the model and its tokenizer (the template, its end ids)
        translator = LLMTranslator(model_path, device=device)
    else:
        translator = Seq2SeqTranslator("opus", model_path, device=device)
    model, tokenizer = translator.model, translator.tokenizer
    tokenizer.padding_side = "left" if backend == "llm" else "right"
    settings = {"do_sample": False, "num_beams": 1, "pad_token_id": tokenizer.pad_token_id}
    if backend == "llm":
        settings["eos_token_id"] = sorted(translator.end_ids)
    lengths = translator.count_tokens(texts)
    outputs = []
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(texts), batch_size):
            batch = texts[first : first + batch_size]
            cap = max(new_token_cap(translator, n) for n in lengths[first : first + batch_size])
            cap = min(cap, translator.max_length - 1)  # a decoder's positions end there
            if backend == "llm":
                encoded = tokenizer(translator.prompts(batch, en, nl), return_tensors="pt", padding=True)
                generated = model.generate(**encoded.to(device), max_new_tokens=cap, **settings)
                decoded = tokenizer.batch_decode(
                    generated[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True
                )
                outputs += [clean_output(raw, text, nl).text for raw, text in zip(decoded, batch)]
            else:
                limit = translator.max_input_tokens * 2  # lingualift's truncation of a source row
                encoded = tokenizer(
                    batch, return_tensors="pt", padding=True, truncation=True, max_length=limit
                )
                generated = model.generate(**encoded.to(device), max_new_tokens=cap, **settings)
                outputs += [t.strip() for t in tokenizer.batch_decode(generated, skip_special_tokens=True)]
    return time.perf_counter() - start, outputs


def one_segment(text: str) -> bool:
    """Whether lingualift translates `text` as one segment (so its output compares with a whole-row
    baseline's)."""
    from lingualift.translate.segment import split_message

    pieces = [p for p in split_message(text, max_chars=500) if p.translate]
    return len(pieces) == 1 and pieces[0].text.strip() == text.strip()


def translated_texts(out: Path) -> dict[str, str]:
    import datasets

    data = datasets.load_from_disk(str(out))
    split = data["train"] if "train" in data else next(iter(data.values()))
    return {row["message_id"]: row["text"] for row in split}


def lingualift_run(source: Path, out: Path, backend: str, model: str, *extra: str) -> dict:
    from lingualift.translate.config import TranslateConfig
    from lingualift.translate.engine import translate_dataset

    options = {"ct2": "--ct2" in extra}
    for flag in extra:
        if flag.startswith("--batch-tokens="):
            options["batch_tokens"] = int(flag.split("=")[1])
        if flag.startswith("--device="):
            options["device"] = flag.split("=")[1]
        if flag.startswith("--from="):
            options["source_lang"] = flag.split("=")[1]
    config = TranslateConfig(
        source=str(source), to="nl", out=str(out), backend=backend, model=model, **options
    )
    return translate_dataset(config, echo=lambda *_: None, progress=False).model_dump()


ROW_SHAPES = {"chat": chat_answer_rows, "short": skewed_rows}


def rows_and_model(args) -> tuple[list[dict], Path, Path, str, str]:
    """(rows, their JSONL file, a work directory, model path, backend) for --shape/--rows/--model."""
    rows = ROW_SHAPES[args.shape](args.rows)
    work = Path(tempfile.mkdtemp())
    source = work / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if args.model in ("tiny", "base"):
        return rows, source, work, tiny_marian() if args.model == "tiny" else base_size_marian(), "opus"
    from lingualift.models import resolve_model

    return rows, source, work, resolve_model(args.model), "llm"


def throughput(args) -> None:
    """lingualift translate against two baselines on the same rows: LLaMa2lang's loop (the old
    comparison: no loop cutting, --baseline-max-new-tokens) and padded batched generate with
    lingualift's own length cap (the honest one). With a model that stops (demo, a chat model) the
    greedy outputs are compared row by row where lingualift translates the row as one segment."""
    rows, source, work, model, backend = rows_and_model(args)
    texts = [r["text"] for r in rows]
    baseline_s = llama2lang_loop(
        model, backend, texts, args.batch_size, args.baseline_max_new_tokens, args.device
    )
    batched_s, batched = batched_generate_loop(model, backend, texts, args.batch_size, args.device)
    runs = []
    for ct2 in (False, True) if args.ct2 else (False,):
        start = time.perf_counter()
        out = work / f"out-{ct2}"
        report = lingualift_run(
            source,
            out,
            backend,
            model,
            *(["--ct2"] if ct2 else []),
            f"--batch-tokens={args.batch_tokens}",
            f"--device={args.device}",
        )
        runs.append((ct2, time.perf_counter() - start, report, translated_texts(out)))
    print(
        f"rows: {len(rows)} ({args.shape} shape, ~10% duplicates), model: {args.model}, device: {args.device}; "
        f"batches: {args.batch_size} rows (loops), {args.batch_tokens} tokens (lingualift)"
    )
    print(
        f"LLaMa2lang-style loop: {baseline_s:.1f} s, {len(rows) / baseline_s:.2f} rows/s "
        f"(max_new_tokens {args.baseline_max_new_tokens}, no loop cutting)"
    )
    print(
        f"padded batched generate, lingualift's length cap: {batched_s:.1f} s, {len(rows) / batched_s:.2f} rows/s"
    )
    single = [i for i, text in enumerate(texts) if one_segment(text)]
    for ct2, ours_s, report, ours in runs:
        print(
            f"lingualift translate{' --ct2' if ct2 else ''}: {ours_s:.1f} s, {len(rows) / ours_s:.2f} rows/s "
            f"({report['unique_segments']} unique segments; {report['translation_seconds']} s in the batch loop, "
            f"{report['retry_seconds']} s of it retrying {report['retried_for_repetition']} looping segments, "
            f"{report['still_looping_after_retry']} of them still looping, {report['salvaged_from_repetition']} "
            f"salvaged; rows flagged: {report['rows_by_outcome'].get('flagged', 0)})"
            ", including planning, store and assembly"
        )
        same = sum(ours.get(rows[i]["message_id"]) == batched[i] for i in single)
        print(
            f"  identical to padded batched generate on the {len(single)} rows it translates as one segment: "
            f"{same}/{len(single)}"
            + ("" if backend == "llm" else " (a random model loops: cut at different points)")
        )
    for ct2, ours_s, _, _ in runs:
        with_ct2 = " with --ct2" if ct2 else ""
        print(f"ratio (rows/s) vs LLaMa2lang-style loop{with_ct2}: {baseline_s / ours_s:.2f}x")
        print(
            f"ratio (rows/s) vs padded batched generate{with_ct2} (the honest one): {batched_s / ours_s:.2f}x"
        )


def overhead(args) -> None:
    """lingualift --ct2 end to end vs ctranslate2.translate_batch on the same pre-sorted batches."""
    from lingualift.languages import get_language
    from lingualift.translate.backends.ct2 import CT2Translator
    from lingualift.translate.backends.early_stop import LoopWatch, end_token_ids
    from lingualift.translate.engine import batch_plans
    from lingualift.translate.segment import split_message
    from lingualift.translate.store import Segment, segment_key

    rows = skewed_rows(args.rows)
    work = Path(tempfile.mkdtemp())
    source = work / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = base_size_marian() if args.size == "base" else tiny_marian()
    en, nl = get_language("en"), get_language("nl")
    translator = CT2Translator("opus", model, device=args.device)
    unique = {}
    for row in rows:
        for piece in split_message(row["text"], max_chars=500):
            if piece.translate:
                unique.setdefault(segment_key(piece.text, "en", "nl"), piece.text)
    segments = sorted(
        (Segment(k, t, "en", "nl") for k, t in unique.items()), key=lambda s: (len(s.source), s.key)
    )
    plans = list(batch_plans(translator, segments, 4096))
    raw_batches = []
    for plan in plans:
        tokens, prefix = translator.source_tokens([s.source for s in plan.batch], en, nl)
        raw_batches.append((tokens, plan.caps, prefix))  # each segment capped as the engine caps it
    # the ctranslate2.Translator itself, as a user would create it: the same converted model, device and
    # compute type, CTranslate2's default threads (one batch at a time on every core)
    import ctranslate2

    from lingualift.translate.backends.ct2 import converted_model_dir, default_compute_type

    compute_type = default_compute_type(translator.spec, args.device)
    raw = ctranslate2.Translator(
        str(converted_model_dir(model, compute_type)),
        device=args.device.split(":")[0],
        compute_type=compute_type,
    )
    texts = [[s.source for s in plan.batch] for plan in plans]
    end_ids = end_token_ids(None, translator.tokenizer)

    def raw_run(cut_loops: bool) -> float:
        start = time.perf_counter()
        for (tokens, caps, _prefix), sources in zip(raw_batches, texts):
            options = {"callback": LoopWatch(sources, caps=caps, end_ids=end_ids)} if cut_loops else {}
            raw.translate_batch(tokens, max_decoding_length=max(caps), beam_size=1, **options)
        return time.perf_counter() - start

    # best of two on each side: the first batches after a model loads run slower (allocator, caches),
    # and the raw side would otherwise be measured warm against a cold engine
    raw_s, raw_cut_s = raw_run(False), min(raw_run(True), raw_run(True))
    runs = []
    for attempt in range(2):
        start = time.perf_counter()
        report = lingualift_run(
            source,
            work / f"out-{attempt}",
            "opus",
            model,
            "--ct2",
            "--batch-tokens=4096",
            f"--device={args.device}",
        )
        runs.append(
            (report["translation_seconds"] - report["retry_seconds"], time.perf_counter() - start, report)
        )
    first_pass_s, ours_s, report = min(runs, key=lambda run: run[0])
    loop_s, retry_s = report["translation_seconds"], report["retry_seconds"]
    print(
        f"model: {args.size} Marian, rows: {len(rows)}, unique segments: {len(segments)}, batches: {len(raw_batches)}, "
        f"device: {args.device}"
    )
    print(
        f"raw ctranslate2 translate_batch (tokens prepared beforehand), every hypothesis to the cap: {raw_s:.2f} s"
    )
    print(f"raw translate_batch cutting loops as the engine does (same callback): {raw_cut_s:.2f} s")
    print(f"lingualift translate --ct2 (load, plan, tokenize, store, assemble, save): {ours_s:.2f} s")
    print(
        f"  of which the engine's generation time (tokenize, translate, decode; not its flags and commits): "
        f"{loop_s:.2f} s,"
    )
    print(
        f"  of that {retry_s:.2f} s retrying {report['retried_for_repetition']} looping segments with repetition "
        "controls (the random model loops on most; a trained one rarely does)"
    )
    print(
        f"ratio of the batch loop without retries, same decoding work (raw / lingualift): "
        f"{raw_cut_s / first_pass_s:.2f} (best of two runs each)"
    )
    print(f"ratio of the whole batch loop vs raw to the cap: {raw_s / loop_s:.2f}")
    print(f"ratio end to end vs raw to the cap: {raw_s / ours_s:.2f}")


def overlap(args) -> None:
    """Batches generating in worker threads vs in line, same rows and model, alternating. Without
    --ct2: the next batch generating while the previous one's quality flags and store commit run (the
    engine does this only where the model runs off the CPU: this measures whether that holds here).
    With --ct2: CTranslate2 running two batches at once on half the cores each vs one batch on all of
    them (the engine's choice on CPU, hardware.ct2_threads)."""
    from unittest import mock

    from lingualift.hardware import available_cores

    rows, source, work, model, backend = rows_and_model(args)
    extra = ["--ct2"] if args.ct2 else []
    lingualift_run(source, work / "warm", backend, model, *extra)  # conversion and caches, not timed
    if args.ct2:
        patches = {
            False: ("lingualift.translate.backends.ct2.ct2_threads", lambda *_: (1, available_cores()))
        }
        names = ("one batch at a time", "two at once", "one batch at a time again", "two at once again")
    else:
        patches = {
            False: ("lingualift.hardware.overlap_generation", lambda *_: False),
            True: ("lingualift.hardware.overlap_generation", lambda *_: True),
        }
        names = ("in line", "overlapped", "in line again", "overlapped again")
    times = {}
    for index, name in enumerate(names):
        parallel = index % 2 == 1
        target, value = patches.get(parallel, (None, None))
        start = time.perf_counter()
        if target:
            with mock.patch(target, value):
                lingualift_run(source, work / f"run-{index}", backend, model, *extra)
        else:
            lingualift_run(source, work / f"run-{index}", backend, model, *extra)
        times[name] = time.perf_counter() - start
        print(f"{name}: {times[name]:.2f} s")
    plain = times[names[0]] + times[names[2]]
    ahead = times[names[1]] + times[names[3]]
    print(f"model: {args.model}{' --ct2' if args.ct2 else ''}, rows: {len(rows)} ({args.shape} shape)")
    print(f"ratio {names[0]} / {names[1]} (two runs each, alternating): {plain / ahead:.2f}")


MEMORY_CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from benchmarks.translate import lingualift_run
from pathlib import Path
lingualift_run(Path({source!r}), Path({out!r}), "opus", {model!r}, "--batch-tokens=4096")
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def memory(args) -> None:
    """Peak RSS of a whole translate run for a small and a 10x larger dataset (same unique text)."""
    model = tiny_marian()
    base = skewed_rows(2000)
    peaks = {}
    for count in (args.small, args.large):
        work = Path(tempfile.mkdtemp())
        source = work / "rows.jsonl"
        with source.open("w") as handle:
            for i in range(count):
                row = dict(base[i % len(base)], message_id=f"r{i}")
                handle.write(json.dumps(row) + "\n")
        code = MEMORY_CHILD.format(root=str(ROOT), source=str(source), out=str(work / "out"), model=model)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        peaks[count] = json.loads(result.stdout.strip().splitlines()[-1])["peak_rss_mb"]
        print(f"{count} rows: peak RSS {peaks[count]:.0f} MB")
    growth = peaks[args.large] / peaks[args.small] - 1
    print(f"growth from {args.small} to {args.large} rows: {growth * 100:.1f}% (target < 20%)")


def formats(args) -> None:
    """The same texts as one oasst-style column and as multi-turn `messages` rows (--turns texts
    per row, user and assistant alternating), translated side by side: the wall time of each."""
    rows, source, work, model, backend = rows_and_model(args)
    conversations = [
        {
            "id": f"c{i}",
            "messages": [
                {"role": "user" if j % 2 == 0 else "assistant", "content": r["text"]}
                for j, r in enumerate(rows[i : i + args.turns])
            ],
        }
        for i in range(0, len(rows), args.turns)
    ]
    chat = work / "messages.jsonl"
    chat.write_text("".join(json.dumps(r) + "\n" for r in conversations))
    timings = {}
    for name, path in (("text column", source), ("messages", chat)):
        start = time.perf_counter()
        report = lingualift_run(
            path, work / f"out-{name}", backend, model, "--from=en", f"--device={args.device}"
        )
        timings[name] = (time.perf_counter() - start, report)
    print(f"{len(rows)} texts ({args.shape} shape), model: {args.model}, device: {args.device}")
    for name, (seconds, report) in timings.items():
        print(
            f"{name}: {report['rows']} rows, {report['unique_segments']} unique segments, {seconds:.1f} s, "
            f"{len(rows) / seconds:.2f} texts/s"
        )
    ratio = timings["text column"][0] / timings["messages"][0]
    print(f"ratio (texts/s, messages / text column): {ratio:.2f} (target >= 0.90)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    t = sub.add_parser("throughput")
    t.add_argument(
        "--model",
        default="tiny",
        help="tiny or base (random Marian: d_model 32, or OPUS-MT's sizes), demo (SmolLM2, LLM backend) or a chat model",
    )
    t.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    t.add_argument("--ct2", action="store_true", help="also run lingualift translate --ct2 (a second ratio)")
    t.add_argument(
        "--shape",
        choices=sorted(ROW_SHAPES),
        default="chat",
        help="chat: rows shaped like assistant answers (lists, code, median ~400 characters); "
        "short: mostly one-line rows",
    )
    t.add_argument("--rows", type=int, default=1000)
    t.add_argument("--batch-size", type=int, default=16, help="rows per batch of the LLaMa2lang-style loop")
    t.add_argument(
        "--batch-tokens",
        type=int,
        default=4096,
        help="lingualift's token budget per batch (its default, what a user gets)",
    )
    t.add_argument("--baseline-max-new-tokens", type=int, default=512)
    o = sub.add_parser("overhead")
    o.add_argument("--rows", type=int, default=1000)
    o.add_argument(
        "--size",
        choices=["tiny", "base"],
        default="tiny",
        help="tiny: d_model 32 (worst case: the model is nearly free); base: OPUS-MT layer sizes",
    )
    o.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    v = sub.add_parser("overlap")
    v.add_argument("--model", default="base", help="tiny, base (random Marian) or a chat model (demo)")
    v.add_argument("--ct2", action="store_true")
    v.add_argument("--rows", type=int, default=300)
    v.add_argument("--shape", choices=sorted(ROW_SHAPES), default="chat")
    m = sub.add_parser("memory")
    m.add_argument("--small", type=int, default=10_000)
    m.add_argument("--large", type=int, default=100_000)
    f = sub.add_parser("formats")
    f.add_argument("--model", default="tiny", help="tiny, base (random Marian) or a chat model (demo)")
    f.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    f.add_argument("--rows", type=int, default=1000, help="texts (the text column's rows)")
    f.add_argument("--turns", type=int, default=4, help="texts per messages row")
    f.add_argument("--shape", choices=sorted(ROW_SHAPES), default="chat")
    args = parser.parse_args()
    benches = {"throughput": throughput, "overhead": overhead, "overlap": overlap, "memory": memory}
    benches["formats"] = formats
    benches[args.bench](args)


if __name__ == "__main__":
    main()
