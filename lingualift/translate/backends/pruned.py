"""Greedy decoding for a batch of chat prompts that drops each row as soon as it is done.

`generate` keeps a finished row in the batch (padding it) until the last row ends; with the early
stops of early_stop.py most rows end long before the slowest one (a loop cut after a few tokens, a
line finished), so most of a batch's later steps would compute rows whose output is already
decided. Here a finished row leaves the batch and the key-value cache (`batch_select_indices`), and
each step costs what the rows still writing cost. Greedy, with the same stopping criteria: the same
tokens as `generate` (tests/translate/test_backends.py compares them).

Every prompt of a language pair also starts with the same tokens (the chat template's system turn,
the instruction, "English: "): often more than half of a short segment's prompt. `PromptPrefix`
forwards them once per pair, and each batch starts from copies of that key-value cache, so a batch
forwards only the part of each prompt that differs. Where padded positions cost as much as real ones
(a CPU: `hardware.pack_prefill`), the prompts are forwarded in groups of like length and their caches
joined, so a batch's short prompts are not padded to its longest.
"""

from __future__ import annotations


class PromptPrefix:
    """The token ids every prompt of one language pair starts with, and their key-value cache,
    computed on first use and reused by every batch."""

    def __init__(self, ids: list[int]):
        self.ids = ids
        self._cache = None

    def starts(self, prompts: list[list[int]]) -> bool:
        """Every prompt starts with the prefix and goes on after it (a text whose first characters
        merge with the prefix's last token does not: that batch forwards its prompts whole)."""
        size = len(self.ids)
        return bool(size) and all(len(p) > size and p[:size] == self.ids for p in prompts)

    def cache_for(self, model, rows: int, cache_name: str):
        """A cache holding the prefix for `rows` rows (a copy: the batch extends it)."""
        import copy

        import torch

        if self._cache is None:
            ids = torch.tensor([self.ids], device=model.device)
            with torch.inference_mode():
                out = model(
                    input_ids=ids,
                    use_cache=True,
                    **{cache_name: _new_cache(model)},
                    **_last_logits_only(model),
                )
            self._cache = getattr(out, cache_name)
        cache = copy.deepcopy(self._cache)
        cache.batch_repeat_interleave(rows)
        return cache


def greedy_pruned(
    model,
    input_ids,
    attention_mask,
    *,
    max_new_tokens: list[int],
    end_ids: set[int],
    stop=None,
    penalty: float | None = None,
    prefix: PromptPrefix | None = None,
    packed: bool = False,
) -> list[list[int]]:
    """The generated ids of each row, up to and including the token that ended it (or its cap in
    `max_new_tokens`, one per row).

    `input_ids`/`attention_mask`: left-padded prompts; `stop`: a `stop_wasted(..., start=0)` criteria,
    called with every row's generated ids (finished rows padded with an end id); `penalty`: a
    repetition penalty on the tokens the row generated (not on its prompt); `prefix`: the tokens
    every prompt starts with, already cut off `input_ids` (forwarded once, see PromptPrefix);
    `packed`: forward the prompts in groups of like length (see `like_length_groups`)."""
    import torch
    from transformers import RepetitionPenaltyLogitsProcessor

    from lingualift.models import cache_argument

    rows, device = input_ids.shape[0], input_ids.device
    pad = min(end_ids)
    ends = torch.tensor(sorted(end_ids), device=device)
    repeat = RepetitionPenaltyLogitsProcessor(penalty) if penalty else None
    cache_name = cache_argument(model)
    last = _last_logits_only(model)
    shared = len(prefix.ids) if prefix else 0
    generated = torch.full((rows, 0), pad, dtype=torch.long, device=device)
    lengths = list(max_new_tokens)
    caps = torch.tensor(lengths, device=device)
    alive = torch.arange(rows, device=device)
    with torch.inference_mode():
        cache, scores = _prefill(model, input_ids, attention_mask, prefix, cache_name, last, packed)
        mask = torch.cat([attention_mask.new_ones((rows, shared)), attention_mask], dim=1)
        positions = shared + attention_mask.long().sum(-1, keepdim=True)  # the next token's, per row
        steps = max(lengths)
        for step in range(steps):
            if repeat is not None and step:
                scores = repeat(generated[alive], scores)
            token = scores.argmax(-1)
            column = torch.full((rows,), pad, dtype=torch.long, device=device)
            column[alive] = token
            generated = torch.cat([generated, column[:, None]], dim=1)
            finished = torch.isin(token, ends) | (caps[alive] <= step + 1)
            if stop is not None:
                finished |= stop(generated, None)[alive]
            for row in alive[finished].tolist():
                lengths[row] = step + 1
            if finished.all() or step + 1 == steps:
                break
            if finished.any():
                keep = (~finished).nonzero().flatten()
                cache.batch_select_indices(keep)
                alive, token, mask, positions = alive[keep], token[keep], mask[keep], positions[keep]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            out = model(
                input_ids=token[:, None],
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **{cache_name: cache},
                **last,
            )
            cache = getattr(out, cache_name)
            scores = out.logits[:, -1].float()
            positions = positions + 1
    return [generated[row, : lengths[row]].tolist() for row in range(rows)]


def like_length_groups(lengths: list[int], *, slack: float = 0.1, floor: int = 32) -> list[list[int]]:
    """Row indices grouped by like length, shortest first: a group takes the next row while the
    padding it needs stays within `slack` of its tokens or `floor` tokens (about what one more
    forward of the weights costs on a CPU)."""
    groups: list[list[int]] = []
    group, tokens = [], 0
    for row in sorted(range(len(lengths)), key=lambda r: (lengths[r], r)):
        length = lengths[row]
        padding = length * (len(group) + 1) - (tokens + length)
        if group and padding > max(slack * (tokens + length), floor):
            groups.append(group)
            group, tokens = [], 0
        group.append(row)
        tokens += length
    return groups + [group] if group else groups


def _last_logits_only(model) -> dict:
    """`logits_to_keep=1` where forward takes it (as generate passes it): the prompt's other positions
    need no vocabulary-sized logits."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(base.forward).parameters else {}


def _new_cache(model):
    from transformers import DynamicCache

    return DynamicCache(config=model.config.get_text_config(decoder=True))  # as generate builds it


def _prefill(model, input_ids, attention_mask, prefix, cache_name: str, last: dict, packed: bool):
    """(key-value cache, last position's logits) of the left-padded prompts after `prefix`. `packed`
    (full-attention caches only): in groups of like length, joined into one cache where the missing
    positions are zeros that the attention mask hides, as it hides padding."""
    import torch

    rows, width = input_ids.shape
    shared = len(prefix.ids) if prefix else 0
    lengths = attention_mask.sum(-1).tolist()
    if packed and all(type(layer).__name__ == "DynamicLayer" for layer in _new_cache(model).layers):
        groups = [sorted(group) for group in like_length_groups(lengths)]  # one group: rows in input order
    else:
        groups = [list(range(rows))]
    parts = []
    for group in groups:
        index = torch.tensor(group, device=input_ids.device)
        cut = width - max(lengths[row] for row in group)  # columns that are padding in every row of it
        ids, mask = input_ids[index, cut:], attention_mask[index, cut:]
        cache = prefix.cache_for(model, len(group), cache_name) if prefix else _new_cache(model)
        out = model(
            input_ids=ids,
            attention_mask=torch.cat([mask.new_ones((len(group), shared)), mask], dim=1),
            position_ids=shared + (mask.long().cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
            **{cache_name: cache},
            **last,
        )
        parts.append((group, getattr(out, cache_name), out.logits[:, -1].float(), cut))
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    joined = _new_cache(model)
    for layer in range(len(joined.layers)):
        keys, values = (
            torch.cat(
                [_widened(getattr(cache.layers[layer], name), shared, cut) for _, cache, _, cut in parts]
            )
            for name in ("keys", "values")
        )
        joined.update(keys, values, layer)
    order = torch.tensor([row for group, *_ in parts for row in group], device=input_ids.device)
    back = torch.argsort(order)  # rows in their input order again
    joined.batch_select_indices(back)
    return joined, torch.cat([logits for _, _, logits, _ in parts])[back]


def _widened(states, shared: int, missing: int):
    """Key or value states with `missing` zero positions after the first `shared` (the prefix's)."""
    import torch

    if not missing:
        return states
    zeros = states.new_zeros((*states.shape[:2], missing, states.shape[-1]))
    return torch.cat([states[..., :shared, :], zeros, states[..., shared:, :]], dim=-2)
