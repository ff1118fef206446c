"""A stage's JSON report as one pydantic model: the code that writes it builds it, the report page,
the pipeline summary and the stage's command read its attributes. On disk: `model_dump` plus a
`schema` version; files written before the version (schema 0) load as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = 1
Number = Union[int, float]  # an int stays an int (written and shown as one), a float a float


class StageReport(BaseModel):
    # extra="allow": a file from another version keeps keys this one does not know; write() refuses
    # them, so a writer cannot add a key without declaring it
    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())

    schema_version: int = Field(0, alias="schema")

    @classmethod
    def load(cls, path: str | Path):
        import json

        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))

    def write(self, path: str | Path) -> Path:
        if self.model_extra:
            raise TypeError(
                f"{type(self).__name__} has undeclared keys: {', '.join(sorted(self.model_extra))}"
            )
        self.schema_version = SCHEMA
        path = Path(path)
        path.write_text(self.model_dump_json(indent=2, by_alias=True) + "\n", encoding="utf-8")
        return path

    def summary(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """These fields as JSON values, for the step's stage.json."""
        return self.model_dump(mode="json", include=set(keys))
