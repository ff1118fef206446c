"""The pipeline config (YAML): a few top-level choices plus what each stage adds (its section).

The model is built from the stage registry: each pipeline stage contributes its fields (the
`translate:` section, `train:` with `sft:`/`dpo:`..., the source options). A section holds options
of the stage's own config class, the same object its CLI command builds, so no option is declared
twice; the fields the pipeline links itself are marked `Link` in those classes and a section setting
one is an error. `plan_steps` validates every section before anything loads and reports all
problems in one error with their key paths (`train.sft.lora_r: ...`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from lingualift.errors import ConfigError, LinguaLiftError, config_error
from lingualift.stage import Step, linked_fields
from lingualift.stages import pipeline_stages


class PipelineBase(BaseModel):
    """Every field has a default: no config runs the offline demo."""

    model_config = ConfigDict(extra="forbid")

    language: Union[str, list[str]] = Field(
        "nl",
        description="Target language (code or English name); several (`[nl, de]` or `nl,de`) train one model on "
        "all of them: one translate and threads stage per language, sft on the joined threads (`train.sft.mix`)",
    )
    model: str = Field("demo", description="Base chat model to teach: hub id, local directory, or `demo`")
    work_dir: str = Field("runs/demo", description="One folder per stage under here")
    lid: Optional[str] = Field(
        None,
        description="Language identifier for every stage that checks a language (translate, respond, generate, "
        "evaluate): lid.176, heliport (Igbo, Yoruba, Swahili ...) or a fastText LID file; a section's own `lid` wins",
    )


PipelineConfig = create_model(
    "PipelineConfig",
    __base__=PipelineBase,
    **{name: spec for stage in pipeline_stages() for name, spec in stage.pipeline.fields.items()},
)


@dataclass
class Plan:
    """The steps planned so far and the problems found; each pipeline stage's `plan` adds to it."""

    config: PipelineConfig
    tags: list[str]  # the target languages' tags
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def work(self) -> Path:
        return Path(self.config.work_dir)

    @property
    def several(self) -> bool:
        return len(self.tags) > 1

    def suffix(self, tag: str) -> str:
        """Per-language step folders: `translate` for one language, `translate-de` for each of several."""
        return f"-{tag}" if self.several else ""

    def of(self, stage: str) -> list[Step]:
        """The steps planned so far for one stage (e.g. every language's threads)."""
        return [step for step in self.steps if step.stage.name == stage]

    @property
    def model(self) -> str:
        """The model a next training step starts from (and evaluation measures): the last one trained."""
        trained = self.of("train")
        return trained[-1].config.out if trained else self.config.model

    def build(self, where: str, config_cls: type[BaseModel], section: dict, links: dict) -> BaseModel | None:
        """The stage config from the user's `section` plus what the pipeline links; None (and the
        problems recorded) when invalid."""
        linked = linked_fields(config_cls)
        assert set(links) <= set(linked), f"{config_cls.__name__}: unmarked links {set(links) - set(linked)}"
        if "lid" in config_cls.model_fields and self.config.lid and "lid" not in section:
            section = {**section, "lid": self.config.lid}  # the pipeline's identifier, once for every stage
        taken = sorted(set(section) & set(linked))
        self.problems.extend(f"{where}.{key}: set by the pipeline, remove it" for key in taken)
        try:
            return config_cls(**{**{k: v for k, v in section.items() if k not in taken}, **links})
        except ValidationError as error:
            self.problems.append(str(config_error(error, prefix=where)))
            return None


def plan_steps(config: PipelineConfig) -> list[Step]:
    """Every step of the run, its config validated. Raises one ConfigError listing every problem
    with its key path; nothing is loaded."""
    from lingualift.languages import get_language

    try:
        tags = [get_language(code).tag for code in language_codes(config)]
    except LinguaLiftError as error:
        raise ConfigError(f"language: {error}") from error
    if not tags:
        raise ConfigError("language: name at least one target language")
    if len(set(tags)) < len(tags):
        raise ConfigError(f"language: a language is named twice ({', '.join(tags)})")
    plan = Plan(config, tags)
    for stage in pipeline_stages():
        stage.pipeline.plan(config, plan)
    if plan.problems:
        raise ConfigError("; ".join(plan.problems))
    return plan.steps


def language_codes(config: PipelineConfig) -> list[str]:
    """The configured target languages as written (one or several)."""
    raw = config.language if isinstance(config.language, list) else config.language.split(",")
    return [code.strip() for code in raw if str(code).strip()]


PRESETS = Path(__file__).parent / "presets"


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.yaml"))


def preset_text(name: str, language: str = "nl") -> str:
    """A commented preset config with the language filled in (`lingualift init`)."""
    path = PRESETS / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"--preset {name}: unknown preset (presets: {', '.join(presets())})")
    return path.read_text(encoding="utf-8").replace("{language}", language)


def load_config(path: str | Path | None, overrides: dict | None = None) -> PipelineConfig:
    """Read and validate a YAML config (none: the demo preset); one ConfigError naming every bad key path."""
    import yaml

    raw: dict = yaml.safe_load(preset_text("demo")) if path is None else {}
    where = "config"
    if path is not None:
        file = Path(path)
        where = str(file)
        if not file.is_file():
            raise ConfigError(f"{file}: config file not found (write one with `lingualift init`)")
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{file}: not valid YAML ({str(error).splitlines()[0]})") from error
        if not isinstance(raw, dict):
            raise ConfigError(f"{file}: expected a mapping of options at the top level")
    for key, value in (overrides or {}).items():
        _set_path(raw, key, value)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as error:
        raise config_error(error, where=where) from error


def set_overrides(items: list[str]) -> dict:
    """`--set KEY=VALUE` items as load_config overrides, each value read as YAML (`5`, `true`, `[nl, de]`)."""
    import yaml

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. train.sft.max_steps=5")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _set_path(raw: dict, dotted: str, value) -> None:
    """`train.sft.max_steps=5` style override."""
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {}) if isinstance(node.get(key), dict) or key not in node else node[key]
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {key} is not a section")
    node[last] = value
