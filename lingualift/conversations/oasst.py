"""oasst message trees → best-ranked threads and preference pairs, in linear time.

The forest is indexed once (parent → children, in dataset order); every walk after that is a
dictionary lookup. Messages that cannot be used are counted by reason, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from lingualift.errors import DataError

ROLES = {"prompter": "user", "assistant": "assistant", "user": "user"}
REQUIRED_COLUMNS = ("message_id", "parent_id", "text", "role")


@dataclass(slots=True)
class Message:
    id: str
    parent: str | None
    text: str
    role: str  # "user" or "assistant"
    rank: int | None
    lang: str | None
    order: int  # position in the dataset: ties between equal ranks keep it


@dataclass
class Forest:
    messages: dict[str, Message] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    report: Counter = field(default_factory=Counter)

    def path_to(self, message_id: str) -> list[Message]:
        path = []
        node: str | None = message_id
        while node is not None:
            path.append(self.messages[node])
            node = self.messages[node].parent
        return path[::-1]


def _skip_reason(
    text, deleted, review_result, row_lang, *, keep_deleted: bool, lang: str | None
) -> str | None:
    if (
        text is None or not (text if isinstance(text, str) else str(text)).strip()
    ):  # (the common case is inlined)
        return "empty_text"
    if not keep_deleted and deleted is True:
        return "deleted"
    if not keep_deleted and review_result is False:
        return "review_failed"
    if lang is not None and row_lang not in (None, lang):
        return "other_language"
    return None


COLUMNS = ("message_id", "parent_id", "text", "role", "rank", "lang", "deleted", "review_result")


def index_forest(rows: Iterable[Mapping], *, keep_deleted: bool = False, lang: str | None = None) -> Forest:
    """Index rows with oasst1's columns. Unusable messages (and everything below them) are counted."""
    rows = rows if isinstance(rows, list) else list(rows)
    return index_columns(
        {name: [row.get(name) for row in rows] for name in COLUMNS},
        len(rows),
        keep_deleted=keep_deleted,
        lang=lang,
    )


def index_columns(
    columns: Mapping[str, Sequence], count: int, *, keep_deleted: bool = False, lang: str | None = None
) -> Forest:
    """`index_forest` over columns (as Arrow hands them over: no row dicts to build); a column other
    than message_id, parent_id, text and role may be missing."""
    forest = Forest()
    messages = forest.messages
    parents: dict[str, str | None] = {}
    skipped: dict[str, str] = {}
    report = forest.report
    absent = [None] * count
    fields = zip(*(columns.get(name, absent) for name in COLUMNS))
    for order, (message_id, parent, text, role_name, rank, row_lang, deleted, review) in enumerate(fields):
        if message_id is None or message_id == "":
            raise DataError(f"row {order}: message_id is empty — every oasst message needs an id")
        role = ROLES.get(role_name)
        if role is None:
            raise DataError(
                f"row {order} (message_id {message_id}): role {role_name!r} is not 'prompter' or 'assistant'"
            )
        if message_id in parents:
            report["skipped_duplicate_id"] += 1
            continue
        parent = parent or None
        parents[message_id] = parent
        usual = (
            text.__class__ is str
            and text
            and not text.isspace()
            and (keep_deleted or (deleted is not True and review is not False))
            and (lang is None or row_lang is None or row_lang == lang)
        )
        reason = (
            None
            if usual
            else _skip_reason(text, deleted, review, row_lang, keep_deleted=keep_deleted, lang=lang)
        )
        if reason:
            skipped[message_id] = reason
            report[f"skipped_{reason}"] += 1
            continue
        messages[message_id] = Message(
            message_id,
            parent,
            text if isinstance(text, str) else str(text),
            role,
            None if rank is None else int(rank),
            row_lang,
            order,
        )
    report["messages"] = count
    children = forest.children
    breaks: dict[str, list[str]] = {}  # parent -> its children of its own role (not a turn)
    for message in messages.values():
        parent = message.parent
        if parent is None:
            if message.role == "user":
                forest.roots.append(message.id)
            else:
                report["skipped_assistant_root"] += 1
            continue
        above = messages.get(parent)
        if above is None:
            continue
        below = children if above.role != message.role else breaks
        siblings = below.get(parent)
        if siblings is None:
            below[parent] = [message.id]
        else:
            siblings.append(message.id)
    _count_unreachable(forest, parents, skipped, breaks)
    return forest


def _count_unreachable(
    forest: Forest, parents: dict[str, str | None], skipped: dict[str, str], breaks: dict[str, list[str]]
) -> None:
    """Walk down from the roots once; a reached message's children of its own role (`breaks`) are
    counted as role breaks; classify what was never reached."""
    children = forest.children
    reached: set[str] = set()
    stack = list(forest.roots)
    while stack:
        node = stack.pop()
        reached.add(node)
        broken = breaks.get(node)
        if broken:
            forest.report["skipped_role_not_alternating"] += len(broken)
            skipped.update(dict.fromkeys(broken, "role_not_alternating"))
        below = children.get(node)
        if below:
            stack.extend(below)
    messages = forest.messages
    verdict: dict[str, str] = {}
    unreached = [m for m in messages if m not in reached]  # dataset order
    for message_id in unreached:
        if message_id in skipped or messages[message_id].parent is None:
            continue
        reason = _why_unreachable(message_id, parents, skipped, reached, verdict)
        forest.report[f"skipped_{reason}"] += 1
    # keep only reachable messages so every later walk sees a clean tree
    for message_id in unreached:
        del messages[message_id]
    forest.children = {k: v for k, v in children.items() if k in reached}


def _why_unreachable(start, parents, skipped, reached, verdict) -> str:
    seen: list[str] = []
    node = start
    while True:
        if node in verdict:
            reason = verdict[node]
            break
        if node in seen:
            reason = "cycle"
            break
        seen.append(node)
        parent = parents.get(node)
        if parent is None:
            reason = "orphan" if node not in parents else "under_skipped"
            break
        if parent not in parents:
            reason = "orphan"
            break
        if parent in skipped:
            reason = "under_skipped"
            break
        node = parent
    for visited in seen:
        verdict[visited] = reason
    return reason


def _best_child(forest: Forest, node: str) -> str | None:
    children = forest.children.get(node)
    if not children:
        return None
    # Lowest rank wins; a null rank is worse than every ranked sibling; ties keep dataset order.
    return min(
        children,
        key=lambda c: (
            forest.messages[c].rank is None,
            forest.messages[c].rank or 0,
            forest.messages[c].order,
        ),
    )


def _trim(path: list[Message], report: Counter) -> list[Message] | None:
    last = max((i for i, m in enumerate(path) if m.role == "assistant"), default=None)
    if last is None:
        report["skipped_thread_without_assistant"] += 1
        return None
    if last < len(path) - 1:
        report["trimmed_trailing_user_turns"] += 1
    return path[: last + 1]


def best_ranked_threads(forest: Forest) -> Iterator[list[Message]]:
    """One thread per root: follow the best-ranked child until a message has no children."""
    for root in forest.roots:
        path, node = [], root
        while node is not None:
            path.append(forest.messages[node])
            node = _best_child(forest, node)
        trimmed = _trim(path, forest.report)
        if trimmed:
            yield trimmed


def all_path_threads(forest: Forest) -> Iterator[list[Message]]:
    """One thread per root-to-leaf path (identical trimmed threads are yielded once)."""
    seen: set[tuple[str, ...]] = set()
    for root in forest.roots:
        stack = [[forest.messages[root]]]
        while stack:
            path = stack.pop()
            children = forest.children.get(path[-1].id, [])
            if children:
                stack.extend(path + [forest.messages[c]] for c in reversed(children))
                continue
            trimmed = _trim(path, forest.report)
            key = tuple(m.id for m in trimmed or ())
            if trimmed and key not in seen:
                seen.add(key)
                yield trimmed


@dataclass(frozen=True)
class Pair:
    prompt: list[Message]
    chosen: Message
    rejected: Message


def preference_pairs(forest: Forest, *, all_pairs: bool = False) -> Iterator[Pair]:
    """At each user turn with two or more ranked answers: best vs worst (or every ordered pair)."""
    for message_id, children in forest.children.items():
        ranked = sorted(
            (forest.messages[c] for c in children if forest.messages[c].rank is not None),
            key=lambda m: (m.rank, m.order),
        )
        if len(ranked) < 2:
            continue
        prompt = forest.path_to(message_id)
        if all_pairs:
            for i, better in enumerate(ranked):
                for worse in ranked[i + 1 :]:
                    if worse.rank != better.rank:
                        yield Pair(prompt, better, worse)
        elif ranked[0].rank != ranked[-1].rank:
            yield Pair(prompt, ranked[0], ranked[-1])
