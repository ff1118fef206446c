"""The embedded demo sample: an English oasst1-shaped forest, flattened into oasst1's columns."""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

SAMPLE_FILE = "oasst_sample.yaml"
_NAMESPACE = uuid.UUID("6f1c1f3e-7a53-4e4e-9d43-6c1f0c2d6a10")
OASST_COLUMNS = (
    "message_id",
    "parent_id",
    "user_id",
    "created_date",
    "text",
    "role",
    "lang",
    "review_count",
    "review_result",
    "deleted",
    "rank",
    "synthetic",
    "model_name",
    "message_tree_id",
    "tree_state",
)


def sample_rows() -> list[dict[str, Any]]:
    """Rows in oasst1's columns, parents before children, ids stable across runs."""
    import yaml

    trees = yaml.safe_load(resources.files("lingualift.demo").joinpath(SAMPLE_FILE).read_text("utf-8"))
    rows: list[dict[str, Any]] = []
    for index, tree in enumerate(trees):
        tree_id = str(uuid.uuid5(_NAMESPACE, f"tree-{index}"))
        _flatten(tree, f"tree-{index}", None, tree_id, "prompter", rows)
    return rows


def _flatten(node: dict, path: str, parent: str | None, tree_id: str, role: str, rows: list) -> None:
    message_id = tree_id if parent is None else str(uuid.uuid5(_NAMESPACE, path))
    rows.append(
        {
            "message_id": message_id,
            "parent_id": parent,
            "user_id": str(uuid.uuid5(_NAMESPACE, f"user-{len(rows) % 17}")),
            "created_date": f"2026-01-{1 + len(rows) % 28:02d}T12:00:00.000000+00:00",
            "text": node["text"],
            "role": role,
            "lang": node.get("lang", "en"),
            "review_count": 3,
            "review_result": node.get("review_result", True),
            "deleted": node.get("deleted", False),
            "rank": node.get("rank") if role == "assistant" or "rank" in node else None,
            "synthetic": False,
            "model_name": None,
            "message_tree_id": tree_id,
            "tree_state": "ready_for_export",
        }
    )
    child_role = "assistant" if role == "prompter" else "prompter"
    for number, child in enumerate(node.get("replies", [])):
        _flatten(child, f"{path}/{number}", message_id, tree_id, child_role, rows)


def load_sample():
    """The demo sample as a `DatasetDict` with one `train` split, like oasst1's."""
    import datasets

    rows = sample_rows()
    return datasets.DatasetDict({"train": datasets.Dataset.from_list(rows, features=_features())})


def _features():
    import datasets

    string, boolean = datasets.Value("string"), datasets.Value("bool")
    return datasets.Features(
        {
            "message_id": string,
            "parent_id": string,
            "user_id": string,
            "created_date": string,
            "text": string,
            "role": string,
            "lang": string,
            "review_count": datasets.Value("int32"),
            "review_result": boolean,
            "deleted": boolean,
            "rank": datasets.Value("int32"),
            "synthetic": boolean,
            "model_name": string,
            "message_tree_id": string,
            "tree_state": string,
        }
    )
