import pytest

from lingualift.translate.segment import join_message, restore, split_message

CASES = {
    "plain": "Hello there. How are you today? I am fine!",
    "code block": "Run this:\n\n```python\ndef f(x):\n    return x  # keep me\n```\n\nThen call it.",
    "inline code and url": "Use `margin: 0 auto;` on the div. See https://developer.mozilla.org/en-US/docs/Web/CSS.",
    "lists": "Steps:\n\n1. Open the file.\n2. Save it.\n\n- first point\n  - nested point\n* star item",
    "table": "| Day | Workout |\n| --- | --- |\n| Monday | 30 min walk |\n| Friday | Rest day |",
    "heading and quote": "# Title\n\n> A quoted line. Another sentence.\n\n## Sub title",
    "whitespace": "  Leading spaces.\r\nWindows line.\n\n\n   Trailing spaces.   \n",
    "only code": "```\nno prose at all\n```",
    "unterminated fence": "Text.\n```bash\necho hi",
    "cjk": "这是第一句。这是第二句！",
    "numbers only": "123 456\n---\n",
}


@pytest.mark.parametrize("name", CASES)
def test_identity_translation_gives_the_input_back_byte_for_byte(name):
    text = CASES[name]
    pieces = split_message(text)
    joined, intact = join_message(pieces, [p.text for p in pieces if p.translate])
    assert joined == text
    assert intact


def test_code_urls_and_markup_are_never_sent_to_the_translator():
    text = CASES["code block"] + "\n" + CASES["inline code and url"] + "\n" + CASES["lists"]
    sent = " ".join(p.text for p in split_message(text) if p.translate)
    for kept in ("def f(x)", "```", "margin: 0 auto;", "https://", "1. ", "- first"):
        assert kept not in sent
    assert "⟦0⟧" in sent


def test_translated_pieces_keep_the_structure_around_them():
    pieces = split_message(CASES["lists"])
    joined, _ = join_message(pieces, [p.text.upper() for p in pieces if p.translate])
    assert (
        joined == "STEPS:\n\n1. OPEN THE FILE.\n2. SAVE IT.\n\n- FIRST POINT\n  - NESTED POINT\n* STAR ITEM"
    )


def test_placeholders_are_restored_and_a_lost_one_is_reported():
    piece = next(p for p in split_message(CASES["inline code and url"]) if p.translate)
    text, intact = restore(piece, "Gebruik ⟦0⟧ op de div.")
    assert text == "Gebruik `margin: 0 auto;` op de div." and intact
    text, intact = restore(piece, "Gebruik het op de div.")
    assert not intact


def test_a_200k_character_message_is_cut_into_bounded_segments():
    text = ("word " * 40_000).strip() + "."
    pieces = split_message(text, max_chars=500)
    sent = [p.text for p in pieces if p.translate]
    assert max(len(s) for s in sent) <= 500 and len(sent) >= 400
    assert join_message(pieces, sent)[0] == text


def _count_chars_as_tokens(scale: float):
    return lambda texts: [int(len(t) * scale) + 2 for t in texts]  # +2: the special tokens a tokenizer adds


@pytest.mark.parametrize(
    "text, scale, limit",
    [
        ("这是第一句，它很长。" * 60, 1.5, 100),  # Chinese: ~1.5 tokens a character, no spaces
        ("word " * 400, 0.3, 40),
        ("def f(x): return [y for y in range(x) if y % 2 == 0]; " * 30, 0.6, 64),
        ("a" * 900, 0.25, 50),  # one unbroken run: cut anywhere
        ("Short enough.", 1.0, 100),
    ],
)
def test_token_cut_keeps_every_chunk_under_the_limit_and_loses_nothing(text, scale, limit):
    from lingualift.translate.segment import cut_by_tokens

    count = _count_chars_as_tokens(scale)
    chunks = cut_by_tokens(text, limit, count)
    assert "".join(chunks) == text
    assert all(n <= limit for n in count(chunks))
    assert (len(chunks) == 1) == (count([text])[0] <= limit)


def test_chinese_is_cut_at_its_own_clause_marks():
    from lingualift.translate.segment import cut_by_tokens

    chunks = cut_by_tokens("这是第一句，它很长。" * 60, 100, _count_chars_as_tokens(1.5))
    assert all(c.endswith(("，", "。")) for c in chunks[:-1])


def test_runs_of_spaces_never_become_a_chunk_of_their_own():
    from lingualift.translate.segment import cut_by_tokens

    text = "woord" + "      woord" * 40
    chunks = cut_by_tokens(text, 6, lambda texts: [len(t.split()) * 2 + 1 for t in texts])
    assert "".join(chunks) == text and all(c.strip() for c in chunks)
