"""`lingualift eval regression`: did tuning for the new language cost the source language?

Two measurements on a source-language conversation set, tuned vs baseline on the same rows:
- held-out loss on the assistant turns, per conversation; the paired difference (tuned − baseline)
  with a bootstrap 95% interval, and each model's perplexity (token-weighted);
- language fidelity in the source language on the conversations' first user turns.
An interval above zero means the source-language loss went up: the model forgot some of it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from pydantic import ConfigDict, Field

from lingualift.evaluate.fidelity import FidelityResult
from lingualift.models import ModelPlacement
from lingualift.reports import StageReport


class RegressionConfig(ModelPlacement):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Tuned model: hub id, local directory, `demo`, or base with --adapter")
    baseline: str = Field(description="The model before tuning")
    data: str = Field(description="Source-language conversations (`messages`), held out of training")
    adapter: Optional[str] = Field(None, description="LoRA adapter on top of --model")
    lang: str = Field("en", description="The source language the conversations are in")
    limit: Optional[int] = Field(200, gt=0, description="Only the first N conversations")
    max_seq_length: int = Field(1024, gt=0, description="Tokens per conversation (longer ones are cut)")
    fidelity: bool = Field(True, description="Also measure source-language fidelity of replies")
    fidelity_limit: int = Field(20, gt=0, description="Prompts for the fidelity check")
    max_new_tokens: int = Field(64, gt=0, le=4096, description="Reply length of the fidelity check")
    out: Optional[str] = Field(None, description="Write regression.json here")


def conversation_losses(
    model, tokenizer, conversations: list[list[dict]], *, max_length: int
) -> list[tuple[float, int]]:
    """(summed negative log-likelihood, tokens) of the assistant turns of each conversation."""
    import torch

    from lingualift.train.data import IGNORE, tokenize_conversation

    out = []
    for messages in conversations:
        row = tokenize_conversation(tokenizer, messages, max_length=max_length, assistant_only=True)
        labels = torch.tensor([row["labels"]])
        if (labels[0, 1:] != IGNORE).sum() == 0:
            out.append((0.0, 0))
            continue
        with torch.no_grad():
            logits = model(torch.tensor([row["input_ids"]], device=model.device)).logits[:, :-1].float().cpu()
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            labels[:, 1:].reshape(-1),
            ignore_index=IGNORE,
            reduction="sum",
        )
        out.append((float(nll), int((labels[0, 1:] != IGNORE).sum())))
    return out


def regression_summary(tuned: list[tuple[float, int]], base: list[tuple[float, int]]) -> dict:
    from lingualift.evaluate.fidelity import bootstrap_interval

    pairs = [(t[0] / t[1], b[0] / b[1]) for t, b in zip(tuned, base) if t[1] and b[1]]
    differences = [t - b for t, b in pairs]
    low, high = bootstrap_interval(differences)

    def perplexity(losses):
        tokens = sum(n for _, n in losses)
        return round(math.exp(sum(s for s, _ in losses) / tokens), 4) if tokens else None

    mean = sum(differences) / len(differences) if differences else 0.0
    return {
        "conversations": len(pairs),
        "tuned_loss": round(sum(t for t, _ in pairs) / len(pairs), 5) if pairs else None,
        "baseline_loss": round(sum(b for _, b in pairs) / len(pairs), 5) if pairs else None,
        "loss_difference": round(mean, 5),
        "loss_difference_ci95": [round(low, 5), round(high, 5)],
        "tuned_perplexity": perplexity(tuned),
        "baseline_perplexity": perplexity(base),
        "regressed": low > 0,
    }


class RegressionReport(StageReport):
    """regression.json: the tuned model's source-language loss against the baseline's, paired per
    conversation (`regressed`: the interval of tuned − baseline is above zero), and their fidelity."""

    model: Optional[str] = None
    baseline: Optional[str] = None
    data: Optional[str] = None
    lang: Optional[str] = None
    max_seq_length: Optional[int] = None
    conversations: int = 0
    tuned_loss: Optional[float] = None
    baseline_loss: Optional[float] = None
    loss_difference: float = 0.0
    loss_difference_ci95: list[float] = Field(default_factory=lambda: [0.0, 0.0])
    tuned_perplexity: Optional[float] = None
    baseline_perplexity: Optional[float] = None
    regressed: bool = False
    fidelity: dict[str, FidelityResult] = Field(default_factory=dict)  # tuned, baseline


def run_regression(config: RegressionConfig, *, echo=print) -> RegressionReport:
    from lingualift.errors import DataError
    from lingualift.evaluate.fidelity import HEADLINE, fidelity_summary, headline
    from lingualift.io import first_split, load_source, require_columns
    from lingualift.languages import get_language
    from lingualift.models import load_chat_model

    language = get_language(config.lang)
    quantization = config.quantization()  # refused here, before the data and models load
    rows = first_split(load_source(config.data), prefer="test")
    require_columns(rows, ["messages"], where=config.data)
    conversations = [
        m for m in rows["messages"][: config.limit] if any(t["role"] == "assistant" for t in m or [])
    ]
    if not conversations:
        raise DataError(f"{config.data}: no conversation with an assistant turn to measure")
    prompts = [
        next(t["content"] for t in m if t["role"] == "user")
        for m in conversations
        if any(t["role"] == "user" for t in m)
    ][: config.fidelity_limit]
    tuned_name = f"{config.model}+{config.adapter}" if config.adapter else config.model
    measured = {}
    for role, model_id, adapter in (
        ("tuned", config.model, config.adapter),
        ("baseline", config.baseline, None),
    ):
        model, tokenizer = load_chat_model(
            model_id,
            adapter=adapter,
            device=config.device,
            quantization=quantization,
            chat_template=config.chat_template,
        )
        losses = conversation_losses(model, tokenizer, conversations, max_length=config.max_seq_length)
        fidelity = None
        if config.fidelity and prompts:
            from lingualift.chat import generate_batch

            cut_off: list[bool] = []
            replies = generate_batch(
                model,
                tokenizer,
                [[{"role": "user", "content": p}] for p in prompts],
                max_new_tokens=config.max_new_tokens,
                cut_off=cut_off,
            )
            summary = fidelity_summary(replies, prompts, language, cut_off=cut_off)
            fidelity = FidelityResult(**{k: summary[k] for k in HEADLINE})
        measured[role] = (losses, fidelity)
        del model
    result = RegressionReport(
        model=tuned_name,
        baseline=config.baseline,
        data=config.data,
        lang=language.tag,
        max_seq_length=config.max_seq_length,
        **regression_summary(measured["tuned"][0], measured["baseline"][0]),
        fidelity={role: f for role, (_, f) in measured.items() if f is not None},
    )
    low, high = result.loss_difference_ci95
    echo(
        f"{language.name} loss on {result.conversations} conversations: tuned {result.tuned_loss} vs baseline "
        f"{result.baseline_loss} — difference {result.loss_difference:+.4f} (95% CI {low:+.4f} to {high:+.4f}); "
        f"perplexity {result.tuned_perplexity} vs {result.baseline_perplexity}"
        + ("; REGRESSED: the source-language loss went up" if result.regressed else "")
    )
    for name, f in result.fidelity.items():
        echo(f"{language.name} replies of {name}: {headline(f)}")
    if config.out:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        result.write(Path(config.out) / "regression.json")
    return result
