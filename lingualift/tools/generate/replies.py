"""A generator's reply read as question-answer pairs (JSON, repaired JSON, or labelled lines), and
each pair checked: both fields, the answer's language, its grounding in the chunk, no repeated question."""

from __future__ import annotations

import json
import re

from lingualift.tools.generate.documents import WORD

# "Question: ... Answer: ..." (or Q:/A:), what small models write instead of JSON
_LABEL = r"[ \t]*(?:\d+[.)][ \t]*)?(?:\*\*)?(?:{})[ \t]*\d*(?:\*\*)?[ \t]*[:.](?:\*\*)?[ \t]*"
QUESTION, ANSWER = _LABEL.format("question|q"), _LABEL.format("answer|a")
LABELLED = re.compile(
    rf"^{QUESTION}(.+?)\s*\n{ANSWER}(.+?)[ \t]*(?=\n\s*\n|\n{QUESTION}|\Z)",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)


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
    pair = {
        "question": None if question is None else str(question).strip(),
        "answer": None if answer is None else str(answer).strip(),
    }
    if not pair["question"] or not pair["answer"]:
        return pair, "empty_field"
    from lingualift.language_id import active, normal

    found = detect_language(pair["answer"]) if active().knows(lang_code) else None  # unknown: said once
    if found and found[0] != normal(lang_code):
        return pair, f"wrong_language:{found[0]}"
    if grounding(pair["answer"], chunk) < min_grounding:
        return pair, "ungrounded"
    key = " ".join(_words(pair["question"]))
    if key in seen:
        return pair, "duplicate_question"
    seen.add(key)
    return pair, None


def complete_in(reply: str, answer: str) -> bool:
    """Whether the reply holds the answer as a finished JSON string (closing quote included)."""
    return any(json.dumps(answer, ensure_ascii=ascii_only) in reply for ascii_only in (False, True))
