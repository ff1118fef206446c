import json

import pytest

from lingualift.cli import main
from lingualift.evaluate.fidelity import bootstrap_interval, fidelity_summary, judge_reply
from lingualift.languages import get_language

NL, ZH = get_language("nl"), get_language("zh")
DUTCH = "Het weer is vandaag erg mooi en we gaan wandelen in het park."
ENGLISH = "The weather is very nice today and we are going for a walk."


@pytest.mark.parametrize(
    "reply, lang, passed, leaked",
    [
        (f"{DUTCH}\nDaarna drinken we samen koffie op het terras bij de haven.", NL, True, []),
        (f"{DUTCH}\n{ENGLISH}", NL, False, ["en"]),
        ("Ja.\nOk, prima!\nDank je.", NL, True, []),  # only short lines: nothing to judge, passes
        ("今天天气很好，我们去公园散步吧。\n我们一起喝咖啡。", ZH, True, []),
        (f"今天天气很好，我们去公园散步吧。\n{ENGLISH}", ZH, False, ["en"]),  # mixed script
    ],
)
def test_crafted_replies_pass_or_fail_as_expected(reply, lang, passed, leaked):
    verdict = judge_reply(reply, lang)
    assert (verdict.passed, verdict.leaked) == (passed, leaked)


def test_short_lines_are_skipped():
    assert judge_reply("Ja.\nNee.", NL).lines_checked == 0


def test_summary_reports_rate_interval_leaks_and_examples():
    replies = [DUTCH] * 8 + [ENGLISH] * 2
    summary = fidelity_summary(replies, [f"p{i}" for i in range(10)], NL)
    assert summary["pass_rate"] == 0.8
    low, high = summary["ci95"]
    assert low <= 0.8 <= high and low < high
    assert summary["leaked_languages"] == {"en": 2}
    assert [e["prompt"] for e in summary["failure_examples"]] == ["p8", "p9"]
    assert "lid.176" in summary["method"]


def test_bootstrap_interval_of_constant_outcomes_is_a_point():
    assert bootstrap_interval([True] * 20) == (1.0, 1.0)


@pytest.mark.slow
def test_fidelity_end_to_end_with_the_demo_model(demo_model_path, use_demo_cache, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Wat is de hoofdstad van Frankrijk?\nHoe kook ik een ei?\n")
    code = main(
        [
            "eval",
            "fidelity",
            "--model",
            "demo",
            "--lang",
            "nl",
            "--prompts",
            str(prompts),
            "--baseline",
            "demo",
            "--max-new-tokens",
            "24",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("demo (Dutch): usable ") and "in the language" in out and "distinct-2" in out
    result = json.loads((tmp_path / "o" / "fidelity.json").read_text())["models"]
    assert result["demo"]["replies"] == 2 and len(result["demo"]["replies_text"]) == 2
    assert {"usable_rate", "usable_ci95", "not_degenerate_rate", "degenerate", "distinct_2"} <= set(
        result["demo"]
    )


def test_fidelity_with_a_lora_adapter_against_its_base(talkative_chat_model, tmp_path, capsys):
    """Base + adapter is measured as its own system, the base as the baseline."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lingualift.models import load_chat_model

    torch.manual_seed(0)
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(talkative_chat_model),
        LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False),
    )
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(talkative_chat_model).save_pretrained(adapter)
    with_adapter, tokenizer = load_chat_model(str(talkative_chat_model), adapter=str(adapter))
    base, _ = load_chat_model(str(talkative_chat_model))
    ids = tokenizer("Hallo daar", return_tensors="pt")
    with torch.no_grad():
        assert not torch.allclose(with_adapter(**ids).logits, base(**ids).logits)
    prompts = tmp_path / "p.txt"
    prompts.write_text("Hoe gaat het?\n")
    assert (
        main(
            [
                "eval",
                "fidelity",
                "--model",
                str(talkative_chat_model),
                "--adapter",
                str(adapter),
                "--baseline",
                str(talkative_chat_model),
                "--lang",
                "nl",
                "--prompts",
                str(prompts),
                "--max-new-tokens",
                "4",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "o" / "fidelity.json").read_text())["models"]
    assert set(result) == {f"{talkative_chat_model}+{adapter}", str(talkative_chat_model)}
    tuned = result[f"{talkative_chat_model}+{adapter}"]["replies_text"]
    plain = result[str(talkative_chat_model)]["replies_text"]
    assert tuned[0] and plain[0] and tuned != plain  # the adapter was measured, not the base twice


LOOP = "Het is het hebden.\n\nHet is het hebden.\n\nHet is het hebden."
RECIPE = (
    "Je hebt nodig:\n- twee eieren uit de koelkast\n- een snufje zout naar smaak\n- een klontje boter voor de pan\n"
    "Bak de eieren vier minuten in de pan."
)
PROMPT = "Kun je me uitleggen hoe ik een ei moet bakken in een koekenpan?"


@pytest.mark.parametrize(
    "reply, prompt, cut_off, reason",
    [
        (LOOP, PROMPT, False, "loop"),
        ("De kat zit op de mat. De kat zit op de mat. De kat zit op de mat.", PROMPT, False, "loop"),
        ("Ja ja ja ja ja", PROMPT, False, "loop"),
        ("A\nhet is een mooie dag\nB\nhet is een mooie dag\nC\nhet is een mooie dag", PROMPT, False, "loop"),
        (PROMPT, PROMPT, False, "prompt_copy"),
        (PROMPT + " Ja.", PROMPT, False, "prompt_copy"),
        ("", PROMPT, False, "empty"),
        ("  \n ...", PROMPT, False, "empty"),
        ("Ja, dat", PROMPT, True, "cut_off"),  # stopped at the limit with nothing to check
        ("Ja.", PROMPT, False, None),  # short but finished: a fine answer
        (RECIPE, PROMPT, False, None),  # a list of similar lines is not a loop
        (DUTCH + "\n" + "Daarna drinken we samen koffie op het terras bij de haven.", PROMPT, True, None),
        (" ".join(f"Stap {i}: doe iets anders met nummer {i}." for i in range(12)), PROMPT, False, None),
    ],
)
def test_degenerate_replies_are_named_and_healthy_ones_are_not(reply, prompt, cut_off, reason):
    from lingualift.evaluate.fidelity import degeneracy

    assert degeneracy(reply, prompt, cut_off=cut_off) == reason


def test_a_collapsed_model_is_in_the_language_but_not_usable():
    """The demo's failure: Dutch-looking loops score 100% on language alone."""
    replies = [LOOP] * 6 + [RECIPE] * 2 + [PROMPT] * 2
    summary = fidelity_summary(replies, [PROMPT] * 10, NL)
    assert summary["pass_rate"] == 1.0
    assert summary["usable_rate"] == 0.2 and summary["not_degenerate_rate"] == 0.2
    assert summary["degenerate"] == {"loop": 6, "prompt_copy": 2}
    assert summary["usable_ci95"][0] <= 0.2 <= summary["usable_ci95"][1] < 1.0
    assert [e["reason"] for e in summary["degenerate_examples"]] == ["loop", "prompt_copy"]
    assert summary["distinct_2"] < fidelity_summary([RECIPE, DUTCH], ["a", "b"], NL)["distinct_2"]
    mixed = fidelity_summary([ENGLISH, LOOP, RECIPE], ["a", "b", "c"], NL, cut_off=[False, False, False])
    assert mixed["usable_rate"] == pytest.approx(1 / 3)  # only the recipe is both Dutch and sound


def test_distinct_2_counts_repeated_word_pairs():
    from lingualift.evaluate.fidelity import distinct_2

    assert distinct_2(["a b c d"]) == 1.0 and distinct_2(["a b a b a b"]) == pytest.approx(2 / 5)
    assert distinct_2(["", "x"]) is None
