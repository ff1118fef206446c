"""`lingualift check DATA`: what a dataset holds before any GPU time is spent on it.

Rows per split; tokens per conversation and per turn with the model's own tokenizer and chat
template (percentiles, histogram), the share a `--max-seq-length` would cut; turns per
conversation; the language of every turn (fastText lid.176); exact and near duplicates (MinHash
over word 3-grams); empty and very short turns; a training estimate (tokens × epochs, time on this
machine from a short measured LoRA run, GPU-hours from the table below); a translation cost from
characters and the user's price. Rows that cannot become a conversation are counted by reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import ConfigDict, Field

from lingualift.language_id import LanguageCheck
from lingualift.reports import Number, StageReport

# Assumed dense bf16 tensor throughput (fp16 for the T4), from the vendors' data sheets, and the
# share of it a fine-tuning run typically reaches (model FLOPs utilisation). Training costs about
# 6·N FLOPs per token for full fine-tuning (forward 2N, backward 4N) and about 4·N with LoRA
# (no weight gradients for the frozen base). These are estimates, not measurements.
GPU_TFLOPS = {"T4": 65, "L4": 121, "A10": 125, "RTX 4090": 165, "L40S": 362, "A100": 312, "H100 SXM": 989}
ASSUMED_MFU = 0.35
FLOPS_PER_TOKEN = {"lora": 4, "full": 6}
PERCENTILES = (50, 90, 95, 99)
NEAR_DUPLICATE_JACCARD = 0.8


class CheckConfig(LanguageCheck):
    model_config = ConfigDict(extra="forbid")

    data: str = Field(
        description="Dataset: hub id, save_to_disk dir, or jsonl/csv/parquet files (any format `threads` reads)"
    )
    model: str = Field(
        "demo", description="Model whose tokenizer counts tokens and whose size sets the estimate"
    )
    max_seq_length: int = Field(
        2048, gt=8, description="Training sequence length: longer conversations are cut"
    )
    split: Optional[str] = Field(None, description="Only this split")
    limit: Optional[int] = Field(None, gt=0, description="Only the first N rows of each split")
    epochs: float = Field(3.0, gt=0, description="Epochs for the training estimate")
    method: Literal["lora", "full"] = Field("lora", description="Training method for the estimate")
    measure_steps: int = Field(
        3, ge=0, description="Training steps timed on this machine (0: skip the measured run)"
    )
    batch_size: int = Field(4, gt=0, description="Batch size of the measured run")
    price_per_million_chars: Optional[float] = Field(
        None, ge=0, description="Translation API price per million characters, for a cost estimate"
    )
    short_turn_words: int = Field(
        3, gt=0, description="A turn with fewer words than this counts as very short"
    )
    out: str = Field("check", description="Directory for check.json and token_histogram.png")
    trust_remote_code: bool = Field(False, description="Allow the dataset's or model's own code")


def percentiles(values: list[int]) -> dict:
    """Nearest-rank percentiles, mean and max of a list of counts."""
    if not values:
        return {}
    ordered = sorted(values)
    out = {
        f"p{p}": ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))] for p in PERCENTILES
    }
    return {"mean": round(sum(ordered) / len(ordered), 2), **out, "max": ordered[-1], "min": ordered[0]}


def word_count(text: str) -> int:
    """Words; for a script written without spaces (one long run), two characters count as a word."""
    words = text.split()
    if len(words) == 1 and len(words[0]) > 12:
        return len(words[0]) // 2
    return len(words)


def _normalised(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def conversation_key(messages: list[dict]) -> str:
    return hashlib.sha1(
        json.dumps([[m["role"], _normalised(m["content"])] for m in messages]).encode()
    ).hexdigest()


def _shingles(text: str) -> set[bytes]:
    words = _normalised(text).split()
    if len(words) < 3:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + 3]).encode() for i in range(len(words) - 2)}


def duplicate_counts(conversations: list[list[dict]], *, threshold: float = NEAR_DUPLICATE_JACCARD) -> dict:
    """Exact duplicates (same roles and text, ignoring case, punctuation and spacing) beyond the first
    copy, and near duplicates: conversations whose word 3-gram sets have an estimated Jaccard
    similarity above `threshold` with an earlier, non-identical one (MinHash LSH)."""
    from datasketch import MinHash, MinHashLSH

    seen: set[str] = set()
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    exact = near = 0
    examples: list[list[int]] = []
    for index, messages in enumerate(conversations):
        key = conversation_key(messages)
        if key in seen:
            exact += 1
            continue
        seen.add(key)
        shingles = _shingles("\n".join(m["content"] for m in messages))
        if not shingles:
            continue
        signature = MinHash(num_perm=128, seed=1)
        signature.update_batch(list(shingles))
        similar = lsh.query(signature)
        if similar:
            near += 1
            if len(examples) < 5:
                examples.append([min(similar), index])
        lsh.insert(index, signature)
    return {"exact": exact, "near": near, "near_threshold": threshold, "near_examples": examples}


def language_mix(turns: list[str]) -> dict:
    """Turns per detected language; turns too short to identify count as `undetected`."""
    from lingualift.translate.quality import detect_language

    counts = Counter()
    for text in turns:
        found = detect_language(text)
        counts[found[0] if found else "undetected"] += 1
    total = sum(counts.values()) or 1
    return {lang: {"turns": n, "share": round(n / total, 4)} for lang, n in counts.most_common()}


def gpu_estimate(tokens: float, parameters: int, method: str) -> dict:
    """Hours per GPU class from the assumed throughput table (see GPU_TFLOPS)."""
    per_token = FLOPS_PER_TOKEN[method] * parameters
    hours = {}
    for name, tflops in GPU_TFLOPS.items():
        tokens_per_second = tflops * 1e12 * ASSUMED_MFU / per_token
        hours[name] = {
            "tokens_per_second": round(tokens_per_second),
            "hours": round(tokens / tokens_per_second / 3600, 5),
        }
    return {
        "assumptions": f"{FLOPS_PER_TOKEN[method]}·N FLOPs per token ({method}), {ASSUMED_MFU:.0%} of dense bf16 peak",
        "gpus": hours,
    }


def measure_training_speed(
    model_path: str,
    tokenizer,
    conversations: list[list[dict]],
    *,
    max_seq_length: int,
    batch_size: int,
    steps: int,
    method: str,
) -> dict:
    """Non-pad tokens per second of a few real training steps (LoRA r=16 on all linear layers, or
    full) on this machine, after one warm-up step that is not timed."""
    import torch
    from peft import LoraConfig, get_peft_model

    from lingualift.models import default_device, load_causal_lm
    from lingualift.train.data import PadCollator, tokenize_conversation

    device = default_device()
    from lingualift.hardware import Machine, inference_device_map, is_cuda, torch_dtype, training_load_dtype

    dtype = torch_dtype(training_load_dtype(Machine.here(), device, method))
    model = load_causal_lm(model_path, dtype=dtype, device_map=inference_device_map(device))
    if method == "lora":
        model = get_peft_model(
            model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
        )
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    collate = PadCollator(tokenizer)
    rows = [
        tokenize_conversation(tokenizer, m, max_length=max_seq_length, assistant_only=False)
        for m in conversations
    ]
    rows = [{k: v for k, v in r.items() if k != "truncated"} for r in rows if r["input_ids"]]
    timed_tokens, timed_seconds = 0, 0.0
    for step in range(steps + 1):
        batch_rows = [rows[(step * batch_size + i) % len(rows)] for i in range(batch_size)]
        batch = {k: v.to(device) for k, v in collate(batch_rows).items()}
        started = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if is_cuda(device):
            torch.cuda.synchronize()
        if step:  # the first step warms up (allocations, kernels)
            timed_seconds += time.perf_counter() - started
            timed_tokens += int(batch["attention_mask"].sum())
    return {
        "device": device,
        "method": method,
        "steps": steps,
        "batch_size": batch_size,
        "tokens_per_second": round(timed_tokens / timed_seconds, 1),
    }


def _conversations(config: CheckConfig):
    from lingualift.conversations.threads import ThreadsConfig, build_threads
    from lingualift.io import load_source

    data = load_source(config.data, config.split, trust_remote_code=config.trust_remote_code)
    if not hasattr(data, "items"):
        import datasets

        data = datasets.DatasetDict({config.split: data})
    if config.limit:
        data = data.__class__(
            {name: part.select(range(min(config.limit, len(part)))) for name, part in data.items()}
        )
    threads, _, report = build_threads(data, ThreadsConfig(no_system_prompt=True))
    splits = {}
    for name, part in data.items():
        counts = report["splits"][name]
        unusable = {k[len("skipped_") :]: v for k, v in counts.items() if k.startswith("skipped_") and v}
        splits[name] = {
            "rows": len(part),
            "format": counts["format"],
            "conversations": len(threads[name]),
            "not_conversations": unusable,
        }
    conversations = [row["messages"] for part in threads.values() for row in part]
    return conversations, splits


def _token_counts(tokenizer, conversations: list[list[dict]]) -> tuple[list[int], list[int]]:
    rendered = [tokenizer.apply_chat_template(m, tokenize=False) for m in conversations]
    per_conversation = [len(ids) for ids in tokenizer(rendered, add_special_tokens=False)["input_ids"]]
    contents = [m["content"] for messages in conversations for m in messages]
    per_turn = (
        [len(ids) for ids in tokenizer(contents, add_special_tokens=False)["input_ids"]] if contents else []
    )
    return per_conversation, per_turn


def _parameters(model_path: str, trust_remote_code: bool) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from lingualift.models import adapter_base, resolve_model

    base = adapter_base(model_path)
    config = AutoConfig.from_pretrained(
        resolve_model(base) if base else model_path, trust_remote_code=trust_remote_code
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    return sum(p.numel() for p in model.parameters())


def _histogram(per_conversation: list[int], per_turn: list[int], max_seq_length: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.hist(per_conversation, bins=40, color="#4C72B0")
    left.axvline(max_seq_length, color="#C44E52", linestyle="--", label=f"max_seq_length {max_seq_length}")
    left.set_xlabel("tokens per conversation (chat template)")
    left.set_ylabel("conversations")
    left.legend()
    right.hist(per_turn, bins=40, color="#55A868")
    right.set_xlabel("tokens per turn")
    right.set_ylabel("turns")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def check_dataset(config: CheckConfig, *, echo=print) -> CheckReport:
    from transformers import AutoTokenizer

    from lingualift.errors import DataError
    from lingualift.language_id import use
    from lingualift.models import resolve_model

    use(config.lid)  # the language mix is read with it
    started = time.perf_counter()
    conversations, splits = _conversations(config)
    if not conversations:
        reasons = {s: v["not_conversations"] for s, v in splits.items()}
        raise DataError(f"{config.data}: no row could become a conversation ({reasons})")
    model_path = resolve_model(config.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=config.trust_remote_code)
    if tokenizer.pad_token is None:  # as in training: pad with eos (the measured run pads its batches)
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise DataError(f"{config.model}: its tokenizer has no chat template — pass a chat model's --model")
    per_conversation, per_turn = _token_counts(tokenizer, conversations)
    turns = [m["content"] for messages in conversations for m in messages]
    dialogue_turns = [sum(m["role"] != "system" for m in messages) for messages in conversations]
    trained_tokens = sum(min(n, config.max_seq_length) for n in per_conversation)
    unique_turns = set(turns)
    report = CheckReport(
        data=config.data,
        model=config.model,
        max_seq_length=config.max_seq_length,
        splits=splits,
        conversations=len(conversations),
        turns=len(turns),
        tokens={
            "total": sum(per_conversation),
            "per_conversation": percentiles(per_conversation),
            "per_turn": percentiles(per_turn),
        },
        truncated={
            "conversations": sum(n > config.max_seq_length for n in per_conversation),
            "share": round(
                sum(n > config.max_seq_length for n in per_conversation) / len(per_conversation), 4
            ),
            "tokens_cut": sum(per_conversation) - trained_tokens,
        },
        turns_per_conversation={
            "distribution": dict(sorted(Counter(dialogue_turns).items())),
            **percentiles(dialogue_turns),
        },
        languages=language_mix(turns),
        duplicates=duplicate_counts(conversations),
        empty_turns=sum(not t.strip() for t in turns),
        short_turns={
            "words_below": config.short_turn_words,
            "turns": sum(0 < word_count(t) < config.short_turn_words for t in turns),
        },
        characters={
            "total": sum(len(t) for t in turns),
            "unique_turns": sum(len(t) for t in unique_turns),
        },
    )
    if config.price_per_million_chars is not None:
        chars = report.characters["unique_turns"]  # identical turns are translated once
        cost = round(chars / 1e6 * config.price_per_million_chars, 2)
        report.translation_cost = {
            "price_per_million_chars": config.price_per_million_chars,
            "characters": chars,
            "cost": cost,
        }
    estimate = {
        "tokens_per_epoch": trained_tokens,
        "epochs": config.epochs,
        "training_tokens": round(trained_tokens * config.epochs),
        "method": config.method,
    }
    parameters = _parameters(model_path, config.trust_remote_code)
    estimate["parameters"] = parameters
    estimate["gpu_estimate"] = gpu_estimate(estimate["training_tokens"], parameters, config.method)
    if config.measure_steps:
        echo(f"timing {config.measure_steps} {config.method} training steps on this machine ...")
        measured = measure_training_speed(
            model_path,
            tokenizer,
            conversations[: config.batch_size * (config.measure_steps + 1)],
            max_seq_length=config.max_seq_length,
            batch_size=config.batch_size,
            steps=config.measure_steps,
            method=config.method,
        )
        measured["hours"] = round(estimate["training_tokens"] / measured["tokens_per_second"] / 3600, 5)
        estimate["this_machine"] = measured
    report.training_estimate = estimate
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _histogram(per_conversation, per_turn, config.max_seq_length, out / "token_histogram.png")
    report.seconds = round(time.perf_counter() - started, 2)
    report.write(out / "check.json")
    print_summary(report, out)
    return report


class CheckReport(StageReport):
    """check.json: what a dataset holds, measured with the model's tokenizer and chat template."""

    data: Optional[str] = None
    model: Optional[str] = None
    max_seq_length: Optional[int] = None
    splits: dict[str, dict[str, Any]] = Field(default_factory=dict)  # rows, format, conversations, left out
    conversations: Optional[int] = None
    turns: Optional[int] = None
    tokens: dict[str, Any] = Field(default_factory=dict)  # total, per_conversation, per_turn (percentiles)
    truncated: dict[str, Number] = Field(default_factory=dict)  # conversations, share, tokens_cut
    turns_per_conversation: dict[str, Any] = Field(default_factory=dict)
    languages: dict[str, dict[str, Number]] = Field(default_factory=dict)  # per turn: turns, share
    duplicates: dict[str, Any] = Field(default_factory=dict)  # exact, near, near_threshold, near_examples
    empty_turns: Optional[int] = None
    short_turns: dict[str, int] = Field(default_factory=dict)
    characters: dict[str, int] = Field(default_factory=dict)
    translation_cost: Optional[dict[str, Number]] = None  # with --price-per-million-chars
    training_estimate: dict[str, Any] = Field(default_factory=dict)
    seconds: Optional[Number] = None


def duration(hours: float) -> str:
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.1f} min" if hours * 60 >= 1 else f"{hours * 3600:.0f} s"


def print_summary(report: CheckReport, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"lingualift check: {report.data}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for name, split in report.splits.items():
        skipped = f"; left out: {split['not_conversations']}" if split["not_conversations"] else ""
        table.add_row(
            f"split {name}",
            f"{split['rows']} rows ({split['format']}) → {split['conversations']} conversations{skipped}",
        )
    conv, turn = report.tokens["per_conversation"], report.tokens["per_turn"]
    table.add_row(
        "tokens / conversation",
        f"mean {conv['mean']}, p50 {conv['p50']}, p95 {conv['p95']}, max {conv['max']}",
    )
    if turn:
        table.add_row(
            "tokens / turn", f"mean {turn['mean']}, p50 {turn['p50']}, p95 {turn['p95']}, max {turn['max']}"
        )
    cut = report.truncated
    table.add_row(
        f"cut at {report.max_seq_length} tokens",
        f"{cut['conversations']} conversations ({cut['share']:.1%}), {cut['tokens_cut']} tokens lost",
    )
    tpc = report.turns_per_conversation
    table.add_row("turns / conversation", f"min {tpc['min']}, p50 {tpc['p50']}, max {tpc['max']}")
    langs = ", ".join(f"{k} {v['share']:.0%}" for k, v in list(report.languages.items())[:6])
    table.add_row("languages (per turn)", langs)
    dup = report.duplicates
    table.add_row(
        "duplicates", f"{dup['exact']} exact, {dup['near']} near (Jaccard ≥ {dup['near_threshold']})"
    )
    table.add_row(
        "empty / very short turns",
        f"{report.empty_turns} / {report.short_turns['turns']} (< {report.short_turns['words_below']} words)",
    )
    if report.translation_cost is not None:
        cost = report.translation_cost
        table.add_row(
            "translation cost",
            f"{cost['characters']:,} unique characters × {cost['price_per_million_chars']}/M = {cost['cost']}",
        )
    estimate = report.training_estimate
    tokens = (
        f"{estimate['training_tokens']:,} ({estimate['tokens_per_epoch']:,} × {estimate['epochs']} epochs)"
    )
    table.add_row(
        "training tokens", f"{tokens}, {estimate['parameters'] / 1e6:.1f}M parameters, {estimate['method']}"
    )
    if "this_machine" in estimate:
        here = estimate["this_machine"]
        table.add_row(
            "this machine",
            f"{here['tokens_per_second']} tokens/s measured on {here['device']} → {duration(here['hours'])}",
        )
    gpus = estimate["gpu_estimate"]["gpus"]
    table.add_row(
        "GPU hours (assumed)", ", ".join(f"{name} {duration(v['hours'])}" for name, v in gpus.items())
    )
    console.print(table)
    console.print(
        f"assumptions: {estimate['gpu_estimate']['assumptions']}; details: {out / 'check.json'}, {out / 'token_histogram.png'}"
    )
