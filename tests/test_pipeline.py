"""`lingualift run`: the offline demo (no config) and a config pointing at local files."""

import json

from lingualift.cli import main


def test_run_without_config_runs_the_offline_demo(demo_model_path, use_demo_cache, capsys):
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "demo sample" in out and "train: 153 rows" in out
    reply = next(line for line in out.splitlines() if line.startswith("reply: "))
    assert len(reply) > len("reply: ")


def test_run_with_a_config_uses_its_source(demo_model_path, use_demo_cache, tmp_path, capsys):
    data = tmp_path / "prompts.jsonl"
    data.write_text(json.dumps({"text": "Name three colours of the rainbow please."}) + "\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"source: {data}\nmodel: demo\nmax_new_tokens: 6\n")
    assert main(["run", str(config)]) == 0
    out = capsys.readouterr().out
    assert "prompt: Name three colours of the rainbow please." in out


def test_run_with_a_missing_text_column_is_one_clear_error(use_demo_cache, tmp_path, capsys):
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"content": "hello"}) + "\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"source: {data}\n")
    assert main(["run", str(config)]) == 2
    assert "missing column 'text' — it has content" in capsys.readouterr().err
