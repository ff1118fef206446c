import pytest

from lingualift.conversations import formats
from lingualift.errors import DataError


@pytest.mark.parametrize(
    "columns, expected",
    [
        (["message_id", "parent_id", "text", "role", "rank"], "oasst"),
        (["id", "conversations"], "sharegpt"),
        (["messages"], "openai"),
        (["instruction", "input", "output"], "alpaca"),
        (["instruction", "context", "response", "category"], "dolly"),
    ],
)
def test_format_is_detected_from_columns(columns, expected):
    assert formats.detect_format(columns) == expected


def test_unknown_format_lists_the_columns():
    with pytest.raises(DataError, match=r"from its columns \(question, answer\)"):
        formats.detect_format(["question", "answer"])


U, A, S = "user", "assistant", "system"


@pytest.mark.parametrize(
    "fmt, row, expected",
    [
        (
            "sharegpt",
            {
                "conversations": [
                    {"from": "system", "value": "Be brief."},
                    {"from": "human", "value": "Hi"},
                    {"from": "gpt", "value": "Hello"},
                    {"from": "human", "value": "Bye?"},
                ]
            },
            [(S, "Be brief."), (U, "Hi"), (A, "Hello")],  # trailing user turn trimmed
        ),
        (
            "openai",
            {"messages": [{"role": "user", "content": " Q "}, {"role": "assistant", "content": "A"}]},
            [(U, "Q"), (A, "A")],
        ),
        (
            "alpaca",
            {"instruction": "Translate", "input": "cat", "output": "kat"},
            [(U, "Translate\n\ncat"), (A, "kat")],
        ),
        ("alpaca", {"instruction": "Say hi", "input": "", "output": "hi"}, [(U, "Say hi"), (A, "hi")]),
        (
            "dolly",
            {"instruction": "Summarise", "context": "Long text", "response": "Short"},
            [(U, "Summarise\n\nLong text"), (A, "Short")],
        ),
    ],
)
def test_each_format_becomes_messages(fmt, row, expected):
    messages, reason = formats.CONVERTERS[fmt](row)
    assert reason is None
    assert [(m["role"], m["content"]) for m in messages] == expected


@pytest.mark.parametrize(
    "fmt, row, reason",
    [
        ("sharegpt", {"conversations": [{"from": "alien", "value": "x"}]}, "unknown_role"),
        (
            "sharegpt",
            {"conversations": [{"from": "gpt", "value": "x"}, {"from": "human", "value": "y"}]},
            "does_not_start_with_user",
        ),
        (
            "openai",
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "user", "content": "b"},
                    {"role": "assistant", "content": "c"},
                ]
            },
            "role_not_alternating",
        ),
        ("alpaca", {"instruction": "Q", "input": None, "output": ""}, "empty_text"),
        ("dolly", {"instruction": None, "context": None, "response": "x"}, "empty_text"),
        ("openai", {"messages": []}, "no_turns"),
    ],
)
def test_rows_that_cannot_be_conversations_give_a_reason(fmt, row, reason):
    assert formats.CONVERTERS[fmt](row) == (None, reason)
