"""The conversations stage end to end: command line in, datasets that TRL trainers accept out."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.conversations.threads import ThreadsConfig, build_threads
from lingualift.demo.sample import load_sample
from lingualift.io import save_dataset


@pytest.fixture(scope="module")
def demo_source(tmp_path_factory):
    return str(save_dataset(load_sample(), tmp_path_factory.mktemp("src") / "demo"))


@pytest.fixture(scope="module")
def demo_threads(demo_source, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    code = main(
        [
            "threads",
            demo_source,
            "--out",
            str(out / "threads"),
            "--pairs-out",
            str(out / "pairs"),
            "--lang",
            "en",
        ]
    )
    assert code == 0
    return out


def test_threads_command_writes_datasets_report_and_message_ids(demo_threads):
    threads = datasets.load_from_disk(str(demo_threads / "threads"))
    pairs = datasets.load_from_disk(str(demo_threads / "pairs"))
    report = json.loads((demo_threads / "threads" / "threads_report.json").read_text())
    train = report["splits"]["train"]
    assert len(threads["train"]) == train["threads"] == 42  # 43 trees, one never answered
    assert len(pairs["train"]) == train["pairs"] > 0
    assert train["skipped_deleted"] == 4 and train["skipped_thread_without_assistant"] == 1
    first = threads["train"][0]["messages"]
    assert first[0] == {"role": "system", "content": "You are a helpful assistant. Always answer in English."}
    assert [m["role"] for m in first[1:3]] == ["user", "assistant"]
    ids = json.loads((demo_threads / "threads" / "thread_message_ids.json").read_text())["train"]
    assert len(ids) == train["thread_message_ids"] < train["messages"]  # translate only these


def test_system_prompt_follows_each_conversations_language():
    rows = [
        {"message_id": "r", "parent_id": None, "role": "prompter", "text": "Hoi", "lang": "nl", "rank": None},
        {"message_id": "a", "parent_id": "r", "role": "assistant", "text": "Hallo", "lang": "nl", "rank": 0},
        {
            "message_id": "s",
            "parent_id": None,
            "role": "prompter",
            "text": "Hola",
            "lang": "es",
            "rank": None,
        },
        {"message_id": "b", "parent_id": "s", "role": "assistant", "text": "Buenas", "lang": "es", "rank": 0},
    ]
    data = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)})
    threads, _, _ = build_threads(data, ThreadsConfig())
    systems = {r["lang"]: r["messages"][0]["content"] for r in threads["train"]}
    assert systems == {
        "nl": "You are a helpful assistant. Always answer in Dutch.",
        "es": "You are a helpful assistant. Always answer in Spanish.",
    }
    verbatim = "You are a generic chatbot that always answers in Dutch."
    threads, _, _ = build_threads(data, ThreadsConfig(system_prompt=verbatim))
    assert {r["messages"][0]["content"] for r in threads["train"]} == {verbatim}
    threads, _, _ = build_threads(data, ThreadsConfig(no_system_prompt=True))
    assert {r["messages"][0]["role"] for r in threads["train"]} == {"user"}


def test_other_formats_through_the_command(tmp_path):
    source = tmp_path / "alpaca.jsonl"
    source.write_text(
        json.dumps({"instruction": "Say hi", "input": "", "output": "Hi!"})
        + "\n"
        + json.dumps({"instruction": "", "input": "", "output": "orphan answer"})
        + "\n"
    )
    assert main(["threads", str(source), "--out", str(tmp_path / "out"), "--no-system-prompt"]) == 0
    threads = datasets.load_from_disk(str(tmp_path / "out"))["train"]
    assert threads[0]["messages"] == [
        {"role": "user", "content": "Say hi"},
        {"role": "assistant", "content": "Hi!"},
    ]
    report = json.loads((tmp_path / "out" / "threads_report.json").read_text())["splits"]["train"]
    assert report["format"] == "alpaca" and report["rows"] == 2 and report["skipped_empty_text"] == 1


def test_unknown_format_and_bad_options_are_one_line_errors(tmp_path, capsys):
    source = tmp_path / "qa.jsonl"
    source.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    assert main(["threads", str(source), "--out", str(tmp_path / "o")]) == 2
    assert "cannot tell the dataset format from its columns (question, answer)" in capsys.readouterr().err
    assert main(["threads", str(source), "--out", str(tmp_path / "o"), "--strategy", "worst"]) == 2
    assert "strategy" in capsys.readouterr().err
    assert main(["threads", str(source), "--out", str(tmp_path / "o"), "--render"]) == 2
    assert "render needs a template file" in capsys.readouterr().err


def test_render_adds_text_with_the_models_template(demo_source, tiny_chat_model, tmp_path):
    code = main(
        ["threads", demo_source, "--out", str(tmp_path / "r"), "--render", "--model", str(tiny_chat_model)]
    )
    assert code == 0
    row = datasets.load_from_disk(str(tmp_path / "r"))["train"][0]
    assert row["text"].startswith("<|im_start|>system\n") and row["messages"][1]["content"] in row["text"]


def test_threads_and_pairs_feed_trl_sft_and_dpo(demo_threads, tiny_chat_model, tmp_path):
    """TRL prepares (tokenizes, masks) our output and takes a training step without error."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    threads = datasets.load_from_disk(str(demo_threads / "threads"))["train"].select(range(8))
    pairs = datasets.load_from_disk(str(demo_threads / "pairs"))["train"].select(range(4))
    common = dict(
        max_steps=1,
        per_device_train_batch_size=2,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        logging_steps=1,
    )
    sft = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_chat_model),
        args=SFTConfig(output_dir=str(tmp_path / "sft"), max_length=256, **common),
        train_dataset=threads,
        processing_class=tokenizer,
    )
    assert sft.train().training_loss > 0
    dpo = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_chat_model),
        args=DPOConfig(output_dir=str(tmp_path / "dpo"), max_length=256, **common),
        train_dataset=pairs,
        processing_class=tokenizer,
    )
    assert dpo.train().training_loss > 0
