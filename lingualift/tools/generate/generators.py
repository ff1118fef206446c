"""What the model that writes the pairs (lingualift.teacher) is asked, the token counter that sizes
chunks, and the settings that key the store."""

from __future__ import annotations

import json

from lingualift.tools.generate.config import GenerateConfig

PROMPT_VERSION = 1
PROMPT = """Below is a text in {language}. Write {pairs} question-answer pairs in {language} that a reader could \
ask about it and that the text answers. Each question must make sense on its own, without the text; each \
answer must be correct according to the text, complete, and written in {language}.
Reply with JSON only: a list of objects with the keys "question" and "answer".

Text:
{chunk}"""


def prompt(chunk: str, config: GenerateConfig, language_name: str) -> list[dict]:
    text = PROMPT.format(language=language_name, pairs=config.pairs_per_chunk, chunk=chunk)
    return [{"role": "user", "content": text}]


def token_counter(config: GenerateConfig, tokenizer):
    if config.tokenizer or (tokenizer is None and config.model and not config.base_url):
        from transformers import AutoTokenizer

        from lingualift.models import resolve_model

        tokenizer = AutoTokenizer.from_pretrained(
            resolve_model(config.tokenizer or config.model), trust_remote_code=config.trust_remote_code
        )
    if tokenizer is None:
        return (lambda text: -(-len(text) // 4)), "4 characters a token (no local tokenizer)"
    return (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), "tokenizer"


def generator_id(config: GenerateConfig) -> str:
    from lingualift.teacher import teacher_source

    source = teacher_source(config)
    settings = (
        source,
        config.lang,
        config.pairs_per_chunk,
        config.max_new_tokens,
        config.temperature,
        PROMPT_VERSION,
    )
    return json.dumps(settings)
