"""`lingualift tokenizer extend` on tiny models whose tokenizers were trained here on English only:
a byte-level BPE (tied embeddings) and a SentencePiece BPE with byte fallback (untied), as
Llama 3/Qwen/SmolLM and Llama 2/Mistral build theirs. Dutch text is split into many pieces by both."""

from __future__ import annotations

import io
import json
import random

import datasets
import pytest

from lingualift.cli import main
from lingualift.io import save_dataset

ENGLISH_WORDS = (
    "the a house today tomorrow weather rain sunshine quick brown fox jumps over lazy dog number runs "
    "home very with and then he is not we they cosy terribly city river bread"
).split()
DUTCH_WORDS = (
    "de het een huis vandaag morgen wisselvallig regen zonneschijn Nederland snelle bruine vos springt "
    "luie hond nummer rent naar weer erg met en dan hij is niet wij zij gezellig ontzettend stad rivier "
    "brood fietsen gracht kaas één café"
).split()
OLD_TEXT = [
    "The quick brown fox jumps over the lazy dog 17 times.",
    "Ünïcode ✓ and emoji 🙂 stay as they were!",
    "  two  spaces,\ttabs and\nnew lines  ",
    "def f(x):\n    return x ** 2  # code",
]


def _error(err: str) -> str:
    """The error line (progress bars may come before it on stderr); no traceback."""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def _sentences(words, count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return [
        " ".join(rnd.choice(words) for _ in range(rnd.randint(6, 14))).capitalize() + "."
        for _ in range(count)
    ]


CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"  # noqa: E501
)


def _byte_level_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=420,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_sentences(ENGLISH_WORDS, 400, 1) + OLD_TEXT, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHATML
    )


def _sentencepiece_tokenizer(folder):
    import sentencepiece
    from transformers import LlamaTokenizer

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_sentences(ENGLISH_WORDS, 400, 1) + OLD_TEXT),
        model_writer=model,
        vocab_size=420,
        model_type="bpe",
        byte_fallback=True,
        hard_vocab_limit=False,
        minloglevel=2,
        user_defined_symbols=["<|im_start|>", "<|im_end|>"],
    )
    folder.mkdir()
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    tokenizer = LlamaTokenizer.from_pretrained(folder)
    tokenizer.chat_template = CHATML
    tokenizer.eos_token = "<|im_end|>"
    return tokenizer


@pytest.fixture(scope="module", params=["byte-level", "sentencepiece"])
def base_model(request, tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp(f"tokenizer-{request.param}")
    byte_level = request.param == "byte-level"
    tokenizer = _byte_level_tokenizer() if byte_level else _sentencepiece_tokenizer(root / "spm")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=byte_level,
    )
    path = root / "base"
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    text = root / "nl.txt"
    text.write_text("\n".join(_sentences(DUTCH_WORDS, 500, 2)))
    return {"kind": request.param, "path": path, "text": text, "root": root}


@pytest.fixture(scope="module")
def extended(base_model):
    out = base_model["root"] / "extended"
    assert (
        main(
            [
                "tokenizer",
                "extend",
                "--model",
                str(base_model["path"]),
                "--data",
                str(base_model["text"]),
                "--lang",
                "nl",
                "--add",
                "80",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_fertility_drops_on_held_out_target_text(base_model, extended):
    report = json.loads((extended / "lingualift_tokenizer.json").read_text())
    assert report["kind"] == ("byte-level BPE" if base_model["kind"] == "byte-level" else "SentencePiece BPE")
    assert report["lines"] == {"training": 450, "held_out": 50}
    assert report["added_tokens"] == 80 and report["new_vocab"] == report["base_vocab"] + 80
    before, after = report["fertility"]["before"], report["fertility"]["after"]
    assert before["words"] == after["words"] > 0
    assert after["tokens_per_word"] < 0.8 * before["tokens_per_word"]  # at least 20% fewer tokens
    assert report["pieces_used_on_held_out"] > 40
    assert all(p["base_tokens"] >= 2 or not p["merge"] for p in report["pieces"])  # only badly split pieces
    # measured independently of the report, on the held-out lines the command did not train on
    from transformers import AutoTokenizer

    base, new = AutoTokenizer.from_pretrained(base_model["path"]), AutoTokenizer.from_pretrained(extended)
    unseen = _sentences(DUTCH_WORDS, 100, 99)
    count = lambda tok: sum(len(tok(s, add_special_tokens=False)["input_ids"]) for s in unseen)  # noqa: E731
    assert count(new) < 0.8 * count(base)


def test_old_text_round_trips_unchanged(base_model, extended):
    from transformers import AutoTokenizer

    base, new = AutoTokenizer.from_pretrained(base_model["path"]), AutoTokenizer.from_pretrained(extended)
    for text in OLD_TEXT + _sentences(ENGLISH_WORDS, 50, 7) + _sentences(DUTCH_WORDS, 50, 8):
        ids = new(text, add_special_tokens=False)["input_ids"]
        assert new.decode(ids) == base.decode(base(text, add_special_tokens=False)["input_ids"])
        if base_model["kind"] == "byte-level":
            assert new.decode(ids) == text  # byte-level BPE is lossless
    ids = base("The quick brown fox", add_special_tokens=False)["input_ids"]
    assert new.decode(ids) == base.decode(ids)  # old ids keep their meaning
    assert new.convert_tokens_to_ids("<|im_end|>") == base.convert_tokens_to_ids("<|im_end|>")
    chat = [{"role": "user", "content": "Hoe is het weer vandaag?"}]
    assert new.apply_chat_template(chat, tokenize=False) == base.apply_chat_template(chat, tokenize=False)


def test_new_rows_are_the_mean_of_their_old_sub_token_rows(base_model, extended):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_model["path"])
    grown = AutoModelForCausalLM.from_pretrained(extended)
    old_tokenizer = AutoTokenizer.from_pretrained(base_model["path"])
    report = json.loads((extended / "lingualift_tokenizer.json").read_text())
    old_in, new_in = base.get_input_embeddings().weight, grown.get_input_embeddings().weight
    assert new_in.shape[0] == report["new_vocab"] == grown.config.vocab_size
    assert torch.equal(new_in[: old_in.shape[0]], old_in)  # old rows untouched
    tied = base_model["kind"] == "byte-level"
    assert (grown.get_output_embeddings().weight.data_ptr() == new_in.data_ptr()) is tied
    for piece in report["pieces"][:: len(report["pieces"]) // 7]:
        parts = [t.id for t in old_tokenizer.backend_tokenizer.model.tokenize(piece["token"])]
        assert len(parts) >= 2 or not piece["merge"]
        assert torch.allclose(new_in[piece["id"]], old_in[parts].mean(dim=0), atol=1e-6)
        if not tied:
            old_out = base.get_output_embeddings().weight
            assert torch.allclose(
                grown.get_output_embeddings().weight[piece["id"]], old_out[parts].mean(dim=0), atol=1e-6
            )


@pytest.fixture(scope="module")
def dutch_threads(base_model):
    rnd = random.Random(3)
    rows = [
        {
            "id": str(i),
            "lang": "nl",
            "messages": [
                {"role": "user", "content": " ".join(rnd.choice(DUTCH_WORDS) for _ in range(6)) + "?"},
                {"role": "assistant", "content": " ".join(_sentences(DUTCH_WORDS, 2, i))},
            ],
        }
        for i in range(24)
    ]
    return str(save_dataset(datasets.Dataset.from_list(rows), base_model["root"] / "threads"))


def test_resized_model_trains_saves_merges_reloads_and_generates(
    base_model, extended, dutch_threads, tmp_path
):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lingualift.models import load_chat_model

    adapter = tmp_path / "adapter"
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(extended),
                "--data",
                dutch_threads,
                "--out",
                str(adapter),
                "--max-steps",
                "4",
                "--lr",
                "5e-2",
                "--batch-size",
                "4",
                "--lora-r",
                "4",
            ]
        )
        == 0
    )
    report = json.loads((adapter / "training_report.json").read_text())
    assert report["data_stats"]["vocabulary"] == {
        "tokens": len(AutoTokenizer.from_pretrained(extended)),
        "added_by_tokenizer_extend": 80,
        "embeddings_trained": True,
    }
    settings = json.loads((adapter / "adapter_config.json").read_text())
    tied = base_model["kind"] == "byte-level"  # peft keeps one trained copy of tied embeddings
    saved = {name.rsplit(".", 1)[-1] for name in settings["modules_to_save"]}
    assert saved == ({"embed_tokens"} if tied else {"embed_tokens", "lm_head"})
    assert settings["base_model_name_or_path"] == str(extended)

    merged_dir = tmp_path / "merged"
    assert main(["export", "merge", "--adapter", str(adapter), "--out", str(merged_dir)]) == 0
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    grown = AutoModelForCausalLM.from_pretrained(extended)
    new_ids = [p["id"] for p in json.loads((extended / "lingualift_tokenizer.json").read_text())["pieces"]]
    rows = merged.get_input_embeddings().weight
    assert rows.shape[0] == len(tokenizer) == merged.config.vocab_size
    assert not torch.allclose(
        rows[new_ids], grown.get_input_embeddings().weight[new_ids]
    )  # the new rows learned
    if tied:
        assert merged.get_output_embeddings().weight.data_ptr() == rows.data_ptr()  # still tied
    else:
        output = merged.get_output_embeddings().weight
        assert not torch.allclose(output[new_ids], grown.get_output_embeddings().weight[new_ids])

    chat_model, chat_tokenizer = load_chat_model(str(extended), adapter=str(adapter))
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hoe is het weer in Nederland?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        assert torch.allclose(
            chat_model(**ids).logits, merged(**ids).logits, atol=1e-4
        )  # merge = base + adapter
        out = merged.generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] > ids["input_ids"].shape[1]
    assert isinstance(tokenizer.decode(out[0, ids["input_ids"].shape[1] :]), str)


def test_an_adapter_on_the_original_base_is_one_line(base_model, extended, dutch_threads, tmp_path, capsys):
    adapter = tmp_path / "adapter"
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(extended),
                "--data",
                dutch_threads,
                "--out",
                str(adapter),
                "--max-steps",
                "1",
                "--batch-size",
                "4",
                "--lora-r",
                "2",
            ]
        )
        == 0
    )
    capsys.readouterr()
    code = main(
        [
            "export",
            "merge",
            "--model",
            str(base_model["path"]),
            "--adapter",
            str(adapter),
            "--out",
            str(tmp_path / "m"),
        ]
    )
    err = _error(capsys.readouterr().err)
    assert code == 2 and "another vocabulary size" in err and "adapter_config.json" in err


def test_a_tokenizer_grown_without_resizing_the_model_is_refused(base_model, dutch_threads, tmp_path, capsys):
    from transformers import AutoTokenizer

    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(base_model["path"], broken)
    tokenizer = AutoTokenizer.from_pretrained(broken)
    tokenizer.add_tokens(["gezellig", "ontzettend"])
    tokenizer.save_pretrained(broken)
    code = main(
        [
            "train",
            "sft",
            "--model",
            str(broken),
            "--data",
            dutch_threads,
            "--out",
            str(tmp_path / "o"),
            "--max-steps",
            "1",
        ]
    )
    assert code == 2 and "without resizing the model" in _error(capsys.readouterr().err)


def test_unsupported_tokenizers_and_bad_inputs_are_one_line(base_model, tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    unigram.train_from_iterator(
        _sentences(ENGLISH_WORDS, 200, 1),
        trainers.UnigramTrainer(vocab_size=100, special_tokens=["<unk>"], unk_token="<unk>"),
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=unigram, unk_token="<unk>")
    path = tmp_path / "unigram"
    LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(fast),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    ).save_pretrained(path)
    fast.save_pretrained(path)
    short = tmp_path / "short.txt"
    short.write_text("Een regel.\nNog een.\n")
    cases = [
        (["--model", str(path), "--data", str(base_model["text"]), "--lang", "nl"], "Unigram model"),
        (["--model", str(base_model["path"]), "--data", str(short), "--lang", "nl"], "2 non-empty lines"),
        (
            ["--model", str(base_model["path"]), "--data", str(base_model["text"]), "--lang", "xx-nope"],
            "xx-nope",
        ),
        (
            ["--model", str(base_model["path"]), "--data", str(tmp_path / "missing"), "--lang", "nl"],
            "missing",
        ),
    ]
    for args, expected in cases:
        capsys.readouterr()
        assert main(["tokenizer", "extend", *args, "--out", str(tmp_path / "o")]) == 2
        assert expected in _error(capsys.readouterr().err)


def test_train_embeddings_follows_the_model_unless_set(base_model, extended):
    from transformers import AutoModelForCausalLM

    from lingualift.train.config import TrainConfig
    from lingualift.train.model import lora_config

    model = AutoModelForCausalLM.from_pretrained(extended)
    whole = lambda **kw: lora_config(TrainConfig(data="d", out="o", **kw), model).modules_to_save  # noqa: E731
    assert whole(model=str(extended))  # grown vocabulary: on by default
    assert not whole(model=str(extended), train_embeddings=False)
    assert not whole(model=str(base_model["path"]))  # an ordinary model: off by default
    assert whole(model=str(base_model["path"]), train_embeddings=True)


def test_the_report_shows_the_extension(base_model, extended, tmp_path):
    report = json.loads((extended / "lingualift_tokenizer.json").read_text())
    assert main(["report", str(extended), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    before, after = (
        report["fertility"]["before"]["tokens_per_word"],
        report["fertility"]["after"]["tokens_per_word"],
    )
    assert "Vocabulary extension" in page and f"{before} → {after}" in page
    assert f"{report['base_vocab']} → {report['new_vocab']}" in page


def test_an_extended_model_is_saved_in_its_base_dtype(base_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    base = tmp_path / "bf16"
    AutoModelForCausalLM.from_pretrained(base_model["path"], dtype=torch.bfloat16).save_pretrained(base)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(base_model["path"]).save_pretrained(base)
    out = tmp_path / "extended"
    args = ["--data", str(base_model["text"]), "--lang", "nl", "--add", "40", "--out", str(out)]
    assert main(["tokenizer", "extend", "--model", str(base), *args]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert (saved.get("dtype") or saved.get("torch_dtype")) == "bfloat16"  # not float32: twice the size
    assert (
        AutoModelForCausalLM.from_pretrained(out, dtype="auto").get_input_embeddings().weight.dtype
        == torch.bfloat16
    )
