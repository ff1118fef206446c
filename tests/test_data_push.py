"""`--push-to-hub` on the commands that write a dataset: the hub is unreachable here, so HfApi is
replaced by one that records the calls and keeps a copy of the uploaded folder; that copy is read
back with `datasets.load_dataset`, as the hub's dataset viewer and users read it."""

import json
import shutil

import datasets
import pytest

from lingualift.cli import main

SECRET = "hf_secret_value_789"


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """The calls made, and the folder as uploaded (under tmp_path/uploaded/REPO)."""
    import huggingface_hub

    calls = []

    class RecordingApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, repo_type=None, private=True, exist_ok=False):
            calls.append(("create", repo_id, repo_type, private))
            return f"https://huggingface.co/datasets/{repo_id}"

        def upload_folder(self, folder_path, repo_id, repo_type=None):
            calls.append(("upload", repo_id, repo_type))
            shutil.copytree(folder_path, tmp_path / "uploaded" / repo_id)

    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    return calls, tmp_path / "uploaded"


def uploaded(folder, config=None):
    """The pushed repo (its `config`) as `datasets` reads it, and its card."""
    card = (folder / "README.md").read_text()
    assert SECRET not in card
    return datasets.load_dataset(str(folder), config), card


def test_translate_pushes_every_split_with_a_card_of_source_translator_and_outcomes(
    tiny_marian, tmp_path, hub
):
    calls, store = hub
    source = tmp_path / "src"
    source.mkdir()
    (source / "README.md").write_text("---\nlicense: apache-2.0\n---\n")  # the source's declared license
    rows = [
        {"message_id": "a", "text": "Hello there.", "lang": "en"},
        {"message_id": "b", "text": "", "lang": "en"},
    ]
    (source / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (source / "test.jsonl").write_text(json.dumps({"message_id": "c", "text": "Good.", "lang": "en"}) + "\n")
    out = tmp_path / "out"
    argv = ["translate", str(source), "--to", "nl", "--backend", "opus", "--model", str(tiny_marian)]
    argv += ["--out", str(out), "--max-new-tokens", "8", "--push-to-hub", "me/oasst-nl", "--no-private"]
    assert main(argv) == 0
    assert calls[:2] == [("token", SECRET), ("create", "me/oasst-nl", "dataset", False)]
    assert calls[2] == ("upload", "me/oasst-nl", "dataset")
    pushed, card = uploaded(store / "me" / "oasst-nl")
    saved = datasets.load_from_disk(str(out))
    assert {k: len(v) for k, v in pushed.items()} == {"train": 2, "test": 1}
    assert (
        pushed["train"]["text"] == saved["train"]["text"]
        and pushed["test"]["qe_flags"] == saved["test"]["qe_flags"]
    )
    assert "license: apache-2.0" in card and "language:\n- nl" in card
    assert f"| source dataset | `{source}` |" in card and f"translated by opus `{tiny_marian}`" in card
    report = json.loads((out / "translate_report.json").read_text())
    assert f"| rows by outcome | {report['rows_by_outcome']} |" in card
    assert "| command | `lingualift translate " in card and "--push-to-hub me/oasst-nl" in card
    assert "| lingualift | " in card


def test_a_source_without_a_license_says_so_and_threads_push_the_conversations(tmp_path, hub):
    calls, store = hub
    rows = [{"instruction": "Noem een kleur.", "input": "", "output": "Blauw."}]
    source = tmp_path / "alpaca.jsonl"
    source.write_text(json.dumps(rows[0]) + "\n")
    out = tmp_path / "threads"
    argv = ["threads", str(source), "--out", str(out), "--lang", "nl", "--push-to-hub", "me/threads-nl"]
    assert main(argv) == 0
    assert calls[1] == ("create", "me/threads-nl", "dataset", True)  # private unless asked
    pushed, card = uploaded(store / "me" / "threads-nl")
    assert pushed["train"]["messages"][0][-1] == {"role": "assistant", "content": "Blauw."}
    assert f"not declared by the source: check `{source}` before sharing" in card and "license:" not in card
    assert json.loads((out / "threads_report.json").read_text())["pushed_to"].endswith("me/threads-nl")


def test_respond_pushes_accepted_and_rejected_answers_and_names_the_teacher(tmp_path, hub, teacher):
    calls, store = hub
    source = tmp_path / "prompts.jsonl"
    prompts = ["Hoe laat is het?", "Say it in English please"]
    source.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    argv = ["respond", str(source), "--lang", "nl", "--out", str(tmp_path / "answers"), "--base-url", teacher]
    argv += ["--model", "scripted-teacher", "--push-to-hub", "me/answers-nl"]
    assert main(argv) == 0
    pushed, card = uploaded(store / "me" / "answers-nl")
    rejected, _ = uploaded(store / "me" / "answers-nl", "rejected")  # its own columns: its own config
    assert list(pushed) == ["train"] and list(rejected) == ["rejected"]
    assert (len(pushed["train"]), len(rejected["rejected"])) == (1, 1)
    assert rejected["rejected"][0]["reason"].startswith("wrong_language")
    assert "| configs | default: train; rejected: rejected |" in card
    assert "answered by the teacher `scripted-teacher`" in card and "| accepted | 1 |" in card
    assert "wrong_language" in card and teacher not in card and "--base-url <endpoint>" in card


def test_no_token_is_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    source = tmp_path / "alpaca.jsonl"
    source.write_text(json.dumps({"instruction": "a", "input": "", "output": "b"}) + "\n")
    out = tmp_path / "threads"
    assert main(["threads", str(source), "--out", str(out), "--push-to-hub", "me/x"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: pushing to the hub needs a token: set HF_TOKEN in the environment"
    )
    assert not out.exists()


def test_a_failed_upload_is_one_line_without_the_token(tmp_path, monkeypatch, capsys):
    import huggingface_hub

    class Refusing:
        def __init__(self, token=None):
            self.token = token

        def create_repo(self, *args, **kwargs):
            raise RuntimeError(f"401 Client Error: bad token {self.token}")

    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setattr(huggingface_hub, "HfApi", Refusing)
    source = tmp_path / "alpaca.jsonl"
    source.write_text(json.dumps({"instruction": "a", "input": "", "output": "b"}) + "\n")
    assert main(["threads", str(source), "--out", str(tmp_path / "t"), "--push-to-hub", "me/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: push to me/x failed: 401 Client Error: bad token ***"
    assert (tmp_path / "t" / "threads_report.json").exists()  # the local result is kept


def test_a_card_that_would_hold_the_token_is_never_pushed(tmp_path, hub, monkeypatch):
    from lingualift import data_push
    from lingualift.errors import DataError

    calls, _ = hub
    data = datasets.DatasetDict({"train": datasets.Dataset.from_list([{"text": "Hallo"}])})
    data.save_to_disk(str(tmp_path / "data"))
    monkeypatch.setattr(data_push, "INVOKED", ["threads", "x", "--note", SECRET])  # a token typed into argv
    config = data_push.DataPush(push_to_hub="me/x")
    with pytest.raises(DataError, match="would contain the hub token") as caught:
        data_push.push_data(
            config, tmp_path / "data", what="w", source="x", made_by="m", languages=["nl"], counts={}
        )
    assert SECRET not in str(caught.value) and [c[0] for c in calls] == []
