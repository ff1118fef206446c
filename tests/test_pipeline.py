"""`lingualift run`: the offline demo (no config; reduced with --limit) and a config of local files."""

import json

import datasets

from lingualift.cli import main


def test_run_without_config_runs_the_offline_demo_pipeline(demo_model_path, use_demo_cache, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["run", "--limit", "12", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "demo sample" in text and "train: 153 rows" in text
    assert "only those are translated" in text
    translated = datasets.load_from_disk(str(out / "translated"))["train"]
    used = set(json.loads((out / "threads-source" / "thread_message_ids.json").read_text())["train"])
    for row in translated:
        if row["message_id"] in used:
            assert row["lang"] == "nl" and row["translator"] == "llm:demo"
        else:
            assert row["qe_flags"] == ["not_translated:not_selected"]
    threads = datasets.load_from_disk(str(out / "threads"))["train"]
    assert len(threads) >= 1
    assert threads[0]["messages"][0]["content"] == "You are a helpful assistant. Always answer in Dutch."
    reply = next(line for line in text.splitlines() if line.startswith("reply: "))
    assert len(reply) > len("reply: ")
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["translate"]["rows"] == 12


def test_run_with_a_config_uses_its_source(demo_model_path, use_demo_cache, tmp_path, capsys):
    data = tmp_path / "prompts.jsonl"
    data.write_text(json.dumps({"text": "Name three colours."}) + "\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        f"source: {data}\nsource_lang: en\nmodel: demo\nmax_new_tokens: 6\nout: {tmp_path / 'run'}\n"
    )
    assert main(["run", str(config)]) == 0
    out = capsys.readouterr().out
    row = datasets.load_from_disk(str(tmp_path / "run" / "translated"))["train"][0]
    assert row["translator"] == "llm:demo" and row["source_text"] == "Name three colours."
    assert f"prompt: {row['text']}" in out  # the translated text is what the model is asked


def test_run_with_a_missing_text_column_is_one_clear_error(use_demo_cache, tmp_path, capsys):
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"content": "hello"}) + "\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"source: {data}\nout: {tmp_path / 'run'}\n")
    assert main(["run", str(config)]) == 2
    assert "missing column 'text' — it has content" in capsys.readouterr().err
