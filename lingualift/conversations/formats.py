"""Other chat/instruction formats → `messages`: ShareGPT, Alpaca, OpenAI messages, Dolly.

Each converter takes one row and returns (messages, None) or (None, reason) for a row that
cannot become a conversation, so the caller can count it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lingualift.errors import DataError

FORMATS = ("oasst", "sharegpt", "alpaca", "openai", "dolly")
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
}
Converted = tuple[list[dict] | None, str | None]


def detect_format(columns: list[str]) -> str:
    """Name the input format from its columns; DataError listing them when none matches."""
    have = set(columns)
    if {"message_id", "parent_id", "text", "role"} <= have:
        return "oasst"
    if "conversations" in have:
        return "sharegpt"
    if "messages" in have:
        return "openai"
    if {"instruction", "output"} <= have:
        return "alpaca"
    if {"instruction", "response"} <= have:
        return "dolly"
    raise DataError(
        f"cannot tell the dataset format from its columns ({', '.join(columns)}): expected oasst "
        "(message_id, parent_id, text, role), sharegpt (conversations), openai (messages), alpaca "
        "(instruction, input, output) or dolly (instruction, context, response) — or pass --format"
    )


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _check_turns(messages: list[dict]) -> str | None:
    turns = [m for m in messages if m["role"] != "system"]
    if not turns:
        return "no_turns"
    if any(not m["content"] for m in messages):
        return "empty_text"
    if turns[0]["role"] != "user":
        return "does_not_start_with_user"
    if any(a["role"] == b["role"] for a, b in zip(turns, turns[1:])):
        return "role_not_alternating"
    if not any(m["role"] == "assistant" for m in turns):
        return "no_assistant_turn"
    return None


def _trim_trailing_user(messages: list[dict]) -> list[dict]:
    while messages and messages[-1]["role"] == "user":
        messages = messages[:-1]
    return messages


def from_sharegpt(row: Mapping) -> Converted:
    turns = row.get("conversations") or []
    messages = []
    for turn in turns:
        role = SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
        if role is None:
            return None, "unknown_role"
        messages.append({"role": role, "content": _text(turn.get("value"))})
    messages = _trim_trailing_user(messages)
    reason = _check_turns(messages)
    return (None, reason) if reason else (messages, None)


def from_openai(row: Mapping) -> Converted:
    messages = []
    for turn in row.get("messages") or []:
        role = turn.get("role")
        if role not in ("system", "user", "assistant"):
            return None, "unknown_role"
        messages.append({"role": role, "content": _text(turn.get("content"))})
    messages = _trim_trailing_user(messages)
    reason = _check_turns(messages)
    return (None, reason) if reason else (messages, None)


def _instruction_pair(instruction, extra, answer) -> Converted:
    prompt = _text(instruction)
    if _text(extra):
        prompt = f"{prompt}\n\n{_text(extra)}"
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(answer)}]
    reason = _check_turns(messages)
    return (None, reason) if reason else (messages, None)


def from_alpaca(row: Mapping) -> Converted:
    return _instruction_pair(row.get("instruction"), row.get("input"), row.get("output"))


def from_dolly(row: Mapping) -> Converted:
    return _instruction_pair(row.get("instruction"), row.get("context"), row.get("response"))


CONVERTERS: dict[str, Callable[[Mapping], Converted]] = {
    "sharegpt": from_sharegpt,
    "openai": from_openai,
    "alpaca": from_alpaca,
    "dolly": from_dolly,
}
