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


def cpt_texts(config: TrainConfig) -> tuple[list[str], str | None]:
    """(the .txt/.md files, None) for a file or folder of text, else ([], the dataset source)."""
    path = Path(config.data)
    if path.is_file() and path.suffix in (".txt", ".md"):
        return [str(path)], None
    if (
        path.is_dir()
        and not (path / "dataset_dict.json").exists()
        and not (path / "dataset_info.json").exists()
    ):
        files = sorted(str(p) for p in path.rglob("*") if p.suffix in (".txt", ".md") and p.is_file())
        if files:
            return files, None
    return [], config.data


def documents(files, unit: str):
    """The documents of text files: each file, each blank-line-separated paragraph, or each line;
    paragraphs and lines are read as a stream, so memory stays flat whatever the corpus size."""
    for name in files:
        if unit == "files":
            text = Path(name).read_text(encoding="utf-8").strip()
            if text:
                yield text
            continue
        with open(name, encoding="utf-8") as handle:
            paragraph: list[str] = []
            for line in handle:
                if unit == "lines":
                    if line.strip():
                        yield line.strip()
                elif line.strip():
                    paragraph.append(line.rstrip("\n"))
                elif paragraph:
                    yield "\n".join(paragraph).strip()
                    paragraph = []
            if paragraph:
                yield "\n".join(paragraph).strip()


def packed_blocks(texts, tokenizer, block: int, batch: int = 1000):
    """Rows of `block` tokens from documents joined by eos, carried over from one tokenizer batch to
    the next so no token is lost; the last, shorter block is kept. Each row says how many documents
    end in it (`documents`), for the report; labels are the ids themselves (PadCollator adds them)."""
    eos = tokenizer.eos_token_id
    carry: list[int] = []
    ended = 0

    backend = getattr(
        tokenizer, "backend_tokenizer", None
    )  # the Rust tokenizer: ids without the wrapper's copies

    def encode(chunk: list[str]) -> list[list[int]]:
        if backend is not None:
            return [e.ids for e in backend.encode_batch(chunk, add_special_tokens=False)]
        return tokenizer(chunk, add_special_tokens=False)["input_ids"]

    def tokenized():
        chunk = []
        for text in texts:
            chunk.append(text)
            if len(chunk) == batch:
                yield from encode(chunk)
                chunk = []
        if chunk:
            yield from encode(chunk)

    for ids in tokenized():
        carry.extend(ids)
        carry.append(eos)
        ended += 1
        start = 0
        while len(carry) - start >= block:
            row = carry[start : start + block]
            start += block
            yield {"input_ids": row, "documents": ended}
            ended = 0
        del carry[:start]
    if carry:
        yield {"input_ids": carry, "documents": ended}


def _file_blocks(files: tuple[str, ...], unit: str, tokenizer, block: int, stamp=None):
    yield from packed_blocks(documents(files, unit), tokenizer, block)


def _column_blocks(source: str, tokenizer, block: int, stamp=None):
    from lingualift.io import first_split, load_source, require_columns

    data = first_split(load_source(source))
    require_columns(data, ["text"], where=source)
    yield from packed_blocks((t for t in data["text"] if t and t.strip()), tokenizer, block)


def cpt_dataset(config: TrainConfig, tokenizer):
    """Raw text tokenized once and packed into max_seq_length blocks with no token lost: documents
    are files, paragraphs or lines of .txt/.md (--text-unit) or the rows of a `text` column, each
    followed by eos. Built by the main process first and cached, so the other ranks of a launch
    read it instead of tokenizing the corpus again. Stats count documents, tokens, blocks and the
    final, shorter block."""
    import datasets
    import pyarrow.compute as pc
    from accelerate import PartialState

    block = config.max_seq_length
    files, source = cpt_texts(config)
    generator, kwargs = (
        (_file_blocks, {"files": tuple(files), "unit": config.text_unit})  # a list would be sharded
        if files
        else (_column_blocks, {"source": source})
    )
    features = datasets.Features(
        {
            "input_ids": datasets.List(datasets.Value("int32")),  # labels and mask: PadCollator
            "documents": datasets.Value("int64"),
        }
    )
    # the cache key: datasets hashes gen_kwargs, so the files' sizes and times are in it
    stamp = tuple(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size)
        for p in map(Path, files or [config.data])
        if p.exists()
    )
    if next(generator(**kwargs, tokenizer=tokenizer, block=block), None) is None:
        raise DataError(f"{config.data}: no text to train on")
    with PartialState().main_process_first():
        packed = datasets.Dataset.from_generator(
            generator,
            gen_kwargs={**kwargs, "tokenizer": tokenizer, "block": block, "stamp": stamp},
            features=features,
        )
    if len(packed) == 0:
        raise DataError(f"{config.data}: no text to train on")
    lengths = pc.list_value_length(packed.data.column("input_ids"))
    last = int(lengths[-1].as_py())
    stats = {
        "documents": int(pc.sum(packed.data.column("documents")).as_py()),
        "text_unit": config.text_unit if files else "rows",
        "tokens": int(pc.sum(lengths).as_py()),
        "blocks": len(packed),
        "block_tokens": block,
        "final_block_tokens": last,  # shorter than a block when the corpus does not fill the last one; kept
    }
    return packed.remove_columns(["documents"]), stats


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
    if config.eval_ratio or config.eval_size:
        held = config.eval_size or config.eval_ratio
        if config.eval_size and config.eval_size >= len(dataset):
            raise DataError(
                f"{config.data}: --eval-size {config.eval_size} leaves nothing to train on ({len(dataset)} rows)"
            )
        split = dataset.train_test_split(test_size=held, seed=config.seed)
        return split["train"], split["test"]
    return dataset, None
