"""lm-evaluation-harness as a client of `lingualift serve`: a generate_until task over a local jsonl
through lm-eval's own `local-chat-completions` model. lm-eval relies on the server to cut each reply
at the task's `until` strings, so its score must equal the one computed here by hand from the same
greedy replies cut at `until`."""

import importlib.util
import json
import threading

import pytest

from lingualift.chat import reply_once
from lingualift.serve.config import ServeConfig
from lingualift.serve.server import start_server

pytestmark = [
    pytest.mark.slow,  # the real demo model: the tiny random one writes only newlines
    pytest.mark.skipif(
        importlib.util.find_spec("tenacity") is None or importlib.util.find_spec("lm_eval") is None,
        reason="needs lm-eval's API models: pip install 'lingualift[harness]'",
    ),
]

DOCS = [
    {"question": "Count from 1 to 10.", "answer": "1. 1"},
    {"question": "What is the capital of France?", "answer": "The capital of France is Paris."},
    {"question": "Name three colours, one per line.", "answer": "Red"},
    {"question": "Write the word 'yes'.", "answer": "yes"},
]
UNTIL = ["\n"]

TASK = """task: lingualift_lines
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: {until}
  max_gen_toks: 48
  do_sample: false
  temperature: 0
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


@pytest.fixture(scope="module")
def demo_server(demo_model_path):
    instance = start_server(
        ServeConfig(model=str(demo_model_path), port=0, max_tokens_limit=64), echo=lambda *_: None
    )
    threading.Thread(target=instance.serve_forever, daemon=True).start()
    yield instance
    instance.shutdown()
    instance.server_close()


def _cut(text: str, until: list[str]) -> str:
    ends = [text.find(u) for u in until if u in text]
    return text[: min(ends)] if ends else text


def test_lm_eval_generate_until_through_serve_scores_what_the_replies_say(demo_server, tmp_path):
    import lm_eval
    from lm_eval.tasks import TaskManager

    data = tmp_path / "lines.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (tmp_path / "task.yaml").write_text(TASK.format(data=data, until=json.dumps(UNTIL)))
    host, port = demo_server.server_address[:2]
    results = lm_eval.simple_evaluate(
        model="local-chat-completions",
        model_args={
            "base_url": f"http://{host}:{port}/v1/chat/completions",
            "model": "demo",
            "num_concurrent": 1,
            "max_retries": 1,
            "tokenizer_backend": None,
        },
        tasks=["lingualift_lines"],
        task_manager=TaskManager(include_path=str(tmp_path)),
        apply_chat_template=True,
        log_samples=True,
    )
    score = results["results"]["lingualift_lines"]["exact_match,none"]
    model, tokenizer = demo_server.service.model, demo_server.service.tokenizer
    replies = [
        reply_once(model, tokenizer, [{"role": "user", "content": d["question"]}], max_new_tokens=48)[0]
        for d in DOCS
    ]
    assert any("\n" in r for r in replies)  # the cut matters: a server that ignores `stop` scores otherwise
    by_hand = sum(_cut(r, UNTIL).strip() == d["answer"] for r, d in zip(replies, DOCS)) / len(DOCS)
    uncut = sum(r.strip() == d["answer"] for r, d in zip(replies, DOCS)) / len(DOCS)
    assert score == pytest.approx(by_hand) and by_hand > 0 and uncut != by_hand
    sent = [s["resps"][0][0] for s in results["samples"]["lingualift_lines"]]
    assert all("\n" not in reply for reply in sent)
