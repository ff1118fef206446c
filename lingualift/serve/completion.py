"""One decoding loop for `serve`: greedy or sampled (temperature, top_p, seed), cut at stop strings
(never emitted), per-token log-probabilities, text handed out as soon as it is final.

A plain reply is the join of the pieces a streamed one sends, so the two are the same text by
construction. The loop is our own (a KV-cached forward per token) rather than `generate`, because
it needs, at every step, the raw logits (for logprobs) and the text so far (to stop at a string
and never emit it), and one request's seed must not touch another's random state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass
class Piece:
    """Text that is final, and the logprob entries of the tokens it starts."""

    text: str
    logprobs: list[dict] = field(default_factory=list)


def held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many characters at the end of `text` could be the start of a stop string (not yet final)."""
    for size in range(min(len(text), max((len(s) for s in stops), default=1) - 1), 0, -1):
        tail = text[-size:]
        if any(stop.startswith(tail) for stop in stops):
            return size
    return 0


def first_stop(text: str, stops: tuple[str, ...], start: int = 0) -> int | None:
    """Where the earliest stop string begins in `text` (searching from `start`), or None."""
    found = [i for i in (text.find(stop, start) for stop in stops) if i >= 0]
    return min(found) if found else None


class Completion:
    """Iterate for the pieces; afterwards `finish_reason` ('stop' or 'length'), `prompt_tokens` and
    `completion_tokens` are set."""

    def __init__(
        self, model, tokenizer, messages: list[dict], sampling: Sampling, thinking: bool | None = None
    ):
        self.model, self.tokenizer, self.messages, self.sampling = model, tokenizer, messages, sampling
        self.thinking = thinking
        self.finish_reason: str | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def _pick(self, logits, generator) -> int:
        import torch

        s = self.sampling
        if s.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / s.temperature, dim=-1)
        if s.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < s.top_p  # always keeps the top token
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs.cpu(), 1, generator=generator))

    def _entry(self, logprobs, token: int) -> dict:
        def item(token_id: int, value: float) -> dict:
            text = self._decode([token_id])
            # -inf (a token the model rules out) is no JSON number: -9999, as OpenAI's API sends
            return {"token": text, "logprob": max(value, -9999.0), "bytes": list(text.encode("utf-8"))}

        entry = item(token, float(logprobs[token]))
        top = []
        if self.sampling.top_logprobs:
            values, ids = logprobs.topk(self.sampling.top_logprobs)
            top = [item(int(i), float(v)) for v, i in zip(values, ids)]
        return {**entry, "top_logprobs": top}

    def __iter__(self) -> Iterator[Piece]:
        import torch

        from lingualift.chat import _inputs
        from lingualift.chat_model import stop_ids
        from lingualift.models import cache_argument

        model, s = self.model, self.sampling
        inputs = _inputs(self.tokenizer, self.messages, self.thinking).to(model.device)
        self.prompt_tokens = int(inputs["input_ids"].shape[1])
        end_ids = stop_ids(model, self.tokenizer)
        generator = torch.Generator().manual_seed(s.seed) if s.seed is not None else None
        longest_stop = max((len(stop) for stop in s.stop), default=0)
        tokens: list[int] = []
        entries: list[tuple[int, dict]] = []  # (text offset where the token starts, entry)
        text, emitted, sent = "", 0, 0
        step_input, past, cut = inputs["input_ids"], None, None
        cache_name = cache_argument(model)
        self.finish_reason = "length"
        with torch.inference_mode():
            for _ in range(s.max_tokens):
                out = model(input_ids=step_input, use_cache=True, **{cache_name: past})
                past, logits = getattr(out, cache_name), out.logits[0, -1].float()
                token = self._pick(logits, generator)
                self.completion_tokens += 1
                if token in end_ids:
                    self.finish_reason = "stop"
                    break
                start = len(text)
                tokens.append(token)
                text = self._decode(tokens)
                if s.logprobs:
                    entries.append((start, self._entry(torch.log_softmax(logits, dim=-1), token)))
                cut = first_stop(text, s.stop, max(0, start - longest_stop)) if s.stop else None
                if cut is not None:
                    self.finish_reason = "stop"
                    break
                final = len(text) - held_back(text, s.stop) if s.stop else len(text)
                if text.endswith("\ufffd"):  # a character whose bytes are not all generated yet
                    final = min(final, len(text.rstrip("\ufffd")))
                if final > emitted:
                    ready = [e for offset, e in entries[sent:] if offset < final]
                    sent += len(ready)
                    yield Piece(text[emitted:final], ready)
                    emitted = final
                step_input = torch.tensor([[token]], device=model.device)
        end = cut if cut is not None else len(text.rstrip("\ufffd"))
        ready = [e for offset, e in entries[sent:] if offset < end]
        if end > emitted or ready:
            yield Piece(text[emitted:end], ready)
