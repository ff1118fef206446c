"""The pipeline config (YAML): top-level choices plus one section per stage.

Each section holds options of the stage's own config class (TranslateConfig, ThreadsConfig,
TrainConfig, FidelityConfig): the same object its CLI command builds, so no option is declared
twice. The pipeline fills what links the stages (sources, outputs, language, model); a section
setting one of those is an error. `stage_configs` validates every section before anything loads
and reports all problems with their key paths (`train.sft.lora_r: ...`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lingualift.errors import ConfigError, LinguaLiftError, config_error


class TrainSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpt: Optional[dict[str, Any]] = Field(
        None, description="Continued pre-training first (needs `data:` raw text)"
    )
    sft: Optional[dict[str, Any]] = Field(
        default_factory=dict, description="Supervised fine-tuning on the threads"
    )
    dpo: Optional[dict[str, Any]] = Field(None, description="DPO on the preference pairs, after sft")
    orpo: Optional[dict[str, Any]] = Field(None, description="ORPO on the preference pairs, after sft")


class EvaluateSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holdout: int = Field(12, ge=0, description="Conversations held out of training as fidelity prompts")
    fidelity: Optional[dict[str, Any]] = Field(
        default_factory=dict, description="Fidelity before (base) and after (tuned) on the held-out prompts"
    )


class ExportSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merge: Optional[dict[str, Any]] = Field(
        None, description="`lingualift export merge` options: fold the final adapter into its base"
    )


class PipelineConfig(BaseModel):
    """Every field has a default: no config runs the offline demo."""

    model_config = ConfigDict(extra="forbid")

    language: Union[str, list[str]] = Field(
        "nl", description="Target language (code or English name); several (`[nl, de]` or `nl,de`) train one model on "
        "all of them: one translate and threads stage per language, sft on the joined threads (`train.sft.mix`)")  # fmt: skip
    model: str = Field("demo", description="Base chat model to teach: hub id, local directory, or `demo`")
    source: Optional[str] = Field(
        None, description="Dataset to translate; none = the embedded English demo sample"
    )
    source_lang: Optional[str] = Field(None, description="Source language when rows have no `lang` column")
    text_field: str = Field("text", description="Column holding the message text")
    limit: Optional[int] = Field(None, gt=0, description="Only the first N rows of each split (quick runs)")
    work_dir: str = Field("runs/demo", description="One folder per stage under here")
    translate: dict[str, Any] = Field(default_factory=dict, description="`lingualift translate` options")
    threads: dict[str, Any] = Field(default_factory=dict, description="`lingualift threads` options")
    train: TrainSection = Field(default_factory=TrainSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    export: ExportSection = Field(default_factory=ExportSection)


def language_codes(config: PipelineConfig) -> list[str]:
    """The configured target languages as written (one or several)."""
    raw = config.language if isinstance(config.language, list) else config.language.split(",")
    return [code.strip() for code in raw if str(code).strip()]


def stage_suffix(tag: str, several: bool) -> str:
    """translate/threads stage folders: `translate` for one language, `translate-de` for each of several."""
    return f"-{tag}" if several else ""


# what the pipeline sets itself, per section: the user cannot override these
OWNED = {
    "translate": {"source", "to", "only_ids", "text_field", "source_lang", "limit"},
    "threads": {"lang"},
    "train": {"method", "model", "data", "out", "resume"},
    "fidelity": {"model", "lang", "prompts", "adapter", "baseline", "out"},
    "merge": {"adapter", "out"},
}


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


def _set_path(raw: dict, dotted: str, value) -> None:
    """`train.sft.max_steps=5` style override."""
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {}) if isinstance(node.get(key), dict) or key not in node else node[key]
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {key} is not a section")
    node[last] = value


def stage_configs(config: PipelineConfig) -> dict[str, BaseModel]:
    """Every stage's config object, validated, keyed by stage name. Raises one ConfigError listing
    every problem with its key path; nothing is loaded."""
    from lingualift.conversations.threads import ThreadsConfig
    from lingualift.evaluate.config import FidelityConfig
    from lingualift.languages import get_language
    from lingualift.train.config import TrainConfig
    from lingualift.translate.config import TranslateConfig

    work = Path(config.work_dir)
    problems: list[str] = []
    built: dict[str, BaseModel] = {}
    try:
        languages = [get_language(code) for code in language_codes(config)]
    except LinguaLiftError as error:
        raise ConfigError(f"language: {error}") from error
    if not languages:
        raise ConfigError("language: name at least one target language")
    tags = [language.tag for language in languages]
    if len(set(tags)) < len(tags):
        raise ConfigError(f"language: a language is named twice ({', '.join(tags)})")
    several = len(languages) > 1

    def build(name: str, section_path: str, cls, owned_key: str, section: dict, fixed: dict) -> None:
        bad = sorted(set(section) & OWNED[owned_key])
        problems.extend(f"{section_path}.{key}: set by the pipeline, remove it" for key in bad)
        try:
            built[name] = cls(**{**{k: v for k, v in section.items() if k not in bad}, **fixed})
        except ValidationError as error:
            problems.append(str(config_error(error, prefix=section_path)))

    translate = dict(config.translate)
    translate.setdefault("backend", "llm" if config.model == "demo" else None)
    if translate["backend"] == "llm":
        translate.setdefault("model", config.model)  # the model being taught translates its own data
    source = str(work / "source" / "data")
    for tag in tags:
        suffix = stage_suffix(tag, several)
        build(f"translate{suffix}", "translate", TranslateConfig, "translate", translate,
              {"source": source, "to": tag, "text_field": config.text_field, "source_lang": config.source_lang,
               "work_dir": str(work / f"translate{suffix}" / "store")})  # fmt: skip
        build(f"threads{suffix}", "threads", ThreadsConfig, "threads", config.threads, {"lang": tag})
    threads_dirs = [work / f"threads{stage_suffix(tag, several)}" for tag in tags]
    model = config.model
    for method in ("cpt", "sft", "dpo", "orpo"):
        section = getattr(config.train, method)
        if section is None:
            continue
        if several and method in ("dpo", "orpo"):
            problems.append(f"train.{method}: takes one language's preference pairs; with several languages train "
                            "sft only (or run one pipeline per language for the pairs)")  # fmt: skip
            continue
        fixed = {"method": method, "model": model, "out": str(work / f"train-{method}")}
        if method == "sft":
            fixed["data"] = ",".join(str(d / "train") for d in threads_dirs)
        elif method != "cpt":
            fixed["data"] = str(threads_dirs[0] / "pairs")
        elif "data" not in section:
            problems.append("train.cpt.data: raw target-language text to pre-train on is required")
            continue
        owned = dict(section)
        if method == "cpt":
            fixed["data"] = owned.pop("data")
        build(f"train-{method}", f"train.{method}", TrainConfig, "train", owned, fixed)
        model = fixed["out"]  # the next training stage starts from this one's output
    if config.train.dpo is not None and config.train.orpo is not None:
        problems.append("train: dpo and orpo are alternatives, configure one")
    if config.evaluate.fidelity is not None:
        from lingualift.conversations.threads import SYSTEM_PROMPT

        section = dict(config.evaluate.fidelity)
        if "system" not in section and not config.threads.get("no_system_prompt"):  # as in training
            section["system"] = config.threads.get("system_prompt") or SYSTEM_PROMPT
        trained = model != config.model
        build("evaluate", "evaluate.fidelity", FidelityConfig, "fidelity", section,
              {"model": model, "baseline": config.model if trained else None, "lang": ",".join(tags),
               "prompts": ",".join(str(d / "heldout") for d in threads_dirs), "out": str(work / "evaluate")})  # fmt: skip
    if config.export.merge is not None:
        from lingualift.export import MergeConfig

        last = next(
            (built[f"train-{m}"] for m in ("orpo", "dpo", "sft", "cpt") if f"train-{m}" in built), None
        )
        if last is None or last.full:
            problems.append(
                "export.merge: needs a LoRA training stage to merge (full weights are already merged)"
            )
        else:
            build("export", "export.merge", MergeConfig, "merge", config.export.merge,
                  {"adapter": last.out, "out": str(work / "export" / "merged")})  # fmt: skip
    if problems:
        raise ConfigError("; ".join(problems))
    return built
