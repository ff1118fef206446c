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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lingualift.errors import ConfigError, config_error
from lingualift.local_web import RequestGuard
from lingualift.serve.config import ServeConfig

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 1 << 20


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields we do not use (top_p, ...)

    model: Optional[str] = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, gt=0)
    max_completion_tokens: Optional[int] = Field(None, gt=0)
    temperature: float = Field(0.0, ge=0, le=2)
    stream: bool = False
    n: int = Field(1, ge=1, le=1)


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
        return [m.model_dump() for m in request.messages]


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
                    self._json(200, {"object": "list", "data": [{"id": service.name, "object": "model",
                                                                  "created": 0, "owned_by": "lingualift"}]})  # fmt: skip
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
            from lingualift.chat import reply_once

            text, prompt_tokens, completion_tokens, finish = reply_once(
                service.model, service.tokenizer, service.messages(request), max_new_tokens=service.max_tokens(request),
                temperature=request.temperature)  # fmt: skip
            self._json(200, {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": service.name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            })  # fmt: skip

        def _stream(self, request: ChatRequest) -> None:
            from lingualift.chat import stream_reply

            ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            limit = service.max_tokens(request)

            def event(delta: dict, finish: str | None = None) -> None:
                chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": service.name,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()

            pieces = stream_reply(service.model, service.tokenizer, service.messages(request), max_new_tokens=limit,
                                  temperature=request.temperature)  # fmt: skip
            text = ""
            try:
                event({"role": "assistant", "content": ""})
                for piece in pieces:
                    text += piece
                    event({"content": piece})
                produced = len(service.tokenizer(text, add_special_tokens=False)["input_ids"])
                event({}, "length" if produced >= limit else "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                for _ in pieces:  # the client left: let the generation finish before the model is reused
                    pass

    return Handler


def start_server(config: ServeConfig, *, echo=print) -> ThreadingHTTPServer:
    """Load the model and bind; the caller runs `serve_forever()` (tests run it in a thread)."""
    from lingualift.models import load_chat_model

    api_key = None
    if config.api_key_env:  # a missing key is an error before the model loads
        api_key = os.environ.get(config.api_key_env, "")
        if not api_key:
            raise ConfigError(f"--api-key-env {config.api_key_env}: the variable is not set or empty")
    model, tokenizer = load_chat_model(config.model, device=config.device, adapter=config.adapter,
                                       quantization=config.quantization())
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
        echo(f"warning: listening on {host} without --api-key-env: anyone who can reach this machine can use the model")
    echo(
        f"serving {service.name} on http://{host}:{port}/ (chat page) and http://{host}:{port}/v1 (OpenAI API)"
    )
    return server
