"""Continued pre-training data: today's cpt_dataset against the one it replaced, side by side in one
run, on a generated corpus; each side in its own process so peak memory is its own.

    python benchmarks/cpt_data.py [--mb 20] [--block 512]

Prints, per side: seconds, documents/s, peak RSS (MB), tokens kept against tokens in the corpus;
then the speed ratio. The old side read .txt with `datasets`' line loader (a line = a document),
tokenized text by text and dropped the tokens after the last full block of every 1,000 lines.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def corpus(folder: Path, megabytes: int) -> Path:
    """Wrapped prose: paragraphs of 3-8 lines of 8-16 words, blank lines between, ~`megabytes` MB."""
    words = (
        "het de een van en in is dat op te zijn met voor niet aan er maar om ook als dan bij of uit".split()
    )
    rng, path, size = random.Random(0), folder / "corpus.txt", 0
    with path.open("w", encoding="utf-8") as out:
        while size < megabytes * 2**20:
            lines = [
                " ".join(rng.choice(words) for _ in range(rng.randint(8, 16)))
                for _ in range(rng.randint(3, 8))
            ]
            text = "\n".join(lines) + "\n\n"
            out.write(text)
            size += len(text)
    return path


def old_cpt_dataset(data: str, tokenizer, block: int):
    """The implementation replaced (lingualift 2026-12-03), kept here to measure against."""
    import datasets

    loaded = datasets.load_dataset("text", data_files={"train": [data]})["train"]
    eos = tokenizer.eos_token_id

    def pack(batch):
        ids = []
        for text in batch["text"]:
            if text and text.strip():
                ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"] + [eos])
        blocks = [ids[i : i + block] for i in range(0, len(ids) - block + 1, block)] or ([ids] if ids else [])
        return {"input_ids": blocks, "attention_mask": [[1] * len(b) for b in blocks], "labels": blocks}

    return loaded.map(pack, batched=True, batch_size=1000, remove_columns=loaded.column_names)


def side(which: str, data: str, tokenizer_dir: str, block: int) -> dict:
    import os

    import pyarrow.compute as pc
    from transformers import AutoTokenizer

    os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix=f"cpt-{which}-")  # nothing reused
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    started = time.perf_counter()
    if which == "old":
        packed = old_cpt_dataset(data, tokenizer, block)
    else:
        from lingualift.train.config import TrainConfig
        from lingualift.train.inputs import cpt_dataset

        config = TrainConfig(
            method="cpt", model="m", data=data, out="o", max_seq_length=block, text_unit="lines"
        )
        packed, _ = cpt_dataset(config, tokenizer)
    seconds = time.perf_counter() - started
    kept = int(pc.sum(pc.list_value_length(packed.data.column("input_ids"))).as_py())
    return {"seconds": round(seconds, 2), "tokens_kept": kept, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> int:
    """This process's own peak (VmHWM: ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--side", choices=["old", "new"])
    parser.add_argument("--data")
    parser.add_argument("--tokenizer")
    args = parser.parse_args()
    if args.side:  # one side, in its own process
        print(json.dumps(side(args.side, args.data, args.tokenizer, args.block)))
        return
    from transformers import AutoTokenizer

    from lingualift.demo.model import demo_model_dir

    folder = Path(tempfile.mkdtemp(prefix="cpt-bench-"))
    data = corpus(folder, args.mb)
    tokenizer_dir = str(demo_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    lines = [line.strip() for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    backend = tokenizer.backend_tokenizer
    in_corpus = sum(  # counted in chunks: the whole corpus's ids at once would be GBs
        len(e.ids) + 1
        for start in range(0, len(lines), 10_000)
        for e in backend.encode_batch(lines[start : start + 10_000], add_special_tokens=False)
    )
    results = {}
    for which in ("old", "new"):
        command = [
            sys.executable,
            __file__,
            "--side",
            which,
            "--data",
            str(data),
            "--tokenizer",
            tokenizer_dir,
        ]
        output = subprocess.run(
            [*command, "--block", str(args.block)], capture_output=True, text=True, check=True
        )
        results[which] = json.loads(output.stdout.strip().splitlines()[-1])
        r = results[which]
        print(
            f"{which}: {r['seconds']} s, {len(lines) / r['seconds']:.0f} documents/s, peak RSS {r['peak_rss_mb']} MB, "
            f"tokens kept {r['tokens_kept']:,} of {in_corpus:,} in the corpus (lines as documents)"
        )
    print(
        f"corpus {args.mb} MB: new is {results['old']['seconds'] / results['new']['seconds']:.2f}x the old speed"
    )


if __name__ == "__main__":
    main()
