"""`lingualift run`: the pipeline entry. Stages join it as they land; today it loads the source,
loads the model and shows one generated reply with a summary of the data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lingualift.errors import ConfigError


class RunConfig(BaseModel):
    """The pipeline config (YAML). Every field has a default: no config runs the offline demo."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        None, description="Dataset to work on (hub id, save_to_disk dir, files); none = demo sample"
    )
    model: str = Field("demo", description="Chat model: hub id, local directory, or `demo`")
    text_field: str = Field("text", description="Column holding the message text")
    max_new_tokens: int = Field(48, gt=0, le=4096, description="Tokens to generate for the sample reply")


def load_config(path: str | Path | None) -> RunConfig:
    """Read and validate a YAML config; one ConfigError listing every problem with its key path."""
    if path is None:
        return RunConfig()
    import yaml

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: config file not found")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML ({str(error).splitlines()[0]})") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of options at the top level")
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].lower()}" for e in error.errors()
        )
        raise ConfigError(f"{file}: {problems}") from error


def run_pipeline(config: RunConfig, *, echo=print) -> dict[str, Any]:
    """Run the stages that exist and return a summary dict (also echoed line by line)."""
    from lingualift.io import load_source, require_columns
    from lingualift.models import generate_reply, load_chat_model

    started = time.perf_counter()
    if config.source is None:
        from lingualift.demo.sample import load_sample

        data, source_name = load_sample(), "demo sample (English, oasst1 format)"
    else:
        data, source_name = load_source(config.source), config.source
    require_columns(data, [config.text_field], where=source_name)
    rows = {split: len(part) for split, part in data.items()}
    echo(f"source: {source_name} — " + ", ".join(f"{s}: {n} rows" for s, n in rows.items()))

    first_split = next(iter(data.values()))
    prompt = _first_prompt(first_split, config.text_field)
    echo(f"model: {config.model} (loading)")
    model, tokenizer = load_chat_model(config.model)
    reply = generate_reply(
        model, tokenizer, [{"role": "user", "content": prompt}], max_new_tokens=config.max_new_tokens
    )
    echo(f"prompt: {prompt}")
    echo(f"reply: {reply}")
    summary = {
        "source": source_name,
        "rows": rows,
        "model": config.model,
        "prompt": prompt,
        "reply": reply,
        "seconds": round(time.perf_counter() - started, 1),
    }
    echo(f"done in {summary['seconds']} s")
    return summary


def _first_prompt(dataset, text_field: str) -> str:
    roles = dataset["role"] if "role" in dataset.column_names else None
    for index, text in enumerate(dataset[text_field]):
        if text and (roles is None or roles[index] == "prompter") and len(text.split()) > 3:
            return text
    raise ConfigError(f"no usable prompt text in column '{text_field}'")
