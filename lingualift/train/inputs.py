"""The training data for each method: conversations tokenized with assistant-only labels (sft),
raw text packed into blocks (cpt), preference pairs (dpo/orpo), and the held-out split."""

from __future__ import annotations

from pathlib import Path

from lingualift.errors import DataError
from lingualift.train.config import TrainConfig


def load_split(config: TrainConfig, name: str | None = None):
    from lingualift.io import first_split, load_source

    if "," in config.data:  # several conversation datasets (sft), e.g. one per language
        return joined_conversations(config, name)
    data = load_source(config.data)
    if name is None:
        return first_split(data)
    if not hasattr(data, "keys") or name not in data:
        available = ", ".join(data.keys()) if hasattr(data, "keys") else "one unnamed split"
        raise DataError(f"{config.data}: no split '{name}' for --eval-split (it has: {available})")
    return data[name]


def joined_conversations(config: TrainConfig, name: str | None):
    import datasets

    from lingualift.io import first_split, load_source, require_columns
    from lingualift.train.data import plain_conversations

    parts = []
    for source in [s.strip() for s in config.data.split(",") if s.strip()]:
        data = load_source(source)
        if name is not None and name not in data:
            raise DataError(
                f"{source}: no split '{name}' for --eval-split (it has: {', '.join(data.keys())})"
            )
        part = data[name] if name is not None else first_split(data)
        require_columns(part, ["messages"], where=source)
        parts.append(plain_conversations(part, with_lang=True))
    return datasets.concatenate_datasets(parts)


def sft_dataset(config: TrainConfig, tokenizer, split: str | None = None):
    import datasets

    from lingualift.io import require_columns
    from lingualift.train.data import packed_rows, tokenize_conversation

    train = load_split(config, split)
    require_columns(train, ["messages"], where=config.data)
    data_stats = {}
    if split is None:
        from lingualift.train.data import mix_languages, rows_by_language

        if config.mix:
            train, mixed = mix_languages(
                train,
                how=config.mix,
                temperature=config.mix_temperature,
                size=config.mix_size,
                seed=config.seed,
                where=config.data,
            )
            data_stats.update(mixed)
        elif "lang" in train.column_names:
            sizes = {lang: len(rows) for lang, rows in rows_by_language(train).items()}
            data_stats["languages"] = {lang: {"available": n, "sampled": n} for lang, n in sizes.items()}
    if config.replay and split is None:  # replay joins the training data, never the eval split
        from lingualift.io import first_split, load_source
        from lingualift.train.data import mix_replay

        train, replayed = mix_replay(
            train,
            first_split(load_source(config.replay)),
            ratio=config.replay_ratio,
            seed=config.seed,
            where=config.replay,
        )
        data_stats.update(replayed)
    with_answer = train.filter(lambda row: any(m["role"] == "assistant" for m in row["messages"] or []))
    if len(with_answer) == 0:
        raise DataError(f"{config.data}: no conversation has an assistant turn — nothing to learn from")
    tokenized = with_answer.map(
        lambda row: tokenize_conversation(
            tokenizer,
            row["messages"],
            max_length=config.max_seq_length,
            assistant_only=config.assistant_only_loss,
        ),
        remove_columns=with_answer.column_names,
        desc="tokenize",
    )
    from lingualift.train.data import drops_system_prompt

    stats = {
        "conversations": len(train),
        "without_assistant_turn": len(train) - len(with_answer),
        "system_prompts_dropped_by_template": sum(
            drops_system_prompt(tokenizer, row["messages"]) for row in with_answer
        ),
        "truncated": int(sum(tokenized["truncated"])),
        **data_stats,
    }
    tokenized = tokenized.remove_columns(["truncated"]).filter(
        lambda row: any(x != -100 for x in row["labels"])
    )
    stats["without_trainable_tokens_after_truncation"] = len(with_answer) - len(tokenized)
    if len(tokenized) == 0:
        raise DataError(
            f"{config.data}: every assistant turn was cut off by --max-seq-length {config.max_seq_length}"
        )
    if config.packing:
        rows = packed_rows(tokenized.remove_columns(["attention_mask"]).to_list(), config.max_seq_length)
        stats["packed_rows"] = len(rows)
        tokenized = datasets.Dataset.from_list(rows)
    return tokenized, stats


def cpt_dataset(config: TrainConfig, tokenizer):
    """Raw text (files or a dataset with `text`), tokenized and packed into max_seq_length blocks."""
    import datasets

    from lingualift.io import first_split, load_source, require_columns

    path = Path(config.data)
    if path.suffix == ".txt" or (path.is_dir() and any(path.glob("*.txt"))):
        files = [str(path)] if path.is_file() else sorted(str(p) for p in path.glob("*.txt"))
        data = datasets.load_dataset("text", data_files={"train": files})["train"]
    else:
        loaded = load_source(config.data)
        data = first_split(loaded)
    require_columns(data, ["text"], where=config.data)
    block = config.max_seq_length
    eos = tokenizer.eos_token_id

    def pack(batch):
        ids = []
        for text in batch["text"]:
            if text and text.strip():
                ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"] + [eos])
        blocks = [ids[i : i + block] for i in range(0, len(ids) - block + 1, block)] or ([ids] if ids else [])
        return {"input_ids": blocks, "attention_mask": [[1] * len(b) for b in blocks], "labels": blocks}

    packed = data.map(pack, batched=True, batch_size=1000, remove_columns=data.column_names, desc="pack")
    if len(packed) == 0:
        raise DataError(f"{config.data}: no text to train on")
    return packed, {"documents": len(data), "blocks": len(packed), "block_tokens": block}


def pairs_dataset(config: TrainConfig, tokenizer, split: str | None = None):
    from lingualift.io import require_columns
    from lingualift.train.data import shorten_prompt

    train = load_split(config, split)
    require_columns(train, ["prompt", "chosen", "rejected"], where=config.data)
    stats = {"pairs": len(train)}
    if config.max_prompt_length:
        limit = config.max_prompt_length
        train = train.map(
            lambda row: {"prompt": shorten_prompt(tokenizer, row["prompt"], limit)}, desc="shorten prompts"
        )
        stats["prompts_shortened"] = sum(
            a != b for a, b in zip(load_split(config, split)["prompt"], train["prompt"])
        )
    return train, stats


def training_data(config: TrainConfig, tokenizer, echo):
    """(train, eval or None, stats) for the method."""
    if config.method == "sft":
        dataset, stats = sft_dataset(config, tokenizer)
        if stats["system_prompts_dropped_by_template"]:
            echo(
                f"warning: the chat template drops the system prompt of {stats['system_prompts_dropped_by_template']} "
                "conversations (Mistral v0.3's keeps it in a final user turn only): they train without it"
            )
        if stats["truncated"] > stats["conversations"] / 2:
            echo(
                f"warning: {stats['truncated']} of {stats['conversations']} conversations are longer than "
                f"--max-seq-length {config.max_seq_length} and were truncated"
            )
        dataset, eval_dataset = held_out(
            config, dataset, lambda: sft_dataset(config, tokenizer, config.eval_split)[0]
        )
    elif config.method == "cpt":
        dataset, stats = cpt_dataset(config, tokenizer)
        dataset, eval_dataset = held_out(
            config, dataset, lambda: sft_dataset(config, tokenizer, config.eval_split)[0]
        )
    else:
        dataset, stats = pairs_dataset(config, tokenizer)
        dataset, eval_dataset = held_out(
            config, dataset, lambda: pairs_dataset(config, tokenizer, config.eval_split)[0]
        )
    return dataset, eval_dataset, stats


def held_out(config: TrainConfig, dataset, load_eval_split):
    """(train, eval): a split of --data named by --eval-split, a --eval-ratio share, or no eval."""
    if config.eval_split:
        return dataset, load_eval_split()
    if config.eval_ratio:
        split = dataset.train_test_split(test_size=config.eval_ratio, seed=config.seed)
        return split["train"], split["test"]
    return dataset, None
