"""`lingualift check` on a crafted dataset whose figures are known by construction: a word-level
tokenizer and a template that adds one token per turn, so a conversation's tokens are its words
plus its turns."""

import json

import pytest

from lingualift.cli import main
from lingualift.tools.check import duplicate_counts, gpu_estimate, percentiles, word_count

TEMPLATE = "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
DUTCH = "Het weer in Amsterdam is vandaag koud en nat, dus neem een jas en een paraplu mee naar buiten."
ENGLISH = "The weather in London is cold and wet today, so take a coat and an umbrella with you outside."
LONG = (
    "the river runs past the old mill and the farmers bring their grain to be ground into flour "
    "before the winter comes and the roads are closed by snow for many weeks"
)


def _conversation(*turns):
    return {"messages": [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(turns)]}


ROWS = [
    _conversation("how are you", "fine thanks"),  # 2 turns + 5 words = 7 tokens
    _conversation("How are you?", "Fine, thanks!"),  # exact duplicate of the first (case, punctuation)
    _conversation(DUTCH, DUTCH),  # 2 + 2×19 = 40
    _conversation(ENGLISH, ENGLISH, "ok", ENGLISH),  # 4 + 3×19 + 1 = 62, "ok" is very short
    _conversation("tell me a story", LONG),  # 2 + 4 + 32 = 38
    _conversation("tell me a story", LONG.replace("weeks", "months")),  # near duplicate of the one above
    {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "empty question"}]},
]
TOKENS = [7, 7, 40, 62, 38, 38]


@pytest.fixture(scope="module")
def word_model(tmp_path_factory):
    """A tiny Llama whose tokenizer has one token per whitespace-separated word."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = sorted(
        {w for row in ROWS for m in row["messages"] for w in m["content"].split()} | {"user", "assistant"}
    )
    vocab = {"[UNK]": 0, "[PAD]": 1, "[EOS]": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        eos_token="[EOS]",
        chat_template=TEMPLATE,
    )
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=1,
        eos_token_id=2,
        bos_token_id=None,
    )
    path = tmp_path_factory.mktemp("word-model")
    LlamaForCausalLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5], {"mean": 5.0, "p50": 5, "p90": 5, "p95": 5, "p99": 5, "max": 5, "min": 5}),
        (list(range(1, 11)), {"mean": 5.5, "p50": 5, "p90": 9, "p95": 10, "p99": 10, "max": 10, "min": 1}),
        ([], {}),
    ],
)
def test_percentiles_are_nearest_rank(values, expected):
    assert percentiles(values) == expected


@pytest.mark.parametrize(
    ("text", "words"), [("one two three", 3), ("", 0), ("ok", 1), ("今日は天気がとても良いですね散歩", 8)]
)
def test_word_count_treats_unspaced_scripts_as_two_characters_a_word(text, words):
    assert word_count(text) == words


def test_gpu_estimate_follows_the_documented_formula():
    estimate = gpu_estimate(3.6e9, 1_000_000_000, "full")["gpus"]["A100"]
    tokens_per_second = 312e12 * 0.35 / 6e9
    assert estimate["tokens_per_second"] == round(tokens_per_second)
    assert estimate["hours"] == pytest.approx(3.6e9 / tokens_per_second / 3600, rel=1e-3)
    lora = gpu_estimate(3.6e9, 1_000_000_000, "lora")["gpus"]["A100"]
    assert lora["hours"] == pytest.approx(estimate["hours"] * 4 / 6, rel=1e-3)


def test_duplicates_exact_and_near_are_told_apart():
    conversations = [row["messages"] for row in ROWS[:6]]
    counts = duplicate_counts(conversations)
    assert (counts["exact"], counts["near"]) == (1, 1)
    assert counts["near_examples"] == [[4, 5]]
    assert duplicate_counts(conversations[2:5]) | {"near_examples": []} == {
        "exact": 0,
        "near": 0,
        "near_threshold": 0.8,
        "near_examples": [],
    }


def test_check_reports_known_figures(tmp_path, word_model):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    out = tmp_path / "check"
    argv = [
        "check",
        str(data),
        "--model",
        str(word_model),
        "--max-seq-length",
        "39",
        "--epochs",
        "2",
        "--measure-steps",
        "1",
        "--batch-size",
        "2",
        "--price-per-million-chars",
        "10",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    report = json.loads((out / "check.json").read_text())
    assert report["splits"]["train"] == {
        "rows": 7,
        "format": "openai",
        "conversations": 6,
        "not_conversations": {"empty_text": 1},
    }
    assert report["tokens"]["total"] == sum(TOKENS)
    assert report["tokens"]["per_conversation"]["max"] == 62
    assert report["tokens"]["per_conversation"]["p50"] == 38
    assert report["tokens"]["per_turn"]["max"] == 32
    assert report["truncated"] == {
        "conversations": 2,
        "share": round(2 / 6, 4),
        "tokens_cut": (40 - 39) + (62 - 39),
    }
    assert report["turns_per_conversation"]["distribution"] == {"2": 5, "4": 1}
    assert report["duplicates"]["exact"] == 1 and report["duplicates"]["near"] == 1
    assert report["short_turns"]["turns"] == 3 and report["empty_turns"] == 0  # "fine thanks" twice, "ok"
    languages = report["languages"]
    assert languages["en"]["turns"] >= 3 and languages["nl"]["turns"] == 2
    assert sum(v["turns"] for v in languages.values()) == report["turns"] == 14
    turns = [m["content"] for row in ROWS[:6] for m in row["messages"]]
    assert report["characters"]["total"] == sum(map(len, turns))
    assert report["translation_cost"]["cost"] == round(sum(map(len, set(turns))) / 1e6 * 10, 2)
    estimate = report["training_estimate"]
    assert estimate["tokens_per_epoch"] == sum(min(n, 39) for n in TOKENS)
    assert estimate["training_tokens"] == 2 * estimate["tokens_per_epoch"]
    here = estimate["this_machine"]
    assert here["tokens_per_second"] > 0 and here["device"] == "cpu"
    assert here["hours"] == pytest.approx(
        estimate["training_tokens"] / here["tokens_per_second"] / 3600, abs=1e-5
    )
    assert (out / "token_histogram.png").read_bytes().startswith(b"\x89PNG")


def test_check_without_usable_rows_is_one_line(tmp_path, word_model, capsys):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(ROWS[-1]) + "\n")
    assert main(["check", str(data), "--model", str(word_model), "--out", str(tmp_path / "c")]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # above it: datasets' progress bar
    assert "no row could become a conversation" in error and "empty_text" in error
