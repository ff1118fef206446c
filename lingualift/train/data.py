"""Tokenize conversations with assistant-only labels, for any prefix-preserving chat template.

The assistant spans are found by rendering the conversation's prefixes with the model's own
chat template (no `{% generation %}` markers needed): the text before assistant turn i is the
render of messages[:i] with the generation prompt, the turn ends where the render of
messages[:i+1] ends (end-of-turn token included, so the model learns to stop).
"""

from __future__ import annotations

from lingualift.errors import DataError

IGNORE = -100


def _render(tokenizer, messages, *, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def assistant_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """(rendered text, character spans of every assistant turn): by prefixes where the template
    renders prefix by prefix, else by markers (marked_spans)."""
    full = _render(tokenizer, messages, generation_prompt=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start_text = _render(tokenizer, messages[:i], generation_prompt=True)
        end_text = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if not full.startswith(end_text) or not end_text.startswith(start_text):
            return full, marked_spans(tokenizer, messages, full)
        spans.append((len(start_text), len(end_text)))
    return full, spans


def drops_system_prompt(tokenizer, messages: list[dict]) -> bool:
    """Whether the template renders this conversation the same without its system prompt."""
    if not messages or messages[0]["role"] != "system":
        return False
    return _render(tokenizer, messages, generation_prompt=False) == _render(
        tokenizer, messages[1:], generation_prompt=False
    )


def marked_spans(tokenizer, messages: list[dict], full: str) -> list[tuple[int, int]]:
    """Assistant spans for templates that are not prefix-stable (Mistral v0.3 puts the system prompt
    in the last user turn; thinking templates drop earlier reasoning): render once with each
    assistant content replaced by a marker; the text between markers is the template's own, so the
    real render is those pieces joined by the contents (as given, or trimmed where the template
    trims). A turn's span is its content and the end-of-turn text right after it."""
    from lingualift.chat_model import MARKER, turn_end_text

    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    marked = [
        {**m, "content": f"{MARKER}{turns.index(i)}{MARKER}"} if i in turns else m
        for i, m in enumerate(messages)
    ]
    rendered = _render(tokenizer, marked, generation_prompt=False)
    pieces, rest = [], rendered
    for n in range(len(turns)):
        tag = f"{MARKER}{n}{MARKER}"
        if rest.count(tag) != 1:
            raise DataError(
                "the chat template does not render each assistant turn once, so assistant turns cannot be "
                "located: train with --all-tokens"
            )
        before, rest = rest.split(tag)
        pieces.append(before)
    pieces.append(rest)
    end = turn_end_text(tokenizer)
    for shape in (lambda text: text, str.strip):
        contents = [shape(messages[i]["content"] or "") for i in turns]
        joined = pieces[0] + "".join(c + p for c, p in zip(contents, pieces[1:]))
        if joined == full:
            break
    else:
        raise DataError(
            "the chat template changes assistant turns beyond trimming, so they cannot be located: train "
            "with --all-tokens"
        )
    spans, position = [], len(pieces[0])
    closing = end.lstrip()
    for content, after in zip(contents, pieces[1:]):
        tail = after.index(closing) + len(closing) if closing and after.lstrip().startswith(closing) else 0
        spans.append((position, position + len(content) + tail))
        position += len(content) + len(after)
    return spans


def tokenize_conversation(tokenizer, messages: list[dict], *, max_length: int, assistant_only: bool) -> dict:
    if assistant_only:
        text, spans = assistant_spans(tokenizer, messages)
    else:  # every token learns: no spans to find (a template need not be prefix-stable)
        text, spans = _render(tokenizer, messages, generation_prompt=False), []
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    labels = list(ids)
    if assistant_only:
        labels = [
            # a token learns when it carries text of a turn (" Goed" starts at the space a template
            # writes before the content, as Mistral's does)
            token
            if any(offset[0] < end and start < max(offset[1], offset[0] + 1) for start, end in spans)
            else IGNORE
            for token, offset in zip(ids, encoded["offset_mapping"])
        ]
    truncated = len(ids) > max_length
    return {
        "input_ids": ids[:max_length],
        "attention_mask": [1] * min(len(ids), max_length),
        "labels": labels[:max_length],
        "truncated": truncated,
    }


class PadCollator:
    """Pad input_ids with the pad token, labels with -100, on the tokenizer's padding side."""

    def __init__(self, tokenizer):
        self.pad_id = tokenizer.pad_token_id
        self.left = tokenizer.padding_side == "left"

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        batch = {"input_ids": [], "attention_mask": [], "labels": []}
        for f in features:
            gap = width - len(f["input_ids"])
            given = {  # raw text blocks (cpt) carry only their ids: every token attends and learns
                "input_ids": f["input_ids"],
                "attention_mask": f.get("attention_mask") or [1] * len(f["input_ids"]),
                "labels": f.get("labels") or f["input_ids"],
            }
            for key, value in (("input_ids", self.pad_id), ("attention_mask", 0), ("labels", IGNORE)):
                padding = [value] * gap
                batch[key].append(padding + list(given[key]) if self.left else list(given[key]) + padding)
        return {k: torch.tensor(v) for k, v in batch.items()}


def pack_examples(lengths: list[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing: indices of examples grouped into rows of at most `capacity` tokens."""
    import bisect

    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, row), sorted: the first that fits is the best fit
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        at = bisect.bisect_left(free, (lengths[index], -1))
        if at < len(free):
            room, row = free.pop(at)
        else:
            room, row = capacity, len(rows)
            rows.append([])
        rows[row].append(index)
        bisect.insort(free, (room - lengths[index], row))
    return rows


def packed_rows(examples: list[dict], capacity: int) -> list[dict]:
    """Concatenate examples into rows with restarting position ids. The first label of each example
    is ignored so no token learns to predict the start of the next, unrelated conversation."""
    rows = []
    for group in pack_examples([len(e["input_ids"]) for e in examples], capacity):
        row = {"input_ids": [], "labels": [], "position_ids": []}
        for index in group:
            ids, labels = examples[index]["input_ids"], examples[index]["labels"]
            row["input_ids"] += ids
            row["labels"] += [IGNORE, *labels[1:]]
            row["position_ids"] += list(range(len(ids)))
        rows.append(row)
    return rows


class PackedCollator:
    """Batch packed rows without an attention mask: transformers then derives a block-diagonal causal
    mask from the restarting position ids (sdpa, eager, flex and flash attention alike). Rows are
    right-padded; the padding is its own short sequence with ignored labels, so no real token sees it.

    The batch carries `use_cache=False`: with a KV cache (the config default, also in training mode)
    transformers skips the packed-sequence detection and every token attends across the boundaries.
    """

    def __init__(self, tokenizer):
        self.pad_id = tokenizer.pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        batch = {"input_ids": [], "labels": [], "position_ids": []}
        for f in features:
            gap = width - len(f["input_ids"])
            batch["input_ids"].append(list(f["input_ids"]) + [self.pad_id] * gap)
            batch["labels"].append(list(f["labels"]) + [IGNORE] * gap)
            batch["position_ids"].append(list(f["position_ids"]) + list(range(gap)))
        return {**{k: torch.tensor(v) for k, v in batch.items()}, "use_cache": False}


def packed_real_tokens(input_ids, position_ids, pad_id: int) -> int:
    """Tokens of a packed batch that are not its right padding: per row, the trailing run that
    restarts at position 0 and is all pad ids (PackedCollator's padding) is left out. The Trainer's
    own non-padding count needs an attention mask, which packed rows must not carry."""
    real = 0
    for ids, positions in zip(input_ids.tolist(), position_ids.tolist()):
        starts = [i for i, p in enumerate(positions) if p == 0]
        tail = starts[-1] if starts else len(ids)
        padding = len(ids) - tail if len(starts) > 1 and all(t == pad_id for t in ids[tail:]) else 0
        real += len(ids) - padding
    return real


def shorten_prompt(tokenizer, prompt, limit: int):
    """A DPO/ORPO prompt cut to `limit` tokens, keeping what is closest to the answer: the oldest
    user/assistant exchanges go first (a system message stays), then the start of the last text."""

    def length(value) -> int:
        if isinstance(value, str):
            return len(tokenizer(value, add_special_tokens=False)["input_ids"])
        return len(
            tokenizer.apply_chat_template(value, tokenize=True, add_generation_prompt=True, return_dict=True)[
                "input_ids"
            ]
        )

    def cut_start(text: str, tokens: int) -> str:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return tokenizer.decode(ids[min(tokens, len(ids)) :])

    if isinstance(prompt, str):
        excess = length(prompt) - limit
        return cut_start(prompt, excess) if excess > 0 else prompt
    messages = list(prompt)
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns = messages[len(system) :]
    while len(turns) > 1 and length(system + turns) > limit:
        turns = turns[2:] if len(turns) > 2 else turns[1:]  # keep the prompt starting with a user turn
    for _ in range(3):  # the template's own tokens are fixed, so this settles in one or two passes
        excess = length(system + turns) - limit
        if excess <= 0 or not turns[-1]["content"]:
            break
        turns[-1] = {**turns[-1], "content": cut_start(turns[-1]["content"], excess)}
    return system + turns


def replay_count(target_rows: int, ratio: float) -> int:
    """Replay rows so that they make up `ratio` of the mixed set: r / (n + r) = ratio."""
    if ratio <= 0:
        return 0
    return round(target_rows * ratio / (1 - ratio))


def mix_replay(target, replay, *, ratio: float, seed: int, where: str = "--replay"):
    """Target-language conversations plus a seeded sample of source-language (replay) conversations
    making up `ratio` of the result, shuffled with the same seed. Only `messages` is kept from both.
    Returns (dataset, stats); asking for more replay than there is uses all of it and says so."""
    import datasets

    if "messages" not in replay.column_names:
        raise DataError(
            f"{where}: needs a `messages` column (conversations); it has {', '.join(replay.column_names)}"
        )
    wanted = replay_count(len(target), ratio)
    taken = min(wanted, len(replay))
    sample = replay.shuffle(seed=seed).select(range(taken))
    parts = [plain_conversations(target), plain_conversations(sample)]
    mixed = datasets.concatenate_datasets(parts).shuffle(seed=seed)
    stats = {
        "target_conversations": len(target),
        "replay_conversations": taken,
        "replay_wanted": wanted,
        "replay_available": len(replay),
        "replay_share": round(taken / len(mixed), 4) if len(mixed) else 0.0,
    }
    return mixed, stats


def plain_conversations(data, *, with_lang: bool = False):
    """Only `messages` (each turn only role and content), and `lang` when asked (None where the data has
    none): datasets from different sources then share one schema."""
    import datasets

    columns = {"messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}]}
    if with_lang:
        columns["lang"] = datasets.Value("string")
    has_lang = "lang" in data.column_names

    def plain(row):
        out = {"messages": [{"role": m["role"], "content": m["content"]} for m in row["messages"]]}
        if with_lang:
            out["lang"] = row["lang"] if has_lang else None
        return out

    return data.map(
        plain, remove_columns=data.column_names, features=datasets.Features(columns), desc="messages"
    )


def language_weights(sizes: dict[str, int], how: str, temperature: float = 3.0) -> dict[str, float]:
    """Sampling probability per language: proportional to its size, uniform, or size^(1/T) normalised
    (T = 1 is proportional, a large T approaches uniform; XLM-R and mT5 sample languages this way)."""
    if how == "uniform":
        raw = {lang: 1.0 for lang in sizes}
    elif how == "temperature":
        raw = {lang: n ** (1 / temperature) for lang, n in sizes.items()}
    else:
        raw = {lang: float(n) for lang, n in sizes.items()}
    total = sum(raw.values())
    return {lang: value / total for lang, value in raw.items()}


def share_out(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Whole counts summing to `total`, as close to total × weight as possible (largest remainder)."""
    exact = {lang: total * w for lang, w in weights.items()}
    counts = {lang: int(x) for lang, x in exact.items()}
    for lang in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[
        : total - sum(counts.values())
    ]:
        counts[lang] += 1
    return counts


def rows_by_language(data) -> dict[str, list[int]]:
    """Row indices per `lang` value (sorted by language; a missing value counts as `unknown`)."""
    by_lang: dict[str, list[int]] = {}
    for index, lang in enumerate(data["lang"]):
        by_lang.setdefault(lang or "unknown", []).append(index)
    return dict(sorted(by_lang.items()))


def mix_languages(data, *, how: str, temperature: float, size: int | None, seed: int, where: str = "--data"):
    """Conversations resampled per language (`lang` column) to the weights of `how`; a language asked for
    more often than it has conversations repeats all of them, then a seeded sample. Returns (dataset, stats)."""
    import random

    if "lang" not in data.column_names:
        raise DataError(
            f"{where}: --mix needs a `lang` column (the threads stage writes one); it has "
            f"{', '.join(data.column_names)}"
        )
    by_lang = rows_by_language(data)
    sizes = {lang: len(rows) for lang, rows in by_lang.items()}
    weights = language_weights(sizes, how, temperature)
    counts = share_out(size or len(data), weights)
    rng = random.Random(seed)
    chosen = []
    for lang, wanted in counts.items():
        rows = by_lang[lang]
        repeats, rest = divmod(wanted, len(rows))
        chosen += rows * repeats + rng.sample(rows, rest)
    rng.shuffle(chosen)
    stats = {
        lang: {"available": sizes[lang], "weight": round(weights[lang], 4), "sampled": counts[lang]}
        for lang in sizes
    }
    return data.select(chosen), {"mix": how, "languages": stats}
