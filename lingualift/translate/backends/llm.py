"""Causal chat LMs as translators: a prompt per segment, strict output parsing.

The default prompt is TowerInstruct's: "Translate the following text from {src} into {tgt}.\\n
{src}: {text}\\n{tgt}:". Commentary around the translation ("Here is the translation: ...") is
cut and flagged; quotes the source did not have are removed.
"""

from __future__ import annotations

import re

from lingualift.errors import ConfigError
from lingualift.languages import Language
from lingualift.translate.backends.base import Translation, row_caps
from lingualift.translate.backends.early_stop import end_token_ids, stop_wasted, watch_flags

TOWER_PROMPT = "Translate the following text from {src} into {tgt}.\n{src}: {text}\n{tgt}:"
COMMENTARY = re.compile(
    r"^\s*(?:sure[,!.]?\s*)?(?:here(?:'s| is) (?:the|your|a) (?:\w+ )?translation[^:\n]*:|"
    r"(?:the )?translation(?: in \w+)?:|translated text:)\s*",
    re.IGNORECASE,
)
TRAILING_NOTE = re.compile(r"\n\s*\n\s*(?:note|explanation|\(note)\b.*\Z", re.IGNORECASE | re.DOTALL)
QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("«", "»")]


def check_prompt_template(template: str) -> str:
    missing = [key for key in ("{text}", "{tgt}") if key not in template]
    if missing:
        raise ConfigError(f"--prompt-template must contain {' and '.join(missing)} (and may use {{src}})")
    return template


def clean_output(raw: str, source: str, tgt: Language) -> Translation:
    """Strip what an LLM adds around a translation; flag `commentary` when something was cut, and
    `reasoning` where a thinking model's `<think>` block was removed (or was all there was)."""
    from lingualift.chat_model import without_reasoning

    answer = without_reasoning(raw)
    text = answer.text.strip()
    flags = ["reasoning"] if answer.had_reasoning else []
    label = re.compile(rf"^\s*{re.escape(tgt.name)}\s*:\s*", re.IGNORECASE)
    for pattern in (COMMENTARY, label):
        stripped = pattern.sub("", text, count=1)
        if stripped != text:
            text = stripped.strip()
            if pattern is COMMENTARY:
                flags.append("commentary")
    without_note = TRAILING_NOTE.sub("", text)
    if without_note != text and not TRAILING_NOTE.search(source):
        text = without_note.strip()
        flags.append("commentary")
    for left, right in QUOTES:
        if len(text) > 1 and text.startswith(left) and text.endswith(right):
            if not (source.strip().startswith(left) and source.strip().endswith(right)):
                text = text[1:-1].strip()
            break
    return Translation(text, flags)


class LLMTranslator:
    """A causal chat LM (hub id, local dir or `demo`) prompted once per segment, batched."""

    early_stop = True  # stop at the end of the translated line and on loops, see early_stop.py
    pruned = True  # a finished row leaves the batch (pruned.py); False: transformers' generate

    def __init__(
        self,
        model: str,
        *,
        backend: str = "llm",
        device: str = "cpu",
        prompt_template: str | None = None,
        quantization=None,
        trust_remote_code: bool = False,
        chat_template: str | None = None,
    ):
        from lingualift.models import load_chat_model

        self.model, self.tokenizer = load_chat_model(
            model,
            device=device,
            trust_remote_code=trust_remote_code,
            quantization=quantization,
            chat_template=chat_template,
        )
        self.name = f"{backend}:{model}"
        self.device = device
        self.set_prompt_and_limits(prompt_template, self.model.config)
        # found once: the template (and with it the end of turn) does not change after loading
        self.end_ids = end_token_ids(getattr(self.model, "generation_config", None), self.tokenizer)

    def set_prompt_and_limits(self, prompt_template: str | None, config) -> None:
        """The prompt template, and the length limits the model's config allows (also CT2LLMTranslator's)."""
        self.template = check_prompt_template(prompt_template or TOWER_PROMPT)
        self.prefixes = {}  # (src, tgt) -> PromptPrefix, see translate
        limit = getattr(config, "max_position_embeddings", None) or 2048
        self.max_length = min(int(limit), 4096)
        self.max_input_tokens = min(400, self.max_length // 3)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def prompts(self, texts: list[str], src: Language, tgt: Language) -> list[str]:
        from lingualift.chat_model import render

        return [  # a thinking model translates without reasoning first
            render(
                self.tokenizer,
                [{"role": "user", "content": self.template.format(src=src.name, tgt=tgt.name, text=t)}],
                generation_prompt=True,
                thinking=False,
            )
            for t in texts
        ]

    def prompt_prefix(self, src: Language, tgt: Language):
        """The PromptPrefix of this pair: the token ids every prompt starts with (chat template, system
        turn, the instruction before the text), found as the common start of two prompts that differ
        only in their text."""
        from lingualift.translate.backends.pruned import PromptPrefix

        key = (src.tag, tgt.tag)
        if key not in self.prefixes:
            first, second = self.tokenizer(self.prompts(["A", "Z"], src, tgt), add_special_tokens=False)[
                "input_ids"
            ]
            size = next(
                (i for i, (a, b) in enumerate(zip(first, second)) if a != b), min(len(first), len(second))
            )
            self.prefixes[key] = PromptPrefix(first[:size])
        return self.prefixes[key]

    def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
        caps = row_caps(max_new_tokens, len(texts))
        prompts = self.tokenizer(self.prompts(texts, src, tgt), add_special_tokens=False)["input_ids"]
        prefix = self.prompt_prefix(src, tgt) if self.pruned else None
        if prefix is not None and prefix.starts(prompts):
            prompts = [p[len(prefix.ids) :] for p in prompts]
        else:
            prefix = None
        encoded = self.tokenizer.pad({"input_ids": prompts}, return_tensors="pt").to(self.device)
        end_ids = self.end_ids
        stop = None
        if self.early_stop:  # the pruned loop passes generated ids only; generate passes prompt + generated
            start = 0 if self.pruned else encoded["input_ids"].shape[1]
            stop = stop_wasted(texts, start=start, end_ids=end_ids, tokenizer=self.tokenizer, caps=caps)
        if self.pruned:
            from lingualift.hardware import pack_prefill
            from lingualift.translate.backends.pruned import greedy_pruned

            generated = greedy_pruned(
                self.model,
                encoded["input_ids"],
                encoded["attention_mask"],
                max_new_tokens=caps,
                end_ids=end_ids,
                stop=stop,
                penalty=1.3 if strict else None,
                prefix=prefix,
                packed=pack_prefill(self.device),
            )
        else:  # every row up to the largest cap where no early stop watches the rows' own caps
            generated = self._generate(encoded, max_new_tokens=max(caps), strict=strict, stop=stop)
        decoded = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        translations = [clean_output(raw, source, tgt) for raw, source in zip(decoded, texts)]
        for row, translation in enumerate(translations):
            translation.flags += watch_flags(stop, row)
        return translations

    def _generate(self, encoded, *, max_new_tokens: int, strict: bool, stop):
        """transformers' generate: every row stays in the batch until the last one ends."""
        import torch
        from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor, StoppingCriteriaList

        generate = {
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": sorted(self.end_ids),
        }
        start = encoded["input_ids"].shape[1]
        if strict:  # penalise repeats of generated tokens only: the prompt holds the end-of-turn token,
            # and penalising it (generate's repetition_penalty does) keeps the model from ever stopping
            penalty = RepetitionPenaltyLogitsProcessor(1.3, prompt_ignore_length=start)
            generate["logits_processor"] = LogitsProcessorList([penalty])
        if stop is not None:
            generate["stopping_criteria"] = StoppingCriteriaList([stop])
        with torch.inference_mode():
            output = self.model.generate(**encoded, **generate)
        return output[:, start:]
