"""`respond`: conversations → one request per assistant turn, round by round (each given the
teacher's own earlier answers) → replies stored as they arrive → filters → train / rejected / pairs."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lingualift.database import open_database
from lingualift.errors import ConfigError, DataError
from lingualift.teacher import load_teacher, teacher_source
from lingualift.tools.respond import filters
from lingualift.tools.respond.config import RespondConfig
from lingualift.tools.respond.report import RespondReport

SETTINGS_VERSION = 1
SHAREGPT = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


# -- the input: rows → user turns (and the answers the input had) -----------------------------------


@dataclass
class Conversation:
    id: str
    system: str | None  # the input's own system turn, kept for the output
    users: list[str]
    originals: list[str | None]  # the input's answer after each user turn (None: there was none)
    answers: list[str] = field(default_factory=list)  # the teacher's, accepted so far
    reason: str | None = None  # why it was rejected
    reply: str | None = None  # the rejected reply
    turn: int | None = None


def _turns(row: dict, columns: set[str]) -> list[tuple[str, str]] | str:
    """(role, text) turns of one row, or the reason it has none we can answer."""
    if "messages" in columns or "conversations" in columns:
        raw = row.get("messages") if "messages" in columns else row.get("conversations")
        if not isinstance(raw, list):
            return "no_turns"
        turns = []
        for turn in raw:
            if not isinstance(turn, dict):
                return "turn_not_a_dict"
            role = SHAREGPT.get(str(turn.get("role", turn.get("from", ""))).lower())
            text = turn.get("content", turn.get("value"))
            if role is None:
                return "unknown_role"
            if not isinstance(text, str):
                return "content_not_text"
            turns.append((role, text))
        return turns
    if "instruction" in columns:
        extra = row.get("input") or row.get("context") or ""
        prompt = f"{row['instruction']}\n\n{extra}" if extra and extra.strip() else row["instruction"]
        answer = row.get("output", row.get("response"))
        return [("user", prompt or "")] + ([("assistant", answer)] if answer else [])
    return [("user", row.get("prompt") or "")]


def conversation(row: dict, columns: set[str], index: int) -> Conversation | str:
    turns = _turns(row, columns)
    if isinstance(turns, str):
        return turns
    system = turns[0][1] if turns and turns[0][0] == "system" else None
    turns = [t for t in turns if t[0] != "system"]
    users, originals = [], []
    for role, text in turns:
        if role == "user":
            if len(users) > len(originals):
                return "role_not_alternating"
            if not text.strip():
                return "empty_prompt"
            users.append(text)
        else:
            if len(originals) >= len(users):
                return "does_not_start_with_user" if not users else "role_not_alternating"
            originals.append(text)
    if not users:
        return "no_user_turn"
    originals += [None] * (len(users) - len(originals))
    return Conversation(str(row.get("id", row.get("prompt_id", index))), system, users, originals)


def load_conversations(config: RespondConfig) -> tuple[list[Conversation], list[dict]]:
    """(conversations to answer, rows left out with their reason)."""
    from lingualift.io import first_split, load_source

    data = load_source(config.data, split=config.split, trust_remote_code=config.trust_remote_code)
    if hasattr(data, "keys"):
        data = first_split(data)
    columns = set(data.column_names)
    if not columns & {"messages", "conversations", "instruction", "prompt"}:
        raise DataError(
            f"{config.data}: no prompts to answer (columns: {', '.join(sorted(columns))}): expected messages, "
            "conversations, instruction (alpaca/dolly) or prompt"
        )
    if config.limit:
        data = data.select(range(min(config.limit, len(data))))
    kept, left = [], []
    for index, row in enumerate(data):
        found = conversation(row, columns, index)
        if isinstance(found, str):
            left.append({"id": str(row.get("id", index)), "reason": found})
        else:
            kept.append(found)
    return kept, left


# -- the teacher -------------------------------------------------------------------------------------


def teacher_id(config: RespondConfig, system: str) -> str:
    source = teacher_source(config)
    return json.dumps([source, config.max_new_tokens, config.temperature, system, SETTINGS_VERSION])


class ReplyStore:
    """One row per (teacher settings, conversation so far), committed as it arrives."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS replies (
        key TEXT PRIMARY KEY, reply TEXT, error TEXT, cut_off INTEGER NOT NULL, created REAL NOT NULL)"""

    def __init__(self, path: Path):
        self.db = open_database(path, self.SCHEMA, threads=True)
        self.lock = threading.Lock()

    def get(self, keys: list[str]) -> dict[str, tuple[str | None, str | None, bool]]:
        found = {}
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            rows = self.db.execute(
                f"SELECT key, reply, error, cut_off FROM replies WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            found.update({key: (reply, error, bool(cut)) for key, reply, error, cut in rows})
        return found

    def save(self, key: str, reply: str | None, error: str | None, cut_off: bool) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                (key, reply, error, int(cut_off), time.time()),
            )

    def close(self) -> None:
        self.db.close()


def history(system: str, conv: Conversation, turn: int) -> list[dict]:
    """What the teacher sees for answer `turn`: its instructions, the input's system turn, and the
    conversation so far with its own earlier answers."""
    instructions = system if not conv.system else f"{system}\n\n{conv.system}"
    chat = [{"role": "system", "content": instructions}]
    for i in range(turn):
        chat += [
            {"role": "user", "content": conv.users[i]},
            {"role": "assistant", "content": conv.answers[i]},
        ]
    return chat + [{"role": "user", "content": conv.users[turn]}]


def request_key(teacher: str, chat: list[dict]) -> str:
    return hashlib.sha256(json.dumps([teacher, chat], ensure_ascii=False).encode()).hexdigest()


# -- the run -----------------------------------------------------------------------------------------


def respond(config: RespondConfig, *, echo=print, progress: bool = True) -> RespondReport:
    from tqdm.auto import tqdm

    from lingualift.chat_model import without_reasoning
    from lingualift.endpoint import FailureTally
    from lingualift.languages import get_language

    started = time.perf_counter()
    lang = get_language(config.lang)
    from lingualift.language_id import unknown_target, use

    use(config.lid)
    from lingualift.data_push import require_token

    require_token(config)
    language_check = unknown_target(lang.tag, lang.name)
    if language_check:
        echo(f"warning: the language filters are skipped: {language_check}")
    if not config.base_url:
        config.quantization()  # a flag this machine cannot honour is refused before any work
    system = filters.system_prompt(lang, config.system_prompt)
    refusals, extra = filters.phrases(lang, config.boilerplate_file)
    teacher = teacher_id(config, system)
    conversations, left_out = load_conversations(config)
    for conv in conversations:  # native prompts: their language, before anything is asked
        reason = filters.prompt_reason(conv.users[0], lang, config.prompt_confidence)
        if reason:
            conv.reason, conv.turn = reason, 0
    if config.max_conversations:
        waiting = [c for c in conversations if c.reason is None]
        for conv in waiting[config.max_conversations :]:
            conv.reason, conv.turn = "over_limit", 0
    work = Path(f"{config.out}.work")
    store = ReplyStore(work / "respond.sqlite")
    asked = [c for c in conversations if c.reason is None]
    first = {request_key(teacher, history(system, c, 0)) for c in asked}  # identical prompts: one request
    answered_before = {k for k, (reply, error, _) in store.get(sorted(first)).items() if error is None}
    turns_left = sum(len(c.users) for c in asked)
    at_most = len(first - answered_before) + sum(len(c.users) - 1 for c in asked)  # later turns: unknown yet
    estimate = _estimate(config, conversations, at_most)
    echo(
        f"{len(conversations) + len(left_out)} rows, {sum(c.reason is None for c in conversations)} to answer "
        f"({turns_left} turns); at most {at_most} requests{estimate['line']}"
    )
    if config.max_requests is not None and at_most > config.max_requests:
        store.close()
        raise ConfigError(
            f"this run may need {at_most} requests and --max-requests is {config.max_requests}: raise it, "
            "or answer fewer conversations (--limit)"
        )
    asker = load_teacher(config, needed_by="respond --base-url")
    failures, requests, reused, answering, reasoning_removed = FailureTally(), Counter(), 0, 0.0, 0
    tally = threading.Lock()
    bar = tqdm(total=turns_left, unit="turn", desc=f"respond ({lang.name})", disable=not progress)
    try:
        for turn in range(max((len(c.users) for c in conversations), default=0)):
            active = [c for c in conversations if c.reason is None and turn < len(c.users)]
            chats = {request_key(teacher, history(system, c, turn)): history(system, c, turn) for c in active}
            stored = store.get(sorted(chats))
            todo = [k for k in chats if k not in stored or stored[k][1] is not None]
            reused += len(chats) - len(todo)

            def save(index, reply, error, cut_off, keys=todo):
                store.save(keys[index], reply, error, cut_off)
                with tally:  # called from the request threads
                    failures.record(error)
                    requests["failed" if error else "answered"] += 1

            began = time.perf_counter()
            asker.ask([chats[k] for k in todo], save, failures.hopeless)
            answering += time.perf_counter() - began
            if failures.hopeless():
                raise DataError(
                    f"stopped: the first {sum(failures.failed.values())} requests all failed with "
                    f"{failures.hopeless()} — fix that and run the same command again"
                )
            replies = store.get(sorted(chats))
            for conv in active:
                chat = history(system, conv, turn)
                reply, error, cut_off = replies[request_key(teacher, chat)]
                if error is not None:
                    conv.reason, conv.reply, conv.turn = f"request_failed: {error}", None, turn
                    continue
                answer = without_reasoning(reply)  # reasoning never reaches the training data
                if answer.problem:
                    conv.reason, conv.reply, conv.turn = answer.problem, reply, turn
                    continue
                reply, reasoning_removed = answer.text, reasoning_removed + answer.had_reasoning
                reason = filters.answer_reason(
                    reply,
                    conv.users[turn],
                    lang,
                    cut_off=cut_off,
                    refusals=refusals,
                    extra=extra,
                    min_chars=config.min_chars,
                    max_chars=config.max_chars,
                )
                if reason is None and config.max_tokens is not None:
                    used = filters.tokens(" ".join(conv.users[: turn + 1]) + " ".join([*conv.answers, reply]))
                    reason = "over_max_tokens" if used > config.max_tokens else None
                if reason:
                    conv.reason, conv.reply, conv.turn = reason, reply, turn
                else:
                    conv.answers.append(reply)
            bar.update(len(active))
    finally:
        bar.close()
        store.close()
    report = _write(config, lang, teacher, conversations, left_out)
    report.requests = {"this_run": sum(requests.values()), **requests, "reused_from_store": reused}
    report.estimate = {k: v for k, v in estimate.items() if k != "line"}
    report.answering_seconds = round(answering, 2)
    report.reasoning_removed = reasoning_removed
    report.language_check = f"skipped: {language_check}" if language_check else use(config.lid).name
    report.seconds = round(time.perf_counter() - started, 2)
    report.write(Path(config.out) / "respond_report.json")
    if failures.failed:
        echo(f"warning: {failures.summary()}; a rerun of the same command retries them")
    if failures.all_failed() and not reused:  # answers from an earlier run were still written
        raise DataError(f"every request failed ({failures.summary()}): no answers were written")
    echo(
        f"{report.accepted} conversations → {config.out}; rejected {report.rejected} {report.rejected_by_reason}"
    )
    if config.push_to_hub:
        from lingualift.data_push import push_data

        url = push_data(
            config,
            config.out,
            what=f"Answers in {lang.name} (accepted in `train`, rejected with their reason in `rejected`)",
            source=config.data,
            made_by=f"answered by the teacher `{config.model}`",
            languages=[lang.tag],
            counts={"accepted": report.accepted, "rejected by reason": report.rejected_by_reason or "none"},
        )
        echo(f"pushed to {url}")
    return report


def _estimate(config: RespondConfig, conversations: list[Conversation], requests: int) -> dict:
    """Tokens a run may use (4 characters a token: prompts as sent, answers at --max-new-tokens)."""
    prompt_chars = sum(len(u) for c in conversations if c.reason is None for u in c.users)
    tokens = filters.tokens("x" * prompt_chars) + requests * config.max_new_tokens
    out = {"requests_at_most": requests, "tokens_at_most": tokens, "line": ""}
    if config.price_per_million_tokens is not None:
        out["cost_at_most"] = round(tokens / 1e6 * config.price_per_million_tokens, 4)
        out["line"] = f", about {tokens:,} tokens, cost at most {out['cost_at_most']}"
    return out


def _write(
    config: RespondConfig, lang, teacher: str, conversations: list[Conversation], left_out: list[dict]
) -> RespondReport:
    import datasets

    from lingualift.io import dataset_from_rows, save_dataset

    message = [{"role": datasets.Value("string"), "content": datasets.Value("string")}]
    accepted, rejected, pairs = [], [], []
    reasons = Counter(row["reason"] for row in left_out)
    for row in left_out:
        rejected.append(
            {"id": row["id"], "messages": [], "reason": row["reason"], "turn": None, "reply": None}
        )
    for conv in conversations:
        messages = _messages(conv)
        if conv.reason:
            reasons[conv.reason.split(":")[0]] += 1
            rejected.append(
                {
                    "id": conv.id,
                    "messages": messages,
                    "reason": conv.reason,
                    "turn": conv.turn,
                    "reply": conv.reply,
                }
            )
            continue
        accepted.append({"id": conv.id, "lang": lang.tag, "messages": messages, "teacher": teacher})
        if config.pairs_out and not config.rejected_from:
            pairs += _pairs(conv, messages, lang, conv.originals)
    out = Path(config.out)
    text = datasets.Value("string")
    train = datasets.Features({"id": text, "lang": text, "messages": message, "teacher": text})
    left = datasets.Features(
        {
            "id": datasets.Value("string"),
            "messages": message,
            "reason": datasets.Value("string"),
            "turn": datasets.Value("int64"),
            "reply": datasets.Value("string"),
        }
    )
    save_dataset(
        datasets.DatasetDict(
            {"train": dataset_from_rows(accepted, train), "rejected": dataset_from_rows(rejected, left)}
        ),
        out,
    )
    report = RespondReport(
        teacher=json.loads(teacher)[0],
        settings={"max_new_tokens": config.max_new_tokens, "temperature": config.temperature},
        lang=lang.tag,
        rows=len(conversations) + len(left_out),
        accepted=len(accepted),
        rejected=len(rejected),
        rejected_by_reason=dict(reasons.most_common()),
        accepted_turns=sum(len(c.answers) for c in conversations if c.reason is None),
    )
    if config.pairs_out and config.rejected_from:
        pairs = _pairs_from_model(config, lang, [c for c in conversations if c.reason is None])
    if config.pairs_out:
        pair = datasets.Features({"prompt": message, "chosen": message, "rejected": message})
        save_dataset(datasets.DatasetDict({"train": dataset_from_rows(pairs, pair)}), config.pairs_out)
        report.pairs = len(pairs)
    return report


def _messages(conv: Conversation) -> list[dict]:
    messages = [{"role": "system", "content": conv.system}] if conv.system else []
    for user, answer in zip(conv.users, conv.answers):
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return messages


def _pairs_from_model(config: RespondConfig, lang, conversations: list[Conversation]) -> list[dict]:
    """rejected: --rejected-from's own reply to each prompt (the conversation so far with the
    teacher's answers), where that reply is not in the language."""
    from lingualift.chat import generate_batch
    from lingualift.models import default_device, load_chat_model

    model, tokenizer = load_chat_model(
        config.rejected_from, device=default_device(config.device), trust_remote_code=config.trust_remote_code
    )
    places = [(conv, turn) for conv in conversations for turn in range(len(conv.answers))]
    chats = []
    for conv, turn in places:
        messages = _messages(conv)
        chats.append(messages[: (1 if conv.system else 0) + 2 * turn + 1])
    replies = generate_batch(
        model, tokenizer, chats, max_new_tokens=config.max_new_tokens, batch_size=config.batch_size
    )
    out = []
    for (conv, turn), reply in zip(places, replies):
        originals = [None] * len(conv.answers)
        originals[turn] = reply
        out += _pairs(conv, _messages(conv), lang, originals)
    return out


def _pairs(conv: Conversation, messages: list[dict], lang, others: list[str | None]) -> list[dict]:
    """chosen: the teacher's answer; rejected: another answer to the same prompt (the input's own,
    or --rejected-from's), where it is not in the language (what a tuned model too often says)."""
    from lingualift.evaluate.fidelity import judge_reply

    out = []
    offset = 1 if conv.system else 0
    for turn, original in enumerate(others):
        if not original or not original.strip() or judge_reply(original, lang).passed:
            continue
        prompt = messages[: offset + 2 * turn + 1]
        out.append(
            {
                "prompt": prompt,
                "chosen": [messages[offset + 2 * turn + 1]],
                "rejected": [{"role": "assistant", "content": original}],
            }
        )
    return out
