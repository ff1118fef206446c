"""Tokenize conversations with assistant-only labels, for any prefix-preserving chat template.

The assistant spans are found by rendering the conversation's prefixes with the model's own
chat template (no `{% generation %}` markers needed): the text before assistant turn i is the
render of messages[:i] with the generation prompt, the turn ends where the render of
messages[:i+1] ends (end-of-turn token included, so the model learns to stop).
"""

from __future__ import annotations

from lingualift.errors import DataError

IGNORE = -100


def _render(tokenizer, messages, *, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def assistant_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """(rendered text, character spans of every assistant turn)."""
    full = _render(tokenizer, messages, generation_prompt=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start_text = _render(tokenizer, messages[:i], generation_prompt=True)
        end_text = _render(tokenizer, messages[: i + 1], generation_prompt=False)
        if not full.startswith(end_text) or not end_text.startswith(start_text):
            raise DataError(
                "the chat template does not render conversations prefix by prefix, so assistant turns "
                "cannot be located: train with --all-tokens"
            )
        spans.append((len(start_text), len(end_text)))
    return full, spans


def tokenize_conversation(tokenizer, messages: list[dict], *, max_length: int, assistant_only: bool) -> dict:
    text, spans = assistant_spans(tokenizer, messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    labels = list(ids)
    if assistant_only:
        labels = [
            token if any(start <= offset[0] < end for start, end in spans) else IGNORE
            for token, offset in zip(ids, encoded["offset_mapping"])
        ]
    truncated = len(ids) > max_length
    return {
        "input_ids": ids[:max_length],
        "attention_mask": [1] * min(len(ids), max_length),
        "labels": labels[:max_length],
        "truncated": truncated,
    }


class PadCollator:
    """Pad input_ids with the pad token, labels with -100, on the tokenizer's padding side."""

    def __init__(self, tokenizer):
        self.pad_id = tokenizer.pad_token_id
        self.left = tokenizer.padding_side == "left"

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        batch = {"input_ids": [], "attention_mask": [], "labels": []}
        for f in features:
            gap = width - len(f["input_ids"])
            for key, value in (("input_ids", self.pad_id), ("attention_mask", 0), ("labels", IGNORE)):
                padding = [value] * gap
                batch[key].append(padding + list(f[key]) if self.left else list(f[key]) + padding)
        return {k: torch.tensor(v) for k, v in batch.items()}
