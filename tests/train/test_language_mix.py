"""Several target languages in one model: conversations from several threads datasets, resampled per
language (proportional, uniform, temperature-scaled), each keeping its own language's system prompt."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.errors import DataError
from lingualift.train.data import language_weights, mix_languages, share_out


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("proportional", {"de": 0.1, "nl": 0.9}),
        ("uniform", {"de": 0.5, "nl": 0.5}),
        (
            "temperature",
            {
                "de": 100 ** (1 / 3) / (100 ** (1 / 3) + 900 ** (1 / 3)),
                "nl": 900 ** (1 / 3) / (100 ** (1 / 3) + 900 ** (1 / 3)),
            },
        ),
    ],
)
def test_language_weights(how, expected):
    weights = language_weights({"de": 100, "nl": 900}, how, temperature=3.0)
    assert weights == pytest.approx(expected)


def test_temperature_one_is_proportional_and_a_large_one_nearly_uniform():
    sizes = {"de": 100, "nl": 900}
    assert language_weights(sizes, "temperature", 1.0) == pytest.approx(
        language_weights(sizes, "proportional")
    )
    assert language_weights(sizes, "temperature", 1000.0)["de"] == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("total", [0, 1, 7, 10, 1001])
def test_shares_are_whole_and_add_up(total):
    counts = share_out(total, {"a": 0.5, "b": 0.3, "c": 0.2})
    assert sum(counts.values()) == total and all(
        abs(counts[k] - total * w) < 1 for k, w in (("a", 0.5), ("b", 0.3), ("c", 0.2))
    )


def _mixed_rows(sizes):
    rows = []
    for lang, n in sizes.items():
        rows += [{"messages": [{"role": "user", "content": f"{lang} {i}"}], "lang": lang} for i in range(n)]
    return datasets.Dataset.from_list(rows)


def test_mix_upsamples_the_small_language_and_is_deterministic_by_seed():
    data = _mixed_rows({"de": 3, "nl": 27})
    mixed, stats = mix_languages(data, how="uniform", temperature=3.0, size=None, seed=1)
    assert stats["languages"] == {
        "de": {"available": 3, "weight": 0.5, "sampled": 15},
        "nl": {"available": 27, "weight": 0.5, "sampled": 15},
    }
    german = [m[0]["content"] for m, lang in zip(mixed["messages"], mixed["lang"]) if lang == "de"]
    assert sorted(german) == sorted([f"de {i}" for i in range(3)] * 5)  # every German row, five times
    again, _ = mix_languages(data, how="uniform", temperature=3.0, size=None, seed=1)
    other, _ = mix_languages(data, how="uniform", temperature=3.0, size=None, seed=2)
    assert again["messages"] == mixed["messages"] and other["messages"] != mixed["messages"]
    smaller, stats = mix_languages(data, how="proportional", temperature=3.0, size=10, seed=1)
    assert len(smaller) == 10 and stats["languages"]["nl"]["sampled"] == 9
    assert len(set(m[0]["content"] for m in smaller["messages"])) == 10  # downsampling never repeats


def test_mix_without_a_lang_column_is_a_data_error():
    data = datasets.Dataset.from_list([{"messages": [{"role": "user", "content": "x"}]}])
    with pytest.raises(DataError, match="--mix needs a `lang` column"):
        mix_languages(data, how="uniform", temperature=3.0, size=None, seed=0)


CHATS = {
    "nl": [
        ("Hoe laat is het?", "Het is drie uur."),
        ("Waar woon je?", "Ik woon in Utrecht."),
        ("Wat eet je graag?", "Ik eet graag stamppot."),
        ("Hoe heet je?", "Ik heet Sanne."),
        ("Wat is je hobby?", "Ik fiets graag."),
        ("Welke kleur is de lucht?", "De lucht is blauw."),
    ],
    "de": [("Wie spät ist es?", "Es ist drei Uhr."), ("Wo wohnst du?", "Ich wohne in Berlin.")],
}


def test_sft_on_two_languages_reports_the_mix_and_keeps_each_system_prompt(tiny_chat_model, tmp_path):
    threads = []
    for lang, chats in CHATS.items():
        source = tmp_path / f"{lang}.jsonl"
        source.write_text(
            "".join(
                json.dumps(
                    {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
                )
                + "\n"
                for q, a in chats
            )
        )
        assert main(["threads", str(source), "--lang", lang, "--out", str(tmp_path / f"threads-{lang}")]) == 0
        threads.append(str(tmp_path / f"threads-{lang}"))
    out = tmp_path / "sft"
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(tiny_chat_model),
                "--data",
                ",".join(threads),
                "--mix",
                "temperature",
                "--mix-temperature",
                "2",
                "--max-steps",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    stats = json.loads((out / "training_report.json").read_text())["data_stats"]
    weight_de = 2**0.5 / (2**0.5 + 6**0.5)
    assert stats["mix"] == "temperature" and stats["conversations"] == 8
    assert stats["languages"]["de"] == {
        "available": 2,
        "weight": round(weight_de, 4),
        "sampled": round(8 * weight_de),
    }
    assert stats["languages"]["nl"]["sampled"] == 8 - round(8 * weight_de)
    assert main(["report", str(out)]) == 0
    page = (out / "report" / "report.html").read_text()
    assert f"de {round(8 * weight_de)} of 2, nl {8 - round(8 * weight_de)} of 6" in page

    from lingualift.train.config import TrainConfig
    from lingualift.train.inputs import joined_conversations

    joined = joined_conversations(TrainConfig(model="m", data=",".join(threads), out="o"), None)
    mixed, _ = mix_languages(joined, how="uniform", temperature=3.0, size=None, seed=0)
    for messages, lang in zip(mixed["messages"], mixed["lang"]):
        name = {"nl": "Dutch", "de": "German"}[lang]
        assert messages[0] == {
            "role": "system",
            "content": f"You are a helpful assistant. Always answer in {name}.",
        }


def test_several_datasets_are_refused_for_dpo_before_anything_loads(tmp_path, capsys):
    code = main(
        ["train", "dpo", "--model", "m", "--data", f"{tmp_path},{tmp_path}", "--out", str(tmp_path / "o")]
    )
    assert code == 2 and "several datasets and --mix apply to sft" in capsys.readouterr().err


def test_fidelity_is_measured_per_language_on_that_language_s_prompts(tiny_chat_model, tmp_path, capsys):
    from lingualift.io import save_dataset

    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "lang": lang}
        for lang, chats in CHATS.items()
        for q, a in chats
    ]
    prompts = save_dataset(datasets.Dataset.from_list(rows), tmp_path / "held-out")
    out = tmp_path / "eval"
    assert (
        main(
            [
                "eval",
                "fidelity",
                "--model",
                str(tiny_chat_model),
                "--lang",
                "nl,de",
                "--prompts",
                str(prompts),
                "--limit",
                "4",
                "--max-new-tokens",
                "3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads((out / "fidelity.json").read_text())["models"]
    assert set(result) == {f"{tiny_chat_model} [nl]", f"{tiny_chat_model} [de]"}
    assert (
        result[f"{tiny_chat_model} [nl]"]["replies"] == 4
        and result[f"{tiny_chat_model} [de]"]["replies"] == 2
    )
    assert result[f"{tiny_chat_model} [de]"]["settings"]["lang"] == "de"
    printed = capsys.readouterr().out
    assert (
        f"{tiny_chat_model} [de] (German): usable " in printed
        and f"{tiny_chat_model} [nl] (Dutch): usable " in printed
    )
    assert (
        main(
            [
                "eval",
                "fidelity",
                "--model",
                str(tiny_chat_model),
                "--lang",
                "nl,fr",
                "--prompts",
                str(prompts),
            ]
        )
        == 2
    )
    assert "no prompts in fr" in capsys.readouterr().err.strip().splitlines()[-1]
