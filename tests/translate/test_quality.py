import pytest

from lingualift.translate.quality import has_repetition_loop, segment_flags

SOURCE = "I am sorry, but I cannot help you with that request today."


@pytest.mark.parametrize(
    "output, flag",
    [
        ("", "empty"),
        ("Het spijt me, maar het spijt me, maar het spijt me, maar het spijt me, maar", "repetition"),
        ("Sorry.", "length_ratio"),
        (SOURCE, "echo"),
        (
            "Je suis désolé, mais je ne peux pas vous aider avec cette demande aujourd'hui.",
            "wrong_language:fr",
        ),
    ],
)
def test_each_flag_fires_on_a_crafted_case(output, flag):
    assert flag in segment_flags(SOURCE, output, source_lang="en", target_lang="nl")


def test_lost_placeholder_flag():
    flags = segment_flags(
        SOURCE,
        "Het spijt me, maar ik kan je vandaag niet helpen met dat verzoek.",
        source_lang="en",
        target_lang="nl",
        placeholders_intact=False,
    )
    assert flags == ["lost_placeholder"]


def test_a_clean_translation_has_no_flags():
    output = "Het spijt me, maar ik kan je vandaag niet helpen met dat verzoek."
    assert segment_flags(SOURCE, output, source_lang="en", target_lang="nl") == []


def test_output_still_in_the_source_language_is_an_echo():
    output = "I am very sorry but I am not able to help with this request of yours today."
    assert "echo" in segment_flags(SOURCE, output, source_lang="en", target_lang="nl")


def test_dense_scripts_get_their_own_length_ratio():
    assert "length_ratio" not in segment_flags(
        "This is the first sentence.",
        "这是第一句。",
        source_lang="en",
        target_lang="zh",
        target_script="Hans",
    )


@pytest.mark.parametrize(
    "text, looping",
    [("ha ha ha ha ha", True), ("abcabcabcabcabcabcabc", True), ("A normal sentence with words.", False)],
)
def test_repetition_loop_detector(text, looping):
    assert has_repetition_loop(text) is looping


@pytest.mark.parametrize(
    "text, prefixes",
    [
        ("Hallo wereld. Hallo wereld. Hallo wereld. Hallo", ["Hallo wereld."]),
        (
            "Het weer is mooi vandaag. Ja ja ja ja ja",
            ["Het weer is mooi vandaag.", "Het weer is mooi vandaag. Ja"],
        ),
        ("Goedemorgen!!!!!!!!!!!!!!", ["Goedemorgen", "Goedemorgen!!"]),
        ("Een gewone zin zonder herhaling.", []),
        ("", []),
    ],
)
def test_the_text_before_a_loop_is_found(text, prefixes):
    from lingualift.translate.quality import loop_free_prefixes

    assert loop_free_prefixes(text) == prefixes


@pytest.mark.parametrize(
    "source, looped, kept",
    [
        (
            "The weather is nice today.",
            "Het weer is mooi vandaag. Ja ja ja ja ja",
            "Het weer is mooi vandaag.",
        ),
        (
            "Hello world, how are you?",
            "Hallo wereld, hoe gaat het? Hallo wereld, hoe gaat het? Hallo wereld, hoe gaat het?",
            "Hallo wereld, hoe gaat het?",
        ),
        (
            "The weather is very nice today and we are going for a walk in the park.",
            "Het Het Het Het Het",
            None,
        ),
        (
            "The weather is very nice today and we are going for a walk.",
            "The weather The weather The weather",
            None,
        ),
        ("No loop here at all, just words.", "Geen herhaling hier, alleen woorden.", None),
        # half sentences the demo model wrote before looping: retried, never kept
        ("So is a website an API?", "Het is het het het het", None),
        ("What is the capital of Australia?", "Ze capital de Australia is een een een een", None),
        (
            "Write a motivational message for a friend who failed an exam.",
            "Het kommerde op het voorbeeld van het examen examen examen examen",
            None,
        ),
    ],
)
def test_a_loop_after_a_full_translation_is_salvaged_else_retried(source, looped, kept):
    from lingualift.languages import get_language
    from lingualift.translate.engine import _salvaged
    from lingualift.translate.store import Result, Segment

    class Translator:
        name = "test"

    result = _salvaged(
        Translator(),
        Segment("k", source, "en", "nl"),
        Result(looped, ["repetition"], "ok", "test"),
        get_language("en"),
        get_language("nl"),
    )
    assert (result.output if result else None) == kept
    if result:
        assert "repetition_trimmed" in result.flags and "repetition" not in result.flags
