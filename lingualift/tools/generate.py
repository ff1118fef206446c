"""`lingualift generate`: grounded question–answer conversations from raw target-language text.

documents → clean (whitespace, boilerplate lines repeated across documents, too short, duplicate)
→ chunks below a token limit (paragraphs, then sentences) → an LLM (local model or any
OpenAI-compatible endpoint) writes question–answer pairs about each chunk as JSON → parse (JSON,
then json-repair; unparsable replies counted) → validate (empty, answer language, grounding in
the chunk, duplicate question) → `messages` conversations + an OpenAI chat-format JSONL.

Every reply is stored in SQLite as soon as it arrives (keyed by chunk text and generator
settings), so a re-run resumes; failed requests are retried by the next run. Nothing is dropped:
skipped documents are listed in the report, rejected pairs and unparsable replies go to the
`rejected` split with their reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Optional

from pydantic import ConfigDict, Field, model_validator

from lingualift.errors import DataError
from lingualift.models import ModelPlacement

PROMPT_VERSION = 1
PROMPT = """Below is a text in {language}. Write {pairs} question-answer pairs in {language} that a reader could \
ask about it and that the text answers. Each question must make sense on its own, without the text; each \
answer must be correct according to the text, complete, and written in {language}.
Reply with JSON only: a list of objects with the keys "question" and "answer".

Text:
{chunk}"""
WORD = re.compile(r"[^\W_]+", re.UNICODE)
# "Question: ... Answer: ..." (or Q:/A:), what small models write instead of JSON
_LABEL = r"[ \t]*(?:\d+[.)][ \t]*)?(?:\*\*)?(?:{})[ \t]*\d*(?:\*\*)?[ \t]*[:.](?:\*\*)?[ \t]*"
QUESTION, ANSWER = _LABEL.format("question|q"), _LABEL.format("answer|a")
LABELLED = re.compile(
    rf"^{QUESTION}(.+?)\s*\n{ANSWER}(.+?)[ \t]*(?=\n\s*\n|\n{QUESTION}|\Z)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
URL_ONLY = re.compile(r"^\s*(https?://\S+|www\.\S+)\s*$")


class GenerateConfig(ModelPlacement):
    model_config = ConfigDict(extra="forbid")

    docs: str = Field(
        description="Documents: a .txt/.md file or a folder of them, jsonl/csv/parquet, save_to_disk dir or hub id"
    )
    lang: str = Field(description="Language of the documents and of the conversations to write")
    out: str = Field(
        description="Output directory: DatasetDict (train, rejected), chat.jsonl, generate_report.json"
    )
    model: Optional[str] = Field(
        None, description="Local generator (hub id, directory, `demo`), or the model name at --base-url"
    )
    base_url: Optional[str] = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: Optional[str] = Field(
        None, description="Environment variable holding the endpoint's API key"
    )
    text_field: str = Field("text", description="Text column of tabular documents")
    tokenizer: Optional[str] = Field(
        None,
        description="Tokenizer that measures chunks (default: --model's when local, else 4 characters a token)",
    )
    chunk_tokens: int = Field(4096, gt=16, description="Tokens per chunk at most")
    min_doc_chars: int = Field(200, ge=0, description="Shorter documents (after cleaning) are skipped")
    boilerplate_docs: int = Field(3, ge=2, description="A line found in this many documents is boilerplate")
    pairs_per_chunk: int = Field(3, gt=0, le=20, description="Question-answer pairs asked for per chunk")
    max_new_tokens: int = Field(1024, gt=0, description="Reply length")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0: greedy)")
    batch_size: int = Field(4, gt=0, description="Chunks per batch (local model)")
    concurrency: int = Field(4, gt=0, description="Requests in flight (endpoint)")
    min_grounding: float = Field(
        0.5, ge=0, le=1, description="Share of an answer's words that must occur in its chunk"
    )
    include_context: bool = Field(False, description="Put the chunk in the user turn (reading comprehension)")
    system_prompt: Optional[str] = Field(None, description="System prompt of the written conversations")
    limit: Optional[int] = Field(None, gt=0, description="Only the first N documents")
    trust_remote_code: bool = Field(False, description="Allow the dataset's or model's own code")

    @model_validator(mode="after")
    def _one_generator(self) -> GenerateConfig:
        if not self.model and not self.base_url:
            raise ValueError(
                "give --model (a local model or `demo`) or --base-url (an OpenAI-compatible endpoint)"
            )
        return self


# ---------------------------------------------------------------- documents


def load_documents(config: GenerateConfig) -> list[tuple[str, str]]:
    """(document id, text) in order."""
    path = Path(config.docs)
    files = sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".md")) if path.is_dir() else []
    if path.is_dir() and files:
        docs = [(str(p.relative_to(path)), p.read_text(encoding="utf-8", errors="replace")) for p in files]
    elif path.suffix in (".txt", ".md") and path.is_file():
        docs = [(path.name, path.read_text(encoding="utf-8", errors="replace"))]
    else:
        from lingualift.io import first_split, load_source, require_columns

        data = first_split(load_source(config.docs, trust_remote_code=config.trust_remote_code))
        require_columns(data, [config.text_field], where=f"{config.docs} (--text-field)")
        ids = data["id"] if "id" in data.column_names else range(len(data))
        docs = [(str(i), text or "") for i, text in zip(ids, data[config.text_field])]
    return docs[: config.limit] if config.limit else docs


def _normalise_whitespace(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_documents(
    docs: list[tuple[str, str]], *, min_chars: int, boilerplate_docs: int
) -> tuple[list, dict]:
    """Cleaned documents and what was removed: whitespace normalised; lines without letters, bare
    URLs, and short lines repeated in `boilerplate_docs` or more documents (menus, cookie notices,
    footers) removed; documents left too short or identical to an earlier one skipped."""
    normalised = [(doc_id, _normalise_whitespace(text)) for doc_id, text in docs]
    seen_in = Counter()
    for _, text in normalised:
        seen_in.update({line for line in text.split("\n") if line and len(line) < 200})
    boilerplate = {line for line, n in seen_in.items() if n >= boilerplate_docs}
    kept, skipped, removed_lines, seen = [], {}, Counter(), set()
    for doc_id, text in normalised:
        lines = []
        for line in text.split("\n"):
            if line in boilerplate:
                removed_lines["boilerplate"] += 1
            elif line and (URL_ONLY.match(line) or not WORD.search(line)):
                removed_lines["no_words"] += 1
            else:
                lines.append(line)
        cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        if len(cleaned) < max(min_chars, 1):
            skipped[doc_id] = "too_short" if cleaned else "empty"
        elif cleaned in seen:
            skipped[doc_id] = "duplicate"
        else:
            seen.add(cleaned)
            kept.append((doc_id, cleaned))
    return kept, {"lines_removed": dict(removed_lines), "skipped": skipped}


def chunk_document(text: str, count_tokens, limit: int, language: str) -> list[str]:
    """Paragraphs joined up to `limit` tokens; a paragraph over the limit is split at sentences (a
    sentence over the limit at words)."""
    from sentencex import segment

    def pieces(paragraph: str) -> list[str]:
        if count_tokens(paragraph) <= limit:
            return [paragraph]
        try:
            sentences = [s.strip() for s in segment(language, paragraph) if s.strip()]
        except Exception:  # a language sentencex does not know: English rules
            sentences = [s.strip() for s in segment("en", paragraph) if s.strip()]
        out = []
        for sentence in sentences:
            if count_tokens(sentence) <= limit:
                out.append(sentence)
                continue
            words, current = sentence.split(), []
            for word in words:
                if current and count_tokens(" ".join(current + [word])) > limit:
                    out.append(" ".join(current))
                    current = []
                current.append(word)
            if current:
                out.append(" ".join(current))
        return out

    chunks, current = [], ""
    for paragraph in text.split("\n\n"):
        for piece in pieces(paragraph):
            joined = f"{current}\n\n{piece}" if current else piece
            if current and count_tokens(joined) > limit:
                chunks.append(current)
                joined = piece
            current = joined
    if current:
        chunks.append(current)
    return chunks


# ---------------------------------------------------------------- replies


def parse_pairs(reply: str) -> tuple[list[dict] | None, str]:
    """(pairs, how): `json` when the reply (or a fenced block in it) is valid JSON, `repaired` when
    json-repair made it readable, `labelled` for "Question: ... / Answer: ..." lines, `unparsed`
    (None) otherwise. Items are returned as given; the
    caller checks their fields."""
    import json_repair

    text = reply.strip()
    fenced = re.search(r"```(?:json)?\s*\n?(.*?)(?:```|$)", text, re.DOTALL)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(text)
    for candidate in candidates:
        try:
            value, how = json.loads(candidate), "json"
        except json.JSONDecodeError:
            continue
        items = _items(value)
        if items is not None:
            return items, how
    value = json_repair.repair_json(candidates[0], return_objects=True)
    items = _items(value)
    if items:
        return items, "repaired"
    labelled = [
        {"question": q.strip().strip('"'), "answer": a.strip().strip('"')} for q, a in LABELLED.findall(text)
    ]
    return (labelled, "labelled") if labelled else (None, "unparsed")


def _items(value) -> list | None:
    if isinstance(value, dict):
        if "question" in value or "answer" in value:
            return [value]
        lists = [v for v in value.values() if isinstance(v, list)]
        return lists[0] if len(lists) == 1 else None
    return value if isinstance(value, list) else None


def _words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def grounding(answer: str, chunk: str) -> float:
    """Share of the answer's words (of 3 letters or more; every character for scripts written
    without spaces) that occur in the chunk."""
    words = [w for w in _words(answer) if len(w) >= 3]
    if not words:
        return 1.0 if answer.strip() and answer.strip() in chunk else 0.0
    if all(len(w) > 12 for w in words):  # unspaced script: compare characters
        letters = [c for w in words for c in w]
        return sum(c in chunk for c in letters) / len(letters)
    vocabulary = set(_words(chunk))
    return sum(w in vocabulary for w in words) / len(words)


def validate_pair(
    item, chunk: str, lang_code: str, min_grounding: float, seen: set[str]
) -> tuple[dict | None, str | None]:
    """(pair, None) or (what we could read of it, reason)."""
    from lingualift.translate.quality import detect_language

    if not isinstance(item, dict):
        return {"question": None, "answer": json.dumps(item, ensure_ascii=False)}, "not_an_object"
    question, answer = item.get("question"), item.get("answer")
    pair = {"question": None if question is None else str(question).strip(),
            "answer": None if answer is None else str(answer).strip()}  # fmt: skip
    if not pair["question"] or not pair["answer"]:
        return pair, "empty_field"
    found = detect_language(pair["answer"])
    if found and found[0] != lang_code:
        return pair, f"wrong_language:{found[0]}"
    if grounding(pair["answer"], chunk) < min_grounding:
        return pair, "ungrounded"
    key = " ".join(_words(pair["question"]))
    if key in seen:
        return pair, "duplicate_question"
    seen.add(key)
    return pair, None


def _complete_in(reply: str, answer: str) -> bool:
    """Whether the reply holds the answer as a finished JSON string (closing quote included)."""
    return any(json.dumps(answer, ensure_ascii=ascii_only) in reply for ascii_only in (False, True))


# ---------------------------------------------------------------- store


class ReplyStore:
    """SQLite (WAL): one row per (chunk, generator settings); a reply is committed as it arrives."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS replies (
        chunk_key TEXT NOT NULL, generator TEXT NOT NULL, reply TEXT, error TEXT, created REAL NOT NULL,
        PRIMARY KEY (chunk_key, generator))"""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(self.SCHEMA)

    def done(self, generator: str) -> dict[str, tuple[str | None, str | None]]:
        rows = self.db.execute(
            "SELECT chunk_key, reply, error FROM replies WHERE generator = ?", (generator,)
        )
        return {key: (reply, error) for key, reply, error in rows}

    def save(self, chunk_key: str, generator: str, reply: str | None, error: str | None) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                            (chunk_key, generator, reply, error, time.time()))  # fmt: skip

    def close(self) -> None:
        self.db.close()


def chunk_key(chunk: str) -> str:
    return hashlib.sha256(chunk.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- generators


def _prompt(chunk: str, config: GenerateConfig, language_name: str) -> list[dict]:
    text = PROMPT.format(language=language_name, pairs=config.pairs_per_chunk, chunk=chunk)
    return [{"role": "user", "content": text}]


def _local_generator(config: GenerateConfig):
    from lingualift.chat import generate_batch
    from lingualift.models import default_device, load_chat_model

    model, tokenizer = load_chat_model(config.model, device=default_device(config.device),
                                       trust_remote_code=config.trust_remote_code,
                                       quantization=config.quantization())  # fmt: skip

    def run(chats: list[list[dict]]):
        replies = generate_batch(model, tokenizer, chats, max_new_tokens=config.max_new_tokens,
                                 batch_size=len(chats), temperature=config.temperature)  # fmt: skip
        return [(reply, None) for reply in replies]

    return run, config.batch_size, tokenizer


def _endpoint_generator(config: GenerateConfig):
    from concurrent.futures import ThreadPoolExecutor

    from lingualift.endpoint import ChatEndpoint, EndpointError

    endpoint = ChatEndpoint(config.base_url, config.model or "default", api_key_env=config.api_key_env,
                            needed_by="generate --base-url")  # fmt: skip
    pool = ThreadPoolExecutor(config.concurrency)

    def one(chat):
        try:
            return endpoint.chat(chat, max_tokens=config.max_new_tokens, temperature=config.temperature), None
        except EndpointError as error:
            return None, str(error)

    def run(chats: list[list[dict]]):
        return list(pool.map(one, chats))

    return run, config.concurrency, None


def _token_counter(config: GenerateConfig, tokenizer):
    if config.tokenizer or (tokenizer is None and config.model and not config.base_url):
        from transformers import AutoTokenizer

        from lingualift.models import resolve_model

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.tokenizer or config.model),
                                                  trust_remote_code=config.trust_remote_code)  # fmt: skip
    if tokenizer is None:
        return (lambda text: -(-len(text) // 4)), "4 characters a token (no local tokenizer)"
    return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), "tokenizer"


def _generator_id(config: GenerateConfig) -> str:
    source = f"{config.base_url}|{config.model}" if config.base_url else f"local|{config.model}"
    settings = (
        source,
        config.lang,
        config.pairs_per_chunk,
        config.max_new_tokens,
        config.temperature,
        PROMPT_VERSION,
    )
    return json.dumps(settings)


# ---------------------------------------------------------------- the command


def generate_conversations(config: GenerateConfig, *, echo=print, progress: bool = True) -> dict:
    from tqdm.auto import tqdm

    from lingualift.languages import get_language

    started = time.perf_counter()
    language = get_language(config.lang)
    if not config.base_url:
        config.quantization()  # a flag this machine cannot honour is refused before any work
    docs = load_documents(config)
    if not docs:
        raise DataError(
            f"{config.docs}: no documents found (.txt/.md files, or rows with `{config.text_field}`)"
        )
    kept, cleaning = clean_documents(
        docs, min_chars=config.min_doc_chars, boilerplate_docs=config.boilerplate_docs
    )
    if not kept:
        raise DataError(f"{config.docs}: every document was skipped ({Counter(cleaning['skipped'].values())}) — "
                        "lower --min-doc-chars or give longer documents")  # fmt: skip
    if config.base_url:
        generate, group, tokenizer = _endpoint_generator(config)
    else:
        generate, group, tokenizer = _local_generator(config)
    count_tokens, token_measure = _token_counter(config, tokenizer)
    chunks = [(doc_id, n, chunk, chunk_key(chunk)) for doc_id, text in kept
              for n, chunk in enumerate(chunk_document(text, count_tokens, config.chunk_tokens, language.macro))]  # fmt: skip
    texts = {
        key: chunk for _, _, chunk, key in chunks
    }  # an identical chunk in two documents is asked about once
    generator = _generator_id(config)
    work = Path(f"{config.out}.work")
    store = ReplyStore(work / "generate.sqlite")
    try:
        done = store.done(generator)
        todo = [key for key in texts if done.get(key, (None, "new"))[1] is not None]
        echo(f"{len(docs)} documents, {len(kept)} kept, {len(chunks)} chunks; {len(todo)} to generate "
             f"({len(texts) - len(todo)} done in an earlier run)")  # fmt: skip
        from lingualift.endpoint import FailureTally

        failures = FailureTally()
        bar = tqdm(total=len(todo), unit="chunk", desc=f"generate ({language.name})", disable=not progress)
        for start in range(0, len(todo), group):
            keys = todo[start : start + group]
            results = generate([_prompt(texts[k], config, language.name) for k in keys])
            for key, (reply, error) in zip(keys, results):
                store.save(key, generator, reply, error)
                failures.record(error)
            bar.update(len(keys))
            if failures.hopeless():
                bar.close()
                raise DataError(f"stopped: the first {sum(failures.failed.values())} requests all failed with "
                                f"{failures.hopeless()} — fix that and run the same command again")  # fmt: skip
        bar.close()
        replies = store.done(generator)
    finally:
        store.close()
    report = _assemble(config, language, chunks, replies, generator)
    report.update(documents=len(docs), documents_kept=len(kept), cleaning=cleaning, chunks=len(chunks),
                  generated_this_run=len(todo), reused_from_store=len(texts) - len(todo),
                  chunk_tokens=config.chunk_tokens, token_measure=token_measure,
                  seconds=round(time.perf_counter() - started, 2))  # fmt: skip
    (Path(config.out) / "generate_report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    if failures.failed:
        echo(f"warning: {failures.summary()}; a rerun of the same command retries them")
    if failures.all_failed():
        raise DataError(f"every request failed ({failures.summary()}): no conversations were written")
    pairs = report["pairs"]
    echo(f"{pairs['accepted']} conversations → {config.out} (and chat.jsonl); rejected {pairs['rejected']} "
         f"{pairs['rejected_by_reason']}; replies {report['replies']}")  # fmt: skip
    return report


def _assemble(config: GenerateConfig, language, chunks, replies, generator: str) -> dict:
    import datasets

    from lingualift.io import dataset_from_rows, save_dataset

    accepted, rejected, seen = [], [], set()
    reply_counts, reasons = Counter(), Counter()
    used = set()
    for doc_id, n, chunk, key in chunks:
        if key in used:  # an identical chunk in two documents is asked about once
            continue
        used.add(key)
        reply, error = replies.get(key, (None, "not generated"))
        base = {"doc_id": doc_id, "chunk": n, "chunk_key": key}
        if error is not None:
            reply_counts["request_failed"] += 1
            reasons["request_failed"] += 1
            rejected.append(
                {
                    **base,
                    "question": None,
                    "answer": None,
                    "reply": None,
                    "reason": f"request_failed: {error}",
                }
            )
            continue
        items, how = parse_pairs(reply)
        reply_counts[how] += 1
        if items is None:
            reasons["unparsed"] += 1
            rejected.append({**base, "question": None, "answer": None, "reply": reply, "reason": "unparsed"})
            continue
        for index, item in enumerate(items):
            pair, reason = validate_pair(item, chunk, language.macro, config.min_grounding, seen)
            if not reason and how == "repaired" and not _complete_in(reply, pair["answer"]):
                reason = "cut_off"  # repair closed a string the reply never finished
            if reason:
                reasons[reason.split(":")[0]] += 1
                rejected.append({**base, **pair, "reply": reply, "reason": reason})
                continue
            user = f"{chunk}\n\n{pair['question']}" if config.include_context else pair["question"]
            messages = [{"role": "user", "content": user}, {"role": "assistant", "content": pair["answer"]}]
            if config.system_prompt:
                messages.insert(0, {"role": "system", "content": config.system_prompt})
            accepted.append({"id": f"{key[:12]}-{index}", "lang": language.tag, "messages": messages,
                             "doc_id": doc_id, "chunk": n, "generator": generator})  # fmt: skip
    message = [{"role": datasets.Value("string"), "content": datasets.Value("string")}]
    train_features = datasets.Features({"id": datasets.Value("string"), "lang": datasets.Value("string"),
                                        "messages": message, "doc_id": datasets.Value("string"),
                                        "chunk": datasets.Value("int64"), "generator": datasets.Value("string")})  # fmt: skip
    columns = ("doc_id", "chunk", "chunk_key", "question", "answer", "reply", "reason")
    rejected_features = datasets.Features({name: datasets.Value("int64" if name == "chunk" else "string")
                                           for name in columns})  # fmt: skip

    out = Path(config.out)
    save_dataset(datasets.DatasetDict({"train": dataset_from_rows(accepted, train_features),
                                       "rejected": dataset_from_rows(rejected, rejected_features)}), out)  # fmt: skip
    with open(out / "chat.jsonl", "w", encoding="utf-8") as handle:
        for row in accepted:
            handle.write(json.dumps({"messages": row["messages"]}, ensure_ascii=False) + "\n")
    return {"generator": json.loads(generator)[0], "lang": language.tag, "replies": dict(reply_counts),
            "pairs": {"accepted": len(accepted), "rejected": len(rejected), "rejected_by_reason": dict(reasons)}}  # fmt: skip
