"""The stage registry is the one list the CLI, the pipeline and the report are built from."""

import pytest

from lingualift.cli import app, main
from lingualift.stage import linked_fields
from lingualift.stages import pipeline_stages, registry

META_COMMANDS = {"languages", "run", "init", "report"}  # commands about stages, not stages


def _cli_paths(group=None, prefix=()):
    import typer.main

    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _cli_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_stage_command_comes_from_the_registry_and_every_registered_command_exists():
    registered = {tuple(stage.cli_path) for stage in registry() if stage.command}
    commands = set(_cli_paths())
    assert commands - registered == {(name,) for name in META_COMMANDS}
    assert registered <= commands


def test_report_files_belong_to_one_stage_each_and_have_a_section():
    reports = [stage.report for stage in registry() if stage.report]
    assert len(reports) == len(set(reports))
    assert all(stage.section for stage in registry() if stage.report)


def test_the_pipeline_config_is_built_from_the_stages_sections():
    from lingualift.pipeline.config import PipelineConfig

    fields = set(PipelineConfig.model_fields)
    for stage in pipeline_stages():
        assert set(stage.pipeline.fields) <= fields, stage.name
    assert {"translate", "threads", "train", "evaluate", "export", "source", "limit"} <= fields


SECTIONS = {
    "translate": "translate",
    "threads": "threads",
    "respond": "respond",
    "train": "train.sft",
    "fidelity": "evaluate.fidelity",
    "merge": "export.merge",
    "generate": "generate",
    "benchmark": "evaluate.benchmark",
}


@pytest.mark.parametrize(
    "section, field",
    [
        (SECTIONS[stage.name], field)
        for stage in pipeline_stages()
        if stage.config
        for field in linked_fields(stage.config)
    ],
)
def test_a_section_setting_what_the_pipeline_links_is_one_error_naming_it(section, field, tmp_path, capsys):
    *parents, last = section.split(".")
    yaml_text, indent = "", ""
    for key in (*parents, last):
        yaml_text += f"{indent}{key}:\n"
        indent += "  "
    yaml_text += f"{indent}{field}: x\n"
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml_text)
    assert main(["run", str(config), "--work-dir", str(tmp_path / "w"), "--dry-run"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"{section}.{field}: set by the pipeline, remove it" in error[0], error


def test_the_plan_follows_registry_order_and_links_each_step_to_the_one_before():
    from lingualift.pipeline import load_config, plan_steps

    steps = plan_steps(load_config(None, {"language": "nl,de", "train.cpt": {"data": "raw.txt"}}))
    assert [s.name for s in steps] == [
        "source",
        "translate-nl",
        "translate-de",
        "threads-nl",
        "threads-de",
        "train-cpt",
        "train-sft",
        "evaluate",
        "export",
    ]
    by_name = {s.name: s for s in steps}
    assert by_name["threads-de"].upstream == ("translate-de",)
    assert by_name["train-sft"].config.model == by_name["train-cpt"].config.out  # sft starts from cpt
    assert by_name["train-sft"].upstream == ("train-cpt", "threads-nl", "threads-de")
    assert by_name["evaluate"].config.model == by_name["train-sft"].config.out
    assert by_name["evaluate"].config.baseline == "demo"
    assert by_name["export"].config.adapter == by_name["train-sft"].config.out


@pytest.mark.parametrize("changed, kept", [({}, True), ({"backend": "opus"}, False)])
def test_a_translate_store_survives_an_upstream_change_but_not_a_translator_change(changed, kept, tmp_path):
    """Also for a started.json written before `out` became a config field (its config has no `out`)."""
    import json

    from lingualift.pipeline import load_config, plan_steps
    from lingualift.pipeline.runner import _prepare_folder

    step = next(
        s for s in plan_steps(load_config(None, {"work_dir": str(tmp_path)})) if s.name == "translate"
    )
    folder = tmp_path / "translate"
    (folder / "store").mkdir(parents=True)
    (folder / "store" / "translations.sqlite").write_text("")
    older = {k: v for k, v in step.config.model_dump().items() if k not in ("out", "resume")} | changed
    (folder / "started.json").write_text(json.dumps({"fingerprint": "an upstream change", "config": older}))
    _prepare_folder(step, folder)
    assert (folder / "store" / "translations.sqlite").exists() == kept


def test_the_readme_lists_every_command_once_with_a_page_in_docs():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    first_cells = [line.split("): ", 1)[0] for line in readme.splitlines() if line.startswith("- [`")]
    listed = [name for cell in first_cells for name in re.findall(r"`([a-z -]+)`", cell)]
    commands = {" ".join(path) for path in _cli_paths()}
    assert sorted(listed) == sorted(commands)  # each command once, no command that does not exist
    for line in (line for line in readme.splitlines() if line.startswith("- [`")):  # each links its page
        assert re.search(r"\]\(docs/[a-z-]+\.md\)", line), line
    for page in re.findall(r"\]\((docs/[^)]+\.md)\)", readme):
        assert (root / page).is_file(), page


def test_the_report_finds_each_stage_file_once_and_skips_copies_and_checkpoints(tmp_path):
    from lingualift.report import find_artifacts

    for folder in ("extended", "merged", "sft/checkpoints/checkpoint-2", "sft"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "extended" / "lingualift_tokenizer.json").write_text("{}")
    (tmp_path / "merged" / "lingualift_tokenizer.json").write_text("{}")  # the record a merge copies along
    (tmp_path / "merged" / "lingualift_merge.json").write_text("{}")
    (tmp_path / "sft" / "training_report.json").write_text("{}")
    (tmp_path / "sft" / "checkpoints" / "checkpoint-2" / "training_report.json").write_text("{}")
    found = [(str(path.relative_to(tmp_path)), stage.name) for path, stage in find_artifacts(tmp_path)]
    assert found == [
        ("extended/lingualift_tokenizer.json", "tokenizer"),
        ("sft/training_report.json", "train"),
    ]


def test_a_training_section_error_is_not_followed_by_a_misleading_merge_error(tmp_path, capsys):
    assert main(["run", "--work-dir", str(tmp_path / "w"), "--set", "train.sft.lora_r=0", "--dry-run"]) == 2
    error = capsys.readouterr().err.strip()
    assert "train.sft.lora_r: input should be greater than 0" in error and "export.merge" not in error


def test_translate_false_plans_threads_and_respond_on_the_source():
    from lingualift.pipeline import load_config, plan_steps

    steps = plan_steps(load_config(None, {"translate": False}))
    assert [s.name for s in steps][:3] == ["source", "threads", "train-sft"]
    threads = next(s for s in steps if s.name == "threads")
    assert threads.upstream == ("source",) and threads.config.source.endswith("source/data")
    steps = plan_steps(
        load_config(None, {"translate": False, "respond": {"base_url": "http://127.0.0.1:9/v1"}})
    )
    by_name = {s.name: s for s in steps}
    assert [s.name for s in steps][:3] == ["source", "respond", "threads"]
    assert (
        by_name["respond"].config.data.endswith("source/data") and by_name["threads"].config.split == "train"
    )
    assert by_name["threads"].config.source == by_name["respond"].config.out
