"""`--push-to-hub REPO` of the commands that write a dataset (translate, threads, respond, generate):
the saved dataset as parquet shards under `data/`, the layout the hub and `datasets.load_dataset`
read, with a dataset card (README.md) saying where the data came from and what became of it."""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, Field

from lingualift.errors import DataError

# the command line as given to lingualift.cli.main (the card's "command"), set there
INVOKED: list[str] = []


class DataPush(BaseModel):
    """--push-to-hub and --private of every command that writes a dataset."""

    push_to_hub: Optional[str] = Field(
        None,
        description="Also push the dataset to this hub repo (token from HF_TOKEN) with a dataset card",
    )
    private: bool = Field(True, description="Create the hub repo private")


def require_token(config) -> None:
    """A missing token is an error before the work, not after it."""
    if getattr(config, "push_to_hub", None):
        from lingualift.io import hub_token

        hub_token()


def command_line() -> str:
    """The command as given, endpoint URLs left out (an internal host, or a key in the URL, is not
    for a public card)."""
    args = list(INVOKED or sys.argv[1:])
    for i, arg in enumerate(args):
        if arg.endswith("base-url") and i + 1 < len(args):
            args[i + 1] = "<endpoint>"
        elif "base-url=" in arg:
            args[i] = arg.split("=", 1)[0] + "=<endpoint>"
    return "lingualift " + " ".join(
        arg if arg == "<endpoint>" or arg.endswith("=<endpoint>") else shlex.quote(arg) for arg in args
    )


def source_license(source: str | None) -> str | None:
    """The license a source declares: a saved or local dataset's info, or a dataset repo's card."""
    if not source:
        return None
    from lingualift.io import split_config

    path = Path(split_config(source)[0])
    card = path / "README.md"
    if card.is_file():
        text = card.read_text(errors="replace")
        if text.startswith("---"):
            import yaml

            meta = yaml.safe_load(text.split("---", 2)[1]) or {}
            if meta.get("license"):
                return str(meta["license"])
    info = path / "dataset_info.json"
    for found in [info, *path.glob("*/dataset_info.json")]:
        if found.is_file():
            import json

            license_ = json.loads(found.read_text()).get("license")
            if license_:
                return str(license_)
    return None


def configs(data) -> dict[str, list[str]]:
    """Config name -> its splits. The hub reads the splits of one config with one schema: splits with
    other columns (respond's `rejected`) become a config of their own, named after the split."""
    groups: dict[str, list[str]] = {}
    first = None
    for split, part in data.items():
        if first is None or part.features == data[first].features:
            first = first or split
            groups.setdefault("default", []).append(split)
        else:
            match = next(
                (n for n, s in groups.items() if n != "default" and data[s[0]].features == part.features),
                None,
            )
            groups.setdefault(match or split, []).append(split)
    return groups


def dataset_card(
    repo_id: str,
    data,
    *,
    what: str,
    source: str | None,
    made_by: str,
    languages: list[str],
    counts: dict[str, Any],
) -> str:
    """README.md: YAML metadata (languages, license when the source declares one, the splits as
    data files) and one table: source, license, translator or teacher, languages, rows per split,
    the command's counts, the lingualift version and the command."""
    import yaml

    from lingualift.versions import versions

    license_, grouped = source_license(source), configs(data)
    meta: dict[str, Any] = {"language": languages}
    if license_:
        meta["license"] = license_
    meta["tags"] = ["lingualift"]
    meta["configs"] = [
        {
            "config_name": name,
            "data_files": [{"split": split, "path": f"data/{split}-*.parquet"} for split in splits],
        }
        for name, splits in grouped.items()
    ]
    rows = {
        "source dataset": f"`{source}`" if source else "the embedded demo sample",
        "source license": license_ or f"not declared by the source: check `{source}` before sharing",
        "made by": made_by,
        "languages": ", ".join(languages),
        "rows": ", ".join(f"{split}: {len(part)}" for split, part in data.items()),
        "configs": "; ".join(f"{name}: {', '.join(splits)}" for name, splits in grouped.items()),
        **{key: value for key, value in counts.items() if value not in (None, {}, [])},
        "lingualift": versions(("lingualift",)).get("lingualift", "unknown"),
        "command": f"`{command_line()}`",
    }
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(), "---", ""]
    lines += [f"# {repo_id}", "", f"{what}, made with lingualift.", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in rows.items()]
    return "\n".join(lines) + "\n"


def push_data(config, out: str | Path, *, what: str, source, made_by: str, languages, counts: dict) -> str:
    """Upload the dataset saved in `out` and its card to `config.push_to_hub`; the repo's URL."""
    import datasets
    from huggingface_hub import HfApi

    from lingualift.io import hub_token

    token, repo_id = hub_token(), config.push_to_hub
    data = datasets.load_from_disk(str(out))
    if isinstance(data, datasets.Dataset):
        data = datasets.DatasetDict({"train": data})
    source = source if isinstance(source, str) or source is None else ", ".join(source)
    card = dataset_card(
        repo_id, data, what=what, source=source, made_by=made_by, languages=list(languages), counts=counts
    )
    if token in card:
        raise DataError("refusing to push: the dataset card would contain the hub token")
    with tempfile.TemporaryDirectory(prefix="lingualift-push-") as staging:
        (Path(staging) / "data").mkdir()
        for split, part in data.items():
            part.to_parquet(str(Path(staging) / "data" / f"{split}-00000-of-00001.parquet"))
        (Path(staging) / "README.md").write_text(card)
        api = HfApi(token=token)
        try:
            url = api.create_repo(repo_id, repo_type="dataset", private=config.private, exist_ok=True)
            api.upload_folder(folder_path=staging, repo_id=repo_id, repo_type="dataset")
        except Exception as error:  # noqa: BLE001 — network/auth failures become one line, without the token
            raise DataError(f"push to {repo_id} failed: {str(error).replace(token, '***')}") from error
    return str(url)
