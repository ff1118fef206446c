import json

from sacrebleu.metrics import BLEU, CHRF

from lingualift.cli import main
from lingualift.evaluate.mt import score

PAIRS = [
    ("Hello there, how are you?", "Hallo daar, hoe gaat het?"),
    ("The cat sleeps on the mat.", "De kat slaapt op de mat."),
    ("I like green apples.", "Ik hou van groene appels."),
    ("Where is the train station?", "Waar is het station?"),
]


def test_scores_equal_sacrebleus_own_with_signatures():
    hypotheses = [
        "Hallo, hoe gaat het?",
        "De kat slaapt op de mat.",
        "Ik hou van appels.",
        "Waar is station?",
    ]
    references = [r for _, r in PAIRS]
    ours = score(hypotheses, references)
    assert ours["bleu"]["score"] == round(BLEU().corpus_score(hypotheses, [references]).score, 2)
    assert ours["chrf"]["score"] == round(CHRF().corpus_score(hypotheses, [references]).score, 2)
    assert ours["chrf++"]["score"] == round(
        CHRF(word_order=2).corpus_score(hypotheses, [references]).score, 2
    )
    assert ours["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert "|nw:2|" in ours["chrf++"]["signature"] and "|nw:0|" in ours["chrf"]["signature"]


def test_bench_mt_command_on_a_pair_file(tiny_marian, tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{s}\t{r}\n" for s, r in PAIRS))
    out = tmp_path / "bench"
    assert (
        main(
            [
                "bench-mt",
                "--data",
                str(pairs),
                "--to",
                "nl",
                "--backend",
                f"opus={tiny_marian}",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "BLEU" in printed and "nrefs:1|case:mixed" in printed
    result = json.loads((out / "bench_mt.json").read_text())["results"][0]
    hypotheses, references = result["hypotheses"], [[r for _, r in PAIRS]]
    assert hypotheses and any(h.strip() for h in hypotheses)  # scores of real output, not of nothing
    # the stored numbers are sacrebleu's own, computed here without our score()
    assert result["bleu"]["score"] == round(BLEU().corpus_score(hypotheses, references).score, 2)
    assert result["chrf"]["score"] == round(CHRF().corpus_score(hypotheses, references).score, 2)
    assert result["chrf++"]["score"] == round(
        CHRF(word_order=2).corpus_score(hypotheses, references).score, 2
    )
    assert result["segments"] == 4 and result["segments_per_second"] > 0 and result["peak_memory_mb"] > 0
    assert (out / "bench_mt.png").stat().st_size > 1000


def test_flores_style_line_files_must_match(tmp_path, capsys):
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text("a\nb\n")
    ref.write_text("a\n")
    assert main(["bench-mt", "--data", f"{src},{ref}", "--to", "nl", "--out", str(tmp_path / "o")]) == 2
    assert "has 2 lines but" in capsys.readouterr().err
