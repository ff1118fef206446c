"""What a stage is: one object that the CLI, the pipeline (`lingualift run`), its summary screen and
`lingualift report` are all built from. The registry of stages is `lingualift.stages`.

A stage has a config class (the options, declared once in pydantic fields), a command body that
runs it from the CLI, the JSON file its run writes with the section that renders that file in the
report, and optionally a `Pipeline` part: how `lingualift run` wires it to the other stages.
Config fields the pipeline fills itself (inputs from earlier stages, the target language, output
folders) are marked `Annotated[..., Link("...")]`; a pipeline section setting one is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from lingualift.sections import Section


VOLATILE = {"resume"}  # options that do not change a stage's result
STEP_FOLDER = "the step's folder"  # a Link to where the step writes: named by the step, so not fingerprinted


@dataclass(frozen=True)
class Link:
    """Marks a config field that `lingualift run` fills from elsewhere (named in `source`)."""

    source: str


def linked_fields(config_cls: type[BaseModel]) -> dict[str, str]:
    """Field name → where the pipeline takes it from, for every `Link`-marked field."""
    return {
        name: marker.source
        for name, info in config_cls.model_fields.items()
        for marker in info.metadata
        if isinstance(marker, Link)
    }


@dataclass
class Step:
    """One step of a planned pipeline run: a stage instance working in `work_dir / name`.

    `config` is the stage's validated config (None for the source step); `settings` are
    pipeline-only choices that change the result; `inputs` fingerprint files outside the work
    directory. All three go into the step's fingerprint; the runner fills the last three fields."""

    name: str
    stage: Stage
    config: BaseModel | None
    upstream: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    keep_on_upstream_change: bool = False  # translate: its store stays valid for the same translator
    fingerprint: str = ""
    action: str = ""  # run, skip or stop
    reason: str = ""

    @property
    def recorded_config(self) -> dict:
        """What stage.json records as the step's config (and the fingerprint hashes)."""
        data = self.config.model_dump() if self.config is not None else {}
        return {**self.comparable(data), **self.settings}

    def comparable(self, recorded: dict) -> dict:
        """A recorded config without what does not change the result (also for records written
        before a folder link became a config field)."""
        links = linked_fields(type(self.config)) if self.config is not None else {}
        folders = {k for k, where in links.items() if where == STEP_FOLDER}
        return {k: v for k, v in recorded.items() if k not in VOLATILE | folders}

    def run(self, work: Path, echo: Callable) -> dict:
        return self.stage.pipeline.run(self, work, echo)

    def figure(self, summary: dict) -> str:
        if not summary:
            return ""
        read = self.stage.pipeline.summary_type or self.stage.report_type
        return self.stage.pipeline.figure(read.model_validate(summary) if read else summary)


@dataclass(frozen=True)
class Pipeline:
    """How `lingualift run` uses a stage.

    `fields`: what the stage adds to the pipeline YAML (top-level key → (annotation, Field)).
    `plan(config, plan)`: validate its section and add its steps to the plan (a `pipeline.config.Plan`).
    `run(step, work, echo)`: run one step, return its summary (kept in the step's stage.json).
    `figure(summary)`: the one figure that matters, for the run's last screen, given the summary as
    `summary_type` (default: the stage's report type; a summary holds some of its fields)."""

    fields: dict[str, tuple[Any, Any]]
    plan: Callable
    run: Callable[[Step, Path, Callable], dict]
    figure: Callable[[Any], str]
    summary_type: type[BaseModel] | None = None


@dataclass(frozen=True)
class Stage:
    """One stage in the registry (`lingualift.stages`)."""

    name: str
    config: type[BaseModel] | None = None
    command: Callable | None = None  # `command(config, **own_parameters)`; its docstring is the help
    command_name: str | None = None  # "eval fidelity": under a group; default: the stage name
    flags: dict[str, str] = field(default_factory=dict)  # field → flag spelling, as in options.config_command
    report: str | None = None  # the JSON file a run writes, found by `lingualift report`
    report_type: type[BaseModel] | None = None  # what that file holds (a reports.StageReport)
    section: Callable[[Any, str], Section] | None = None  # (the report, its path) → the report section
    reported: Callable[[Path], bool] = lambda path: True  # whether a found report file gets a section
    pipeline: Pipeline | None = None

    @property
    def cli_path(self) -> list[str]:
        return (self.command_name or self.name).split()
