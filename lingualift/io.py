"""Load any dataset source and save it (lingualift.data_push pushes one to the hub).

Sources: a `save_to_disk` directory, local `.jsonl/.json/.csv/.parquet/.arrow` files (one,
several, a directory of them or a glob), documents (a `.txt`/`.md` file or a folder of them: one
row each, `id` and `text`), or a hub dataset id, with a config as `id:config`
(`wikimedia/wikipedia:20231101.nl`; a local clone of a hub dataset repo as `DIR:config`). Every
failure is a `DataError` that names the file, line or column and what to do.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from lingualift.errors import DataError

FILE_FORMATS = {
    ".jsonl": "json",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
    ".arrow": "arrow",
}
HF_TOKEN_ENV = "HF_TOKEN"


def _format_of(path: Path) -> str:
    fmt = FILE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: unsupported file type '{path.suffix}' — use one of {', '.join(FILE_FORMATS)}"
        )
    return fmt


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).exists() for name in ("dataset_dict.json", "state.json", "dataset_info.json")
    )


def _is_dataset_repo(path: Path) -> bool:
    """A local clone of a hub dataset repo: a README.md whose metadata declares its data (configs or
    dataset_info), and no data files beside it."""
    card = path / "README.md"
    if not (path.is_dir() and card.is_file()) or any(
        p.suffix.lower() in FILE_FORMATS for p in path.iterdir()
    ):
        return False
    head = card.read_text(encoding="utf-8", errors="replace")
    return head.startswith("---") and any(
        key in head.split("---", 2)[1] for key in ("configs:", "dataset_info:")
    )


DOCUMENT_SUFFIXES = (".txt", ".md")


def document_files(path: Path) -> list[Path]:
    """A .txt/.md file, or a folder holding such documents (at any depth) and no dataset files:
    its documents in order; else []."""
    if path.is_file():
        return [path] if path.suffix.lower() in DOCUMENT_SUFFIXES else []
    if not path.is_dir() or _is_saved_dataset(path) or _is_dataset_repo(path):
        return []
    if any(p.suffix.lower() in FILE_FORMATS for p in path.rglob("*")):
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)


def _load_documents(path: Path, files: list[Path]):
    """One row per document: `id` (its path under the folder) and `text` (the whole file)."""
    import datasets

    base = path if path.is_dir() else path.parent
    rows = [
        {"id": str(f.relative_to(base)), "text": f.read_text(encoding="utf-8", errors="replace")}
        for f in files
    ]
    return datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)})


def _expand_files(sources: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in FILE_FORMATS)
            if not found:
                raise DataError(f"{path}: directory holds no dataset files ({', '.join(FILE_FORMATS)})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        elif glob.has_magic(source):
            matched = sorted(Path(p) for p in glob.glob(source))
            if not matched:
                raise DataError(f"{source}: no file matches this pattern")
            files.extend(matched)
        else:
            raise DataError(f"{source}: no such file or directory")
    return files


def _looks_like_hub_id(source: str) -> bool:
    parts = source.split("/")
    return (
        not Path(source).exists()
        and not glob.has_magic(source)
        and len(parts) <= 2
        and all(parts)
        and Path(source).suffix.lower() not in FILE_FORMATS
        and not source.startswith((".", "~"))
    )


def find_bad_json_line(path: Path) -> str | None:
    """'file:line: problem' for the first line of a JSONL file that is not one JSON object."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                return f"{path}:{number}: broken JSON ({error.msg} at column {error.colno})"
            if not isinstance(value, dict):
                return f"{path}:{number}: expected one JSON object per line, got {type(value).__name__}"
    return None


def load_source(
    source: str | Sequence[str],
    split: str | None = None,
    *,
    trust_remote_code: bool = False,
    max_rows: int | None = None,
):
    """Load `source` as a DatasetDict (or a Dataset when `split` is given).

    Local files become the split named by their file stem when several files are given with
    distinct names like `train.jsonl`/`test.jsonl`, else one `train` split. `max_rows`: a hub
    dataset is streamed and only its first `max_rows` rows of each split read (dumps such as
    Wikipedia); other sources are cut after loading.
    """
    import datasets

    sources = [source] if isinstance(source, str) else list(source)
    if not sources:
        raise DataError("no dataset source given")
    first = sources[0]
    name, config = split_config(first)
    documents = document_files(Path(first)) if len(sources) == 1 and config is None else []
    if len(sources) == 1 and config is None and _is_saved_dataset(Path(first)):
        loaded = datasets.load_from_disk(first)
    elif len(sources) == 1 and (
        config is not None or _looks_like_hub_id(first) or _is_dataset_repo(Path(first))
    ):
        loaded = _load_hub(name, config, trust_remote_code=trust_remote_code, split=split, max_rows=max_rows)
    elif documents:  # a .txt/.md file or a folder of them: one row a document
        loaded = _load_documents(Path(first), documents)
    else:
        loaded = _load_files(_expand_files(sources))
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({split or "train": loaded})
    if max_rows:
        loaded = datasets.DatasetDict({k: v.select(range(min(max_rows, len(v)))) for k, v in loaded.items()})
    loaded = _select_split(loaded, split, first)
    _require_rows(loaded, first)
    return loaded


def split_config(source: str) -> tuple[str, str | None]:
    """`id:config` (or `DIR:config`, a local clone of a hub dataset repo) -> (id, config); anything
    else -> (source, None)."""
    name, colon, config = source.rpartition(":")
    if not colon or not name or not config or "/" in config or "\\" in config:
        return source, None
    if Path(name).is_dir() or _looks_like_hub_id(name):
        return name, config
    return source, None


def _load_hub(
    name: str,
    config: str | None = None,
    *,
    trust_remote_code: bool,
    split: str | None = None,
    max_rows: int | None = None,
):
    """A hub dataset (or a local clone of one), `config` its subset. With `max_rows`: streamed, each
    split cut at `max_rows` rows, so a dump is never downloaded whole."""
    import datasets

    kwargs = {"token": os.environ.get(HF_TOKEN_ENV) or None}
    if trust_remote_code:
        kwargs["trust_remote_code"] = True
    if Path(name).is_dir():  # datasets caches a local repo by its folder's name and config only (not
        # its files): another clone named alike, or edited files, would be read from the stale cache
        kwargs["cache_dir"] = _local_repo_cache(Path(name))
    label = f"{name}:{config}" if config else name
    try:
        if not max_rows:
            return datasets.load_dataset(name, config, split=split, **kwargs)
        streamed = datasets.load_dataset(name, config, split=split, streaming=True, **kwargs)
        if isinstance(streamed, datasets.IterableDataset):
            streamed = {split: streamed}
        return datasets.DatasetDict(
            {key: _first_rows(part, max_rows, label) for key, part in streamed.items()}
        )
    except DataError:
        raise
    except Exception as error:  # the hub raises many types; the user needs one line
        message = _first_line(error)
        if "Config name is missing" in str(error) or "BuilderConfig" in message:
            raise DataError(_config_problem(name, config, error)) from None
        if isinstance(error, ValueError) and "split" in message.lower() and split:
            raise DataError(f"{label}: no split '{split}' ({message})") from None
        raise DataError(
            f"{label}: not a local path, and loading it from the hub failed "
            f"({type(error).__name__}: {message}) — check the id, your network, "
            f"and {HF_TOKEN_ENV} for gated datasets"
        ) from error


def _local_repo_cache(path: Path) -> str:
    """A datasets cache folder of its own for a local dataset repo: its path and its files' sizes and
    modification times name it."""
    import hashlib

    import datasets

    digest = hashlib.sha256(str(path.resolve()).encode())
    for file in sorted(f for f in path.rglob("*") if f.is_file() and ".git" not in f.parts):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return str(Path(datasets.config.HF_DATASETS_CACHE) / "lingualift-local" / digest.hexdigest()[:16])


def _first_rows(part, max_rows: int, label: str):
    """The first `max_rows` rows of a streamed split, as a Dataset with the stream's features."""
    import itertools

    import datasets

    rows = list(itertools.islice(iter(part), max_rows))
    if not rows:
        raise DataError(f"{label}: the dataset is empty (0 rows)")
    return datasets.Dataset.from_list(rows, features=part.features)


def _config_problem(name: str, config: str | None, error: BaseException) -> str:
    """One line: the dataset needs a config (or has not this one), and which it has."""
    import datasets

    try:
        names = datasets.get_dataset_config_names(name, token=os.environ.get(HF_TOKEN_ENV) or None)
    except Exception:
        names = []
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    has = f"its configs: {shown}" if names else _first_line(error)
    if config is None:
        return f"{name}: this dataset has several configs — name one as {name}:CONFIG ({has})"
    return f"{name}: no config '{config}' ({has})"


def _load_files(files: list[Path]):
    import datasets

    formats = {_format_of(f) for f in files}
    if len(formats) > 1:
        raise DataError(f"mixed file types {sorted(formats)}: load one type at a time")
    fmt = formats.pop()
    stems = [f.stem for f in files]
    if len(files) > 1 and len(set(stems)) == len(stems) and set(stems) <= KNOWN_SPLITS:
        data_files = {f.stem: str(f) for f in files}
    else:
        data_files = {"train": [str(f) for f in files]}
    for f in files:
        if f.stat().st_size == 0:
            raise DataError(f"{f}: file is empty")
    try:
        return datasets.load_dataset(fmt, data_files=data_files)
    except Exception as error:  # pyarrow and pandas raise many types for a malformed file
        empty = [f for f in files if fmt in ("json", "csv") and _data_lines(f, fmt) == 0]
        if empty:
            raise DataError(f"{empty[0]}: no data rows — the dataset would be empty") from error
        if fmt == "json":
            for f in files:
                bad = find_bad_json_line(f) if f.suffix.lower() == ".jsonl" else None
                if bad:
                    raise DataError(f"{bad} — fix or remove that line") from error
        names = ", ".join(str(f) for f in files)
        raise DataError(f"{names}: cannot be read as {fmt} ({_first_line(error)})") from error


def _data_lines(path: Path, fmt: str) -> int:
    """Non-blank lines holding rows (a CSV's header does not count); stops counting at 2."""
    skip = 1 if fmt == "csv" else 0
    count = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                count += 1
                if count > skip + 1:
                    break
    return max(0, count - skip)


KNOWN_SPLITS = {"train", "validation", "valid", "dev", "test", "eval"}


def _select_split(loaded, split: str | None, source: str):
    if split is None:
        return loaded
    if split not in loaded:
        raise DataError(f"{source}: no split '{split}' — it has {', '.join(loaded.keys()) or 'no splits'}")
    return loaded[split]


def _require_rows(loaded, source: str) -> None:
    import datasets

    parts = {"": loaded} if isinstance(loaded, datasets.Dataset) else dict(loaded)
    if not parts or all(len(part) == 0 for part in parts.values()):
        raise DataError(f"{source}: the dataset is empty (0 rows)")


def first_split(data, prefer: str = "train"):
    """The `prefer` split of a DatasetDict, else its first split."""
    return data[prefer] if prefer in data else next(iter(data.values()))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def require_columns(dataset, columns: Iterable[str], *, where: str = "dataset") -> None:
    """DataError listing the columns that exist when any of `columns` is missing."""
    names = dataset.column_names
    if isinstance(names, dict):  # DatasetDict: every split must have them
        for split, split_names in names.items():
            _check_columns(split_names, columns, f"{where} split '{split}'")
    else:
        _check_columns(names, columns, where)


def _check_columns(names: list[str], columns: Iterable[str], where: str) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(
            f"{where}: missing column {', '.join(repr(c) for c in missing)} — it has {', '.join(names)}"
        )


def dataset_from_rows(rows: list[dict], features):
    """A Dataset of `rows` with `features`, built by Arrow in one pass (3x faster than
    Dataset.from_list on nested message lists); a split with no rows stays a split. Rows whose values
    need datasets' own encoding (class names for a ClassLabel, say) go through Dataset.from_list."""
    import datasets
    import pyarrow as pa

    try:
        return datasets.Dataset(pa.Table.from_pylist(rows, schema=features.arrow_schema))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return datasets.Dataset.from_list(rows, features=features)


def save_dataset(dataset, out_dir: str | Path) -> Path:
    """`save_to_disk` into `out_dir` atomically: a killed save never leaves a half dataset."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        # datasets writes an empty split as zero shards, which load_from_disk then cannot read
        if hasattr(dataset, "keys"):
            shards = {name: 1 if len(part) == 0 else None for name, part in dataset.items()}
            dataset.save_to_disk(str(tmp), num_shards=shards)
        else:
            dataset.save_to_disk(str(tmp), num_shards=1 if len(dataset) == 0 else None)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def hub_token() -> str:
    token = os.environ.get(HF_TOKEN_ENV, "").strip()
    if not token:
        raise DataError(f"pushing to the hub needs a token: set {HF_TOKEN_ENV} in the environment")
    return token
