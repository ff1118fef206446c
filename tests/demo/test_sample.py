from collections import Counter

from lingualift.demo.sample import OASST_COLUMNS, load_sample, sample_rows


def test_sample_has_oasst1_columns_and_at_least_40_english_trees():
    data = load_sample()
    assert list(data) == ["train"]
    train = data["train"]
    assert tuple(train.column_names) == OASST_COLUMNS
    roots = [r for r in train if r["parent_id"] is None]
    assert len(roots) >= 40
    assert set(train["lang"]) == {"en"}


def test_every_parent_exists_and_roles_alternate():
    rows = sample_rows()
    by_id = {r["message_id"]: r for r in rows}
    assert len(by_id) == len(rows)  # ids are unique
    for row in rows:
        if row["parent_id"] is None:
            assert row["role"] == "prompter"
            assert row["message_tree_id"] == row["message_id"]
        else:
            parent = by_id[row["parent_id"]]
            assert parent["role"] != row["role"]
            assert parent["message_tree_id"] == row["message_tree_id"]


def test_ids_are_stable_across_loads():
    assert [r["message_id"] for r in sample_rows()] == [r["message_id"] for r in sample_rows()]


def test_sample_has_the_shapes_real_oasst_data_has():
    rows = sample_rows()
    assistants = [r for r in rows if r["role"] == "assistant"]
    children = Counter(r["parent_id"] for r in assistants)
    texts = [r["text"] for r in rows]
    words = [len(t.split()) for t in texts]
    assert max(children.values()) >= 3  # several ranked answers to one prompt
    assert any(r["rank"] is None for r in assistants)  # null ranks
    assert any(r["deleted"] for r in rows)
    assert any(r["review_result"] is False for r in rows)
    follow_ups = [r for r in rows if r["role"] == "prompter" and r["parent_id"] is not None]
    assert len(follow_ups) >= 10
    assert any("```" in t for t in texts)  # code blocks
    assert any("https://" in t for t in texts)  # URLs
    assert any("\n- " in t or "\n1. " in t for t in texts)  # lists
    assert min(words) <= 2 and max(words) > 600  # very short and very long
    assert any(n > 1 for n in Counter(texts).values())  # duplicate texts
