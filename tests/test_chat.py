"""`lingualift chat`: REPL (driven through a pseudo-terminal), one-shot and batch modes."""

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from lingualift.chat import ChatConfig, read_batch, repl, reply_once
from lingualift.cli import main
from lingualift.models import load_chat_model


@pytest.fixture(scope="module")
def loaded(talkative_chat_model):
    return load_chat_model(str(talkative_chat_model))


def test_the_repl_keeps_the_conversation_and_obeys_its_commands(loaded, talkative_chat_model):
    model, tokenizer = loaded
    lines = iter(
        ["Hoi, hoe gaat het?", "Wat eet je?", "/system Antwoord kort.", "Noem een kleur.", "/reset", "/exit"]
    )
    shown: list[str] = []
    config = ChatConfig(model=str(talkative_chat_model), max_new_tokens=6)
    repl(
        model,
        tokenizer,
        config,
        read=lambda prompt: next(lines),
        write=lambda *a, end="\n", **k: shown.append("".join(a) + end),
    )
    text = "".join(shown)
    replies = [line[len("model> ") :] for line in text.split("\n") if line.startswith("model> ")]
    assert len(replies) == 3
    first = reply_once(
        model, tokenizer, [{"role": "user", "content": "Hoi, hoe gaat het?"}], max_new_tokens=6
    )[0]
    second = reply_once(
        model,
        tokenizer,
        [
            {"role": "user", "content": "Hoi, hoe gaat het?"},
            {"role": "assistant", "content": first},
            {"role": "user", "content": "Wat eet je?"},
        ],
        max_new_tokens=6,
    )[0]
    alone = reply_once(model, tokenizer, [{"role": "user", "content": "Wat eet je?"}], max_new_tokens=6)[0]
    assert first and second and len({first, second, alone}) == 3  # replies carry text, per prompt
    assert replies[0].strip() == first and replies[1].strip() == second  # the history was sent
    third = reply_once(
        model,
        tokenizer,
        [{"role": "system", "content": "Antwoord kort."}, {"role": "user", "content": "Noem een kleur."}],
        max_new_tokens=6,
    )[0]
    without = reply_once(
        model, tokenizer, [{"role": "user", "content": "Noem een kleur."}], max_new_tokens=6
    )[0]
    assert third != without  # the system prompt reaches the model
    assert replies[2].strip() == third  # /system set the prompt and started a new conversation
    assert (
        "(system prompt: Antwoord kort.; conversation cleared)" in text and "(conversation cleared)" in text
    )


def _read_until(fd: int, marker: str, timeout: float = 120) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
    assert marker in seen, seen[-2000:]
    return seen


def test_the_repl_on_a_real_terminal_streams_replies_and_exits(tiny_chat_model):
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "lingualift", "chat", str(tiny_chat_model), "--max-new-tokens", "5"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    try:
        _read_until(leader, "you> ")
        os.write(leader, b"Hoi!\n")
        after = _read_until(leader, "you> ")
        assert "model> " in after
        os.write(leader, b"/reset\n")
        _read_until(leader, "(conversation cleared)")
        os.write(leader, b"/exit\n")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        os.close(leader)


def test_one_shot_prompt_prints_the_reply(talkative_chat_model, loaded, capfd):
    assert (
        main(["chat", str(talkative_chat_model), "--prompt", "Noem een kleur.", "--max-new-tokens", "5"]) == 0
    )
    model, tokenizer = loaded
    expected = reply_once(
        model, tokenizer, [{"role": "user", "content": "Noem een kleur."}], max_new_tokens=5
    )[0]
    assert expected  # a reply with text: printing nothing would fail
    assert capfd.readouterr().out.strip() == expected


def test_batch_mode_answers_every_row_in_input_order(talkative_chat_model, tmp_path, loaded):
    rows = [
        {"prompt": "Hoi"},
        {"messages": [{"role": "user", "content": "Wat is de hoofdstad van Nederland?"}]},
        {"prompt": "Noem een kleur.", "id": 7},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "chat",
                str(talkative_chat_model),
                "--input",
                str(source),
                "--out",
                str(out),
                "--max-new-tokens",
                "4",
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [{k: v for k, v in w.items() if k != "reply"} for w in written] == rows
    model, tokenizer = loaded
    chats = [
        [{"role": "user", "content": "Hoi"}],
        rows[1]["messages"],
        [{"role": "user", "content": "Noem een kleur."}],
    ]
    alone = [reply_once(model, tokenizer, chat, max_new_tokens=4)[0] for chat in chats]
    assert all(alone) and len(set(alone)) == 3  # each reply has text of its own
    assert [w["reply"] for w in written] == alone  # batching and sorting did not mix replies up


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json\n", "in.jsonl:1: not JSON"),
        ('{"prompt": ""}\n', "in.jsonl:1: expected a non-empty `prompt`"),
        ('{"prompt": "ok"}\n[1, 2]\n', "in.jsonl:2: expected"),
    ],
)
def test_bad_batch_rows_are_one_clear_error_before_loading(content, message, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(content)
    with pytest.raises(Exception, match=message.split(": ", 1)[1][:10]):
        read_batch(str(source))
    code = main(["chat", "no/such-model", "--input", str(source), "--out", str(tmp_path / "o.jsonl")])
    assert code == 2 and message in capsys.readouterr().err


def test_greedy_batches_give_each_chat_the_reply_it_gets_alone(demo_model_path):
    """generate_batch's pruned loop (finished replies leave the batch, the shared system turn is
    forwarded once) writes what one greedy generate per chat writes, and knows which were cut off."""
    from lingualift.chat import generate_batch

    model, tokenizer = load_chat_model(str(demo_model_path))
    system = {"role": "system", "content": "You are a helpful assistant. Answer in one short sentence."}
    prompts = [
        "Hi!",
        "What is 2+2?",
        "Name a colour.",
        "Write a long story about a dragon and a king.",
        "Bye.",
    ]
    chats = [[system, {"role": "user", "content": p}] for p in prompts] + [
        [{"role": "user", "content": "Say yes."}]  # no system turn: the chats share only the template
    ]
    alone = [reply_once(model, tokenizer, chat, max_new_tokens=24) for chat in chats]
    for some in (chats[:-1], chats):  # with a shared system turn cached once, and without
        cut: list = []
        replies = generate_batch(model, tokenizer, some, max_new_tokens=24, batch_size=4, cut_off=cut)
        assert replies == [reply for reply, *_ in alone[: len(some)]]
        assert cut == [finish == "length" for *_, finish in alone[: len(some)]]
    assert {finish for *_, finish in alone} == {"stop", "length"}  # both kinds of ending were compared


@pytest.mark.parametrize(
    "settings, plain",
    [
        ({}, True),
        ({"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "num_beams": 1}, True),
        ({"repetition_penalty": 1.05}, False),  # Qwen2.5-Instruct's generation_config
        ({"no_repeat_ngram_size": 3}, False),
        ({"min_new_tokens": 4}, False),
        ({"num_beams": 4}, False),
        ({"suppress_tokens": [5]}, False),
        ({"forced_eos_token_id": 2}, False),
    ],
)
def test_greedy_batches_use_the_pruned_loop_only_where_generate_would_be_plain_argmax(settings, plain):
    from transformers import GenerationConfig

    from lingualift.chat import plain_greedy

    assert plain_greedy(GenerationConfig(**settings)) is plain
    assert plain_greedy(None)


def test_a_model_whose_config_penalises_repeats_gets_generate_s_replies(loaded):
    """With a repetition penalty in the generation config, greedy batches go through generate (which
    applies it), so a reply is what one greedy generate gives that chat, penalty included."""
    from lingualift.chat import generate_batch

    model, tokenizer = loaded
    chat = [{"role": "user", "content": "Hoi, hoe gaat het?"}]
    before = model.generation_config.repetition_penalty
    try:
        model.generation_config.repetition_penalty = 5.0
        penalised = generate_batch(model, tokenizer, [chat], max_new_tokens=12)
        assert penalised == [reply_once(model, tokenizer, chat, max_new_tokens=12)[0]]
        model.generation_config.repetition_penalty = None
        plain = generate_batch(model, tokenizer, [chat], max_new_tokens=12)
    finally:
        model.generation_config.repetition_penalty = before
    assert plain == [reply_once(model, tokenizer, chat, max_new_tokens=12)[0]]
    assert penalised != plain  # the penalty changed the reply: the test can tell the two paths apart
