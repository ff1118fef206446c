"""`lingualift run`: the demo pipeline at a reduced size, skip/rerun logic with fingerprints, config
errors with key paths, presets, and kills during translate and train followed by a re-run."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import datasets
import pytest

from lingualift.cli import main

REDUCED = [
    "--limit",
    "30",
    "--set",
    "translate.max_new_tokens=24",
    "--set",
    "translate.batch_tokens=256",
    "--set",
    "evaluate.holdout=2",
    "--set",
    "train.sft.max_steps=4",
    "--set",
    "train.sft.save_steps=2",
    "--set",
    "train.sft.max_seq_length=256",
    "--set",
    "evaluate.fidelity.limit=2",
    "--set",
    "evaluate.fidelity.max_new_tokens=8",
]


def _threads(work: Path) -> list[dict]:
    return datasets.load_from_disk(str(work / "threads" / "train"))["train"].to_list()


DEMO_STDERR = {}  # work dir → what the demo run wrote on stderr (its progress bars)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_cache):
    """The README's demo (`lingualift run`, no config) at a reduced size, run once for this module."""
    import os

    work = tmp_path_factory.mktemp("pipeline") / "demo"
    env = {**os.environ, "LINGUALIFT_CACHE": str(demo_cache)}
    result = subprocess.run(
        [sys.executable, "-m", "lingualift", "run", "--work-dir", str(work), *REDUCED],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    DEMO_STDERR[work] = result.stderr
    return work, result.stdout


# what other libraries print when they are not silenced
LIBRARY_NOISE = re.compile(r"Loading weights|Saving the dataset|Map:|Warning:|warnings\.warn|\{'loss': ")


def test_the_terminal_shows_our_lines_and_a_summary_but_no_library_noise(demo_run, tmp_path, demo_cache):
    import shutil

    work, output = demo_run
    stderr = DEMO_STDERR[work]
    assert not LIBRARY_NOISE.search(output + stderr), LIBRARY_NOISE.search(output + stderr)
    assert "train sft:" in stderr and "translate → Dutch:" in stderr  # our own bars
    summary = output.split("summary:\n", 1)[1].splitlines()
    stages = [line.split()[0] for line in summary if line.startswith("  ")]
    assert stages == ["source", "translate", "threads", "train-sft", "evaluate", "export"]
    assert re.search(r"train-sft +run +[\d.]+ s +loss [\d.]+ → [\d.]+ in 4 steps", output)
    assert re.search(r"evaluate +run +[\d.]+ s +train-sft: usable \d+% \(\d+%–\d+%\); demo: usable", output)
    copy = tmp_path / "demo"
    shutil.copytree(work, copy)
    env = {**os.environ, "LINGUALIFT_CACHE": str(demo_cache)}
    loud = subprocess.run(
        [
            sys.executable,
            "-m",
            "lingualift",
            "--verbose",
            "run",
            "--work-dir",
            str(copy),
            *REDUCED,
            "--set",
            "train.sft.max_steps=3",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert loud.returncode == 0, loud.stderr[-3000:]
    assert LIBRARY_NOISE.search(loud.stdout + loud.stderr)  # --verbose lets the libraries speak


def test_the_demo_runs_every_stage_and_writes_a_report(demo_run):
    work, output = demo_run
    assert "source: demo sample (English, oasst1 format) — train: 30 rows" in output
    for stage in ("source", "translate", "threads", "train-sft", "evaluate", "export"):
        assert f"[{stage}] running: no finished run" in output
        assert json.loads((work / stage / "stage.json").read_text())["fingerprint"]
    translated = datasets.load_from_disk(str(work / "translate" / "data"))["train"]
    assert len(translated) == 30 and {"nl"} <= set(translated["lang"])
    heldout = datasets.load_from_disk(str(work / "threads" / "heldout"))["test"]
    assert len(heldout) == 2 and len(_threads(work)) >= 1
    assert not {r["id"] for r in heldout} & {r["id"] for r in _threads(work)}  # held out of training
    report = json.loads((work / "train-sft" / "training_report.json").read_text())
    assert report["steps"] == 4 and report["mode"] == "lora"
    fidelity = json.loads((work / "evaluate" / "fidelity.json").read_text())["models"]
    assert len(fidelity) == 2 and all(r["replies"] == 2 for r in fidelity.values())  # tuned and base
    assert all(
        0 <= r["usable_rate"] <= min(r["pass_rate"], r["not_degenerate_rate"]) for r in fidelity.values()
    )
    assert "usable " in output  # the evaluate stage's line leads with usable replies
    page = (work / "report" / "report.html").read_text()
    assert (
        "Replies in the language: usable, before and after" in page
        and "train-sft/training_report.json" in page
    )
    assert "<h2>Stages</h2>" in page and "SFT loss" not in page  # the loss plot is a PNG, not text
    assert "What this demo can show" in page and "usable " in page
    figures = re.findall(r"<img src='data:image/png;base64,[^']+' alt='([^']*)'>", page)
    assert figures == ["Translation", "Training: sft", "Replies in the language: usable, before and after"]
    assert len(list((work / "report").glob("figure-*.png"))) == 3
    assert f"report: {work / 'report' / 'report.html'}" in output
    merged = work / "export" / "merged"
    assert (merged / "model.safetensors").exists() and not (merged / "adapter_config.json").exists()


def test_the_pipeline_report_renders_in_chromium(demo_run, browser, artifacts_dir):
    work, _ = demo_run
    page = browser.new_page()
    try:
        page.goto((work / "report" / "report.html").as_uri())
        images = page.evaluate("() => [...document.images].map(i => i.complete && i.naturalWidth > 0)")
        assert images == [True, True, True]
        page.screenshot(path=os.path.join(artifacts_dir, "pipeline-report.png"), full_page=True)
    finally:
        page.close()


def test_running_again_skips_every_unchanged_stage(demo_run, demo_cache, monkeypatch, capsys):
    work, _ = demo_run
    monkeypatch.setenv("LINGUALIFT_CACHE", str(demo_cache))
    assert main(["run", "--work-dir", str(work), *REDUCED]) == 0
    output = capsys.readouterr().out
    for stage in ("source", "translate", "threads", "train-sft", "evaluate", "export"):
        assert f"[{stage}] skipped: unchanged" in output


def _overrides(args: list[str]) -> dict:
    """REDUCED's `--limit N --set KEY=VALUE ...` as load_config overrides, read as `lingualift run` reads them."""
    from lingualift.pipeline.config import set_overrides

    pairs = list(zip(args[::2], args[1::2]))
    overrides = set_overrides([value for flag, value in pairs if flag == "--set"])
    for flag, value in pairs:
        if flag == "--limit":
            overrides["limit"] = int(value)
    return overrides


@pytest.mark.parametrize(
    "changes, start, until, expected",
    [
        (
            {"train.sft.lr": 0.002},
            None,
            None,
            {
                "source": "skip",
                "translate": "skip",
                "threads": "skip",
                "train-sft": "run: changed: lr",
                "evaluate": "run: upstream reruns: train-sft",
                "export": "run: upstream reruns: train-sft",
            },
        ),
        (
            {"evaluate.fidelity.max_new_tokens": 9},
            None,
            None,
            {
                "threads": "skip",
                "train-sft": "skip",
                "evaluate": "run: changed: max_new_tokens",
                "export": "skip",
            },
        ),
        (
            {},
            "threads",
            None,
            {"translate": "skip", "threads": "run: --from threads", "train-sft": "run: --from threads"},
        ),
        ({}, None, "translate", {"translate": "skip", "threads": "stop: after --until translate"}),
        (
            {"threads.system_prompt": "Antwoord in het Nederlands."},
            None,
            None,
            {
                "translate": "skip",
                "threads": "run: changed: system_prompt",
                "train-sft": "run: upstream reruns: threads",
            },
        ),
    ],
)
def test_the_plan_reruns_a_changed_stage_and_everything_downstream(demo_run, changes, start, until, expected):
    from lingualift.pipeline import load_config, run_pipeline

    work, _ = demo_run
    config = load_config(None, {**_overrides(REDUCED), **changes, "work_dir": str(work)})
    planned = run_pipeline(config, start=start, until=until, dry_run=True, echo=lambda line: None)["plan"]
    plan = {
        name: step["action"] if step["action"] == "skip" else f"{step['action']}: {step['reason']}"
        for name, step in planned.items()
    }
    assert {k: plan[k] for k in expected} == expected


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("train:\n  sft:\n    lora_r: 0\n", "train.sft.lora_r: input should be greater than 0"),
        ("language: xx-nope\n", "language: unknown language 'xx-nope'"),
        ("translate:\n  to: de\n", "translate.to: set by the pipeline, remove it"),
        ("train:\n  sft:\n    lora_rank: 8\n", "train.sft.lora_rank: extra inputs are not permitted"),
        (
            "evaluate:\n  fidelity:\n    limit: -1\n",
            "evaluate.fidelity.limit: input should be greater than 0",
        ),
        ("translate:\n  backend: deepl\n", "translate.backend: input should be"),
        (
            "train:\n  cpt:\n    lr: 0.001\n",
            "train.cpt.data: raw target-language text to pre-train on is required",
        ),
        ("tarin: {}\n", "tarin: extra inputs are not permitted"),
        ("export:\n  merge:\n    out: /tmp/x\n", "export.merge.out: set by the pipeline, remove it"),
        (
            "train:\n  sft:\n    full: true\nexport:\n  merge: {}\n",
            "export.merge: needs a LoRA training stage",
        ),
        (
            "train:\n  sft:\n    lora_r: 0\n  dpo:\n    lr: -1\n",
            "train.sft.lora_r: input should be greater than 0; train.dpo.lr: input should be greater than 0",
        ),
    ],
)
def test_an_invalid_config_is_one_error_naming_the_key_path_before_anything_loads(
    yaml_text, message, tmp_path, capsys
):
    config = tmp_path / "pipeline.yaml"
    config.write_text("model: no/such-model\n" + yaml_text)  # would fail to load: proves nothing loads first
    assert main(["run", str(config), "--work-dir", str(tmp_path / "w")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("preset", ["demo", "llama2lang", "bactrian", "tagengo", "cpt-sft", "globalinstruct"])
def test_init_writes_a_commented_preset_that_validates(preset, tmp_path, capsys):
    from lingualift.pipeline import load_config, plan_steps

    path = tmp_path / "pipeline.yaml"
    assert main(["init", str(path), "--preset", preset, "--lang", "German"]) == 0
    text = path.read_text()
    assert "# " in text and "{language}" not in text
    config = load_config(path)
    if preset in ("bactrian", "tagengo", "globalinstruct"):  # a teacher it cannot guess: the dry run names it
        assert main(["run", str(path), "--dry-run"]) == 2
        err = capsys.readouterr().err.strip()
        stage = "generate" if preset == "globalinstruct" else "respond"
        assert err.startswith(f"error: {stage}") and "needs a teacher" in err and len(err.splitlines()) == 1
        path.write_text(text.replace("  # base_url:", "  base_url:").replace("  # model:", "  model:"))
        config = load_config(path)
    steps = [step.name for step in plan_steps(config)]
    assert config.language == "de" and "train-sft" in steps
    assert preset != "bactrian" or steps[:4] == ["source", "translate", "respond", "threads"]
    assert preset != "tagengo" or steps[:3] == ["source", "respond", "threads"]  # native prompts
    assert preset != "globalinstruct" or (
        steps[:3] == ["source", "generate", "threads"] and "benchmark" in steps
    )
    sft = next(step.config for step in plan_steps(config) if step.name == "train-sft")
    seeds = {  # the numbers each seed document gives (shared/seeds/), where the preset cites them
        "cpt-sft": {"scheduler": "cosine", "warmup_ratio": 0.03, "adam_beta2": 0.95, "lr": 2e-4, "epochs": 2},
        "tagengo": {"scheduler": "cosine", "warmup_steps": 10},
        "bactrian": {"group_by_length": True, "lr": 3e-4, "lora_r": 16, "max_seq_length": 512},
    }
    assert {k: getattr(sft, k) for k in seeds.get(preset, {})} == seeds.get(preset, {})
    assert main(["init", str(path), "--preset", preset]) == 2  # never overwrites silently
    assert "pass --force" in capsys.readouterr().err


def test_an_unknown_stage_for_from_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "--work-dir", str(tmp_path / "w"), "--from", "training", "--dry-run"]) == 2
    assert "--from training: no such stage" in capsys.readouterr().err


@pytest.mark.slow
def test_several_languages_train_one_model_and_are_measured_each(tmp_path, demo_cache):
    """`language: [nl, de]`: one translate and threads stage per language, sft on both (uniform mix), each
    language's conversations with its own system prompt, fidelity per language."""
    import os

    work = tmp_path / "two"
    env = {**os.environ, "LINGUALIFT_CACHE": str(demo_cache)}
    reduced = [arg.replace("train.sft.max_steps=4", "train.sft.max_steps=2") for arg in REDUCED]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lingualift",
            "run",
            "--work-dir",
            str(work),
            *reduced,
            "--set",
            "language=nl,de",
            "--set",
            "train.sft.mix=uniform",
            "--until",
            "evaluate",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for stage in ("translate-nl", "threads-nl", "translate-de", "threads-de", "train-sft", "evaluate"):
        assert f"[{stage}] running: no finished run" in result.stdout
    assert not (work / "translate").exists() and not (work / "export" / "stage.json").exists()
    for tag, name in (("nl", "Dutch"), ("de", "German")):
        threads = datasets.load_from_disk(str(work / f"threads-{tag}" / "train"))["train"]
        assert set(threads["lang"]) == {tag}
        assert all(m[0]["role"] == "system" and name in m[0]["content"] for m in threads["messages"])
    stats = json.loads((work / "train-sft" / "training_report.json").read_text())["data_stats"]
    assert stats["mix"] == "uniform" and set(stats["languages"]) == {"nl", "de"}
    sampled = [v["sampled"] for v in stats["languages"].values()]
    assert abs(sampled[0] - sampled[1]) <= 1  # uniform: the same number from each language
    fidelity = json.loads((work / "evaluate" / "fidelity.json").read_text())["models"]
    assert {key.rsplit(" ", 1)[-1] for key in fidelity} == {"[nl]", "[de]"} and len(
        fidelity
    ) == 4  # tuned and base
    for key, result in fidelity.items():
        assert result["replies"] == 2
        assert ("German" if key.endswith("[de]") else "Dutch") in result["settings"]["system"]


def test_several_languages_refuse_preference_training_in_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "run",
                "--work-dir",
                str(tmp_path / "w"),
                "--set",
                "language=nl,de",
                "--set",
                "train.dpo={}",
                "--dry-run",
            ]
        )
        == 2
    )
    assert "train.dpo: takes one language's preference pairs" in capsys.readouterr().err
    assert main(["run", "--work-dir", str(tmp_path / "w"), "--set", "language=nl,Dutch", "--dry-run"]) == 2
    assert "named twice" in capsys.readouterr().err


def _kill_when(command: list[str], ready, env, timeout: float = 600) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None and not ready():
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_killed_during_translate_and_during_train_then_the_same_command_finishes_identically(
    demo_run, demo_cache, tmp_path
):
    import os
    import sqlite3

    reference, _ = demo_run
    work = tmp_path / "killed"
    env = {**os.environ, "LINGUALIFT_CACHE": str(demo_cache)}
    command = [sys.executable, "-m", "lingualift", "run", "--work-dir", str(work), *REDUCED]

    def translated_some() -> bool:
        stores = list((work / "translate" / "store").glob("*.sqlite"))
        if not stores:
            return False
        try:
            with sqlite3.connect(stores[0]) as db:
                return db.execute("SELECT COUNT(*) FROM segments").fetchone()[0] > 0
        except sqlite3.Error:
            return False

    _kill_when(command, translated_some, env)
    assert not (work / "translate" / "stage.json").exists()
    _kill_when(
        command,
        lambda: any((work / "train-sft" / "checkpoints").glob("checkpoint-*/trainer_state.json")),
        env,
    )
    assert (work / "translate" / "stage.json").exists() and not (work / "train-sft" / "stage.json").exists()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "[translate] skipped: unchanged" in finished.stdout
    assert (
        "[train-sft] running: resume an interrupted run" in finished.stdout
        and "resuming from" in finished.stdout
    )
    assert _threads(work) == _threads(reference)
    for split in ("train",):
        ours = datasets.load_from_disk(str(work / "translate" / "data"))[split]
        theirs = datasets.load_from_disk(str(reference / "translate" / "data"))[split]
        assert ours["text"] == theirs["text"] and ours["qe_flags"] == theirs["qe_flags"]
    assert json.loads((work / "train-sft" / "training_report.json").read_text())["steps"] == 4


@pytest.mark.slow
def test_an_alpaca_source_is_translated_field_by_field_and_read_by_threads(tmp_path, demo_cache):
    """`source:` an Alpaca-shaped file: translate finds its fields (prompts only, `roles: [user]`),
    threads reads the result; the answers stay as given."""
    from lingualift.demo.sample import sample_rows

    texts = [r["text"].split("\n")[0][:120] for r in sample_rows() if r.get("lang") == "en"][:8]
    rows = [{"instruction": texts[i], "input": "", "output": texts[i + 1]} for i in range(0, 8, 2)]
    source = tmp_path / "alpaca.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    work = tmp_path / "w"
    argv = ["run", "--work-dir", str(work), "--set", f"source={source}", "--set", "source_lang=en"]
    argv += [
        "--set",
        "translate.max_new_tokens=16",
        "--set",
        "translate.roles=user",
        "--set",
        "evaluate.holdout=1",
    ]
    argv += ["--until", "threads"]
    assert main(argv) == 0
    report = json.loads((work / "translate" / "data" / "translate_report.json").read_text())
    assert report["format"] == "alpaca" and report["roles"] == ["user"] and report["rows"] == 4
    threads = datasets.load_from_disk(str(work / "threads" / "all"))["train"]  # before the holdout
    assert len(threads) == 4 and set(threads["lang"]) == {"nl"}
    assert sorted(m[-1]["content"] for m in threads["messages"]) == sorted(r["output"] for r in rows)
    assert not {m[-2]["content"] for m in threads["messages"]} & {r["instruction"] for r in rows}


@pytest.mark.slow
def test_a_teacher_answers_the_translated_prompts_between_translate_and_threads(
    tmp_path, demo_cache, teacher
):
    """`respond:` in the pipeline: translate translates the prompts only, the teacher (a scripted
    endpoint) answers them, threads reads the accepted answers."""
    from lingualift.demo.sample import sample_rows

    texts = [r["text"].split("\n")[0][:100] for r in sample_rows() if r.get("lang") == "en"][:4]
    source = tmp_path / "alpaca.jsonl"
    source.write_text(
        "".join(json.dumps({"instruction": t, "input": "", "output": "Yes."}) + "\n" for t in texts)
    )
    work = tmp_path / "w"
    argv = ["run", "--work-dir", str(work), "--set", f"source={source}", "--set", "source_lang=en"]
    argv += ["--set", "translate.max_new_tokens=16", "--set", "evaluate.holdout=1"]
    argv += ["--set", f"respond.base_url={teacher}", "--set", "respond.model=t", "--until", "threads"]
    assert main(argv) == 0
    translated = json.loads((work / "translate" / "data" / "translate_report.json").read_text())
    assert translated["roles"] == ["system", "user"]
    answered = json.loads((work / "respond" / "data" / "respond_report.json").read_text())
    assert answered["rows"] == 4 and answered["accepted"] + answered["rejected"] == 4
    threads = datasets.load_from_disk(str(work / "threads" / "all"))["train"]
    assert len(threads) == answered["accepted"] > 0
    assert all(m[-1]["content"].startswith("Het weer in Amsterdam") for m in threads["messages"])


RECIPE_FLAGS = {  # what a 6-row offline run changes in the preset: the demo model everywhere, tiny budgets
    "bactrian": ["--set", "translate.backend=llm", "--set", "translate.max_new_tokens=48"],
    "tagengo": [],
}


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["bactrian", "tagengo"])
def test_each_teacher_recipe_runs_end_to_end_on_the_demo_model(preset, tmp_path, demo_cache, monkeypatch):
    """`init --preset bactrian|tagengo`, the teacher filled in (the demo model), six rows: every
    stage runs, every row is answered or rejected with its reason, threads trains on the accepted."""
    from lingualift.demo.sample import sample_rows

    monkeypatch.setenv("LINGUALIFT_CACHE", str(demo_cache))
    english = [r["text"].split("\n")[0][:100] for r in sample_rows() if r.get("lang") == "en"]
    source = tmp_path / "source.jsonl"
    sources = f"source: {source}"
    if (
        preset == "bactrian"
    ):  # English instructions from Alpaca and Dolly (one repeated): translated, answered
        rows = [{"instruction": english[i], "input": "", "output": english[i + 1]} for i in range(0, 8, 2)]
        dolly = [{"instruction": english[i], "context": "", "response": english[i + 1]} for i in (6, 8, 10)]
        (tmp_path / "dolly.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dolly))
        sources = f"source:\n- {source}\n- {tmp_path / 'dolly.jsonl'}"
    else:  # native prompts, two of them not Dutch (the prompt language filter)
        dutch = [
            "Schrijf een korte zin over de zee.",
            "Noem een kleur van de regenboog.",
            "Waarom is de lucht blauw?",
            "Wat eet een konijn?",
        ]
        rows = [{"prompt": p} for p in dutch + english[:2]]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "pipeline.yaml"
    assert main(["init", str(config), "--preset", preset, "--lang", "nl"]) == 0
    text = config.read_text().replace("  # model: ", "  model: demo  # ")
    text = re.sub(r"^source:.*\n(- .*\n)*", sources + "\n", text, flags=re.M)
    config.write_text(text)
    work = tmp_path / "w"
    argv = ["run", str(config), "--work-dir", str(work), "--set", "model=demo"]
    argv += ["--set", "respond.max_new_tokens=96", "--set", "respond.batch_size=6"]
    argv += [
        "--set",
        "train.sft.max_steps=2",
        "--set",
        "train.sft.batch_size=2",
        "--set",
        "train.sft.grad_accum=1",
    ]
    argv += ["--set", "evaluate.holdout=1", "--set", "evaluate.fidelity.limit=1"]
    argv += ["--set", "evaluate.fidelity.max_new_tokens=8", *RECIPE_FLAGS[preset]]
    assert main(argv) == 0
    report = json.loads((work / "respond" / "data" / "respond_report.json").read_text())
    assert report["teacher"] == "local|demo" and report["rows"] == 6
    assert (
        report["accepted"] + report["rejected"]
        == 6
        == report["accepted"] + sum(report["rejected_by_reason"].values())
    )
    assert report["accepted"] >= 2  # one for training, one held out
    if preset == "bactrian":  # dolly's first row repeats alpaca's last instruction
        summary = json.loads((work / "source" / "stage.json").read_text())["summary"]
        assert summary["by_source"] == {str(source): 4, str(tmp_path / "dolly.jsonl"): 2}
        assert summary["duplicates_across_sources"] == 1
    assert preset != "tagengo" or report["rejected_by_reason"].get("prompt_language") == 2
    kept = datasets.load_from_disk(str(work / "threads" / "all"))["train"]
    assert len(kept) == report["accepted"]
    answered = datasets.load_from_disk(str(work / "respond" / "data"))["train"]
    assert sorted(m[-1]["content"] for m in kept["messages"]) == sorted(
        m[-1]["content"] for m in answered["messages"]
    )
    assert (work / "train-sft" / "adapter_config.json").exists()
    steps = ["source", "translate", "respond"] if preset == "bactrian" else ["source", "respond"]
    assert all((work / step / "stage.json").exists() for step in [*steps, "threads", "train-sft", "evaluate"])
    assert (work / "translate").exists() == (preset == "bactrian")
    assert "respond" in (work / "report" / "report.md").read_text()


def test_several_sources_are_one_dataset_with_a_source_column_and_duplicates_counted(tmp_path, capsys):
    """Bactrian-X's Alpaca *and* Dolly in one run: `source:` a list (a file and a hub-style repo with
    a config), rows become messages with their source, a prompt Dolly repeats from Alpaca is dropped
    and counted, an empty Dolly answer is left out and counted, `limit` applies to each source."""
    from tests.test_io import dataset_repo

    alpaca = tmp_path / "alpaca.jsonl"
    alpaca_rows = [
        {"instruction": "Name a colour.", "input": "", "output": "Blue."},
        {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
        {"instruction": "Say yes.", "input": "", "output": "Yes."},
        {"instruction": "Not read: past the limit.", "input": "", "output": "-"},
    ]
    alpaca.write_text("".join(json.dumps(r) + "\n" for r in alpaca_rows))
    dolly_rows = [
        {"instruction": "Name a colour.", "context": "", "response": "Blue.", "category": "open_qa"},
        {"instruction": "Say nothing.", "context": "", "response": "", "category": "open_qa"},
        {"instruction": "Who wrote Hamlet?", "context": "", "response": "Shakespeare.", "category": "qa"},
        {"instruction": "Not read: past the limit.", "context": "", "response": "-", "category": "qa"},
    ]
    repo = dataset_repo(tmp_path / "dolly", {"en": dolly_rows})
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"source:\n- {alpaca}\n- {repo}:en\nsource_lang: en\nlimit: 3\n")
    work = tmp_path / "w"
    assert main(["run", str(config), "--work-dir", str(work), "--until", "source"]) == 0
    rows = list(datasets.load_from_disk(str(work / "source" / "data"))["train"])
    assert [(r["source"], r["messages"][0]["content"]) for r in rows] == [
        (str(alpaca), "Name a colour."),
        (str(alpaca), "Add the numbers.\n\n2 and 3"),
        (str(alpaca), "Say yes."),
        (f"{repo}:en", "Who wrote Hamlet?"),
    ]  # of dolly's three rows within the limit, one repeats alpaca's and one has an empty answer
    assert rows[-1]["messages"][1] == {"role": "assistant", "content": "Shakespeare."}
    summary = json.loads((work / "source" / "stage.json").read_text())["summary"]
    assert summary["by_source"] == {str(alpaca): 3, f"{repo}:en": 1}
    assert summary["duplicates_across_sources"] == 1
    assert list(summary["left_out"].values()) == [1] and f"{repo}:en" in next(iter(summary["left_out"]))
    out = capsys.readouterr().out
    assert "1 rows repeating an earlier source's dropped" in out


def test_keep_where_takes_tagengos_finished_gpt4_answers_as_suzume_did(tmp_path, capsys):
    """Suzume trained on tagengo's own answers, rows whose answer finished with `stop`:
    `keep_where: {response[1]: stop, language: Dutch}`, no teacher, threads read the sharegpt rows."""

    def row(prompt, answer, finish, language="Dutch"):
        turns = [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]
        return {"conversations": turns, "response": [answer, finish], "language": language}

    rows = [
        row("Wat is de hoofdstad van Frankrijk?", "Parijs.", "stop"),
        row("Schrijf een lang verhaal.", "Er was eens", "length"),  # cut off: not kept
        row("Quelle heure est-il ?", "Midi.", "stop", "French"),  # another language
        row("Noem een kleur.", "Blauw.", "stop"),
    ]
    source = tmp_path / "tagengo.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        f"language: nl\nsource: {source}\ntranslate: false\n"
        "keep_where:\n  response[1]: stop\n  language: Dutch\nevaluate:\n  holdout: 1\n"
    )
    work = tmp_path / "w"
    assert main(["run", str(config), "--work-dir", str(work), "--until", "threads"]) == 0
    assert (
        "keep_where: 2 of 4 rows kept (response[1] == 'stop', language == 'Dutch')" in capsys.readouterr().out
    )
    threads = datasets.load_from_disk(str(work / "threads" / "all"))["train"]
    assert sorted(m[-1]["content"] for m in threads["messages"]) == ["Blauw.", "Parijs."]
    summary = json.loads((work / "source" / "stage.json").read_text())["summary"]
    assert summary["filtered_out"] == 2
    config.write_text(config.read_text().replace("response[1]", "answer[1]"))
    assert main(["run", str(config), "--work-dir", str(work), "--until", "threads"]) == 2
    assert (
        "keep_where names no column 'answer' (columns: conversations, response, language)"
        in capsys.readouterr().err
    )


IGBO_DOCS = {
    "igbo.txt": "Igbo bụ asụsụ ndị Igbo na-asụ na mpaghara ndịda ọwụwa anyanwụ Naịjirịa. Ọ bụ otu n'ime "
    "asụsụ ndị kachasị ukwuu na mba ahụ, ọtụtụ nde mmadụ na-asụkwa ya n'ụlọ na n'ahịa.",
    "enugwu.txt": "Enugwu bụ isi obodo Steeti Enugwu. Ọ dị n'ugwu, ndị mmadụ na-akpọkwa ya obodo ọkụ n'ihi "
    "icheku ọkụ a na-egwu n'ebe ahụ na mgbe ochie, tupu ụgbọ oloko ebido ibuga ya n'ọdụ ụgbọ mmiri.",
    "oji.txt": "Oji dị mkpa n'omenala ndị Igbo. A na-eji ya anabata ọbịa n'ụlọ, onye kachasị okenye na-agọzi ya "
    "tupu e kewaa ya, ndị niile nọ n'ebe ahụ na-erikwa ya ọnụ dịka ihe ịrịba ama nke udo.",
    "ahia.txt": "Ahịa Ọnwụrụ Ọnịcha bụ otu n'ime ahịa kachasị ukwuu n'Afrịka. Ndị ahịa si n'ọtụtụ obodo na-abịa "
    "ebe ahụ ịzụ na ire akwa, ngwa ọrụ na nri, ahịa ahụ na-emekwa kwa ụbọchị ma e wezụga ụbọchị Ụka.",
}


class IgboGenerator(BaseHTTPRequestHandler):
    """A scripted teacher for `generate`: two pairs per chunk in Igbo, each answer a sentence of it."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        chunk = body["messages"][-1]["content"].split("Text:\n", 1)[1]
        sentences = [s.strip() + "." for s in chunk.split(".") if len(s.strip()) > 20]
        pairs = [
            {"question": f"Gịnị ka ederede a kwuru banyere {s.split()[0]}?", "answer": s}
            for s in sentences[:2]
        ]
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": json.dumps(pairs)}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_the_globalinstruct_preset_runs_from_igbo_documents_to_a_benchmark_score(
    tmp_path, demo_cache, monkeypatch
):
    """`init --preset globalinstruct --lang ig` on a folder of Igbo documents: generate (a scripted
    teacher) writes the pairs, heliport checks them (lid.176 has no Igbo), the demo model trains,
    fidelity is measured, and an Igbo multiple-choice set is scored tuned beside base and chance."""
    from tests.fixtures_teacher import local_server

    monkeypatch.setenv("LINGUALIFT_CACHE", str(demo_cache))
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in IGBO_DOCS.items():
        (docs / name).write_text(text + "\n")
    bench = tmp_path / "mc-ig.jsonl"
    items = [
        ("Ebee ka Enugwu dị?", ["N'ugwu", "N'osimiri", "N'ọzara"]),
        ("Gịnị ka a na-eji anabata ọbịa?", ["Oji", "Akwa", "Ụgbọ"]),
        ("Kedu asụsụ ndị Igbo na-asụ?", ["Igbo", "Hausa", "Yoruba"]),
    ]
    bench.write_text(
        "".join(
            json.dumps({"question": q, "choices": {"text": c, "label": ["A", "B", "C"]}, "answerKey": "A"})
            + "\n"
            for q, c in items
        )
    )
    config = tmp_path / "pipeline.yaml"
    assert main(["init", str(config), "--preset", "globalinstruct", "--lang", "ig"]) == 0
    with local_server(IgboGenerator) as url:
        work = tmp_path / "w"
        argv = ["run", str(config), "--work-dir", str(work), "--set", "model=demo", "--set", f"source={docs}"]
        argv += ["--set", f"generate.base_url={url}", "--set", "generate.model=scripted"]
        argv += ["--set", "generate.min_doc_chars=50", "--set", "generate.chunk_tokens=64"]
        argv += [
            "--set",
            "train.sft.max_steps=2",
            "--set",
            "train.sft.batch_size=2",
            "--set",
            "train.sft.grad_accum=1",
        ]
        argv += ["--set", "train.sft.max_seq_length=256", "--set", "evaluate.holdout=1"]
        argv += ["--set", "evaluate.fidelity.limit=1", "--set", "evaluate.fidelity.max_new_tokens=8"]
        argv += ["--set", f"evaluate.benchmark.source={bench}", "--set", "evaluate.benchmark.source_lang=ig"]
        argv += [
            "--set",
            "evaluate.benchmark.split=train",
            "--set",
            "evaluate.benchmark.translate.backend=llm",
        ]
        argv += ["--set", "evaluate.benchmark.translate.model=demo", "--set", "limit=100"]
        assert main(argv) == 0
    source = json.loads((work / "source" / "stage.json").read_text())["summary"]
    assert source["rows"] == {"train": 4}  # one row a document
    generated = json.loads((work / "generate" / "data" / "generate_report.json").read_text())
    assert generated["documents_kept"] == 4 and generated["pairs"]["accepted"] >= 4
    assert generated["language_check"].startswith("heliport")  # the pipeline's `lid:` reached it
    threads = datasets.load_from_disk(str(work / "threads" / "all"))["train"]
    assert len(threads) == generated["pairs"]["accepted"] and {"ig"} == set(threads["lang"])
    assert (work / "train-sft" / "adapter_config.json").exists()
    fidelity = json.loads((work / "evaluate" / "fidelity.json").read_text())
    assert "heliport" in json.dumps(fidelity) and "not measurable" not in json.dumps(fidelity)
    benchmark = json.loads((work / "benchmark" / "benchmark.json").read_text())
    assert benchmark["items"] == 3 and benchmark["chance"] == pytest.approx(1 / 3)
    assert [s["model"] for s in benchmark["scores"]] == [
        str(work / "train-sft"),
        "demo",
        str(work / "train-sft"),
    ]
    assert "Translated benchmark" in (work / "report" / "report.md").read_text()


def test_review_true_pauses_after_generate_and_the_next_run_applies_the_decisions(tmp_path, capsys):
    """GlobalInstruct's hand correction in the pipeline: the first run stops after generate naming the
    command that opens the page; decisions made there (one edit, one reject) reach the threads."""
    from lingualift.tools.review.decisions import Decision, DecisionStore, ReviewConfig, default_db, row_view
    from tests.fixtures_teacher import local_server

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in IGBO_DOCS.items():
        (docs / name).write_text(text + "\n")
    config = tmp_path / "pipeline.yaml"
    work = tmp_path / "w"
    with local_server(IgboGenerator) as url:
        config.write_text(
            f"language: ig\nsource: {docs}\nlid: heliport\ntranslate: false\nreview: true\n"
            f"generate:\n  base_url: {url}\n  model: scripted\n  min_doc_chars: 50\n  chunk_tokens: 64\n"
            "evaluate:\n  holdout: 1\n"
        )
        argv = ["run", str(config), "--work-dir", str(work), "--until", "threads"]
        assert main(argv) == 2
        error = capsys.readouterr().err.strip()
        generated = work / "generate" / "data"
        assert error == (
            f"error: review: the generated pairs wait for you — `lingualift review {generated}` (decide, Ctrl+C), "
            "then run the same `lingualift run` again"
        )
        assert not (work / "threads").exists()
        pairs = list(datasets.load_from_disk(str(generated))["train"])
        store = DecisionStore(default_db(str(generated)))  # what the page records
        shown = [row_view(row, "pairs", ReviewConfig())[0] for row in pairs]
        store.record(
            Decision(split="train", row=0, action="edit", text="Kedu ihe Igbo bụ?\n---\nIgbo bụ asụsụ."),
            shown[0],
        )
        store.record(Decision(split="train", row=1, action="reject", reason="not in the text"), shown[1])
        store.close()
        assert main(argv) == 0
    threads = datasets.load_from_disk(str(work / "threads" / "all"))["train"]
    assert len(threads) == len(pairs) - 1
    assert ["Kedu ihe Igbo bụ?", "Igbo bụ asụsụ."] in [
        [m["content"] for m in t[-2:]] for t in threads["messages"]
    ]
    review = json.loads((work / "review" / "data" / "review_report.json").read_text())
    assert (review["edited"], review["rejected"]) == (1, 1)
