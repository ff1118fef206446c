"""The two ends of the engine: rows → the strings to translate, and stored results → rows.

A layout says where the strings of a row are: one text column (oasst and any `--text-field`), or a
list of fields (`--fields`, or a detected format: alpaca, dolly, openai `messages`, sharegpt
`conversations`, preference `prompt`/`chosen`/`rejected`), each a string or a list of turns.
A list of turns is translated turn by turn (`--roles` picks which), its roles, order, extra keys and
non-text parts kept. Everything else — segmenting, dedupe across fields and rows, the exact-once
store, flags — is the engine's, the same for every format.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lingualift.conversations.formats import SHAREGPT_ROLES
from lingualift.errors import ConfigError, DataError, LanguageError
from lingualift.languages import Language, backend_code, get_language
from lingualift.translate.config import SEQ2SEQ, TranslateConfig
from lingualift.translate.segment import Piece, join_message, split_message
from lingualift.translate.store import Result, Segment, TranslationStore, segment_key

PLAN_BATCH_ROWS = 1000

# The columns of each format, and the role of a string column (for --roles).
FORMAT_FIELDS = {
    "alpaca": ("instruction", "input", "output"),
    "dolly": ("instruction", "context", "response"),
    "openai": ("messages",),
    "sharegpt": ("conversations",),
    "preference": ("prompt", "chosen", "rejected"),
    "prompts": ("prompt",),  # prompts only (a teacher answers them: respond)
}
COLUMN_ROLES = {
    "alpaca": {"instruction": "user", "input": "user", "output": "assistant"},
    "dolly": {"instruction": "user", "context": "user", "response": "assistant"},
    "openai": {"prompt": "user"},
    "preference": {"prompt": "user", "chosen": "assistant", "rejected": "assistant"},
    "prompts": {"prompt": "user"},
}


@dataclass(frozen=True)
class Layout:
    """Where a row's strings are. kind "text": one column, written back as today's oasst output
    (`source_text`, `qe_flags`); kind "fields": several, each string or list of turns."""

    kind: str
    format: str
    fields: tuple[str, ...]
    roles: frozenset[str] | None = None  # None: every turn
    column_roles: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """The dataset columns the fields live in (`choices.text` lives in `choices`), in order."""
        return tuple(dict.fromkeys(name.split(".")[0] for name in self.fields))

    def describe(self) -> str:
        roles = f", roles {','.join(sorted(self.roles))}" if self.roles else ""
        return f"format {self.format}: translating {', '.join(self.fields)}{roles}"

    def selects(self, role: str | None) -> bool:
        """A string field's choice: of no known role (a --fields column), it is translated."""
        return self.roles is None or role is None or role in self.roles


def detect_layout(config: TranslateConfig, columns: list[str], features=None) -> Layout:
    """The layout from --fields/--format, else from the columns (the text column when it is there).
    `features` (the datasets Features) tell a multiple-choice benchmark's shape."""
    from lingualift import multiple_choice

    roles = frozenset(config.roles) if config.roles else None
    fmt = config.format
    if config.fields:
        missing = [f for f in config.fields if f.split(".")[0] not in columns]
        if missing:
            raise DataError(
                f"--fields: no column {', '.join(repr(m) for m in missing)} (columns: {', '.join(columns)})"
            )
        known = COLUMN_ROLES.get(fmt, {}) if fmt != "auto" else _roles_by_name(config.fields)
        return Layout("fields", fmt if fmt != "auto" else "fields", tuple(config.fields), roles, known)
    shape = multiple_choice.detect(features) if features is not None else None
    if fmt == "multiple_choice" or (fmt == "auto" and shape and config.text_field not in columns):
        if shape is None:
            raise DataError(
                f"--format multiple_choice: no question/choices/label columns found (columns: {', '.join(columns)}) "
                "— name the strings with --fields"
            )
        return Layout("fields", "multiple_choice", shape.text_fields, roles)
    if fmt == "auto":
        fmt = _detect(config, columns)
    if fmt == "text":
        if config.text_field not in columns:
            raise DataError(f"missing column '{config.text_field}' (columns: {', '.join(columns)})")
        if roles:
            raise ConfigError(
                f"--roles picks turns of chat data (messages, conversations, alpaca/dolly/preference fields); "
                f"the column '{config.text_field}' has no roles: drop --roles"
            )
        return Layout("text", "text", (config.text_field,))
    fields = [f for f in FORMAT_FIELDS[fmt] if f in columns]
    if fmt == "openai" and "prompt" in columns:
        fields.append("prompt")  # ultrachat's copy of the first user turn (translated once: dedupe)
    optional = ("input", "context") if fmt == "prompts" else ("input", "context", "prompt")
    required = [f for f in FORMAT_FIELDS[fmt] if f not in optional]
    missing = [f for f in required if f not in columns]
    if missing:
        raise DataError(
            f"--format {fmt} needs column {', '.join(repr(m) for m in missing)} (columns: {', '.join(columns)})"
        )
    return Layout("fields", fmt, tuple(fields), roles, COLUMN_ROLES.get(fmt, {}))


def _roles_by_name(fields) -> dict[str, str]:
    known = {}
    for roles in COLUMN_ROLES.values():
        known.update({f: r for f, r in roles.items() if f in fields})
    return known


def _detect(config: TranslateConfig, columns: list[str]) -> str:
    named = config.text_field != TranslateConfig.model_fields["text_field"].default
    return detect_format(columns, config.text_field, text_named=named)


def detect_format(columns: list[str], text_field: str = "text", *, text_named: bool = False) -> str:
    """The format whose columns these are: "text" when `text_field` is there; DataError otherwise
    (naming the missing column when the user named it)."""
    from lingualift.conversations.formats import detect_format as chat_format

    have = set(columns)
    if text_field in have and not {"conversations", "messages", "chosen"} & have:
        return "text"
    if {"chosen", "rejected"} <= have:
        return "preference"
    try:  # sharegpt, openai, alpaca, dolly: as threads reads them (oasst has its text column)
        found = chat_format(columns)
        if found != "oasst":
            return found
    except DataError:
        pass
    if "prompt" in have:
        return "prompts"
    if text_named:
        raise DataError(f"missing column '{text_field}' (columns: {', '.join(columns)})")
    raise DataError(
        f"cannot tell which columns to translate ({', '.join(columns)}): expected a '{text_field}' "
        "column, conversations (sharegpt), messages (openai), prompt/chosen/rejected, prompt, "
        "instruction/input/output (alpaca) or instruction/context/response (dolly) — pass --fields or --format"
    )


# -- one row's strings ------------------------------------------------------------------------------


@dataclass
class Item:
    """One string of a row: where it is, its text, and whether it goes to the translator."""

    field: str
    turn: int | None
    text: object
    selected: bool

    @property
    def where(self) -> str:
        return self.field if self.turn is None else f"{self.field}[{self.turn}]"


def _holder(values: dict, field: str):
    """(the object holding a field's value, its key there): the row, or a dict column."""
    column, _, key = field.partition(".")
    return (values[column], key) if key else (values, column)


def _field_value(row: dict, name: str, where: str):
    """`column` or `column.key` (a dict column) of a row."""
    column, _, key = name.partition(".")
    value = row[column]
    if not key:
        return value
    if not isinstance(value, dict) or key not in value:
        raise DataError(f"{where}, field '{name}': column '{column}' has no key '{key}'")
    return value[key]


def _turn_key(turn: dict) -> str | None:
    return "content" if "content" in turn else "value" if "value" in turn else None


def _turn_role(turn: dict) -> str | None:
    role = turn.get("role", turn.get("from"))
    return SHAREGPT_ROLES.get(str(role).lower()) if role is not None else None


def row_items(layout: Layout, row: dict, where: str) -> list[Item]:
    """Every string of the row's fields, in order. A turn that is not a dict is a DataError naming
    the row and field; a turn whose content is not a string (image parts) is an unselected item."""
    items = []
    for name in layout.fields:
        value = _field_value(row, name, where)
        if value is None or isinstance(value, str):
            items.append(Item(name, None, value, layout.selects(layout.column_roles.get(name))))
            continue
        if not isinstance(value, list):
            raise DataError(
                f"{where}, field '{name}': a {type(value).__name__}, expected a string, a list of strings "
                "or a list of turns (a dict column: name its key, e.g. choices.text)"
            )
        strings = all(v is None or isinstance(v, str) for v in value)
        if strings and layout.format in ("multiple_choice", "fields"):  # answer lists, a benchmark's choices
            selected = layout.selects(layout.column_roles.get(name))
            items += [Item(name, index, text, selected) for index, text in enumerate(value)]
            continue
        for index, turn in enumerate(value):
            if not isinstance(turn, dict) or _turn_key(turn) is None:
                kind = type(turn).__name__ if not isinstance(turn, dict) else "dict without content/value"
                raise DataError(
                    f"{where}, field '{name}': turn {index} is a {kind}, expected a dict with role and "
                    "content (or from and value)"
                )
            text = turn[_turn_key(turn)]  # a turn of a role --roles does not name (or none) is kept
            selected = layout.roles is None or _turn_role(turn) in layout.roles
            items.append(Item(name, index, text, selected))
    return items


# -- per string: what to do, and what came back ------------------------------------------------------


@dataclass
class StringPlan:
    """What happens to one string: translated pieces, or kept as is with a reason."""

    pieces: list[Piece] | None = None
    src: Language | None = None
    keep_reason: str | None = None  # None: translated; else why the string keeps its text
    flags: list[str] = field(default_factory=list)


class Planner:
    """Decides, per string, which segments need translation. Pure given the config (deterministic)."""

    def __init__(self, config: TranslateConfig, tgt: Language, backend: str):
        self.config = config
        self.tgt = tgt
        self.backend = backend
        self.fixed_src = get_language(config.source_lang) if config.source_lang else None
        self.only_ids = _read_ids(config.only_ids) if config.only_ids else None
        self.languages: dict[object, Language | str] = {}

    def source_language(self, value) -> Language | str:
        """The row's Language, or a flag explaining why it cannot be translated."""
        if self.fixed_src is not None:
            return self.fixed_src
        if value not in self.languages:
            try:
                lang = get_language(str(value)) if value else None
                if lang is None:
                    self.languages[value] = "unknown_source_language"
                else:
                    if self.backend in SEQ2SEQ or self.backend == "tower":
                        backend_code(lang, self.backend)  # raises when the backend cannot read it
                    self.languages[value] = lang
            except LanguageError:
                known = value and _is_known(value)
                self.languages[value] = (
                    f"unsupported_source_language:{value}" if known else f"unknown_source_language:{value}"
                )
        return self.languages[value]

    def plan(self, text, lang_value, row_id, *, selected: bool = True) -> StringPlan:
        if not selected:
            return StringPlan(keep_reason="role_not_selected")
        if text is None or (isinstance(text, str) and not text.strip()):
            return StringPlan(keep_reason="empty_source", flags=["empty_source"])
        if not isinstance(text, str):
            return StringPlan(keep_reason="not_text", flags=[f"not_text:{type(text).__name__}"])
        if self.only_ids is not None and row_id not in self.only_ids:
            return StringPlan(keep_reason="not_selected", flags=["not_translated:not_selected"])
        src = self.source_language(lang_value)
        if isinstance(src, str):
            return StringPlan(keep_reason="language", flags=[src])
        if src.key == self.tgt.key:
            return StringPlan(keep_reason="already_target")
        pieces = split_message(text, max_chars=self.config.segment_chars, language=src.raw)
        return StringPlan(pieces=pieces, src=src)

    def keys(self, plan: StringPlan):
        for piece in plan.pieces or ():
            if piece.translate:
                yield segment_key(piece.text, plan.src.tag, self.tgt.tag), piece.text


def _read_ids(path: str) -> set[str]:
    import json

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--only-ids {file}: file not found")
    data = json.loads(file.read_text(encoding="utf-8"))
    if isinstance(data, dict):  # thread_message_ids.json: {split: [ids]}
        return {i for ids in data.values() for i in ids}
    return set(data)


def _is_known(value) -> bool:
    try:
        get_language(str(value))
        return True
    except LanguageError:
        return False


@dataclass
class Resolved:
    text: object
    translators: set[str]
    flags: list[str]
    outcome: str  # translated, flagged, failed, or the keep reason


def resolve(planner: Planner, plan: StringPlan, text, found: dict[str, Result]) -> Resolved:
    """One string's output from the stored results of its segments."""
    if plan.pieces is None:
        return Resolved(None if plan.keep_reason == "not_text" else text, set(), plan.flags, plan.keep_reason)
    parts = [found.get(key) for key, _ in planner.keys(plan)]
    if any(r is None for r in parts):
        raise DataError("segments are missing from the store: run the same command again to finish them")
    used = {r.translator for r in parts}
    flags = sorted({f for r in parts for f in r.flags if f != "failed"})
    failed = [r for r in parts if r.status == "failed"]
    if failed:
        return Resolved(None, used, [f"failed:{failed[0].error}"] + flags, "failed")
    joined, _ = join_message(plan.pieces, [r.output for r in parts])
    return Resolved(joined, used, flags, "flagged" if flags else "translated")


# -- rows → segments ---------------------------------------------------------------------------------


def _owner(key: str, world: int) -> int:
    return int(key[:12], 16) % world


def _planning_columns(layout: Layout, config: TranslateConfig, columns: list[str]) -> list[str]:
    return [c for c in dict.fromkeys((*layout.columns, config.lang_field, config.id_field)) if c in columns]


def _row_plans(layout: Layout, planner: Planner, batch: dict, index: int, where: str):
    """(item, plan) for every string of one row of a batch."""
    config = planner.config
    row = {name: batch[name][index] for name in layout.columns}
    lang = batch[config.lang_field][index] if config.lang_field in batch else None
    row_id = batch[config.id_field][index] if config.id_field in batch else None
    if layout.kind == "text":
        item = Item(layout.fields[0], None, row[layout.fields[0]], True)
        return [(item, planner.plan(item.text, lang, row_id))]
    return [
        (item, planner.plan(item.text, lang, row_id, selected=item.selected))
        for item in row_items(layout, row, where)
    ]


def plan_segments(
    data, layout: Layout, planner: Planner, store: TranslationStore, rank: int, world: int
) -> tuple[int, dict]:
    """Queue this rank's unique segments; returns (unique segments of this rank, rows per split)."""
    seen: set[str] = set()
    rows = {}
    for split, part in data.items():
        rows[split] = len(part)
        columns = _planning_columns(layout, planner.config, part.column_names)
        start = 0
        for batch in part.select_columns(columns).iter(batch_size=PLAN_BATCH_ROWS):
            queue = []
            count = len(batch[layout.columns[0]])
            for i in range(count):
                for _, plan in _row_plans(layout, planner, batch, i, f"{split} row {start + i}"):
                    for key, text in planner.keys(plan):
                        if _owner(key, world) == rank and key not in seen:
                            seen.add(key)
                            queue.append(Segment(key, text, plan.src.tag, planner.tgt.tag))
            start += count
            store.add_pending(queue)
    return len(seen), rows


# -- results → rows ----------------------------------------------------------------------------------


class Tally:
    """Rows by outcome and by flag reason; strings (and turns) by field and outcome."""

    def __init__(self):
        self.rows = Counter()
        self.strings: dict[str, Counter] = {}
        self.turns = Counter()

    def string(self, item: Item, outcome: str) -> None:
        self.strings.setdefault(item.field, Counter())[outcome] += 1
        if item.turn is not None:
            self.turns[outcome] += 1


def _lookup(stores, planner: Planner, plans) -> dict[str, Result]:
    keys = {key for plan in plans for key, _ in planner.keys(plan)}
    found: dict[str, Result] = {}
    for store in stores:
        found.update(store.lookup(sorted(keys - found.keys())))
    return found


def _row_outcome(outcomes: list[str]) -> str:
    for outcome in ("failed", "flagged", "translated"):
        if outcome in outcomes:
            return outcome
    kept = [o for o in outcomes if o != "role_not_selected"]
    return kept[0] if kept else "role_not_selected" if outcomes else "empty_source"


def assemble(data, layout: Layout, planner: Planner, stores: list[TranslationStore]):
    """(translated DatasetDict, tally). Text layout: the column replaced, `source_text`,
    `translator`, `qe_flags`, the language column. Fields: each field replaced in place (a failed
    string becomes None), `source_<field>`, `qe_flags_<field>` (per turn for lists), `qe_flags`
    (every flag of the row, prefixed with where it is), `translator`, the language column."""
    import datasets

    config, tgt = planner.config, planner.tgt
    tally = Tally()

    def assemble_batch(batch, indices):
        count = len(indices)
        rows = [_row_plans(layout, planner, batch, i, f"row {indices[i]}") for i in range(count)]
        found = _lookup(stores, planner, [plan for row in rows for _, plan in row])
        langs = batch.get(config.lang_field, [None] * count)
        if layout.kind == "text":
            return _write_text(batch, layout.fields[0], rows, found, langs)
        return _write_fields(batch, rows, found, langs)

    def _write_text(batch, column, rows, found, langs):
        texts, translators, flags, lang_out = [], [], [], []
        for (row,), lang in zip(rows, langs):
            item, plan = row
            done = resolve(planner, plan, item.text, found)
            tally.rows[done.outcome] += 1
            tally.rows.update(f"flag:{f.split(':', 1)[0]}" for f in done.flags if plan.pieces is not None)
            texts.append(done.text)
            translators.append("+".join(sorted(done.translators)) or "none")
            flags.append(done.flags)
            lang_out.append(tgt.tag if plan.pieces is not None or done.outcome == "already_target" else lang)
        batch["source_text"] = batch[column]
        batch[column], batch["translator"], batch["qe_flags"] = texts, translators, flags
        batch[config.lang_field] = lang_out
        return batch

    def _write_fields(batch, rows, found, langs):
        import copy

        out = {name: [] for name in layout.columns}
        field_flags = {name: [] for name in layout.fields}
        translators, row_flags, lang_out = [], [], []
        for index, (row, lang) in enumerate(zip(rows, langs)):
            values = {name: copy.deepcopy(batch[name][index]) for name in layout.columns}

            flags_here = {
                name: [] if isinstance(_field_value(values, name, ""), list) else None
                for name in layout.fields
            }
            used, located, outcomes = set(), [], []
            for item, plan in row:
                done = resolve(planner, plan, item.text, found)
                if done.outcome == "empty_source":  # alpaca's empty `input`: counted, not a flag
                    done.flags = []
                tally.string(item, done.outcome)
                outcomes.append(done.outcome)
                used |= done.translators
                located += [f"{item.where}:{f}" for f in done.flags]
                parent, key = _holder(values, item.field)
                if item.turn is None:
                    parent[key] = done.text if plan.pieces is not None else parent[key]
                    flags_here[item.field] = done.flags
                else:
                    turn = parent[key][item.turn]
                    if plan.pieces is not None and isinstance(turn, dict):
                        turn[_turn_key(turn)] = done.text
                    elif plan.pieces is not None:  # a list of strings
                        parent[key][item.turn] = done.text
                    flags_here[item.field].append(done.flags)
            outcome = _row_outcome(outcomes)
            tally.rows[outcome] += 1
            tally.rows.update(f"flag:{f.split(':', 2)[1]}" for f in located)  # rows per flag reason
            for name in layout.columns:
                out[name].append(values[name])
            for name in layout.fields:
                field_flags[name].append(flags_here[name] or [])
            translators.append("+".join(sorted(used)) or "none")
            row_flags.append(located)
            lang_out.append(
                tgt.tag if outcome in ("translated", "flagged", "failed", "already_target") else lang
            )
        for name in layout.columns:
            batch[f"source_{name}"] = batch[name]
            batch[name] = out[name]
        for name in layout.fields:
            batch[f"qe_flags_{name}"] = field_flags[name]
        batch["translator"], batch["qe_flags"] = translators, row_flags
        batch[config.lang_field] = lang_out
        return batch

    out = {}
    for split, part in data.items():
        features = part.features.copy()
        strings = datasets.Sequence(datasets.Value("string"))
        if layout.kind == "text":
            column = layout.fields[0]
            features[column] = datasets.Value("string")
            features["source_text"] = part.features[column]
        else:
            for name in layout.columns:
                features[f"source_{name}"] = part.features[name]
                if part.features[name] == datasets.Value("null"):
                    features[name] = datasets.Value("string")
            kinds = (
                list,
                datasets.Sequence,
                getattr(datasets, "List", datasets.Sequence),
            )  # List: datasets 4+
            for name in layout.fields:
                column, _, key = name.partition(".")
                feature = part.features[column][key] if key else part.features[column]
                listed = isinstance(feature, kinds)
                features[f"qe_flags_{name}"] = datasets.Sequence(strings) if listed else strings
        features["translator"] = datasets.Value("string")
        features["qe_flags"] = strings
        features[config.lang_field] = datasets.Value("string")
        fingerprint = hashlib.sha256(f"{part._fingerprint}|{config.model_dump_json()}".encode()).hexdigest()[
            :32
        ]
        out[split] = part.map(
            assemble_batch,
            batched=True,
            with_indices=True,
            batch_size=500,
            features=features,
            new_fingerprint=fingerprint,
            desc=f"assemble {split}",
            load_from_cache_file=False,
        )
    return datasets.DatasetDict(out), tally
