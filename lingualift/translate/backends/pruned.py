"""Greedy decoding for a batch of chat prompts that drops each row as soon as it is done.

`generate` keeps a finished row in the batch (padding it) until the last row ends; with the early
stops of early_stop.py most rows end long before the slowest one (a loop cut after a few tokens, a
line finished), so most of a batch's later steps would compute rows whose output is already
decided. Here a finished row leaves the batch and the key-value cache (`batch_select_indices`), and
each step costs what the rows still writing cost. Greedy, with the same stopping criteria: the same
tokens as `generate` (tests/translate/test_backends.py compares them).
"""

from __future__ import annotations


def greedy_pruned(
    model,
    input_ids,
    attention_mask,
    *,
    max_new_tokens: int,
    end_ids: set[int],
    stop=None,
    penalty: float | None = None,
) -> list[list[int]]:
    """The generated ids of each row, up to and including the token that ended it.

    `input_ids`/`attention_mask`: left-padded prompts; `stop`: a `stop_wasted(..., start=0)` criteria,
    called with every row's generated ids (finished rows padded with an end id); `penalty`: a
    repetition penalty on the tokens the row generated (not on its prompt)."""
    import torch
    from transformers import DynamicCache, RepetitionPenaltyLogitsProcessor

    from lingualift.models import cache_argument

    rows, device = input_ids.shape[0], input_ids.device
    pad = min(end_ids)
    ends = torch.tensor(sorted(end_ids), device=device)
    repeat = RepetitionPenaltyLogitsProcessor(penalty) if penalty else None
    cache_name = cache_argument(model)
    cache = DynamicCache(
        config=model.config.get_text_config(decoder=True)
    )  # as generate builds it (sliding layers)
    generated = torch.full((rows, 0), pad, dtype=torch.long, device=device)
    lengths = [max_new_tokens] * rows
    alive = torch.arange(rows, device=device)
    mask = attention_mask
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding: positions count real tokens
    step_input = input_ids
    with torch.inference_mode():
        for step in range(max_new_tokens):
            out = model(
                input_ids=step_input,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **{cache_name: cache},
            )
            cache = getattr(out, cache_name)
            scores = out.logits[:, -1].float()
            if repeat is not None and step:
                scores = repeat(generated[alive], scores)
            token = scores.argmax(-1)
            column = torch.full((rows,), pad, dtype=torch.long, device=device)
            column[alive] = token
            generated = torch.cat([generated, column[:, None]], dim=1)
            finished = torch.isin(token, ends)
            if stop is not None:
                finished |= stop(generated, None)[alive]
            for row in alive[finished].tolist():
                lengths[row] = step + 1
            if finished.all():
                break
            if finished.any():
                keep = (~finished).nonzero().flatten()
                cache.batch_select_indices(keep)
                alive, token, mask, positions = alive[keep], token[keep], mask[keep], positions[keep]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            positions = positions[:, -1:] + 1
            step_input = token[:, None]
    return [generated[row, : lengths[row]].tolist() for row in range(rows)]
