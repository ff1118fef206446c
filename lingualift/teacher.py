"""Who writes a reply for `respond` and `generate`: a local chat model (greedy batches of like
length, chat.generate_batch) or any OpenAI-compatible endpoint (`concurrency` requests in flight).
Both hand every reply to `save(index, reply, error, cut_off)` as it is ready, so the caller can
store it before the next one comes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from pydantic import BaseModel, Field, field_validator

Save = Callable[[int, "str | None", "str | None", bool], None]


class Thinking(BaseModel):
    """How a thinking teacher (Qwen3, R1 distills) is asked: without reasoning unless told; its
    `<think>` block is removed from every reply either way (see chat_model.without_reasoning)."""

    thinking: bool = Field(
        False,
        description="Let a local thinking teacher reason first (its template's enable_thinking); the "
        "reasoning is removed from the answer either way",
    )
    chat_template_kwargs: Optional[str] = Field(
        None,
        description="JSON passed to the endpoint as chat_template_kwargs (vLLM, SGLang), e.g. "
        "'{\"enable_thinking\": false}'",
    )

    @field_validator("chat_template_kwargs")
    @classmethod
    def _json_object(cls, value):
        import json

        if value is not None:
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"not JSON ({error.msg})") from None
            if not isinstance(parsed, dict):
                raise ValueError("must be a JSON object")
        return value


class LocalTeacher:
    """A chat model loaded here; `batch_size` chats are generated together, and a group of four
    batches is saved before the next is started."""

    def __init__(self, config):
        from lingualift.models import default_device, load_chat_model

        self.config = config
        self.model, self.tokenizer = load_chat_model(
            config.model,
            device=default_device(config.device),
            trust_remote_code=config.trust_remote_code,
            quantization=config.quantization(),
            chat_template=config.chat_template,
        )
        self.in_flight = config.batch_size

    def ask(self, chats: list[list[dict]], save: Save, stop: Callable[[], bool] = lambda: False) -> None:
        from lingualift.chat import generate_batch

        config, group = self.config, self.config.batch_size * 4
        for start in range(0, len(chats), group):
            cut: list = []
            replies = generate_batch(
                self.model,
                self.tokenizer,
                chats[start : start + group],
                max_new_tokens=config.max_new_tokens,
                batch_size=config.batch_size,
                temperature=config.temperature,
                cut_off=cut,
                thinking=config.thinking,
            )
            for index, (reply, cut_off) in enumerate(zip(replies, cut)):
                save(start + index, reply, None, cut_off)


class EndpointTeacher:
    """An OpenAI-compatible endpoint (lingualift.endpoint: retries, loud failures); `concurrency`
    requests in flight all the time. Once `stop()` says so, requests not yet sent are skipped."""

    tokenizer = None  # the endpoint's own: not known here

    def __init__(self, config, *, needed_by: str):
        from lingualift.endpoint import ChatEndpoint

        self.config = config
        self.endpoint = ChatEndpoint(
            config.base_url, config.model or "default", api_key_env=config.api_key_env, needed_by=needed_by
        )
        self.in_flight = config.concurrency

    def ask(self, chats: list[list[dict]], save: Save, stop: Callable[[], bool] = lambda: False) -> None:
        import json
        from concurrent.futures import ThreadPoolExecutor

        from lingualift.endpoint import EndpointError

        config = self.config
        extra = {}
        if config.chat_template_kwargs:
            extra["chat_template_kwargs"] = json.loads(config.chat_template_kwargs)

        def one(index: int, chat: list[dict]) -> None:
            if stop():
                return
            try:
                reply, cut_off = self.endpoint.complete(
                    chat, max_tokens=config.max_new_tokens, temperature=config.temperature, **extra
                )
            except EndpointError as error:
                save(index, None, str(error), False)
                return
            save(index, reply, None, cut_off)

        with ThreadPoolExecutor(config.concurrency) as pool:
            for future in [pool.submit(one, i, chat) for i, chat in enumerate(chats)]:
                future.result()


def teacher_source(config) -> str:
    """Who answers, as stores and reports name it: "BASE_URL|MODEL" or "local|MODEL"."""
    return f"{config.base_url}|{config.model}" if config.base_url else f"local|{config.model}"


def load_teacher(config, *, needed_by: str) -> LocalTeacher | EndpointTeacher:
    """The endpoint at `config.base_url` when there is one, else the local `config.model`."""
    return EndpointTeacher(config, needed_by=needed_by) if config.base_url else LocalTeacher(config)
