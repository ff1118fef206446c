"""Stop a hypothesis as soon as the rest of it is known to be wasted work.

Three cases, decided per row while the batch generates:
- the row's own cap on generated tokens (given per row): a short segment in a batch of longer ones
  stops where it would alone, so what a row may write does not depend on the rows beside it. A row
  that reaches its cap unfinished is flagged `truncated_output`.
- a loop: the last 1-8 tokens repeated (one token 8 times, a group of 2-8 tokens 4 times in a row),
  or (LLM translators) text that already holds the loop the quality check flags a translation for
  (`has_repetition_loop`: a phrase of 2-6 words three times, which a chat LM's subword tokens often
  spell in more than 8 tokens). Generating on to the length cap only makes the same loop longer;
  the row is cut and flagged `repetition`, so the engine salvages the text before the loop or
  retries it with repetition controls (and keeps the flag if that loops too). Rows whose source
  itself repeats (a long digit or dash run, "ha ha ha ...") are never cut.
- (LLM translators) a finished line: the segments the engine sends are one line each, so once the
  model has written a line of translation and started a new one, what follows is commentary
  ("Note: ...") or another conversation turn. Lead-in lines ("Here is the translation:") do not count.

The same rules serve transformers' generate (`StopWasted`, a per-row StoppingCriteria) and
CTranslate2's per-token callback (`LoopWatch`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from lingualift.translate.quality import has_repetition_loop

# the tokens a row's text is searched for a loop in: about three times the longest phrase the
# quality check's loop rule looks for (six words of a few subword tokens each)
TEXT_WINDOW = 64

# (group size, repeats that make a loop): one token 8 times, a group of 2-8 tokens 4 times.
LOOP_SHAPES = [(size, 8 if size == 1 else 4) for size in range(1, 9)]
LEAD_IN = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok)\b[^\n]{0,30}|[^\n]*:|\W*)\s*$", re.IGNORECASE
)
CHARACTER_RUN = re.compile(r"(.)\1{3,}", re.DOTALL)


def loops(tokens: Sequence[int]) -> bool:
    """The sequence ends in a loop: one token 8 times, or a group of 2-8 tokens 4 times in a row."""
    for size, times in LOOP_SHAPES:
        if len(tokens) < size * times:
            return False
        if list(tokens[-size * times :]) == list(tokens[-size:]) * times:
            return True
    return False


def looping_rows(ids):
    """`loops` for every row of a (batch, length) id tensor at once."""
    import torch

    result = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for size, times in LOOP_SHAPES:
        if ids.shape[1] < size * times:
            break
        result |= (ids[:, -size * times :] == ids[:, -size:].repeat(1, times)).all(dim=1)
    return result


def may_cut_loops(source: str) -> bool:
    """Only where the source does not repeat itself (its translation may rightly repeat)."""
    return not has_repetition_loop(source) and not CHARACTER_RUN.search(source)


def line_finished(text: str, *, colon_ends_a_line: bool = False) -> bool:
    """A line of translation was written and a new line started. Lead-in lines ("Sure!",
    "Here is the translation:") do not count, unless the source itself ends with a colon."""
    *complete, _ = text.split("\n")
    return any(line.strip() and (colon_ends_a_line or not LEAD_IN.match(line)) for line in complete)


class LineEnds:
    """LLM translators: a one-line source stops at the end of its first line of translation (`tokenizer`
    None: never). Shared by `LoopWatch` and `stop_wasted`."""

    def __init__(self, sources: Sequence[str], tokenizer=None):
        self.tokenizer = tokenizer
        self.one_line = [tokenizer is not None and "\n" not in s for s in sources]
        self.colon = [s.rstrip().endswith(":") for s in sources]
        self.newline: dict[int, bool] = {}

    def ended(self, row: int, token: int, generated) -> bool:
        """`token`, just written after `generated` (which ends in it), finished the row's line."""
        if not self.one_line[row] or not self._has_newline(token):
            return False
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        return line_finished(text, colon_ends_a_line=self.colon[row])

    def _has_newline(self, token: int) -> bool:
        if token not in self.newline:
            self.newline[token] = "\n" in self.tokenizer.decode([token])
        return self.newline[token]


class TextLoops:
    """LLM translators: a row's text already holds a loop that `has_repetition_loop` flags. Sought
    in the row's last TEXT_WINDOW tokens, from the first word that starts whole in them, and only
    after a token that ends a word (a loop's last phrase ends in one): a loop found there is a loop
    of the whole text, which the quality check flags whatever the row writes next (unless output
    cleaning strips the part it is in, a lead-in or a trailing note), so cutting the row there
    changes nothing but the wasted tokens. `tokenizer` None: never."""

    def __init__(self, tokenizer=None):
        self.tokenizer = tokenizer
        self.breaks: dict[int, bool] = {}

    def found(self, token: int, generated: Sequence[int]) -> bool:
        """`token`, just written after `generated` (which ends in it), completed a loop."""
        if self.tokenizer is None or not self._breaks_a_word(token):
            return False
        text = self._decode(generated[-TEXT_WINDOW:])
        if len(generated) > TEXT_WINDOW:  # the window may start inside a word (or a character)
            space = next((i for i, c in enumerate(text) if c.isspace()), None)
            if space is None:  # a script written without spaces: the whole text
                text = self._decode(generated)
            else:
                text = text[space + 1 :]
        return has_repetition_loop(text, finished=False)

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(
            ids.tolist() if hasattr(ids, "tolist") else list(ids), skip_special_tokens=True
        )

    def _breaks_a_word(self, token: int) -> bool:
        if token not in self.breaks:
            self.breaks[token] = not self.tokenizer.decode([token]).isalnum()
        return self.breaks[token]


class LoopWatch:
    """CTranslate2 `callback` (greedy search): True stops that batch index; `cut` lists the rows cut
    for looping. With `tokenizer` (LLM translators), one-line sources also stop at the end of their
    first line of translation and rows at a loop of their text (`TextLoops`), as `stop_wasted` does
    for transformers; with `caps`, a row stops at its own cap, and `capped` lists the rows that did
    without writing one of `end_ids`."""

    def __init__(
        self,
        sources: Sequence[str],
        tokenizer=None,
        caps: Sequence[int] | None = None,
        end_ids: Collection[int] = (),
    ):
        self.watch = [may_cut_loops(s) for s in sources]
        self.tokens: list[list[int]] = [[] for _ in sources]
        self.cut: set[int] = set()
        self.capped: set[int] = set()
        self.lines = LineEnds(sources, tokenizer)
        self.text = TextLoops(tokenizer)
        self.caps = list(caps) if caps else [None] * len(sources)
        self.end_ids = set(end_ids)

    def __call__(self, step) -> bool:
        index = step.batch_id
        if not (self.watch[index] or self.lines.one_line[index] or self.caps[index]):
            return False
        history = self.tokens[index]
        history.append(step.token_id)
        if self.lines.ended(index, step.token_id, history):
            return True
        if self.watch[index] and (
            len(history) >= 8 and loops(history) or self.text.found(step.token_id, history)
        ):
            self.cut.add(index)
            return True
        if self.caps[index] and len(history) >= self.caps[index] and step.token_id not in self.end_ids:
            self.capped.add(index)
            return True
        return False


def stop_wasted(
    sources: Sequence[str],
    *,
    start: int,
    end_ids: set[int],
    tokenizer=None,
    caps: Sequence[int] | None = None,
):
    """A transformers StoppingCriteria for one generate call over `sources` (greedy, one row each).

    `start`: where generated tokens begin in the ids generate passes (the prompt length for
    decoder-only models, 1 for an encoder-decoder's decoder); `end_ids`: eos and pad ids (a row
    ending in one has finished and is only padded). With `tokenizer`, one-line sources also stop
    at the end of their first line of translation and rows at a loop of their text (`TextLoops`);
    with `caps`, each row at its own cap (`capped`: the rows that reached it unfinished)."""
    import torch
    from transformers import StoppingCriteria

    class StopWasted(StoppingCriteria):
        def __init__(self):
            self.watch = torch.tensor([may_cut_loops(s) for s in sources], dtype=torch.bool)
            self.lines = LineEnds(sources, tokenizer)
            self.text = TextLoops(tokenizer)
            self.stopped = torch.zeros(len(sources), dtype=torch.bool)
            self.cut: set[int] = set()
            self.capped: set[int] = set()
            self.ends = torch.tensor(sorted(end_ids))
            self.caps = torch.tensor(caps if caps else [2**31 - 1] * len(sources))

        def __call__(self, input_ids, scores, **kwargs):
            generated = input_ids[:, start:]
            if self.stopped.device != input_ids.device:
                self.stopped, self.watch = self.stopped.to(input_ids.device), self.watch.to(input_ids.device)
                self.ends = torch.tensor(sorted(end_ids), device=input_ids.device)
                self.caps = self.caps.to(input_ids.device)
            if not generated.shape[1]:
                return self.stopped.clone()
            ended = torch.isin(generated[:, -1], self.ends)
            last = generated[:, -1].tolist() if tokenizer is not None else []
            for row, token in enumerate(last):
                if not self.stopped[row] and self.lines.ended(row, token, generated[row]):
                    self.stopped[row] = True
            watched = self.watch & ~self.stopped & ~ended
            looped = torch.zeros_like(watched)
            if generated.shape[1] >= 8:
                looped = looping_rows(generated) & watched
            for row in (watched & ~looped).nonzero().flatten().tolist() if last else []:
                looped[row] = self.text.found(last[row], generated[row])
            self.cut.update(looped.nonzero().flatten().tolist())
            self.stopped |= looped
            over = (generated.shape[1] >= self.caps) & ~self.stopped & ~ended
            self.capped.update(over.nonzero().flatten().tolist())
            self.stopped |= over
            return self.stopped.clone()

    return StopWasted()


def watch_flags(watch, row: int) -> list[str]:
    """The flags a LoopWatch or StopWasted (or None) gives a row: `repetition` where its loop was cut,
    `truncated_output` where it reached its cap unfinished."""
    if watch is None:
        return []
    return ["repetition"] * (row in watch.cut) + ["truncated_output"] * (row in watch.capped)


def end_token_ids(generation_config, tokenizer) -> set[int]:
    """The ids a finished row ends in: pad, and what ends a reply (chat_model.ending_ids: eos from the
    generation config and the tokenizer, a chat template's end of turn)."""
    from lingualift.chat_model import ending_ids

    ids = ending_ids(generation_config, tokenizer) | {tokenizer.pad_token_id}
    return {i for i in ids if i is not None}
