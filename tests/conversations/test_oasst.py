"""Thread and pair extraction on hand-built oasst trees."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lingualift.conversations.oasst import (
    all_path_threads,
    best_ranked_threads,
    index_forest,
    preference_pairs,
)
from lingualift.errors import DataError


def msg(mid, parent, role, rank=None, text=None, **extra):
    role = {"u": "prompter", "a": "assistant"}[role]
    return {
        "message_id": mid,
        "parent_id": parent,
        "role": role,
        "rank": rank,
        "text": text or f"text {mid}",
        "lang": "en",
        **extra,
    }


def ids(threads):
    return [[m.id for m in t] for t in threads]


def test_best_thread_follows_the_lowest_rank_down_to_a_leaf():
    rows = [
        msg("r", None, "u"),
        msg("a1", "r", "a", rank=1),
        msg("a0", "r", "a", rank=0),
        msg("f", "a0", "u"),
        msg("f_a1", "f", "a", rank=1),
        msg("f_a0", "f", "a", rank=0),
        msg("deep", "f_a0", "u"),
        msg("deep_a", "deep", "a", rank=0),
    ]
    assert ids(best_ranked_threads(index_forest(rows))) == [["r", "a0", "f", "f_a0", "deep", "deep_a"]]


def test_null_rank_is_worse_than_every_ranked_sibling():
    rows = [msg("r", None, "u"), msg("null", "r", "a", rank=None), msg("ranked", "r", "a", rank=5)]
    assert ids(best_ranked_threads(index_forest(rows))) == [["r", "ranked"]]


def test_ties_keep_dataset_order():
    rows = [msg("r", None, "u"), msg("first", "r", "a", rank=0), msg("second", "r", "a", rank=0)]
    assert ids(best_ranked_threads(index_forest(rows))) == [["r", "first"]]
    rows = [msg("r", None, "u"), msg("x", "r", "a"), msg("y", "r", "a")]  # all unranked
    assert ids(best_ranked_threads(index_forest(rows))) == [["r", "x"]]


def test_thread_ending_on_a_user_turn_is_trimmed_and_one_without_answer_is_counted():
    rows = [
        msg("r", None, "u"),
        msg("a", "r", "a", rank=0),
        msg("tail", "a", "u"),
        msg("lonely", None, "u"),
    ]
    forest = index_forest(rows)
    assert ids(best_ranked_threads(forest)) == [["r", "a"]]
    assert forest.report["trimmed_trailing_user_turns"] == 1
    assert forest.report["skipped_thread_without_assistant"] == 1


def test_deleted_and_failed_review_messages_are_skipped_with_their_subtrees_and_counted():
    rows = [
        msg("r", None, "u"),
        msg("gone", "r", "a", rank=0, deleted=True),
        msg("below_gone", "gone", "u"),
        msg("bad", "r", "a", rank=1, review_result=False),
        msg("ok", "r", "a", rank=2),
    ]
    forest = index_forest(rows)
    assert ids(best_ranked_threads(forest)) == [["r", "ok"]]
    assert forest.report["skipped_deleted"] == 1
    assert forest.report["skipped_review_failed"] == 1
    assert forest.report["skipped_under_skipped"] == 1
    kept = index_forest(rows, keep_deleted=True)
    assert ids(best_ranked_threads(kept)) == [["r", "gone"]]  # below_gone is a trailing user turn


def test_orphans_cycles_duplicates_and_empty_text_are_counted_not_crashed():
    rows = [
        msg("r", None, "u"),
        msg("a", "r", "a", rank=0),
        msg("orphan", "missing-parent", "a"),
        msg("orphan_child", "orphan", "u"),
        msg("c1", "c2", "u"),
        msg("c2", "c1", "a"),  # a cycle never reaches a root
        msg("self", "self", "u"),
        msg("a", "r", "a", rank=3, text="duplicate id"),
        msg("empty", "r", "a", rank=1, text="   "),
    ]
    forest = index_forest(rows)
    assert ids(best_ranked_threads(forest)) == [["r", "a"]]
    assert forest.messages["a"].text == "text a"  # the first of two duplicate ids wins
    report = forest.report
    assert report["skipped_duplicate_id"] == 1
    assert report["skipped_orphan"] == 2
    assert report["skipped_cycle"] == 3
    assert report["skipped_empty_text"] == 1
    assert report["messages"] == len(rows)


def test_roles_that_do_not_alternate_are_cut_and_counted():
    rows = [msg("r", None, "u"), msg("u2", "r", "u"), msg("a", "r", "a", rank=0), msg("a2", "u2", "a")]
    forest = index_forest(rows)
    assert ids(best_ranked_threads(forest)) == [["r", "a"]]
    assert forest.report["skipped_role_not_alternating"] == 1
    assert forest.report["skipped_under_skipped"] == 1


def test_assistant_root_is_counted():
    forest = index_forest([msg("a", None, "a")])
    assert list(best_ranked_threads(forest)) == []
    assert forest.report["skipped_assistant_root"] == 1


def test_malformed_role_is_one_error_naming_the_row():
    with pytest.raises(DataError, match=r"row 1 \(message_id x\): role 'bot' is not"):
        index_forest([msg("r", None, "u"), {**msg("x", "r", "a"), "role": "bot"}])


def test_other_language_messages_are_skipped_when_a_language_is_asked():
    rows = [msg("r", None, "u", lang="nl"), msg("a", "r", "a", rank=0, lang="nl"), msg("b", "r", "a", rank=1)]
    forest = index_forest(rows, lang="nl")
    assert ids(best_ranked_threads(forest)) == [["r", "a"]]
    assert forest.report["skipped_other_language"] == 1


def test_all_paths_gives_every_root_to_leaf_thread_once():
    rows = [
        msg("r", None, "u"),
        msg("a0", "r", "a", rank=0),
        msg("a1", "r", "a", rank=1),
        msg("f", "a0", "u"),
        msg("fa", "f", "a"),
        msg("g", "a0", "u"),  # g: trailing user turn
    ]
    threads = ids(all_path_threads(index_forest(rows)))
    assert sorted(threads) == sorted([["r", "a0", "f", "fa"], ["r", "a0"], ["r", "a1"]])


def test_pairs_take_best_and_worst_ranked_answers_with_the_thread_as_prompt():
    rows = [
        msg("r", None, "u"),
        msg("a0", "r", "a", rank=0),
        msg("a1", "r", "a", rank=1),
        msg("a2", "r", "a", rank=2),
        msg("n", "r", "a", rank=None),
        msg("f", "a0", "u"),
        msg("fa0", "f", "a", rank=0),
        msg("fa1", "f", "a", rank=1),
        msg("g", "a1", "u"),
        msg("ga", "g", "a", rank=0),  # one ranked answer: no pair
    ]
    forest = index_forest(rows)
    pairs = {(tuple(m.id for m in p.prompt), p.chosen.id, p.rejected.id) for p in preference_pairs(forest)}
    assert pairs == {(("r",), "a0", "a2"), (("r", "a0", "f"), "fa0", "fa1")}
    every = [(p.chosen.id, p.rejected.id) for p in preference_pairs(forest, all_pairs=True)]
    assert sorted(every) == sorted([("a0", "a1"), ("a0", "a2"), ("a1", "a2"), ("fa0", "fa1")])


@st.composite
def forests(draw):
    """Random oasst forests, including deleted messages, null ranks and ties."""
    rows, count = [], draw(st.integers(1, 40))
    for i in range(count):
        parent = None if i == 0 or draw(st.integers(0, 5)) == 0 else f"m{draw(st.integers(0, i - 1))}"
        rows.append(
            {
                "message_id": f"m{i}",
                "parent_id": parent,
                "text": f"t{i}",
                "lang": "en",
                "rank": draw(st.none() | st.integers(0, 3)),
                "deleted": draw(st.integers(0, 9)) == 0,
                "_parent_role": None,
            }
        )
    by_id = {r["message_id"]: r for r in rows}
    for row in rows:  # roles follow depth so that most trees alternate, like real data
        parent = by_id.get(row["parent_id"])
        depth = 0 if parent is None else parent["_depth"] + 1
        row["_depth"] = depth
        row["role"] = "prompter" if depth % 2 == 0 else "assistant"
    if draw(st.booleans()):  # sometimes break alternation on purpose
        victim = rows[draw(st.integers(0, len(rows) - 1))]
        victim["role"] = "assistant" if victim["role"] == "prompter" else "prompter"
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


@settings(max_examples=200, deadline=None)
@given(forests())
def test_every_thread_is_a_valid_alternating_root_to_descendant_path(rows):
    by_id = {r["message_id"]: r for r in rows}
    for walk in (best_ranked_threads, all_path_threads):
        for thread in walk(index_forest(rows)):
            assert thread[0].parent is None and thread[0].role == "user"
            assert thread[-1].role == "assistant"
            for parent, child in zip(thread, thread[1:]):
                assert child.parent == parent.id  # a real edge of the tree
                assert child.role != parent.role
            assert not any(by_id[m.id].get("deleted") for m in thread)
