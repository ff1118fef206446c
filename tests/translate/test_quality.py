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
    flags = segment_flags(SOURCE, "Het spijt me, maar ik kan je vandaag niet helpen met dat verzoek.",
                          source_lang="en", target_lang="nl", placeholders_intact=False)  # fmt: skip
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
