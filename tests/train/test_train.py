"""Training on a tiny Llama-style chat model (built in tests/conftest.py): real steps on CPU."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.io import save_dataset
from lingualift.train.data import IGNORE, tokenize_conversation
from tests.builders import preference_pairs

CONVERSATIONS = [
    [
        {"role": "system", "content": "Always answer in Dutch."},
        {"role": "user", "content": "Hoi, hoe gaat het?"},
        {"role": "assistant", "content": "Goed, dank je!"},
        {"role": "user", "content": "Wat eet je?"},
        {"role": "assistant", "content": "Ik eet appels."},
    ],
    [{"role": "user", "content": "Wat is de hoofdstad?"}, {"role": "assistant", "content": "Amsterdam."}],
    [{"role": "user", "content": "Noem een kleur."}, {"role": "assistant", "content": "Blauw is mooi."}],
    [{"role": "user", "content": "Hoe laat is het?"}, {"role": "assistant", "content": "Het is drie uur."}],
]


@pytest.fixture(scope="module")
def threads_dir(tmp_path_factory):
    rows = [{"id": str(i), "lang": "nl", "messages": m} for i, m in enumerate(CONVERSATIONS)]
    return str(save_dataset(datasets.Dataset.from_list(rows), tmp_path_factory.mktemp("threads") / "t"))


def test_assistant_only_labels_cover_exactly_the_assistant_turns(tiny_chat_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    row = tokenize_conversation(tokenizer, CONVERSATIONS[0], max_length=512, assistant_only=True)
    learned = [t for t, label in zip(row["input_ids"], row["labels"]) if label != IGNORE]
    text = tokenizer.decode(learned)
    assert text == "Goed, dank je!<|im_end|>\nIk eet appels.<|im_end|>\n"  # answers and their end of turn
    everything = tokenize_conversation(tokenizer, CONVERSATIONS[0], max_length=512, assistant_only=False)
    assert everything["labels"] == everything["input_ids"]
    short = tokenize_conversation(tokenizer, CONVERSATIONS[0], max_length=10, assistant_only=True)
    assert len(short["input_ids"]) == 10 and short["truncated"]


@pytest.mark.slow
def test_sft_lora_overfits_and_the_saved_adapter_reloads_to_the_same_logits(
    demo_model_path, use_demo_cache, threads_dir, tmp_path
):
    """On the demo model (a tiny random model's frozen embeddings make LoRA learn too slowly to see)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "sft"
    code = main(
        [
            "train",
            "sft",
            "--model",
            "demo",
            "--data",
            threads_dir,
            "--out",
            str(out),
            "--max-steps",
            "24",
            "--lr",
            "2e-3",
            "--batch-size",
            "4",
            "--lora-r",
            "8",
            "--save-steps",
            "12",
        ]
    )
    assert code == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == 24 and report["mode"] == "lora"
    assert report["final_loss"] < 0.5 * report["first_loss"]  # it learns the tiny set
    assert 0 < report["trainable_parameters"] < report["total_parameters"]
    assert report["non_pad_tokens_seen"] > 0 and (out / "loss_curve.png").stat().st_size > 1000
    assert (out / "adapter_config.json").exists()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template  # saved with the output: chat works on it directly
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(demo_model_path), out).eval()
    checkpoint = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(demo_model_path), out / "checkpoints" / "checkpoint-24"
    ).eval()
    ids = tokenizer("Hoi, hoe gaat het?", return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(reloaded(**ids).logits, checkpoint(**ids).logits, atol=1e-4)
        plain = AutoModelForCausalLM.from_pretrained(demo_model_path).eval()
        assert not torch.allclose(
            reloaded(**ids).logits, plain(**ids).logits, atol=1e-3
        )  # training changed it


def test_full_fine_tuning_overfits_a_tiny_model(tiny_chat_model, threads_dir, tmp_path):
    out = tmp_path / "full"
    assert (
        main(
            [
                "train",
                "sft",
                "--full",
                "--model",
                str(tiny_chat_model),
                "--data",
                threads_dir,
                "--out",
                str(out),
                "--max-steps",
                "30",
                "--lr",
                "1e-2",
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    report = json.loads((out / "training_report.json").read_text())
    assert report["mode"] == "full" and report["final_loss"] < 0.5 * report["first_loss"]
    assert report["trainable_parameters"] == report["total_parameters"]
    assert (out / "model.safetensors").exists()


def test_running_again_resumes_from_the_last_checkpoint(tiny_chat_model, threads_dir, tmp_path, capsys):
    out = tmp_path / "resume"
    base = [
        "train",
        "sft",
        "--model",
        str(tiny_chat_model),
        "--data",
        threads_dir,
        "--out",
        str(out),
        "--batch-size",
        "2",
        "--save-steps",
        "2",
        "--lr",
        "1e-3",
    ]
    assert main([*base, "--max-steps", "4"]) == 0
    assert main([*base, "--max-steps", "6", "--resume"]) == 0
    assert "resuming from" in capsys.readouterr().out
    state = json.loads((out / "checkpoints" / "checkpoint-6" / "trainer_state.json").read_text())
    steps = [h["step"] for h in state["log_history"] if "loss" in h]
    assert steps == [1, 2, 3, 4, 5, 6]  # steps 1-4 restored from the checkpoint, 5-6 trained now


def test_cpt_trains_on_raw_text(tiny_chat_model, tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("\n".join(["Het weer is mooi vandaag en we gaan naar het park."] * 40))
    out = tmp_path / "cpt"
    assert (
        main(
            [
                "train",
                "cpt",
                "--model",
                str(tiny_chat_model),
                "--data",
                str(text),
                "--out",
                str(out),
                "--max-steps",
                "3",
                "--max-seq-length",
                "32",
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == 3 and report["data_stats"]["blocks"] > 3


@pytest.mark.parametrize("unit, documents", [("files", 2), ("paragraphs", 5), ("lines", 7)])
def test_cpt_blocks_hold_every_token_of_the_corpus_once(tiny_chat_model, tmp_path, unit, documents):
    """Wrapped prose is not a document per line, and no token is dropped between tokenizer batches
    (1,000 documents each) or after the last full block: the blocks, joined, are the corpus's own
    tokens with one eos after each document."""
    from transformers import AutoTokenizer

    from lingualift.train.config import TrainConfig
    from lingualift.train.inputs import cpt_dataset

    folder = tmp_path / "corpus"
    folder.mkdir()
    first = "Het weer is mooi vandaag\nen we gaan naar het park.\n\nDaar spelen de kinderen.\n"
    second = "Een tweede tekst.\n\nMet twee alinea's\nover meerdere regels\n\nen nog een.\n"
    (folder / "a.txt").write_text(first)
    (folder / "b.md").write_text(second)
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    config = TrainConfig(
        method="cpt", model="m", data=str(folder), out="o", max_seq_length=16, text_unit=unit
    )
    packed, stats = cpt_dataset(config, tokenizer)
    rows = packed.to_dict()["input_ids"]
    tokens = [t for row in rows for t in row]
    parts = {
        "files": [first, second],
        "paragraphs": [p for text in (first, second) for p in text.split("\n\n")],
        "lines": [line for text in (first, second) for line in text.splitlines()],
    }[unit]
    expected = []
    for part in (p.strip() for p in parts if p.strip()):
        expected += tokenizer(part, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert tokens == expected and stats["tokens"] == len(expected) and stats["documents"] == documents
    assert [len(row) for row in rows[:-1]] == [16] * (len(rows) - 1)
    assert stats["final_block_tokens"] == len(rows[-1]) == len(expected) - 16 * (len(rows) - 1)


def test_cpt_carries_tokens_across_tokenizer_batches(tiny_chat_model):
    from transformers import AutoTokenizer

    from lingualift.train.inputs import packed_blocks

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    texts = [f"Zin nummer {i} over het weer." for i in range(25)]
    rows = list(packed_blocks(texts, tokenizer, block=7, batch=4))
    expected = [
        t
        for text in texts
        for t in tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ]
    assert [t for row in rows for t in row["input_ids"]] == expected
    assert sum(row["documents"] for row in rows) == 25


def test_sft_on_top_of_a_cpt_adapter_merges_it_first(tiny_chat_model, threads_dir, tmp_path):
    """The Dutch recipe: continued pre-training, then SFT starting from its output."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    text = tmp_path / "corpus.txt"
    text.write_text("\n".join(["Het weer is mooi vandaag en we gaan naar het park."] * 40))
    cpt = tmp_path / "cpt"
    assert (
        main(
            [
                "train",
                "cpt",
                "--model",
                str(tiny_chat_model),
                "--data",
                str(text),
                "--out",
                str(cpt),
                "--max-steps",
                "3",
                "--max-seq-length",
                "32",
                "--lr",
                "1e-2",
            ]
        )
        == 0
    )
    sft = tmp_path / "sft"
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(cpt),
                "--data",
                threads_dir,
                "--out",
                str(sft),
                "--max-steps",
                "1",
                "--lr",
                "1e-9",
            ]
        )
        == 0
    )
    # the new adapter's base is the cpt adapter merged: with an (almost) untrained new adapter the
    # result equals base + cpt adapter, not the plain base; loading the sft output rebuilds the stack
    from lingualift.models import adapter_base, load_causal_lm

    assert adapter_base(str(sft)) == str(cpt.resolve())
    tuned = load_causal_lm(str(sft)).eval()
    plain = AutoModelForCausalLM.from_pretrained(tiny_chat_model).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        reference = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(tiny_chat_model), cpt
        ).eval()
        assert torch.allclose(tuned(ids).logits, reference(ids).logits, atol=1e-4)
        assert not torch.allclose(tuned(ids).logits, plain(ids).logits, atol=1e-4)


@pytest.mark.parametrize("method", ["dpo", "orpo"])
def test_preference_methods_run_on_pairs(method, tiny_chat_model, tmp_path):
    pairs = preference_pairs(CONVERSATIONS)
    data = save_dataset(datasets.Dataset.from_list(pairs), tmp_path / "pairs")
    out = tmp_path / method
    assert (
        main(
            [
                "train",
                method,
                "--model",
                str(tiny_chat_model),
                "--data",
                str(data),
                "--out",
                str(out),
                "--max-steps",
                "6",
                "--batch-size",
                "2",
                "--lr",
                "5e-3",
            ]
        )
        == 0
    )
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == 6 and report["final_loss"] < report["first_loss"]  # it learns the preference
    margins = [h["rewards/margins"] for h in report["loss_history"] if "rewards/margins" in h]
    assert len(margins) == 6  # the chosen-over-rejected margin of every step is reported
    assert method != "dpo" or margins[-1] > margins[0]  # DPO: chosen pulls away from rejected


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"messages": [{"role": "user", "content": "Hoi"}]}], "no conversation has an assistant turn"),
        ([{"text": "no messages"}], "missing column 'messages'"),
    ],
)
def test_bad_data_is_one_clear_error(tiny_chat_model, tmp_path, capsys, rows, message):
    data = save_dataset(datasets.Dataset.from_list(rows), tmp_path / "d")
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(tiny_chat_model),
                "--data",
                str(data),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def _train_cli(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "lingualift", "train", *args]


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tiny_chat_model, threads_dir, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this Python")
    out = tmp_path / "ddp"
    result = subprocess.run(
        [
            torchrun,
            "--nproc_per_node=2",
            "--master_port=29541",
            "-m",
            "lingualift",
            "train",
            "sft",
            "--model",
            str(tiny_chat_model),
            "--data",
            threads_dir,
            "--out",
            str(out),
            "--max-steps",
            "3",
            "--batch-size",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "training_report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == 3
    # the model loaded after the arguments started the process group (what sharded loading needs)
    assert report["setup"]["process_group_ready"] is True


@pytest.mark.slow
def test_kill_9_mid_training_then_resume_restores_step_and_optimizer(tiny_chat_model, threads_dir, tmp_path):
    import signal
    import subprocess
    import time

    out = tmp_path / "killed"
    args = [
        "sft",
        "--model",
        str(tiny_chat_model),
        "--data",
        threads_dir,
        "--out",
        str(out),
        "--batch-size",
        "1",
        "--save-steps",
        "5",
        "--max-steps",
        "100000",
        "--lr",
        "1e-3",
    ]
    process = subprocess.Popen(_train_cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = out / "checkpoints"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(checkpoints.glob("checkpoint-*"))) < 2:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # a kill in the middle of a save leaves a checkpoint without trainer_state.json: never resumed from
    saved = sorted(
        (p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").exists()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    assert saved, "no complete checkpoint was written before the kill"
    last = int(saved[-1].name.split("-")[1])
    assert (saved[-1] / "optimizer.pt").exists()
    resumed = subprocess.run(
        _train_cli(*args[:-4], "--max-steps", str(last + 3), "--lr", "1e-3"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {saved[-1]}" in resumed.stdout
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == last + 3  # the step count continued from the checkpoint, not from 0


def test_long_preference_prompts_lose_their_oldest_turns_first(tiny_chat_model):
    from transformers import AutoTokenizer

    from lingualift.train.data import shorten_prompt

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)

    def tokens(messages):
        return len(
            tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
        )

    prompt = CONVERSATIONS[0][:4]  # system, user, assistant, user
    length = tokens(prompt)
    assert shorten_prompt(tokenizer, prompt, length) == prompt  # fits: unchanged
    shorter = shorten_prompt(tokenizer, prompt, length - 5)
    assert [m["role"] for m in shorter] == ["system", "user"] and shorter[1] == prompt[
        3
    ]  # oldest exchange dropped
    tiny = shorten_prompt(tokenizer, prompt, 38)  # system turn and template: 34 tokens
    assert tokens(tiny) <= 38 and tiny[1]["content"]
    assert tiny[0] == prompt[0] and prompt[3]["content"].endswith(
        tiny[1]["content"]
    )  # the end of the text is kept
    text = "een twee drie vier vijf zes zeven acht negen tien"
    cut = shorten_prompt(tokenizer, text, 5)
    assert len(tokenizer(cut, add_special_tokens=False)["input_ids"]) <= 5 and text.endswith(cut)


def test_dpo_with_max_prompt_length_and_an_eval_split(tiny_chat_model, tmp_path):
    def pairs(conversations):
        return [
            {
                "prompt": c[:-1],
                "chosen": [c[-1]],
                "rejected": [{"role": "assistant", "content": "Geen idee."}],
            }
            for c in conversations
        ]

    data = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(pairs(CONVERSATIONS)),
            "test": datasets.Dataset.from_list(pairs(CONVERSATIONS[1:3])),
        }
    )
    saved = save_dataset(data, tmp_path / "pairs")
    out = tmp_path / "dpo"
    assert (
        main(
            [
                "train",
                "dpo",
                "--model",
                str(tiny_chat_model),
                "--data",
                str(saved),
                "--out",
                str(out),
                "--max-steps",
                "2",
                "--batch-size",
                "2",
                "--max-prompt-length",
                "30",
                "--eval-split",
                "test",
                "--epochs",
                "1",
            ]
        )
        == 0
    )
    report = json.loads((out / "training_report.json").read_text())
    assert report["data_stats"]["prompts_shortened"] == 1  # only the multi-turn prompt is longer than 30
    assert report["final_eval_loss"] is not None


def test_an_unknown_eval_split_is_one_clear_error(tiny_chat_model, threads_dir, tmp_path, capsys):
    code = main(
        [
            "train",
            "sft",
            "--model",
            str(tiny_chat_model),
            "--data",
            threads_dir,
            "--out",
            str(tmp_path / "o"),
            "--eval-split",
            "validation",
        ]
    )
    assert code == 2
    assert "no split 'validation' for --eval-split" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, message",
    [
        ("nope", "neither a shipped config (cpu-ddp, ddp, fsdp, zero2, zero3)"),
        ("ddp", "needs CUDA GPUs"),
        ("zero3", "pip install deepspeed"),
    ],
)
def test_accelerate_configs_are_checked_before_launching(name, message, tmp_path, capsys):
    import importlib.util

    import torch

    if name == "ddp" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if name == "zero3" and importlib.util.find_spec("deepspeed") is not None:
        pytest.skip("deepspeed is installed here")
    code = main(
        [
            "train",
            "sft",
            "--model",
            "m",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--accelerate-config",
            name,
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_shipped_accelerate_configs_load_in_accelerate():
    from accelerate.commands.config.config_args import load_config_from_file

    from lingualift.train.launch import shipped_configs

    kinds = {
        name: load_config_from_file(str(path)).distributed_type for name, path in shipped_configs().items()
    }
    assert {k: str(v).split(".")[-1] for k, v in kinds.items()} == {
        "cpu-ddp": "MULTI_GPU",
        "ddp": "MULTI_GPU",
        "fsdp": "FSDP",
        "zero2": "DEEPSPEED",
        "zero3": "DEEPSPEED",
    }


def _saved_tensors(out) -> dict:
    from safetensors.torch import load_file

    files = sorted(out.glob("*.safetensors"))
    assert files, f"no weights saved in {out}"
    return {name: tensor for file in files for name, tensor in load_file(str(file)).items()}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["lora", "full"])
def test_two_cpu_processes_save_the_same_whole_weights_as_one(mode, tiny_chat_model, threads_dir, tmp_path):
    """Every rank takes part in the save (under FSDP/ZeRO-3 each holds a shard); the result has the
    single-process run's tensors and shapes, none of them empty or all zero."""
    import subprocess

    common = [
        "--model",
        str(tiny_chat_model),
        "--data",
        threads_dir,
        "--max-steps",
        "2",
        "--batch-size",
        "1",
        "--packing",
        *(["--full"] if mode == "full" else []),
    ]
    single, launched = tmp_path / "single", tmp_path / "accelerate"
    assert main(["train", "sft", *common, "--out", str(single)]) == 0
    result = subprocess.run(
        _train_cli(
            "sft", *common, "--out", str(launched), "--accelerate-config", "cpu-ddp", "--num-processes", "2"
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((launched / "training_report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == 2
    assert report["ranks_in_save"] == 2 and report["distributed"] == "ddp" and report["precision"] == "no"
    assert json.loads((launched / "launch_config.json").read_text())["accelerate_config"] is None
    alone, together = _saved_tensors(single), _saved_tensors(launched)
    assert {k: tuple(v.shape) for k, v in together.items()} == {k: tuple(v.shape) for k, v in alone.items()}
    assert all(v.numel() > 0 and bool(v.abs().sum() > 0) for k, v in together.items() if "lora_B" not in k)
    if mode == "lora":  # lora_B starts at zero: two steps must have moved it
        assert any(bool(v.abs().sum() > 0) for k, v in together.items() if "lora_B" in k)
    assert not (launched / "training_args.bin").exists()


def test_push_to_hub_needs_a_token_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code = main(
        [
            "train",
            "sft",
            "--model",
            "m",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--push-to-hub",
            "me/model",
        ]
    )
    assert code == 2
    assert "set HF_TOKEN" in capsys.readouterr().err


def test_push_uploads_the_output_with_a_model_card_and_never_the_token(
    tiny_chat_model, threads_dir, tmp_path, monkeypatch
):
    import huggingface_hub

    calls = []

    class RecordingApi:  # the hub is unreachable here: record what would be sent
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, private=True, exist_ok=False):
            calls.append(("create", repo_id, private))
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, folder_path, repo_id, ignore_patterns=None):
            calls.append(("upload", folder_path, repo_id, tuple(ignore_patterns)))

    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    out = tmp_path / "pushed"
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(tiny_chat_model),
                "--data",
                threads_dir,
                "--out",
                str(out),
                "--max-steps",
                "1",
                "--push-to-hub",
                "me/dutch-lora",
            ]
        )
        == 0
    )
    assert calls[0] == ("token", "hf_secret_value_123") and calls[1] == ("create", "me/dutch-lora", True)
    assert calls[2][1:3] == (str(out), "me/dutch-lora") and "checkpoints/*" in calls[2][3]
    card = (out / "README.md").read_text()
    assert (
        "base_model: " + str(tiny_chat_model) in card
        and "library_name: peft" in card
        and "| steps | 1 |" in card
    )
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".txt"):
            assert "hf_secret_value_123" not in path.read_text(errors="ignore")


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_the_same_seed_trains_the_same_adapter_whatever_ran_before_in_the_process(
    method, tiny_chat_model, threads_dir, tmp_path
):
    """The LoRA adapter's random init happens before the Trainer seeds (get_peft_model, or the DPO
    trainer's own): unless the run seeds first, two runs of one command differ with what ran before
    them (the demo's tuned usable rate moved 57-83% between identical runs)."""
    import torch
    from safetensors.torch import load_file

    data = threads_dir
    if method == "dpo":
        pairs = [
            {
                "prompt": [{"role": "user", "content": c[-2]["content"]}],
                "chosen": [{"role": "assistant", "content": c[-1]["content"]}],
                "rejected": [{"role": "assistant", "content": "I do not know."}],
            }
            for c in CONVERSATIONS
        ]
        data = str(save_dataset(datasets.Dataset.from_list(pairs), tmp_path / "pairs"))
    weights = []
    for run, noise in enumerate((1, 2)):
        torch.manual_seed(noise)  # whatever else the process drew from the global generator before
        torch.rand(noise)
        out = tmp_path / f"run-{run}"
        argv = ["train", method, "--model", str(tiny_chat_model), "--data", data, "--out", str(out)]
        assert main([*argv, "--batch-size", "2", "--max-steps", "2", "--lr", "1e-3"]) == 0
        weights.append(load_file(out / "adapter_model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_the_seeds_trainer_options_reach_the_trainer_and_tensorboard_records_the_loss(
    tiny_chat_model, threads_dir, tmp_path
):
    """The Dutch Llama 2's settings (Adam betas 0.9/0.95, cosine, warmup ratio, evaluation every N
    steps) with Bactrian-X's held-out count and grouping by length: the logged learning rates rise
    through the warmup and fall after it, evaluation runs at every N steps on the rows held out, and
    tensorboard's own reader finds the loss in the event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "sft"
    args = ["--model", str(tiny_chat_model), "--data", threads_dir, "--out", str(out), "--max-steps", "8"]
    args += ["--batch-size", "1", "--lr", "1e-3", "--scheduler", "cosine", "--warmup-ratio", "0.25"]
    args += ["--adam-beta2", "0.95", "--weight-decay", "0.1", "--max-grad-norm", "0.5", "--group-by-length"]
    args += [
        "--eval-size",
        "1",
        "--eval-steps",
        "4",
        "--report-to",
        "tensorboard",
        "--optimizer",
        "adamw_torch",
    ]
    assert main(["train", "sft", *args]) == 0
    report = json.loads((out / "training_report.json").read_text())
    rates = [h["learning_rate"] for h in report["loss_history"] if "learning_rate" in h]
    peak = rates.index(max(rates))
    assert (
        0 < peak < len(rates) - 1 and rates[0] < rates[peak] and rates[-1] < rates[peak]
    )  # warmup, then cosine
    assert [h["step"] for h in report["loss_history"] if "eval_loss" in h] == [4, 8]
    assert report["config"]["adam_beta2"] == 0.95 and report["config"]["scheduler"] == "cosine"
    events = [p.parent for p in (out / "checkpoints" / "runs").rglob("events.out.tfevents.*")]
    accumulator = EventAccumulator(str(events[0]))
    accumulator.Reload()
    losses = [e.value for e in accumulator.Scalars("train/loss")]
    assert len(losses) == 8 and losses[0] == pytest.approx(report["first_loss"], rel=1e-4)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--report-to", "wandb"], "pip install 'lingualift[wandb]'"),
        (["--attn-implementation", "flash_attention_2"], "flash_attention_2 runs on a CUDA GPU only"),
        (
            ["--warmup-steps", "10", "--warmup-ratio", "0.1"],
            "warmup_steps and warmup_ratio exclude each other",
        ),
        (["--eval-steps", "5"], "eval_steps needs something to evaluate on"),
    ],
)
def test_trainer_options_that_cannot_run_are_one_line(tmp_path, capsys, extra, message):
    import importlib.util

    if "wandb" in extra and importlib.util.find_spec("wandb"):
        pytest.fail("wandb is installed here: this case checks the refusal without it")
    code = main(
        [
            "train",
            "sft",
            "--model",
            "no/such-model",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_cpt_on_text_with_no_words_is_one_line(tiny_chat_model, tmp_path, capsys):
    corpus = tmp_path / "empty.txt"
    corpus.write_text("\n\n   \n")
    args = [
        "train",
        "cpt",
        "--model",
        str(tiny_chat_model),
        "--data",
        str(corpus),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == f"error: {corpus}: no text to train on"
