"""SFT with packing vs padded batches, side by side in one run; the ratio is printed last.

    python benchmarks/train_packing.py [--conversations 400] [--steps 30] [--hidden 256]

Same model (a random-weight Llama-style model with the tests' tokenizer, `--hidden` wide), same
skewed-length conversations (most short, a few long, like oasst threads), same batch size and
sequence length. Reports non-pad tokens/s of each run (the trainer's own count over its measured
training time) and the padding fraction of each run's batches over one shuffled epoch.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' model builders


def tiny_model(hidden: int) -> Path:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tests.conftest import tiny_chat_model

    class Factory:
        def mktemp(self, name):
            return Path(tempfile.mkdtemp(prefix=name))

    base = tiny_chat_model.__wrapped__(Factory())
    tokenizer = AutoTokenizer.from_pretrained(base)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 3,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    path = Path(tempfile.mkdtemp(prefix="bench-model"))
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def skewed_conversations(count: int, seed: int = 0) -> list[dict]:
    """85% short exchanges (1-3 sentences), 15% long multi-turn threads (up to ~400 tokens)."""
    from lingualift.demo.sample import sample_rows

    sentences = [s for row in sample_rows() for s in row["text"].split(". ") if len(s) > 10]
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        turns = 1 if rng.random() < 0.85 else rng.randint(2, 4)
        size = (1, 3) if turns == 1 else (3, 6)
        messages = []
        for _turn in range(turns):
            for role in ("user", "assistant"):
                messages.append(
                    {"role": role, "content": ". ".join(rng.sample(sentences, rng.randint(*size)))}
                )
        rows.append({"messages": messages})
    return rows


def padding_fraction(config, batch_size: int) -> float:
    from transformers import AutoTokenizer

    from lingualift.train.data import PackedCollator, PadCollator
    from lingualift.train.inputs import sft_dataset

    tokenizer = AutoTokenizer.from_pretrained(config.model)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    dataset, _ = sft_dataset(config, tokenizer)
    dataset = dataset.shuffle(seed=config.seed)
    collate = PackedCollator(tokenizer) if config.packing else PadCollator(tokenizer)
    padded = total = 0
    for start in range(0, len(dataset), batch_size):
        features = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        width = collate(features)["input_ids"].shape[1]
        total += width * len(features)
        padded += width * len(features) - sum(len(f["input_ids"]) for f in features)
    return padded / total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=400)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-seq-length", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()

    import datasets

    from lingualift.io import save_dataset
    from lingualift.train.config import TrainConfig
    from lingualift.train.run import run_training

    work = Path(tempfile.mkdtemp(prefix="bench-packing"))
    model = tiny_model(args.hidden)
    data = save_dataset(
        datasets.Dataset.from_list(skewed_conversations(args.conversations)), work / "threads"
    )
    results = {}
    for packing in (False, True):
        name = "packed" if packing else "padded"
        config = TrainConfig(
            method="sft",
            model=str(model),
            data=str(data),
            out=str(work / name),
            full=True,
            max_steps=args.steps,
            batch_size=args.batch_size,
            max_seq_length=args.max_seq_length,
            packing=packing,
            save_steps=10_000,
            lr=1e-4,
        )
        report = run_training(config, echo=lambda *_: None)
        results[name] = {
            "non_pad_tokens_per_second": report.non_pad_tokens_per_second,
            "non_pad_tokens_seen": report.non_pad_tokens_seen,
            "train_seconds": report.train_seconds,
            "padding_fraction": round(padding_fraction(config, args.batch_size), 3),
            "rows": report.data_stats.get("packed_rows", report.data_stats["conversations"]),
        }
        print(name, json.dumps(results[name]))
    ratio = results["packed"]["non_pad_tokens_per_second"] / results["padded"]["non_pad_tokens_per_second"]
    print(
        f"packing vs padded batches: {ratio:.2f}x non-pad tokens/s (target >= 1.6x); padding "
        f"{results['padded']['padding_fraction']:.1%} → {results['packed']['padding_fraction']:.1%}"
    )


if __name__ == "__main__":
    main()
