"""Packing: rows filled best-fit, position ids restarting per conversation, no attention across them."""

import json

import pytest

from lingualift.cli import main
from lingualift.train.data import IGNORE, PackedCollator, pack_examples, packed_rows, tokenize_conversation
from tests.train.test_train import CONVERSATIONS


@pytest.mark.parametrize(
    "lengths, capacity, rows",
    [
        ([5, 5, 5], 10, 2),
        ([9, 1, 8, 2, 7, 3], 10, 3),  # best fit pairs each long one with its complement
        ([10, 10], 10, 2),
        ([4], 10, 1),
    ],
)
def test_best_fit_packing_uses_few_rows_and_never_overflows(lengths, capacity, rows):
    packed = pack_examples(lengths, capacity)
    assert len(packed) == rows
    assert sorted(i for row in packed for i in row) == list(range(len(lengths)))  # every example once
    assert all(sum(lengths[i] for i in row) <= capacity for row in packed)


def test_packed_conversations_do_not_attend_to_each_other(tiny_chat_model):
    """Logits of each conversation inside a packed, padded batch equal its logits when run alone."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model, attn_implementation="sdpa").eval()
    examples = [
        tokenize_conversation(tokenizer, c, max_length=512, assistant_only=True) for c in CONVERSATIONS
    ]
    rows = packed_rows(examples, capacity=sum(len(e["input_ids"]) for e in examples[1:]) + 3)
    assert len(rows) == 2 and len(rows[0]["input_ids"]) != len(
        rows[1]["input_ids"]
    )  # the batch needs padding
    assert max(row["position_ids"].count(0) for row in rows) == 3  # one row holds three conversations
    batch = PackedCollator(tokenizer)(rows)
    assert "attention_mask" not in batch and batch["use_cache"] is False
    with torch.no_grad():
        packed_logits = model(**batch).logits
        for row_index, row in enumerate(rows):
            starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(row["position_ids"])]
            for start, end in zip(starts, starts[1:]):
                alone = model(input_ids=torch.tensor([row["input_ids"][start:end]])).logits[0]
                assert torch.allclose(packed_logits[row_index, start:end], alone, atol=1e-5)
    # labels: each conversation's first token learns nothing (it would predict across the boundary)
    for row in rows:
        assert all(row["labels"][i] == IGNORE for i, p in enumerate(row["position_ids"]) if p == 0)


def test_without_restarting_positions_the_same_rows_would_leak():
    """The check above can fail: plain causal attention over a packed row changes the logits, and so
    does a KV cache (transformers then ignores the restarting position ids)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    ).eval()
    first, second = [3, 4, 5, 6], [7, 8, 9]
    with torch.no_grad():
        alone = model(input_ids=torch.tensor([second])).logits[0]
        leaked = model(input_ids=torch.tensor([first + second])).logits[0, 4:]
        positions = torch.tensor([[0, 1, 2, 3, 0, 1, 2]])
        cached = model(
            input_ids=torch.tensor([first + second]), position_ids=positions, use_cache=True
        ).logits[0, 4:]
        packed = model(
            input_ids=torch.tensor([first + second]), position_ids=positions, use_cache=False
        ).logits[0, 4:]
    assert not torch.allclose(leaked, alone, atol=1e-3)
    assert not torch.allclose(cached, alone, atol=1e-3)
    assert torch.allclose(packed, alone, atol=1e-5)


def test_sft_with_packing_trains_on_fewer_fuller_rows(tiny_chat_model, tmp_path):
    import datasets

    from lingualift.io import save_dataset

    rows = [{"messages": CONVERSATIONS[i % len(CONVERSATIONS)]} for i in range(16)]
    data = save_dataset(datasets.Dataset.from_list(rows), tmp_path / "threads")
    out = tmp_path / "packed"
    assert (
        main(
            [
                "train",
                "sft",
                "--packing",
                "--model",
                str(tiny_chat_model),
                "--data",
                str(data),
                "--out",
                str(out),
                "--max-steps",
                "3",
                "--max-seq-length",
                "128",
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps"] == 3 and 0 < report["data_stats"]["packed_rows"] < 16
    assert report["config"]["packing"] is True and report["non_pad_tokens_seen"] > 0


def test_packing_is_refused_for_preference_training(tmp_path, capsys):
    code = main(
        ["train", "dpo", "--packing", "--model", "m", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "packing applies to sft" in capsys.readouterr().err


def test_packed_training_counts_its_real_tokens_not_its_padding(tiny_chat_model, tmp_path):
    """One epoch of packed rows (no attention mask): the report's non-pad tokens are exactly the
    conversations' tokens, though the batches are right-padded to their longest row."""
    import datasets
    from transformers import AutoTokenizer

    from lingualift.io import save_dataset
    from lingualift.train.data import tokenize_conversation

    rows = [{"messages": CONVERSATIONS[i % len(CONVERSATIONS)][: 2 + 2 * (i % 2)]} for i in range(11)]
    rows = [r for r in rows if r["messages"][-1]["role"] == "assistant"]
    data = save_dataset(datasets.Dataset.from_list(rows), tmp_path / "threads")
    out = tmp_path / "packed"
    args = ["--model", str(tiny_chat_model), "--data", str(data), "--out", str(out), "--epochs", "1"]
    assert main(["train", "sft", "--packing", *args, "--max-seq-length", "96", "--batch-size", "2"]) == 0
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    expected = sum(
        len(tokenize_conversation(tokenizer, r["messages"], max_length=96, assistant_only=True)["input_ids"])
        for r in rows
    )
    assert json.loads((out / "training_report.json").read_text())["non_pad_tokens_seen"] == expected


def test_the_real_tokens_of_a_packed_batch_leave_out_its_padding():
    import torch

    from lingualift.train.data import packed_real_tokens

    pad = 0
    ids = torch.tensor([[5, 6, 7, 8, 9, 0, 0], [5, 6, 0, 7, 8, 9, 4], [3, 4, 5, 6, 7, 8, 0]])
    positions = torch.tensor([[0, 1, 2, 0, 1, 0, 1], [0, 1, 2, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 0]])
    # row 1: two examples + 2 padding; row 2: an example holding a pad id, no padding; row 3: 1 padding
    assert packed_real_tokens(ids, positions, pad) == 5 + 7 + 6
