"""`generate_conversations`: documents → chunks → replies (stored as they arrive) → conversations."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from lingualift.chat_model import without_reasoning
from lingualift.errors import DataError
from lingualift.teacher import load_teacher
from lingualift.tools.generate.config import GenerateConfig
from lingualift.tools.generate.documents import chunk_document, clean_documents, load_documents
from lingualift.tools.generate.generators import (
    generator_id,
    prompt,
    token_counter,
)
from lingualift.tools.generate.replies import complete_in, parse_pairs, validate_pair
from lingualift.tools.generate.report import GenerateReport, PairCounts
from lingualift.tools.generate.store import ReplyStore, chunk_key


def generate_conversations(config: GenerateConfig, *, echo=print, progress: bool = True) -> GenerateReport:
    from tqdm.auto import tqdm

    from lingualift.languages import get_language

    started = time.perf_counter()
    language = get_language(config.lang)
    from lingualift.language_id import unknown_target, use

    use(config.lid)
    from lingualift.data_push import require_token

    require_token(config)
    language_check = unknown_target(language.tag, language.name)
    if language_check:
        echo(f"warning: answers are not checked for wrong_language: {language_check}")
    if not config.base_url:
        config.quantization()  # a flag this machine cannot honour is refused before any work
    docs = load_documents(config)
    if not docs:
        raise DataError(
            f"{config.docs}: no documents found (.txt/.md files, or rows with `{config.text_field}`)"
        )
    checked = None  # documents in another language are not the language's documents
    if not language_check and config.doc_language_confidence > 0:
        from lingualift.language_id import normal

        checked = (normal(language.tag), use(config.lid).identify, config.doc_language_confidence)
    kept, cleaning = clean_documents(
        docs, min_chars=config.min_doc_chars, boilerplate_docs=config.boilerplate_docs, language=checked
    )
    if not kept:
        raise DataError(
            f"{config.docs}: every document was skipped ({Counter(cleaning['skipped'].values())}) — "
            "lower --min-doc-chars or give longer documents"
        )
    asker = load_teacher(config, needed_by="generate --base-url")
    group = asker.in_flight
    count_tokens, token_measure = token_counter(config, asker.tokenizer)
    chunks = [
        (doc_id, n, chunk, chunk_key(chunk))
        for doc_id, text in kept
        for n, chunk in enumerate(chunk_document(text, count_tokens, config.chunk_tokens, language.macro))
    ]
    texts = {
        key: chunk for _, _, chunk, key in chunks
    }  # an identical chunk in two documents is asked about once
    generator = generator_id(config)
    work = Path(f"{config.out}.work")
    store = ReplyStore(work / "generate.sqlite")
    try:
        done = store.done(generator)
        todo = [key for key in texts if done.get(key, (None, "new"))[1] is not None]
        echo(
            f"{len(docs)} documents, {len(kept)} kept, {len(chunks)} chunks; {len(todo)} to generate "
            f"({len(texts) - len(todo)} done in an earlier run)"
        )
        from lingualift.endpoint import FailureTally

        failures = FailureTally()
        bar = tqdm(total=len(todo), unit="chunk", desc=f"generate ({language.name})", disable=not progress)
        for start in range(0, len(todo), group):
            keys = todo[start : start + group]
            results: dict[int, tuple] = {}

            def keep(index, reply, error, _cut_off, results=results):  # the reply's JSON is judged later
                results[index] = (reply, error)

            asker.ask([prompt(texts[k], config, language.name) for k in keys], keep)
            for index, key in enumerate(keys):
                reply, error = results[index]
                store.save(key, generator, reply, error)
                failures.record(error)
            bar.update(len(keys))
            if failures.hopeless():
                bar.close()
                raise DataError(
                    f"stopped: the first {sum(failures.failed.values())} requests all failed with "
                    f"{failures.hopeless()} — fix that and run the same command again"
                )
        bar.close()
        replies = store.done(generator)
    finally:
        store.close()
    report = _assemble(config, language, chunks, replies, generator)
    report = report.model_copy(
        update=dict(
            documents=len(docs),
            documents_kept=len(kept),
            cleaning=cleaning,
            chunks=len(chunks),
            generated_this_run=len(todo),
            reused_from_store=len(texts) - len(todo),
            chunk_tokens=config.chunk_tokens,
            token_measure=token_measure,
            language_check=f"skipped: {language_check}" if language_check else use(config.lid).name,
            seconds=round(time.perf_counter() - started, 2),
        )
    )
    report.write(Path(config.out) / "generate_report.json")
    if failures.failed:
        echo(f"warning: {failures.summary()}; a rerun of the same command retries them")
    if failures.all_failed():
        raise DataError(f"every request failed ({failures.summary()}): no conversations were written")
    pairs = report.pairs
    echo(
        f"{pairs.accepted} conversations → {config.out} (and chat.jsonl); rejected {pairs.rejected} "
        f"{pairs.rejected_by_reason}; replies {report.replies}"
    )
    if config.push_to_hub:
        from lingualift.data_push import push_data

        url = push_data(
            config,
            config.out,
            what=f"Question-answer conversations in {language.name} generated from documents",
            source=config.docs,
            made_by=f"generated by the teacher `{config.model}`",
            languages=[language.tag],
            counts={
                "documents kept": f"{len(kept)} of {len(docs)}",
                "accepted": pairs.accepted,
                "rejected by reason": pairs.rejected_by_reason or "none",
            },
        )
        echo(f"pushed to {url}")
    return report


def _assemble(config: GenerateConfig, language, chunks, replies, generator: str) -> GenerateReport:
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
        answer = without_reasoning(reply)  # reasoning never reaches the training data
        if answer.had_reasoning and not answer.problem:
            reply_counts["reasoning_removed"] += 1
        if answer.problem:
            reply_counts[answer.problem] += 1
            reasons[answer.problem] += 1
            rejected.append(
                {**base, "question": None, "answer": None, "reply": reply, "reason": answer.problem}
            )
            continue
        items, how = parse_pairs(answer.text)
        reply_counts[how] += 1
        if items is None:
            reasons["unparsed"] += 1
            rejected.append({**base, "question": None, "answer": None, "reply": reply, "reason": "unparsed"})
            continue
        for index, item in enumerate(items):
            pair, reason = validate_pair(item, chunk, language.macro, config.min_grounding, seen)
            if not reason and how == "repaired" and not complete_in(reply, pair["answer"]):
                reason = "cut_off"  # repair closed a string the reply never finished
            if reason:
                reasons[reason.split(":")[0]] += 1
                rejected.append({**base, **pair, "reply": reply, "reason": reason})
                continue
            user = f"{chunk}\n\n{pair['question']}" if config.include_context else pair["question"]
            messages = [{"role": "user", "content": user}, {"role": "assistant", "content": pair["answer"]}]
            if config.system_prompt:
                messages.insert(0, {"role": "system", "content": config.system_prompt})
            accepted.append(
                {
                    "id": f"{key[:12]}-{index}",
                    "lang": language.tag,
                    "messages": messages,
                    "doc_id": doc_id,
                    "chunk": n,
                    "context": chunk,  # what the pair is grounded in: `review` shows it beside the pair
                    "generator": generator,
                }
            )
    message = [{"role": datasets.Value("string"), "content": datasets.Value("string")}]
    train_features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "lang": datasets.Value("string"),
            "messages": message,
            "doc_id": datasets.Value("string"),
            "chunk": datasets.Value("int64"),
            "context": datasets.Value("string"),
            "generator": datasets.Value("string"),
        }
    )
    columns = ("doc_id", "chunk", "chunk_key", "question", "answer", "reply", "reason")
    rejected_features = datasets.Features(
        {name: datasets.Value("int64" if name == "chunk" else "string") for name in columns}
    )

    out = Path(config.out)
    save_dataset(
        datasets.DatasetDict(
            {
                "train": dataset_from_rows(accepted, train_features),
                "rejected": dataset_from_rows(rejected, rejected_features),
            }
        ),
        out,
    )
    with open(out / "chat.jsonl", "w", encoding="utf-8") as handle:
        for row in accepted:
            handle.write(json.dumps({"messages": row["messages"]}, ensure_ascii=False) + "\n")
    return GenerateReport(
        generator=json.loads(generator)[0],
        lang=language.tag,
        replies=dict(reply_counts),
        pairs=PairCounts(accepted=len(accepted), rejected=len(rejected), rejected_by_reason=dict(reasons)),
    )
