"""What each pipeline stage does. Each takes the stage's config object and the work directory and
returns a small summary dict; the runner decides which stages run."""

from __future__ import annotations

import json
from pathlib import Path


def prepare_source(config, work: Path, *, echo=print) -> dict:
    """The embedded demo sample, or the configured source cut to --limit rows per split."""
    import datasets

    from lingualift.io import load_source, require_columns, save_dataset

    out = work / "source" / "data"
    if config.source is None:
        from lingualift.demo.sample import load_sample

        data, name = load_sample(), "demo sample (English, oasst1 format)"
    else:
        data, name = load_source(config.source), config.source
    require_columns(data, [config.text_field], where=name)
    if config.limit:
        data = datasets.DatasetDict({k: v.select(range(min(config.limit, len(v)))) for k, v in data.items()})
    save_dataset(data, out)
    rows = {split: len(part) for split, part in data.items()}
    echo(f"source: {name} — " + ", ".join(f"{s}: {n} rows" for s, n in rows.items()))
    return {"source": name, "rows": rows, "oasst": "parent_id" in next(iter(data.values())).column_names}


def translate(config, work: Path, *, oasst: bool, stage: str = "translate", echo=print) -> dict:
    """For oasst trees, only the messages on best-ranked threads are translated (LLaMa2lang
    translates every message, though training uses a fraction)."""
    from lingualift.conversations.threads import ThreadsConfig, write_threads
    from lingualift.translate.engine import translate_dataset

    stage = work / stage
    if oasst:
        english = write_threads(
            config.source, str(stage / "source-threads"), ThreadsConfig(no_system_prompt=True)
        )
        used = sum(s["thread_message_ids"] for s in english["splits"].values())
        total = sum(s["messages"] for s in english["splits"].values())
        echo(f"threads: {used} of {total} messages are on best-ranked threads; only those are translated")
        config = config.model_copy(
            update={"only_ids": str(stage / "source-threads" / "thread_message_ids.json")}
        )
    report = translate_dataset(config, str(stage / "data"), echo=echo)
    echo(f"translate: {report['rows_by_outcome']} ({report['translated_segments']} segments translated, "
         f"{report['reused_from_store']} reused) → {stage / 'data'}")  # fmt: skip
    return {
        key: report.get(key)
        for key in (
            "rows",
            "rows_by_outcome",
            "rows_by_flag",
            "unique_segments",
            "translated_segments",
            "reused_from_store",
            "flagged",
            "failed_segments",
            "rows_per_second",
        )
    }


def threads(config, work: Path, *, holdout: int, seed: int = 0, stage: str = "threads", translated: str = "translate",
            echo=print) -> dict:  # fmt: skip
    """Target-language threads and pairs; `holdout` conversations are kept out of training as the
    fidelity prompts (a deterministic shuffle)."""
    import datasets

    from lingualift.conversations.threads import write_threads
    from lingualift.io import load_source, save_dataset

    stage = work / stage
    report = write_threads(
        str(work / translated / "data"), str(stage / "all"), config, pairs_out=str(stage / "pairs")
    )
    built = load_source(str(stage / "all"))  # every split's threads train (oasst1's validation split too)
    conversations = datasets.concatenate_datasets(list(built.values())) if hasattr(built, "values") else built
    if len(conversations) <= holdout:
        from lingualift.errors import DataError

        raise DataError(f"only {len(conversations)} conversations: too few to hold {holdout} out for evaluation "
                        "(lower evaluate.holdout or use more data)")  # fmt: skip
    order = conversations.shuffle(seed=seed)
    heldout, train = order.select(range(holdout)), order.select(range(holdout, len(order)))
    save_dataset(datasets.DatasetDict({"train": train}), stage / "train")
    save_dataset(datasets.DatasetDict({"test": heldout}), stage / "heldout")
    pairs = sum(s["pairs"] for s in report["splits"].values())
    echo(
        f"threads ({config.lang}): {len(train)} for training, {len(heldout)} held out, {pairs} preference pairs"
    )
    return {"splits": report["splits"], "train": len(train), "heldout": len(heldout), "pairs": pairs}


def train(config, work: Path, *, echo=print) -> dict:
    from lingualift.train.run import run_training

    report = run_training(config, echo=echo)
    keys = ("method", "mode", "steps", "first_loss", "final_loss", "best_eval_loss", "non_pad_tokens_seen",
            "non_pad_tokens_per_second", "trainable_parameters", "train_seconds")  # fmt: skip
    return {key: report.get(key) for key in keys}


def evaluate(config, work: Path, *, echo=print) -> dict:
    from lingualift.evaluate.fidelity import HEADLINE, run_fidelity

    results = run_fidelity(config, echo=echo)
    return {name: {k: r[k] for k in HEADLINE} for name, r in results.items()}


def export(config, *, echo=print):
    from lingualift.export import merge_adapter

    return merge_adapter(config, echo=echo)


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None
