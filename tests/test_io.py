import json

import datasets
import pytest

from lingualift.errors import DataError
from lingualift.io import load_source, require_columns, save_dataset

ROWS = [
    {"message_id": "a", "text": "Hello there", "lang": "en"},
    {"message_id": "b", "text": "How are you?", "lang": "en"},
    {"message_id": "c", "text": "Fine, thanks.", "lang": "en"},
]


def write_rows(path, rows=ROWS):
    fmt = path.suffix
    ds = datasets.Dataset.from_list(rows)
    if fmt == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == ".json":
        path.write_text(json.dumps(rows))
    elif fmt == ".csv":
        ds.to_csv(str(path), index=False)
    elif fmt == ".parquet":
        ds.to_parquet(str(path))
    elif fmt == ".arrow":
        # An Arrow stream file as `datasets` writes it for each split.
        ds.save_to_disk(str(path.parent / "_tmp_arrow"))
        (path.parent / "_tmp_arrow" / "data-00000-of-00001.arrow").rename(path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet", ".arrow"])
def test_every_file_format_loads_as_a_train_split(tmp_path, suffix):
    path = write_rows(tmp_path / f"data{suffix}")
    loaded = load_source(str(path))
    assert list(loaded) == ["train"]
    assert loaded["train"]["text"] == [r["text"] for r in ROWS]


def test_save_to_disk_directory_round_trips_with_its_splits(tmp_path):
    original = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS[:2]), "test": datasets.Dataset.from_list(ROWS[2:])}
    )
    out = save_dataset(original, tmp_path / "saved")
    loaded = load_source(str(out))
    assert {k: len(v) for k, v in loaded.items()} == {"train": 2, "test": 1}
    assert load_source(str(out), split="test")["text"] == ["Fine, thanks."]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".saved.")]  # no temp dir left


def test_save_replaces_an_existing_dataset(tmp_path):
    save_dataset(datasets.Dataset.from_list(ROWS), tmp_path / "out")
    save_dataset(datasets.Dataset.from_list(ROWS[:1]), tmp_path / "out")
    assert len(load_source(str(tmp_path / "out"))["train"]) == 1


def test_several_files_named_like_splits_become_those_splits(tmp_path):
    write_rows(tmp_path / "train.jsonl", ROWS[:2])
    write_rows(tmp_path / "test.jsonl", ROWS[2:])
    loaded = load_source([str(tmp_path / "train.jsonl"), str(tmp_path / "test.jsonl")])
    assert {k: len(v) for k, v in loaded.items()} == {"train": 2, "test": 1}


def test_a_directory_or_glob_of_files_is_one_dataset(tmp_path):
    write_rows(tmp_path / "part1.jsonl", ROWS[:2])
    write_rows(tmp_path / "part2.jsonl", ROWS[2:])
    assert len(load_source(str(tmp_path))["train"]) == 3
    assert len(load_source(str(tmp_path / "part*.jsonl"))["train"]) == 3


def test_missing_path_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        load_source(str(tmp_path / "nope.jsonl"))


def test_broken_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "fine"}\n{"text": "broken\n{"text": "late"}\n')
    with pytest.raises(DataError) as caught:
        load_source(str(path))
    assert f"{path}:3: broken JSON" in str(caught.value)


def test_jsonl_line_that_is_not_an_object_is_named(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('{"text": "ok"}\n[1, 2]\n')
    with pytest.raises(DataError, match="list.jsonl:2: expected one JSON object per line"):
        load_source(str(path))


def test_empty_file_and_empty_dataset_are_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="file is empty"):
        load_source(str(empty))
    header_only = tmp_path / "header.csv"
    header_only.write_text("message_id,text,lang\n")
    with pytest.raises(DataError, match="header.csv: no data rows"):
        load_source(str(header_only))
    text = datasets.Features({"text": datasets.Value("string")})
    datasets.Dataset.from_dict({"text": []}, features=text).save_to_disk(str(tmp_path / "none"), num_shards=1)
    with pytest.raises(DataError, match="the dataset is empty"):
        load_source(str(tmp_path / "none"))


def test_unknown_split_lists_the_splits_that_exist(tmp_path):
    path = write_rows(tmp_path / "data.jsonl")
    with pytest.raises(DataError, match="no split 'validation' — it has train"):
        load_source(str(path), split="validation")


def test_unsupported_file_type_is_an_error(tmp_path):
    path = tmp_path / "data.xml"
    path.write_text("<rows/>")
    with pytest.raises(DataError, match="unsupported file type '.xml'"):
        load_source(str(path))


def test_missing_column_lists_the_columns_that_exist(tmp_path):
    loaded = load_source(str(write_rows(tmp_path / "data.jsonl")))
    with pytest.raises(DataError) as caught:
        require_columns(loaded, ["text", "role"], where="data.jsonl")
    assert str(caught.value) == (
        "data.jsonl split 'train': missing column 'role' — it has message_id, text, lang"
    )
    require_columns(loaded["train"], ["text"])  # present: no error


def test_hub_id_offline_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match="OpenAssistant/oasst1: not a local path"):
        load_source("OpenAssistant/oasst1")


def dataset_repo(root, configs: dict[str, list[dict]]):
    """A local clone of a hub dataset repo: one folder per config, its README declaring them (the
    layout of Bactrian-X, wikimedia/wikipedia: datasets reads it as it reads the hub's)."""
    lines = ["---", "configs:"]
    for name, rows in configs.items():
        (root / name).mkdir(parents=True)
        (root / name / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        lines += [f"- config_name: {name}", "  data_files:", "  - split: train", f"    path: {name}/*.jsonl"]
    (root / "README.md").write_text("\n".join(lines + ["---", "", "# a dataset", ""]))
    return root


def test_a_config_is_named_as_id_colon_config_and_a_missing_one_lists_those_that_exist(tmp_path):
    repo = dataset_repo(
        tmp_path / "repo", {"nl": ROWS, "ig": [{"message_id": "z", "text": "Ndewo", "lang": "ig"}]}
    )
    assert list(load_source(f"{repo}:ig")["train"]["text"]) == ["Ndewo"]
    assert list(load_source(f"{repo}:nl", split="train")["text"]) == [r["text"] for r in ROWS]
    with pytest.raises(
        DataError,
        match=rf"^{repo}: this dataset has several configs — name one as {repo}:CONFIG \(its configs: nl, ig\)$",
    ):
        load_source(str(repo))
    with pytest.raises(DataError, match=r"no config 'xx' \(its configs: nl, ig\)"):
        load_source(f"{repo}:xx")
    with pytest.raises(DataError, match=r":nl: no split 'test'"):
        load_source(f"{repo}:nl", split="test")


def test_max_rows_streams_a_config_and_reads_only_the_first_rows(tmp_path, monkeypatch):
    many = [{"message_id": str(i), "text": f"row {i}", "lang": "nl"} for i in range(50)]
    repo = dataset_repo(tmp_path / "repo", {"nl": many})
    streamed = []
    real = datasets.load_dataset

    def watch(*args, **kwargs):
        streamed.append(kwargs.get("streaming", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", watch)
    data = load_source(f"{repo}:nl", max_rows=3)
    assert list(data["train"]["text"]) == ["row 0", "row 1", "row 2"] and streamed == [True]
    cut = load_source(str(write_rows(tmp_path / "rows.jsonl")), max_rows=2)
    assert list(cut["train"]["message_id"]) == ["a", "b"]


def test_a_path_with_a_colon_that_is_no_config_is_still_a_path(tmp_path):
    folder = tmp_path / "a:b"
    folder.mkdir()
    path = write_rows(folder / "rows.jsonl")
    assert len(load_source(str(path))["train"]) == 3


def test_two_local_repos_named_alike_are_never_read_from_each_others_cache(tmp_path):
    """datasets caches a local repo by folder name and config: lingualift keys it by its files too."""
    first = dataset_repo(tmp_path / "one" / "data", {"nl": [{"text": "Hallo"}]})
    second = dataset_repo(tmp_path / "two" / "data", {"nl": [{"text": "hallo"}]})  # same size
    assert list(load_source(f"{first}:nl")["train"]["text"]) == ["Hallo"]
    assert list(load_source(f"{second}:nl")["train"]["text"]) == ["hallo"]
