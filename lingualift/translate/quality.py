"""Per-segment quality flags: what a reviewer should look at, and what training may skip.

Flags are short strings: `empty`, `repetition`, `length_ratio`, `wrong_language:<code>`,
`echo` (output is the source, or is still in the source language), `lost_placeholder`,
`commentary` (an LLM added text around the translation), `repetition_trimmed` (the hypothesis
looped after a full translation; the text before the loop was kept), `failed` (no translation at all).
"""

from __future__ import annotations

import re

from lingualift.translate.segment import LETTER

# A phrase of 2-6 words three times in a row, or one word four times.
REPEATED_WORDS = re.compile(r"\b((?:\w+\W+){2,6}?)\1{2,}|\b(\w+\W+)\2{3,}", re.UNICODE | re.IGNORECASE)
REPEATED_CHARS = re.compile(r"(.{2,20}?)\1{5,}", re.DOTALL)
# Scripts written without spaces have far fewer characters per word than Latin script.
DENSE_SCRIPTS = {"Hans", "Hant", "Jpan", "Kore", "Hani", "Thai", "Khmr", "Laoo", "Mymr"}
MIN_CHARS_FOR_LID = 20
LID_CONFIDENCE = 0.5


def has_repetition_loop(text: str, *, finished: bool = True) -> bool:
    """A phrase of 2-6 words three times in a row, a word four times, or a short run of characters
    repeated six or more times ("I'm sorry, but I'm sorry, but ..."). `finished=False`: `text` is
    the start of one still being written, so its last word may not be whole yet; a loop found then
    is found in whatever the text goes on to be."""
    return bool(REPEATED_WORDS.search(text + " " * finished) or REPEATED_CHARS.search(text))


def loop_free_prefixes(text: str) -> list[str]:
    """What a looping text may have said before it looped, shortest first: the text before the loop,
    then that text with one occurrence of the repeated phrase ("Hallo wereld. Hallo wereld. Hallo
    wereld." → ["Hallo wereld."]); [] when it holds no loop."""
    found = REPEATED_WORDS.search(text + " ") or REPEATED_CHARS.search(text)
    if found is None:
        return []
    before = text[: found.start()].strip()
    once = (text[: found.start()] + next(group for group in found.groups() if group)).strip()
    return [p for p in dict.fromkeys([before, once]) if p]


def length_ratio_ok(source: str, output: str, *, source_script: str, target_script: str) -> bool:
    if len(source) < 20:
        return True
    ratio = len(output) / len(source)
    low, high = 0.3, 3.0
    if target_script in DENSE_SCRIPTS and source_script not in DENSE_SCRIPTS:
        low, high = 0.1, 1.5
    elif source_script in DENSE_SCRIPTS and target_script not in DENSE_SCRIPTS:
        low, high = 0.7, 10.0
    return low <= ratio <= high


def _lid_label(code: str) -> str:
    from lingualift.language_id import normal

    return normal(code)


def detect_language(text: str) -> tuple[str, float] | None:
    """(ISO code, confidence) from the active language identifier (language_id: lid.176 unless --lid)."""
    from lingualift.language_id import active

    cleaned = " ".join(text.split())
    if len(cleaned) < MIN_CHARS_FOR_LID or not LETTER.search(cleaned):
        return None
    return active().identify(cleaned)


def segment_flags(
    source: str,
    output: str,
    *,
    source_lang: str,
    target_lang: str,
    source_script: str = "Latn",
    target_script: str = "Latn",
    placeholders_intact: bool = True,
) -> list[str]:
    """Flags for one translated segment (empty list when it looks clean)."""
    if not output.strip():
        return ["empty"] if source.strip() else []
    flags = []
    if has_repetition_loop(output) and not has_repetition_loop(source):
        flags.append("repetition")
    if not length_ratio_ok(source, output, source_script=source_script, target_script=target_script):
        flags.append("length_ratio")
    if " ".join(output.split()).casefold() == " ".join(source.split()).casefold() and LETTER.search(source):
        flags.append("echo")
    from lingualift.language_id import active

    # a target the identifier does not know would read as "another language" in every segment
    detected = detect_language(output) if active().knows(target_lang) else None
    if detected and detected[1] >= LID_CONFIDENCE:
        label = detected[0]
        if label == _lid_label(source_lang) and label != _lid_label(target_lang):
            if "echo" not in flags:
                flags.append("echo")
        elif label != _lid_label(target_lang):
            flags.append(f"wrong_language:{label}")
    if not placeholders_intact:
        flags.append("lost_placeholder")
    return flags
