"""`lingualift eval judge`: pairwise LLM-as-judge over an OpenAI-compatible endpoint.

Each prompt is judged twice, the two answers swapped, so a judge that prefers a position cancels
out: a prompt's score is the sum of both verdicts (+1 win, 0 tie, -1 loss for the model), >0 a win,
<0 a loss, 0 a tie. A prompt counts only when both orders gave a verdict; prompts with one verdict,
with none, and failed requests are counted apart, never fatal. A verdict is read only from a JSON
object whose `winner` is exactly "1", "2" or "tie" (or a prose `Winner: 2` outside braces), never from an echo
of the rubric, whose format line names all three.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from pydantic import ConfigDict, Field

from lingualift.models import ModelPlacement
from lingualift.reports import StageReport

RUBRIC = """You are judging two assistant answers to the same user message. The user writes in {language} \
and the answer must be in {language}: an answer in another language, or one that switches language, \
is worse than any answer in {language}. Then judge helpfulness, correctness and fluency.

[User message]
{prompt}

[Answer 1]
{first}

[Answer 2]
{second}

Reply with only a JSON object: {{"winner": "1", "2" or "tie", "reason": "one sentence"}}"""


class JudgeConfig(ModelPlacement):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Chat model to evaluate: hub id, local directory, or `demo`")
    baseline: str = Field(description="Model it is compared with (e.g. the base before tuning)")
    lang: str = Field(description="Language the answers should be in")
    prompts: str = Field(
        description="Prompts: .txt (one per line), a threads dataset, or data with a prompt/text column"
    )
    judge_base_url: str = Field(description="OpenAI-compatible endpoint of the judge (…/v1)")
    judge_model: str = Field(description="Model name the judge endpoint serves")
    adapter: Optional[str] = Field(None, description="LoRA adapter on top of --model")
    api_key_env: Optional[str] = Field(None, description="Environment variable holding the judge's API key")
    limit: Optional[int] = Field(50, gt=0, description="Only the first N prompts")
    system: Optional[str] = Field(None, description="System prompt for the two models (default: none)")
    max_new_tokens: int = Field(256, gt=0, le=4096, description="Answer length limit of the two models")
    batch_size: int = Field(8, gt=0, description="Prompts generated together")
    concurrency: int = Field(4, gt=0, description="Judge requests in flight")
    out: Optional[str] = Field(None, description="Write judge.json (every verdict and reason) here")


VERDICT = {"1": 1, "2": 2, "tie": 0}


# a reply that repeats the rubric's answers is an echo, whatever JSON those answers contain
ECHO_MARKS = ("[Answer 1]", "[Answer 2]")
# `Winner: 2 because ...` in prose, read outside any {...} (where the rubric's format line is)
LOOSE_WINNER = re.compile(r"\bwinner\W{0,4}(1|2|tie)\b", re.I)
BRACES = re.compile(r"\{[^{}]*\}")


def parse_verdict(text: str) -> Optional[int]:
    """1 or 2 for the winning position, 0 for a tie, None when the judge's reply says neither (or
    only echoes the rubric)."""
    if all(mark in text for mark in ECHO_MARKS):
        return None
    for match in BRACES.finditer(text):
        try:
            found = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue  # e.g. the rubric's own format line: {"winner": "1", "2" or "tie", ...}
        winner = found.get("winner") if isinstance(found, dict) else None
        if isinstance(winner, (str, int)) and str(winner).strip().lower() in VERDICT:
            return VERDICT[str(winner).strip().lower()]
    loose = LOOSE_WINNER.search(BRACES.sub(" ", text))
    return VERDICT[loose.group(1).lower()] if loose else None


# the model's score from a verdict (1, 2 or tie=0) when its answer was shown first / second
MODEL_FIRST = {1: 1, 2: -1, 0: 0}
MODEL_SECOND = {2: 1, 1: -1, 0: 0}


def prompt_outcome(model_first: Optional[int], model_second: Optional[int]) -> Optional[str]:
    """Combine the verdict with the model's answer first (position 1) and second (position 2); None
    unless both orders have a verdict (one order alone would let position bias through)."""
    if model_first is None or model_second is None:
        return None
    total = MODEL_FIRST[model_first] + MODEL_SECOND[model_second]
    return "win" if total > 0 else "loss" if total < 0 else "tie"


def judge_pairs(
    prompts: list[str],
    model_replies: list[str],
    baseline_replies: list[str],
    endpoint,
    *,
    language: str,
    concurrency: int = 4,
) -> dict:
    """Both orders of every pair sent to the judge; win/tie/loss rates with bootstrap intervals."""
    from lingualift.chat_model import without_reasoning
    from lingualift.endpoint import EndpointError
    from lingualift.evaluate.fidelity import bootstrap_interval

    jobs = []
    for i, (prompt, ours, theirs) in enumerate(zip(prompts, model_replies, baseline_replies)):
        jobs.append(
            (i, "model_first", RUBRIC.format(language=language, prompt=prompt, first=ours, second=theirs))
        )
        jobs.append(
            (i, "model_second", RUBRIC.format(language=language, prompt=prompt, first=theirs, second=ours))
        )

    def ask(job):
        i, order, text = job
        try:
            reply = endpoint.chat([{"role": "user", "content": text}], max_tokens=200)
        except EndpointError as error:
            return i, order, {"verdict": None, "request_failed": True, "judge_reply": f"error: {error}"[:500]}
        answer = without_reasoning(reply)  # a verdict is read from the answer, never from the reasoning
        verdict = None if answer.problem else parse_verdict(answer.text)
        return (
            i,
            order,
            {
                "verdict": verdict,
                "request_failed": False,
                "judge_reply": reply[:500],
                "reasoning": answer.had_reasoning,
            },
        )

    verdicts: dict[int, dict] = {i: {} for i in range(len(prompts))}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for i, order, verdict in pool.map(ask, jobs):
            verdicts[i][order] = verdict
    every = [v for pair in verdicts.values() for v in pair.values()]
    failed = sum(v["request_failed"] for v in every)
    unparsed = sum(v["verdict"] is None and not v["request_failed"] for v in every)
    rows, outcomes = [], []
    for i in range(len(prompts)):
        first, second = verdicts[i]["model_first"]["verdict"], verdicts[i]["model_second"]["verdict"]
        outcome = prompt_outcome(first, second)
        consistent = None if None in (first, second) else MODEL_FIRST[first] == MODEL_SECOND[second]
        rows.append(
            {
                "prompt": prompts[i],
                "model_reply": model_replies[i],
                "baseline_reply": baseline_replies[i],
                "outcome": outcome,
                "consistent_across_orders": consistent,
                **verdicts[i],
            }
        )
        if outcome:
            outcomes.append(outcome)
    parsed_orders = [sum(v["verdict"] is not None for v in verdicts[i].values()) for i in range(len(prompts))]
    summary = {
        "prompts": len(prompts),
        "judged": len(outcomes),
        "unjudged": len(prompts) - len(outcomes),
        "one_order_only": parsed_orders.count(1),
        "no_verdict": parsed_orders.count(0),
        "requests": len(jobs),
        "unparsed_verdicts": unparsed,
        "failed_requests": failed,
        "reasoning_removed": sum(bool(v.get("reasoning")) for v in every),
    }
    for name in ("win", "tie", "loss"):
        hits = [o == name for o in outcomes]
        summary[f"{name}_rate"] = sum(hits) / len(hits) if hits else 0.0
        summary[f"{name}_ci95"] = list(bootstrap_interval(hits))
    both = [r["consistent_across_orders"] for r in rows if r["consistent_across_orders"] is not None]
    summary["order_agreement"] = sum(both) / len(both) if both else None
    return {**summary, "pairs": rows}


class JudgeReport(StageReport):
    """judge.json: win/tie/loss rates over the prompts judged in both orders, with 95% intervals, what
    was not counted and why, and every pair with its verdicts."""

    model: Optional[str] = None
    baseline: Optional[str] = None
    judge: Optional[str] = None  # "MODEL @ BASE_URL"
    lang: Optional[str] = None
    prompts_source: Optional[str] = None
    rubric: Optional[str] = None
    method: Optional[str] = None
    prompts: int = 0
    judged: int = 0
    unjudged: int = 0
    one_order_only: int = 0
    no_verdict: int = 0
    requests: int = 0
    unparsed_verdicts: int = 0
    failed_requests: int = 0
    reasoning_removed: int = 0  # judge replies whose <think> block was taken out before reading
    win_rate: float = 0.0
    win_ci95: list[float] = Field(default_factory=lambda: [0.0, 0.0])
    tie_rate: float = 0.0
    tie_ci95: list[float] = Field(default_factory=lambda: [0.0, 0.0])
    loss_rate: float = 0.0
    loss_ci95: list[float] = Field(default_factory=lambda: [0.0, 0.0])
    order_agreement: Optional[float] = None
    pairs: list[dict[str, Any]] = Field(default_factory=list)

    def rate(self, outcome: str) -> tuple[float, list[float]]:
        """(rate, 95% interval) of win, tie or loss."""
        return getattr(self, f"{outcome}_rate"), getattr(self, f"{outcome}_ci95")


def run_judge(config: JudgeConfig, *, echo=print) -> JudgeReport:
    from pathlib import Path

    from lingualift.endpoint import ChatEndpoint
    from lingualift.evaluate.fidelity import generate_replies, load_prompts
    from lingualift.languages import get_language

    language = get_language(config.lang)
    endpoint = ChatEndpoint(
        config.judge_base_url,
        config.judge_model,
        api_key_env=config.api_key_env,
        needed_by="--judge-base-url",
    )
    prompts = load_prompts(config.prompts, limit=config.limit)
    settings = {
        "system": config.system,
        "max_new_tokens": config.max_new_tokens,
        "batch_size": config.batch_size,
        "device": config.device,
        "quantization": config.quantization(),
        "chat_template": config.chat_template,
    }
    ours = generate_replies(config.model, prompts, adapter=config.adapter, **settings)
    theirs = generate_replies(config.baseline, prompts, **settings)
    result = judge_pairs(
        prompts, ours, theirs, endpoint, language=language.name, concurrency=config.concurrency
    )
    name = f"{config.model}+{config.adapter}" if config.adapter else config.model
    result = JudgeReport(
        model=name,
        baseline=config.baseline,
        judge=f"{config.judge_model} @ {config.judge_base_url}",
        lang=language.tag,
        prompts_source=config.prompts,
        rubric=RUBRIC,
        method="pairwise, both answer orders judged; prompt score = sum of the two verdicts",
        **result,
    )
    echo(
        f"{name} vs {config.baseline} on {result.judged} prompts judged by {config.judge_model}: "
        f"win {result.win_rate:.0%} (95% CI {result.win_ci95[0]:.0%}-{result.win_ci95[1]:.0%}), "
        f"tie {result.tie_rate:.0%}, loss {result.loss_rate:.0%}; not counted: {result.one_order_only} prompts "
        f"with one order's verdict, {result.no_verdict} with none ({result.unparsed_verdicts} unparsed verdicts, "
        f"{result.failed_requests} failed requests); "
        f"orders agree on {_share(result.order_agreement)} of pairs"
    )
    if config.out:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        result.write(Path(config.out) / "judge.json")
    if not result.judged:
        from lingualift.errors import ModelError

        first = next(
            (
                v["judge_reply"]
                for p in result.pairs
                for k, v in p.items()
                if k.startswith("model_") and isinstance(v, dict)
            ),
            "",
        )
        raise ModelError(
            f"the judge gave no prompt a verdict in both orders ({result.one_order_only} with one, "
            f"{result.no_verdict} with none; {result.failed_requests} requests failed): the "
            f"rates mean nothing. First judge reply: {first[:160]!r}"
        )
    return result


def _share(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.0%}"
