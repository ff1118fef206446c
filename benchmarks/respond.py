"""`lingualift respond` measured side by side in one run; ratios printed last.

    python benchmarks/respond.py local [--rows 24] [--max-new-tokens 64]
    python benchmarks/respond.py endpoint [--rows 128] [--delay 0.2] [--concurrency 8]

local: the demo model (SmolLM2-135M) as teacher, `respond` (length-sorted greedy batches that drop a
finished reply and forward the shared system turn once) against padded batched `generate` calls
with the same batch size and max tokens (and the simplest loop, one `generate` per prompt); the
replies are compared. endpoint: a local server that sleeps
a fixed time per request; with every request in flight at --concurrency, the wall time is about
rows × delay / concurrency.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = [
    "Wat is de hoofdstad van Nederland?",
    "Noem drie kleuren van de regenboog.",
    "Hoe maak je een kopje thee?",
    "Waarom is de lucht blauw?",
    "Geef een tip om beter te slapen.",
    "Wat eet een konijn?",
    "Schrijf een korte zin over de zee.",
    "Hoeveel dagen heeft een week?",
]


def _data(rows: int, work: Path) -> Path:
    import datasets

    from lingualift.io import save_dataset

    prompts = [{"prompt": f"{PROMPTS[i % len(PROMPTS)]} ({i})"} for i in range(rows)]
    return save_dataset(datasets.Dataset.from_list(prompts), work / "prompts")


def _respond(data: Path, out: Path, *flags: str) -> tuple[float, dict]:
    """(wall seconds, the run's report)."""
    from lingualift.cli import main

    start = time.perf_counter()
    assert main(["respond", str(data), "--lang", "nl", "--out", str(out), *flags]) == 0
    return time.perf_counter() - start, json.loads((out / "respond_report.json").read_text())


def _replies(out: Path) -> dict[str, str]:
    """id -> the teacher's reply, accepted or rejected (the demo model often answers in English)."""
    import datasets

    data = datasets.load_from_disk(str(out))
    replies = {row["id"]: row["messages"][-1]["content"] for row in data["train"]}
    replies.update({row["id"]: row["reply"] for row in data["rejected"] if row["reply"] is not None})
    return replies


def local(args) -> None:
    """Three ways to answer the same prompts with the same model, system prompt and max tokens:
    one `generate` per prompt (the simplest script); padded batches of --batch-size in dataset order
    with the end-of-turn id as eos (what a competent user writes); `lingualift respond`. Greedy
    everywhere, so the replies are compared too."""
    import torch

    from lingualift.chat_model import stop_ids
    from lingualift.languages import get_language
    from lingualift.models import load_chat_model
    from lingualift.tools.respond.filters import system_prompt

    work = Path(tempfile.mkdtemp())
    data = _data(args.rows, work)
    model, tokenizer = load_chat_model("demo")
    system = system_prompt(get_language("nl"), None)  # the one respond sends
    chats = [
        [
            {"role": "system", "content": system},
            {"role": "user", "content": f"{PROMPTS[i % len(PROMPTS)]} ({i})"},
        ]
        for i in range(args.rows)
    ]
    eos = sorted(stop_ids(model, tokenizer))
    settings = {"max_new_tokens": args.max_new_tokens, "do_sample": False, "eos_token_id": eos}
    settings["pad_token_id"] = tokenizer.pad_token_id

    def decode(rows, start: int) -> list[str]:
        return [text.strip() for text in tokenizer.batch_decode(rows[:, start:], skip_special_tokens=True)]

    start = time.perf_counter()
    single = []
    for chat in chats:
        ids = tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            single += decode(model.generate(**ids, **settings), ids["input_ids"].shape[1])
    single_s = time.perf_counter() - start

    start = time.perf_counter()
    batched, side = [], tokenizer.padding_side
    tokenizer.padding_side = "left"
    for first in range(0, len(chats), args.batch_size):
        texts = [
            tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            for chat in chats[first : first + args.batch_size]
        ]
        ids = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            batched += decode(model.generate(**ids, **settings), ids["input_ids"].shape[1])
    tokenizer.padding_side = side
    batched_s = time.perf_counter() - start

    flags = [
        "--model",
        "demo",
        "--max-new-tokens",
        str(args.max_new_tokens),
        "--batch-size",
        str(args.batch_size),
    ]
    ours_s, _ = _respond(data, work / "out", *flags)
    replies = _replies(work / "out")
    ours = [replies.get(str(i), "") for i in range(args.rows)]

    def same(a: list[str], b: list[str]) -> str:
        return f"{sum(x == y for x, y in zip(a, b))}/{len(a)}"

    print(
        f"{args.rows} prompts, demo model, max_new_tokens {args.max_new_tokens}, batches of {args.batch_size}"
    )
    print(f"one generate per prompt: {single_s:.1f} s, {args.rows / single_s:.2f} rows/s")
    print(f"padded batched generate (dataset order): {batched_s:.1f} s, {args.rows / batched_s:.2f} rows/s")
    print(
        f"lingualift respond (loading and writing included): {ours_s:.1f} s, {args.rows / ours_s:.2f} rows/s"
    )
    print(
        f"identical replies: respond vs one per prompt {same(ours, single)}, respond vs batched "
        f"{same(ours, batched)}, batched vs one per prompt {same(batched, single)} (padding changes rounding)"
    )
    print(f"ratio vs one generate per prompt: {single_s / ours_s:.2f}x")
    print(f"ratio vs padded batched generate (the honest one): {batched_s / ours_s:.2f}x")


def endpoint(args) -> None:
    in_flight, most = [0], [0]
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            time.sleep(args.delay)
            with lock:
                in_flight[0] -= 1
            reply = "Het weer is vandaag zonnig en warm, met een lichte bries uit het westen."
            body = json.dumps(
                {"choices": [{"message": {"content": reply}, "finish_reason": "stop"}]}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = Path(tempfile.mkdtemp())
    data = _data(args.rows, work)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    flags = ["--base-url", url, "--model", "slow", "--concurrency", str(args.concurrency)]
    wall, report = _respond(data, work / "out", *flags)
    server.shutdown()
    expected = args.rows * args.delay / args.concurrency
    answering = report["answering_seconds"]
    print(f"{args.rows} prompts, {args.delay} s per request, --concurrency {args.concurrency}")
    print(f"requests in flight at most: {most[0]}; rows × delay / concurrency = {expected:.2f} s")
    print(f"answering {answering:.2f} s (the whole run {wall:.2f} s, loading and writing included)")
    print(f"ratio (answering / expected): {answering / expected:.2f} (target within 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    lo = sub.add_parser("local")
    lo.add_argument("--rows", type=int, default=24)
    lo.add_argument("--max-new-tokens", type=int, default=64)
    lo.add_argument("--batch-size", type=int, default=8)
    en = sub.add_parser("endpoint")
    en.add_argument("--rows", type=int, default=128)
    en.add_argument("--delay", type=float, default=0.2)
    en.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    {"local": local, "endpoint": endpoint}[args.bench](args)


if __name__ == "__main__":
    main()
