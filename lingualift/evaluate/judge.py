"""`lingualift eval judge`: pairwise LLM-as-judge over an OpenAI-compatible endpoint.

Each prompt is judged twice, the two answers swapped, so a judge that prefers a position cancels
out: a prompt's score is the sum of both verdicts (+1 win, 0 tie, -1 loss for the model), >0 a win,
<0 a loss, 0 a tie. Verdicts that cannot be parsed or requests that fail are counted, never fatal.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from pydantic import ConfigDict, Field

from lingualift.models import ModelPlacement

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
    prompts: str = Field(description="Prompts: .txt (one per line), a threads dataset, or data with a "
                                     "prompt/text column")  # fmt: skip
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


def parse_verdict(text: str) -> Optional[int]:
    """1 or 2 for the winning position, 0 for a tie, None when the judge's reply says neither."""
    for match in re.finditer(r"\{.*?\}", text, re.S):
        try:
            winner = str(json.loads(match.group(0)).get("winner", "")).strip().lower()
        except (json.JSONDecodeError, AttributeError):
            continue
        if winner in VERDICT:
            return VERDICT[winner]
    loose = re.search(r"winner\W{0,4}(1|2|tie)\b", text, re.I)
    return VERDICT[loose.group(1).lower()] if loose else None


def prompt_outcome(model_first: Optional[int], model_second: Optional[int]) -> Optional[str]:
    """Combine the verdict with the model's answer first (position 1) and second (position 2)."""
    scores = []
    if model_first is not None:
        scores.append({1: 1, 2: -1, 0: 0}[model_first])
    if model_second is not None:
        scores.append({2: 1, 1: -1, 0: 0}[model_second])
    if not scores:
        return None
    total = sum(scores)
    return "win" if total > 0 else "loss" if total < 0 else "tie"


def judge_pairs(prompts: list[str], model_replies: list[str], baseline_replies: list[str], endpoint, *,
                language: str, concurrency: int = 4) -> dict:  # fmt: skip
    """Both orders of every pair sent to the judge; win/tie/loss rates with bootstrap intervals."""
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
        return (
            i,
            order,
            {"verdict": parse_verdict(reply), "request_failed": False, "judge_reply": reply[:500]},
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
        consistent = (
            None if None in (first, second) else prompt_outcome(first, None) == prompt_outcome(None, second)
        )
        rows.append({"prompt": prompts[i], "model_reply": model_replies[i], "baseline_reply": baseline_replies[i],
                     "outcome": outcome, "consistent_across_orders": consistent, **verdicts[i]})  # fmt: skip
        if outcome:
            outcomes.append(outcome)
    summary = {"prompts": len(prompts), "judged": len(outcomes), "unjudged": len(prompts) - len(outcomes),
               "requests": len(jobs), "unparsed_verdicts": unparsed, "failed_requests": failed}  # fmt: skip
    for name in ("win", "tie", "loss"):
        hits = [o == name for o in outcomes]
        summary[f"{name}_rate"] = sum(hits) / len(hits) if hits else 0.0
        summary[f"{name}_ci95"] = list(bootstrap_interval(hits))
    both = [r["consistent_across_orders"] for r in rows if r["consistent_across_orders"] is not None]
    summary["order_agreement"] = sum(both) / len(both) if both else None
    return {**summary, "pairs": rows}


def run_judge(config: JudgeConfig, *, echo=print) -> dict:
    from pathlib import Path

    from lingualift.endpoint import ChatEndpoint
    from lingualift.evaluate.fidelity import generate_replies, load_prompts
    from lingualift.languages import get_language

    language = get_language(config.lang)
    endpoint = ChatEndpoint(config.judge_base_url, config.judge_model, api_key_env=config.api_key_env,
                            needed_by="--judge-base-url")  # fmt: skip
    prompts = load_prompts(config.prompts, limit=config.limit)
    settings = {
        "system": config.system,
        "max_new_tokens": config.max_new_tokens,
        "batch_size": config.batch_size,
        "device": config.device,
        "quantization": config.quantization(),
    }
    ours = generate_replies(config.model, prompts, adapter=config.adapter, **settings)
    theirs = generate_replies(config.baseline, prompts, **settings)
    result = judge_pairs(
        prompts, ours, theirs, endpoint, language=language.name, concurrency=config.concurrency
    )
    name = f"{config.model}+{config.adapter}" if config.adapter else config.model
    result = {"model": name, "baseline": config.baseline, "judge": f"{config.judge_model} @ {config.judge_base_url}",
              "lang": language.tag, "prompts_source": config.prompts, "rubric": RUBRIC,
              "method": "pairwise, both answer orders judged; prompt score = sum of the two verdicts",
              **result}  # fmt: skip
    echo(f"{name} vs {config.baseline} on {result['judged']} prompts judged by {config.judge_model}: "
         f"win {result['win_rate']:.0%} (95% CI {result['win_ci95'][0]:.0%}-{result['win_ci95'][1]:.0%}), "
         f"tie {result['tie_rate']:.0%}, loss {result['loss_rate']:.0%}; "
         f"{result['unparsed_verdicts']} unparsed verdicts, {result['failed_requests']} failed requests, "
         f"orders agree on {_share(result['order_agreement'])} of pairs")  # fmt: skip
    if config.out:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        (Path(config.out) / "judge.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def _share(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.0%}"
