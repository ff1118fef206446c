"""Who writes the pairs: a local model (batched) or an OpenAI-compatible endpoint (concurrent
requests), with the prompt, the token counter that sizes chunks, and the settings that key the store."""

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


def local_generator(config: GenerateConfig):
    from lingualift.chat import generate_batch
    from lingualift.models import default_device, load_chat_model

    model, tokenizer = load_chat_model(
        config.model,
        device=default_device(config.device),
        trust_remote_code=config.trust_remote_code,
        quantization=config.quantization(),
    )

    def run(chats: list[list[dict]]):
        replies = generate_batch(
            model,
            tokenizer,
            chats,
            max_new_tokens=config.max_new_tokens,
            batch_size=len(chats),
            temperature=config.temperature,
        )
        return [(reply, None) for reply in replies]

    return run, config.batch_size, tokenizer


def endpoint_generator(config: GenerateConfig):
    from concurrent.futures import ThreadPoolExecutor

    from lingualift.endpoint import ChatEndpoint, EndpointError

    endpoint = ChatEndpoint(
        config.base_url,
        config.model or "default",
        api_key_env=config.api_key_env,
        needed_by="generate --base-url",
    )
    pool = ThreadPoolExecutor(config.concurrency)

    def one(chat):
        try:
            return endpoint.chat(chat, max_tokens=config.max_new_tokens, temperature=config.temperature), None
        except EndpointError as error:
            return None, str(error)

    def run(chats: list[list[dict]]):
        return list(pool.map(one, chats))

    return run, config.concurrency, None


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
    source = f"{config.base_url}|{config.model}" if config.base_url else f"local|{config.model}"
    settings = (
        source,
        config.lang,
        config.pairs_per_chunk,
        config.max_new_tokens,
        config.temperature,
        PROMPT_VERSION,
    )
    return json.dumps(settings)
