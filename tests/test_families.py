"""The family bench (tests/families.py): the models users bring — Llama 3 instruct, a Llama base with
no template, Qwen2.5 base, Qwen3 (thinking), Gemma 3 text and multimodal, Mistral v0.3 — each
trained, chatted with, served, translated with, and exported through our commands. Read it as a
table: one row per family, the same checks on each."""

import json

import datasets
import pytest

from lingualift.chat_model import (
    end_of_turn_ids,
    stop_ids,
    turn_end_text,
    use_chat_template,
    without_reasoning,
)
from lingualift.cli import main
from lingualift.io import save_dataset
from lingualift.train.data import IGNORE, tokenize_conversation
from tests.builders import preference_pairs
from tests.families import FAMILIES, build_family

SYSTEM = "Antwoord altijd in het Nederlands."
TRANSLATE = "Translate the following text from English into Dutch.\nEnglish: Good morning\nDutch:"
CONVERSATIONS = [
    [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Hoi, hoe gaat het?"},
        {"role": "assistant", "content": "Goed, dank je!"},
        {"role": "user", "content": "Wat eet je?"},
        {"role": "assistant", "content": "Ik eet appels."},
    ],
    [{"role": "user", "content": "Wat is de hoofdstad?"}, {"role": "assistant", "content": "Amsterdam."}],
    [{"role": "user", "content": "Noem een kleur."}, {"role": "assistant", "content": "Blauw is mooi."}],
    [{"role": "user", "content": TRANSLATE}, {"role": "assistant", "content": "Goedemorgen"}],
]
TEXTS = [m["content"] for c in CONVERSATIONS for m in c]
ids = [f.name for f in FAMILIES]


def _option(family) -> list[str]:
    return ["--chat-template", family.chat_template_option] if family.chat_template_option else []


def _tokenizer(family, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(build_family(family, tmp_path / family.name, TEXTS))
    if family.chat_template_option:
        use_chat_template(tokenizer, family.chat_template_option, where=family.name)
    return tokenizer


@pytest.fixture(scope="module")
def threads(tmp_path_factory):
    rows = [{"id": str(i), "lang": "nl", "messages": m} for i, m in enumerate(CONVERSATIONS)]
    return str(save_dataset(datasets.Dataset.from_list(rows), tmp_path_factory.mktemp("threads") / "t"))


@pytest.mark.parametrize("family", FAMILIES, ids=ids)
def test_the_end_of_turn_is_found_by_rendering_and_stops_generation(family, tmp_path):
    from transformers import GenerationConfig

    tokenizer = _tokenizer(family, tmp_path)
    assert turn_end_text(tokenizer).strip() == family.end_of_turn
    end = tokenizer.convert_tokens_to_ids(family.end_of_turn)
    assert end_of_turn_ids(tokenizer) == [end]

    class Model:  # what stop_ids reads of a model: its generation config, which names eos only
        generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id)

    assert end in stop_ids(Model(), tokenizer) and tokenizer.eos_token_id in stop_ids(Model(), tokenizer)


@pytest.mark.parametrize("family", FAMILIES, ids=ids)
def test_assistant_labels_are_the_answers_and_their_end_of_turn_with_a_system_prompt_and_two_turns(
    family, tmp_path
):
    tokenizer = _tokenizer(family, tmp_path)
    row = tokenize_conversation(tokenizer, CONVERSATIONS[0], max_length=512, assistant_only=True)
    learned = tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != IGNORE])
    end = family.end_of_turn
    # Mistral writes a space before the content, which its first token carries
    assert (
        learned.replace("\n", "").replace(f"{end} ", end).strip() == f"Goed, dank je!{end}Ik eet appels.{end}"
    )
    everything = tokenize_conversation(tokenizer, CONVERSATIONS[0], max_length=512, assistant_only=False)
    assert everything["labels"] == everything["input_ids"]  # --all-tokens needs no spans


@pytest.mark.parametrize(
    "reply, answer, had, problem",
    [
        ("<think>\nweigh it\n</think>\n\nGoedemorgen", "Goedemorgen", True, None),
        ("weigh it</think>Goedemorgen", "Goedemorgen", True, None),  # opening tag was in the prompt
        ("<think>\nstill thinking", "", True, "unclosed_reasoning"),
        ("<think>all of it</think>  ", "", True, "only_reasoning"),
        ("Goedemorgen", "Goedemorgen", False, None),
        ("Ik schrijf <think> als woord", "Ik schrijf <think> als woord", False, None),
    ],
)
def test_reasoning_is_taken_out_of_a_reply(reply, answer, had, problem):
    found = without_reasoning(reply)
    assert (found.text, found.had_reasoning, found.problem) == (answer, had, problem)


def test_a_base_model_without_a_template_is_one_line_naming_the_option(tmp_path, threads, capsys):
    base = build_family(FAMILIES[1], tmp_path / "base", TEXTS)
    capsys.readouterr()
    assert main(["train", "sft", "--model", str(base), "--data", threads, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--chat-template chatml" in err[0]


@pytest.mark.parametrize("family", FAMILIES, ids=ids)
def test_each_family_learns_to_answer_and_stops_at_its_end_of_turn(family, tmp_path, threads):
    """Full fine-tuning memorises the four conversations; then chat, serve and the LLM translator,
    each through its own path, give exactly the trained answer and stop there, with no role text
    after it — which needs the end of turn in the labels and in every path's stop ids."""
    base = build_family(family, tmp_path / "base", TEXTS)
    out = tmp_path / "sft"
    args = ["--model", str(base), "--data", threads, "--out", str(out), "--full", "--max-steps", "150"]
    args += ["--lr", "5e-3", "--batch-size", "4", *_option(family)]
    assert main(["train", "sft", *args]) == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["final_loss"] < 0.05
    saved = json.loads((out / "generation_config.json").read_text())
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    end = tokenizer.convert_tokens_to_ids(family.end_of_turn)
    assert end in (
        [saved["eos_token_id"]] if isinstance(saved["eos_token_id"], int) else saved["eos_token_id"]
    )

    # chat --input, batched greedy (the pruned loop)
    prompts = tmp_path / "prompts.jsonl"
    chats = [CONVERSATIONS[0][:2], CONVERSATIONS[0][:4], CONVERSATIONS[1][:1], CONVERSATIONS[2][:1]]
    if family.drops_system:  # the template trained on these conversations without their system prompt
        chats = [[m for m in chat if m["role"] != "system"] for chat in chats]
    prompts.write_text("".join(json.dumps({"messages": c}) + "\n" for c in chats))
    replies_file = tmp_path / "replies.jsonl"
    assert (
        main(
            ["chat", str(out), "--input", str(prompts), "--out", str(replies_file), "--max-new-tokens", "48"]
        )
        == 0
    )
    replies = [json.loads(line)["reply"] for line in replies_file.read_text().splitlines()]
    assert replies == ["Goed, dank je!", "Ik eet appels.", "Amsterdam.", "Blauw is mooi."]

    # serve, through the official client
    import threading

    from openai import OpenAI

    from lingualift.serve.config import ServeConfig
    from lingualift.serve.server import start_server

    server = start_server(ServeConfig(model=str(out), port=0), echo=lambda *_: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]
        client = OpenAI(base_url=f"http://{host}:{port}/v1", api_key="x", max_retries=0, timeout=120)
        answer = client.chat.completions.create(model="m", messages=CONVERSATIONS[1][:1], max_tokens=48)
        assert answer.choices[0].finish_reason == "stop"
        assert answer.choices[0].message.content.strip() == "Amsterdam."  # Mistral: a space before
    finally:
        server.shutdown()
        server.server_close()

    # the tuned model as a local LLM translator (thinking off for a thinking template)
    from lingualift.languages import get_language
    from lingualift.translate.backends.llm import LLMTranslator

    translator = LLMTranslator(str(out))
    [translation] = translator.translate(
        ["Good morning"], get_language("en"), get_language("nl"), max_new_tokens=48
    )
    assert translation.text == "Goedemorgen" and "truncated_output" not in translation.flags


@pytest.mark.parametrize("family", FAMILIES, ids=ids)
def test_each_family_trains_lora_and_dpo_and_merges_to_a_model_that_stops(family, tmp_path, threads):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = build_family(family, tmp_path / "base", TEXTS)
    sft = tmp_path / "sft"
    common = ["--max-steps", "2", "--batch-size", "2", *_option(family)]
    assert main(["train", "sft", "--model", str(base), "--data", threads, "--out", str(sft), *common]) == 0
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(base),
                "--data",
                threads,
                "--out",
                str(tmp_path / "all"),
                "--all-tokens",
                *common,
            ]
        )
        == 0
    )
    adapter = json.loads((sft / "adapter_config.json").read_text())
    if family.name == "gemma3-multimodal":  # LoRA on the language model only, never the vision tower
        assert "language_model" in str(adapter["target_modules"])
    from safetensors import safe_open

    with safe_open(str(sft / "adapter_model.safetensors"), "pt") as weights:
        names = list(weights.keys())
    assert names and not any("vision" in n for n in names)
    if family.chat_template_option:  # new tokens: their embedding rows were trained and saved
        assert any("embed_tokens" in n for n in names)

    pairs = preference_pairs(CONVERSATIONS)
    data = save_dataset(datasets.Dataset.from_list(pairs), tmp_path / "pairs")
    dpo = tmp_path / "dpo"
    assert main(["train", "dpo", "--model", str(base), "--data", str(data), "--out", str(dpo), *common]) == 0
    report = json.loads((dpo / "training_report.json").read_text())
    assert report["steps"] == 2
    assert (
        report["setup"]["gradient_checkpointing"] is None
    )  # trl's DPO default (on) does not win over the flag
    assert not (dpo / "ref").exists()  # only the trained adapter is saved

    merged = tmp_path / "merged"
    assert main(["export", "merge", "--adapter", str(sft), "--out", str(merged)]) == 0
    tokenizer = AutoTokenizer.from_pretrained(merged)
    saved = json.loads((merged / "generation_config.json").read_text())["eos_token_id"]
    assert tokenizer.convert_tokens_to_ids(family.end_of_turn) in (
        saved if isinstance(saved, list) else [saved]
    )
    model = AutoModelForCausalLM.from_pretrained(merged)
    assert model.get_input_embeddings().weight.shape[0] >= len(tokenizer)


def test_a_base_model_as_translator_needs_and_takes_a_chat_template(tmp_path, capsys):
    base = build_family(FAMILIES[1], tmp_path / "base", TEXTS)  # Llama base: no template
    source = tmp_path / "en.jsonl"
    source.write_text(json.dumps({"text": "Good morning", "lang": "en"}) + "\n")
    args = [
        "translate",
        str(source),
        "--to",
        "nl",
        "--backend",
        "llm",
        "--model",
        str(base),
        "--max-new-tokens",
        "4",
    ]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "--chat-template chatml" in errors[0]  # beside the progress bar
    assert main([*args, "--out", str(tmp_path / "b"), "--chat-template", "chatml"]) == 0
    assert datasets.load_from_disk(str(tmp_path / "b"))["train"][0]["source_text"] == "Good morning"
