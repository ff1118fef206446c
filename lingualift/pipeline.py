"""`lingualift run`: the pipeline entry. Stages join it as they land. Today: build English threads
to learn which messages training uses, translate only those, build threads (and preference
pairs) in the target language, and show one reply of the model to a translated prompt."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lingualift.errors import ConfigError, config_error


class RunConfig(BaseModel):
    """The pipeline config (YAML). Every field has a default: no config runs the offline demo."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        None, description="Dataset to work on (hub id, save_to_disk dir, files); none = demo sample"
    )
    model: str = Field("demo", description="Chat model: hub id, local directory, or `demo`")
    to: str = Field("nl", description="Target language")
    source_lang: str | None = Field(None, description="Source language when rows have no `lang` column")
    translate_backend: str = Field(
        "llm", description="Translator backend (see `lingualift translate --help`)"
    )
    translate_model: str | None = Field(None, description="Translator model; default: the chat model")
    limit: int | None = Field(None, gt=0, description="Only the first N rows of each split (quick runs)")
    out: str = Field("runs/demo", description="Work directory: one folder per stage")
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
        raise config_error(error, where=str(file)) from error


def run_pipeline(config: RunConfig, *, echo=print) -> dict[str, Any]:
    """Run the stages that exist and return a summary dict (also echoed line by line)."""
    import datasets

    from lingualift.conversations.threads import ThreadsConfig, write_threads
    from lingualift.io import load_source, require_columns, save_dataset
    from lingualift.models import generate_reply, load_chat_model
    from lingualift.translate.config import TranslateConfig
    from lingualift.translate.engine import translate_dataset

    started = time.perf_counter()
    out = Path(config.out)
    if config.source is None:
        from lingualift.demo.sample import load_sample

        source = str(save_dataset(load_sample(), out / "source"))
        source_name = "demo sample (English, oasst1 format)"
    else:
        source = source_name = config.source
    data = load_source(source)
    require_columns(data, [config.text_field], where=source_name)
    rows = {split: len(part) for split, part in data.items()}
    echo(f"source: {source_name} — " + ", ".join(f"{s}: {n} rows" for s, n in rows.items()))
    if config.limit:
        limited = datasets.DatasetDict(
            {k: v.select(range(min(config.limit, len(v)))) for k, v in data.items()}
        )
        source = str(save_dataset(limited, out / "source-limited"))

    oasst = "parent_id" in next(iter(data.values())).column_names
    only_ids = None
    if oasst:  # translate only the messages the threads will use
        english = write_threads(source, str(out / "threads-source"), ThreadsConfig(no_system_prompt=True))
        only_ids = str(out / "threads-source" / "thread_message_ids.json")
        used = sum(s["thread_message_ids"] for s in english["splits"].values())
        total = sum(s["messages"] for s in english["splits"].values())
        echo(f"threads: {used} of {total} messages are on best-ranked threads; only those are translated")
    translate_config = TranslateConfig(
        source=source, to=config.to, backend=config.translate_backend,
        model=config.translate_model or config.model, source_lang=config.source_lang,
        text_field=config.text_field, only_ids=only_ids,
    )  # fmt: skip
    translated = translate_dataset(translate_config, str(out / "translated"), echo=echo)
    echo(f"translate: {translated['rows_by_outcome']} ({translated['translated_segments']} segments translated, "
         f"{translated['reused_from_store']} reused) → {out / 'translated'}")  # fmt: skip
    summary: dict[str, Any] = {"source": source_name, "rows": rows, "translate": translated}
    prompt = None
    if oasst:
        threads = write_threads(str(out / "translated"), str(out / "threads"), ThreadsConfig(lang=config.to),
                                pairs_out=str(out / "pairs"))  # fmt: skip
        counts = {k: v["threads"] for k, v in threads["splits"].items()}
        echo(f"threads ({config.to}): {counts} → {out / 'threads'}; pairs → {threads.get('pairs_out')}")
        summary["threads"] = threads["splits"]
        thread_data = load_source(str(out / "threads"))
        first = next(iter(thread_data.values()))
        if len(first):
            prompt = next(m["content"] for m in first[0]["messages"] if m["role"] == "user")
    if prompt is None:  # not oasst: the first translated text is the prompt
        translated_data = load_source(str(out / "translated"))
        prompt = _first_prompt(next(iter(translated_data.values())), config.text_field)

    echo(f"model: {config.model} (loading)")
    model, tokenizer = load_chat_model(config.model)
    reply = generate_reply(
        model, tokenizer, [{"role": "user", "content": prompt}], max_new_tokens=config.max_new_tokens
    )
    echo(f"prompt: {prompt}")
    echo(f"reply: {reply}")
    summary.update(
        model=config.model, prompt=prompt, reply=reply, seconds=round(time.perf_counter() - started, 1)
    )
    (out / "run_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    echo(f"done in {summary['seconds']} s — summary: {out / 'run_summary.json'}")
    return summary


def _first_prompt(dataset, text_field: str) -> str:
    roles = dataset["role"] if "role" in dataset.column_names else None
    for index, text in enumerate(dataset[text_field]):
        if text and text.strip() and (roles is None or roles[index] == "prompter"):
            return text
    raise ConfigError(f"no usable prompt text in column '{text_field}'")
