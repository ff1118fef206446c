"""Cutting wasted generation: loops (every backend) and the end of the translated line (LLMs)."""

import random

import pytest
import torch

from lingualift.languages import get_language
from lingualift.translate.backends.early_stop import (
    line_finished,
    looping_rows,
    loops,
    may_cut_loops,
    stop_wasted,
)

EN, NL = get_language("en"), get_language("nl")


@pytest.mark.parametrize(
    ("tokens", "looping"),
    [
        ([5] * 8, True),
        ([5] * 7, False),
        ([1, 2, 3] + [7, 8] * 4, True),
        ([7, 8] * 3, False),
        ([1, 2, 3, 4, 5, 6, 7, 8] * 4, True),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9] * 4, False),  # groups longer than 8 tokens are left to the flag
        ([7, 8] * 4 + [9], False),  # only the end counts: the loop was left
        (list(range(40)), False),
    ],
)
def test_loops(tokens, looping):
    assert loops(tokens) is looping


def test_the_tensor_check_agrees_with_the_list_check():
    rng = random.Random(0)
    rows = []
    for _ in range(300):
        group = [rng.randrange(4) for _ in range(rng.randint(1, 9))]
        row = [rng.randrange(4) for _ in range(rng.randint(0, 6))] + group * rng.randint(1, 9)
        rows.append((row + [rng.randrange(4) for _ in range(rng.randint(0, 2))])[-40:])
    width = max(len(r) for r in rows)
    padded = torch.tensor([[99] * (width - len(r)) + r for r in rows])  # left padding never loops with a row
    expected = [loops(r) for r in rows]
    assert looping_rows(padded).tolist() == expected and 20 < sum(expected) < 280


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("Hallo wereld.\n", True),
        ("Hallo wereld.", False),
        ("Here is the translation:\n", False),
        ("Sure!\n\n", False),
        ("\n\nHallo wereld.\nNote", True),
        ("Nederlands:\nHallo\n", True),
    ],
)
def test_line_finished(text, finished):
    assert line_finished(text) is finished


def test_a_source_ending_in_a_colon_ends_its_line_there():
    assert line_finished("Dit zijn de stappen:\n", colon_ends_a_line=True)


def test_sources_that_repeat_themselves_are_never_cut():
    assert may_cut_loops("Keep the bedroom dark, quiet and cool.")
    assert not may_cut_loops("ha ha ha ha ha ha")
    assert not may_cut_loops("It costs 1000000 euros.")


class Script:
    """A test-side logits processor: each row writes its scripted tokens, then eos."""

    def __init__(self, scripts, start, eos):
        self.scripts, self.start, self.eos = scripts, start, eos

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.start
        forced = torch.full_like(scores, float("-inf"))
        for row, script in enumerate(self.scripts):
            forced[row, script[step] if step < len(script) else self.eos] = 0
        return forced


# What each row's model writes, and what is left of it once the early stops cut it.
SOURCES = [
    "Hello world.",
    "Well done.",
    "One two.",
    "ha ha ha ha ha ha ha ha",
    "Good night.",
    "The steps:",
    "The weather is nice today.",
]
LONG_LOOP = "Het weer is mooi vandaag, "  # five words: more than 8 of the tiny tokenizer's tokens
WRITTEN = [
    "Hallo wereld.\nNote: a literal translation.",
    "Here is the translation:\nGoed gedaan.\nAnything else?",
    "een twee" + " een twee" * 12,
    "ha" + " ha" * 12,
    "Goedenacht.",
    "De stappen:\nEerst dit.",
    LONG_LOOP * 8,
]


def check_cut_rows(texts: list[str], cut: set[int]) -> None:
    assert texts[0] == "Hallo wereld.\n"
    assert texts[1] == "Here is the translation:\nGoed gedaan.\n"
    assert texts[2].startswith("een twee een twee een twee") and len(texts[2]) < len(WRITTEN[2])
    assert texts[3] == WRITTEN[3]  # the source repeats itself: never cut
    assert texts[4] == "Goedenacht."
    assert texts[5] == "De stappen:\n"
    # a phrase loop too long for the token rule (a group of 2-8 tokens four times) is cut where the
    # quality check's rule (a phrase of 2-6 words three times) already holds: after its third time
    assert texts[6].startswith(LONG_LOOP * 3) and LONG_LOOP * 4 not in texts[6]
    assert cut == {2, 6}


def scripted_generate(tiny_chat_model, caps=None):
    """generate over SOURCES where each row writes its WRITTEN script, with stop_wasted (and `caps`):
    (texts left, the criteria, the tokenizer, the scripts' ids)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList, StoppingCriteriaList

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    scripts = [tokenizer(w, add_special_tokens=False)["input_ids"] for w in WRITTEN]
    caps = caps(scripts) if callable(caps) else caps
    encoded = tokenizer([f"Translate: {s}" for s in SOURCES], return_tensors="pt", padding=True)
    start = encoded["input_ids"].shape[1]
    ends = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    stop = stop_wasted(SOURCES, start=start, end_ids=ends, tokenizer=tokenizer, caps=caps)
    output = model.generate(
        **encoded,
        max_new_tokens=60,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        logits_processor=LogitsProcessorList([Script(scripts, start, tokenizer.eos_token_id)]),
        stopping_criteria=StoppingCriteriaList([stop]),
    )
    return tokenizer.batch_decode(output[:, start:], skip_special_tokens=True), stop, tokenizer, scripts


def test_generate_stops_each_row_at_its_own_point(tiny_chat_model):
    texts, stop, _, _ = scripted_generate(tiny_chat_model)
    check_cut_rows(texts, stop.cut)


def test_the_ctranslate2_callback_stops_the_same_rows_at_the_same_points(tiny_chat_model):
    """LoopWatch is what ctranslate2.Generator calls after each token; fed the same scripts, it must
    leave what stop_wasted leaves (the token it stops at is kept, as CTranslate2 keeps it)."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from lingualift.translate.backends.early_stop import LoopWatch

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    watch = LoopWatch(SOURCES, tokenizer)
    texts = []
    for row, written in enumerate(WRITTEN):
        kept = []
        for token in tokenizer(written, add_special_tokens=False)["input_ids"]:
            kept.append(token)
            if watch(SimpleNamespace(batch_id=row, token_id=token)):
                break
        texts.append(tokenizer.decode(kept, skip_special_tokens=True))
    check_cut_rows(texts, watch.cut)


def test_a_looping_hypothesis_is_cut_flagged_and_ctranslate2_cuts_it_at_the_same_token(
    tiny_marian, monkeypatch, tmp_path
):
    from lingualift.translate.backends.ct2 import CT2Translator
    from lingualift.translate.backends.seq2seq import Seq2SeqTranslator

    monkeypatch.setenv("LINGUALIFT_CACHE", str(tmp_path))
    texts = ["Keep the bedroom dark, quiet and cool.", "How do I make my houseplants grow better?", "Short."]
    hf = Seq2SeqTranslator("opus", str(tiny_marian))
    hf.early_stop = False
    whole = hf.translate(texts, EN, NL, max_new_tokens=80)
    hf.early_stop = True
    cut = hf.translate(texts, EN, NL, max_new_tokens=80)
    assert any("repetition" in t.flags for t in cut)  # the random model loops
    for full, short in zip(whole, cut):
        if "repetition" in short.flags:
            assert len(short.text) < len(full.text) and full.text.startswith(short.text.rstrip())
        else:
            assert short.text == full.text
    ct2 = CT2Translator("opus", str(tiny_marian), compute_type="float32")
    assert [(t.text, t.flags) for t in ct2.translate(texts, EN, NL, max_new_tokens=80)] == [
        (t.text, t.flags) for t in cut
    ]


def test_a_row_at_its_own_cap_stops_there_and_is_marked_unless_its_last_token_ended_it(tiny_chat_model):
    """Per-row caps, in generate's StoppingCriteria and in CTranslate2's callback alike: the first row
    stops at 3 tokens (capped); the fifth row's cap falls on its eos, so it ended and is not capped; a
    looping row is cut for its loop, not counted as capped."""
    from types import SimpleNamespace

    from lingualift.translate.backends.early_stop import LoopWatch

    def caps(scripts):
        return [3, 60, 60, 60, len(scripts[4]) + 1, 60, 60]

    texts, stop, tokenizer, scripts = scripted_generate(tiny_chat_model, caps)
    assert texts[0] == tokenizer.decode(scripts[0][:3]) and texts[4] == "Goedenacht."
    assert (stop.capped, stop.cut) == ({0}, {2, 6})

    ends = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    watch = LoopWatch(SOURCES, tokenizer, caps(scripts), ends)
    for row, script in enumerate(scripts):
        for token in [*script, tokenizer.eos_token_id]:
            if watch(SimpleNamespace(batch_id=row, token_id=token)):
                break
    assert (watch.capped, watch.cut) == ({0}, {2, 6})
    assert len(watch.tokens[0]) == 3


def test_a_text_loop_is_cut_only_where_the_finished_text_is_flagged_for_it(tiny_chat_model):
    """TextLoops reads a window of the row's last tokens after each word: wherever it cuts, the text
    written so far (and so anything it goes on to be) holds the loop the quality check flags, however
    the window starts (inside a word, inside a character) and whatever the script; and a word still
    being written ("het het het het" on its way to "hetze") is not taken for a repeat."""
    from transformers import AutoTokenizer

    from lingualift.translate.backends.early_stop import TEXT_WINDOW, TextLoops
    from lingualift.translate.quality import has_repetition_loop

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    rng = random.Random(1)
    words = "de het een man vrouw hoed straat mooi weer ï café 天气 很好 hetze, wereld. ja".split()
    cuts = 0
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 60)))
        if rng.random() < 0.6:  # a loop of 1-7 words, 2-5 times, then more text
            phrase = " ".join(rng.choice(words) for _ in range(rng.randint(1, 7))) + rng.choice([" ", ", "])
            text += " " + phrase * rng.randint(2, 5) + " ".join(rng.choice(words) for _ in range(3))
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        loops = TextLoops(tokenizer)
        for n in range(1, len(ids) + 1):
            if loops.found(ids[n - 1], ids[:n]):
                written = tokenizer.decode(ids[:n])
                assert has_repetition_loop(written, finished=False) and has_repetition_loop(text), text
                cuts += 1
                break
    assert cuts > 50  # the loops were found, not just never cut
    hetze = tokenizer("het het het hetze is", add_special_tokens=False)["input_ids"]
    loops = TextLoops(tokenizer)
    assert not any(loops.found(hetze[n - 1], hetze[:n]) for n in range(1, len(hetze) + 1))
    # past the window: a loop at the end of a long text is still found
    long = tokenizer(" ".join(words[:12]) * 8 + " de man de man de man ja", add_special_tokens=False)[
        "input_ids"
    ]
    loops = TextLoops(tokenizer)
    found = [n for n in range(1, len(long) + 1) if loops.found(long[n - 1], long[:n])]
    assert len(long) > TEXT_WINDOW and found and found[0] > TEXT_WINDOW
