"""OpenAI-compatible `/v1/models` and `/v1/chat/completions` (plain and SSE streaming) plus the web
chat page at `/`, on the standard library's threading HTTP server. One model generates for one
request at a time; up to `max_queue` requests wait, more are answered 429. Bad requests get a 4xx
with an OpenAI-style error body, never a crash. Other web pages are kept out (lingualift.local_web:
Host, Origin, JSON-only POSTs); `--api-key-env` adds a bearer key."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lingualift.errors import ConfigError, config_error
from lingualift.local_web import RequestGuard
from lingualift.serve.config import ServeConfig

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 1 << 20


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict]

    @field_validator("content")
    @classmethod
    def _text_only(cls, content):
        """A string, or a list of {"type": "text", "text": ...} parts (joined by newlines)."""
        if isinstance(content, str):
            return content
        texts = []
        for number, part in enumerate(content):
            kind = part.get("type")
            if kind != "text" or not isinstance(part.get("text"), str):
                raise ValueError(f"part {number} is of type {kind!r}: this server reads text parts only")
            texts.append(part["text"])
        return "\n".join(texts)


# Fields a single local model cannot honour: refused with the reason, never silently ignored.
# (name, whether the value asks for something, why)
UNSUPPORTED = (
    (
        "response_format",
        lambda v: v is not None and not (isinstance(v, dict) and v.get("type", "text") == "text"),
        "this server cannot constrain output to JSON or a schema; omit it",
    ),
    ("tools", bool, "this server has no tool calling"),
    ("tool_choice", lambda v: v not in (None, "none"), "this server has no tool calling"),
    ("functions", bool, "this server has no function calling"),
    ("function_call", lambda v: v not in (None, "none"), "this server has no function calling"),
    ("logit_bias", bool, "this server does not bias tokens"),
    ("presence_penalty", lambda v: bool(v), "this server applies no presence penalty; omit it or send 0"),
    ("frequency_penalty", lambda v: bool(v), "this server applies no frequency penalty; omit it or send 0"),
    ("audio", bool, "this server produces text only"),
    ("modalities", lambda v: v not in (None, ["text"]), "this server produces text only"),
    ("prediction", bool, "this server does not use predicted outputs"),
)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # informational fields (user, metadata, store) need no action

    model: Optional[str] = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, gt=0)
    max_completion_tokens: Optional[int] = Field(None, gt=0)
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: Optional[int] = None
    stop: Optional[str | list[str]] = None
    logprobs: bool = False
    top_logprobs: Optional[int] = Field(None, ge=0, le=20)
    stream: bool = False
    stream_options: Optional[dict] = None
    n: int = Field(1, ge=1, le=1, description="one choice per request")
    # vLLM's field; this server honours enable_thinking (off by default: answers without reasoning)
    chat_template_kwargs: Optional[dict] = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_what_cannot_be_honoured(cls, raw):
        if isinstance(raw, dict):
            for name, asks, why in UNSUPPORTED:
                if name in raw and asks(raw[name]):
                    raise ValueError(f"{name}: {why}")
        return raw

    @model_validator(mode="after")
    def _consistent(self):
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs: needs logprobs: true")
        if self.stream_options and not self.stream:
            raise ValueError("stream_options: only with stream: true")
        if set(self.chat_template_kwargs or {}) - {"enable_thinking"}:
            raise ValueError("chat_template_kwargs: this server takes enable_thinking only")
        return self

    def thinking(self) -> bool:
        """Off unless the request turns it on, as everywhere in lingualift."""
        return bool((self.chat_template_kwargs or {}).get("enable_thinking", False))

    def stops(self) -> tuple[str, ...]:
        given = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        return tuple(s for s in given if s)


class RequestError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.kind = status, kind


class ChatService:
    """The loaded model and the request admission rules, independent of HTTP."""

    def __init__(self, config: ServeConfig, model, tokenizer, api_key: str | None = None):
        self.config, self.model, self.tokenizer, self.api_key = config, model, tokenizer, api_key
        self.name = config.model + (f"+{config.adapter}" if config.adapter else "")
        self.slots = threading.BoundedSemaphore(config.max_queue)
        self.generating = threading.Lock()

    def parse(self, body: bytes) -> ChatRequest:
        try:
            raw = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RequestError(400, f"the body is not valid JSON: {error}") from error
        if not isinstance(raw, dict):
            raise RequestError(400, "the body must be a JSON object with `messages`")
        try:
            request = ChatRequest.model_validate(raw)
        except ValidationError as error:
            raise RequestError(400, str(config_error(error))) from error
        limit = self.config.max_tokens_limit
        if (request.max_completion_tokens or request.max_tokens or 0) > limit:
            raise RequestError(400, f"max_tokens: at most {limit} on this server")
        return request

    def max_tokens(self, request: ChatRequest) -> int:
        return request.max_completion_tokens or request.max_tokens or self.config.default_max_tokens

    def messages(self, request: ChatRequest) -> list[dict]:
        # a "developer" message is the newer name of a system message
        return [
            {"role": "system" if m.role == "developer" else m.role, "content": m.content}
            for m in request.messages
        ]

    def completion(self, request: ChatRequest):
        from lingualift.serve.completion import Completion, Sampling

        sampling = Sampling(
            max_tokens=self.max_tokens(request),
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=request.stops(),
            logprobs=request.logprobs,
            top_logprobs=request.top_logprobs or 0,
        )
        return Completion(self.model, self.tokenizer, self.messages(request), sampling, request.thinking())


def make_handler(service: ChatService, guard):
    class Handler(BaseHTTPRequestHandler):
        server_version = "lingualift"

        def _refused(self, method: str) -> bool:
            """Another web page's request (lingualift.local_web): 403 before anything is read or run."""
            reason = guard.refusal(method, self.path.split("?", 1)[0], self.headers)
            if reason:
                self._error(RequestError(403, reason, "permission_error"))
            return reason is not None

        def log_message(self, format, *args):  # noqa: A002 — quiet: no request lines (they may hold prompts)
            pass

        def _json(self, status: int, payload: dict) -> None:
            body = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, error: RequestError) -> None:
            self._json(
                error.status, {"error": {"message": str(error), "type": error.kind, "code": error.status}}
            )

        def _authorized(self) -> bool:
            if service.api_key is None:
                return True
            if self.headers.get("Authorization", "") == f"Bearer {service.api_key}":
                return True
            self._error(
                RequestError(
                    401, "missing or wrong API key (Authorization: Bearer ...)", "authentication_error"
                )
            )
            return False

        def do_GET(self):  # noqa: N802
            if self._refused("GET"):
                return
            if self.path in ("/", "/index.html"):
                body = PAGE.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/v1/models":
                if self._authorized():
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {
                                    "id": service.name,
                                    "object": "model",
                                    "created": 0,
                                    "owned_by": "lingualift",
                                }
                            ],
                        },
                    )
            else:
                self._error(RequestError(404, f"no route {self.path}", "not_found_error"))

        def do_POST(self):  # noqa: N802
            if self._refused("POST"):
                return None
            if self.path != "/v1/chat/completions":
                return self._error(RequestError(404, f"no route {self.path}", "not_found_error"))
            if not self._authorized():
                return None
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    raise RequestError(413, f"request body over {MAX_BODY} bytes")
                request = service.parse(self.rfile.read(length))
            except RequestError as error:
                return self._error(error)
            if not service.slots.acquire(blocking=False):
                return self._error(
                    RequestError(429, "too many requests waiting; retry shortly", "rate_limit_error")
                )
            try:
                with service.generating:
                    (self._stream if request.stream else self._complete)(request)
            finally:
                service.slots.release()
            return None

        def _complete(self, request: ChatRequest) -> None:
            completion = service.completion(request)
            pieces = list(completion)
            logprobs = {"content": [e for p in pieces for e in p.logprobs]} if request.logprobs else None
            message = {"role": "assistant", "content": "".join(p.text for p in pieces)}
            self._json(
                200,
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": service.name,
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "logprobs": logprobs,
                            "finish_reason": completion.finish_reason,
                        }
                    ],
                    "usage": _usage(completion),
                },
            )

        def _stream(self, request: ChatRequest) -> None:
            ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            with_usage = bool((request.stream_options or {}).get("include_usage"))

            def event(choices: list[dict], **extra) -> None:
                chunk = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": service.name,
                    "choices": choices,
                    **({"usage": None} if with_usage else {}),
                    **extra,
                }
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()

            def choice(delta: dict, finish: str | None = None, logprobs: list | None = None) -> list[dict]:
                lp = {"content": logprobs or []} if request.logprobs else None
                return [{"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}]

            completion = service.completion(request)
            try:
                event(choice({"role": "assistant", "content": ""}))
                for piece in completion:
                    event(choice({"content": piece.text}, logprobs=piece.logprobs))
                event(choice({}, completion.finish_reason))
                if with_usage:
                    event([], usage=_usage(completion))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client left: generation stopped with the loop

    return Handler


def _usage(completion) -> dict:
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.prompt_tokens + completion.completion_tokens,
    }


def start_server(config: ServeConfig, *, echo=print) -> ThreadingHTTPServer:
    """Load the model and bind; the caller runs `serve_forever()` (tests run it in a thread)."""
    from lingualift.models import load_chat_model

    api_key = None
    if config.api_key_env:  # a missing key is an error before the model loads
        api_key = os.environ.get(config.api_key_env, "")
        if not api_key:
            raise ConfigError(f"--api-key-env {config.api_key_env}: the variable is not set or empty")
    model, tokenizer = load_chat_model(
        config.model,
        device=config.device,
        adapter=config.adapter,
        quantization=config.quantization(),
        chat_template=config.chat_template,
    )
    service = ChatService(config, model, tokenizer, api_key)
    try:
        server = ThreadingHTTPServer((config.host, config.port), None)
    except OSError as error:
        raise ConfigError(f"cannot listen on {config.host}:{config.port}: {error.strerror}") from error
    host, port = server.server_address[:2]
    server.guard = RequestGuard(host, port)
    server.RequestHandlerClass = make_handler(service, server.guard)
    server.daemon_threads = True
    server.service = service  # for tests and embedding
    if server.guard.any_host and api_key is None:
        echo(
            f"warning: listening on {host} without --api-key-env: anyone who can reach this machine can use the model"
        )
    echo(
        f"serving {service.name} on http://{host}:{port}/ (chat page) and http://{host}:{port}/v1 (OpenAI API)"
    )
    return server
