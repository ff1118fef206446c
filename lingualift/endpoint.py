"""A client for any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, hosted APIs): used by the
`openai` translator and the LLM judge. Retries with exponential backoff on 429/5xx and connection
errors; the API key comes from the environment variable the user names and is never logged."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from lingualift.errors import ConfigError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
# Requests that fail the same way before any succeeds: the setting is wrong, not the data. Stop.
HOPELESS_AFTER = 8


class EndpointError(RuntimeError):
    pass


def likely_fix(url: str, status: int | None = None, reason: str = "") -> str:
    """The probable mistake behind a failure, in a few words, or ''."""
    path = urllib.parse.urlparse(url).path
    if status == 404 and "/v1/" not in path:
        return " — does --base-url end in /v1?"
    if status == 404:
        return " — is the model name one this endpoint serves?"
    if status in (401, 403):
        return " — check the API key (--api-key-env names the variable that holds it)"
    if "refused" in reason.lower():
        return " — is the server running, on this host and port?"
    return ""


class FailureTally:
    """Failed requests by reason, for one summary line and for stopping early: when the first
    HOPELESS_AFTER requests all failed the same way, the rest would too."""

    def __init__(self, hopeless_after: int = HOPELESS_AFTER):
        self.failed: Counter[str] = Counter()
        self.succeeded = 0
        self.hopeless_after = hopeless_after

    def record(self, error: str | None) -> None:
        if error is None:
            self.succeeded += 1
        else:
            self.failed[error] += 1

    def hopeless(self) -> str | None:
        """The one reason every request so far failed for, once there are enough of them; else None."""
        if self.succeeded or len(self.failed) != 1 or sum(self.failed.values()) < self.hopeless_after:
            return None
        return next(iter(self.failed))

    def all_failed(self) -> bool:
        return bool(self.failed) and not self.succeeded

    def summary(self) -> str:
        """'3 of 10 requests failed: 2 × HTTP 500 from ..., 1 × ...' (the most frequent first)."""
        total = sum(self.failed.values())
        reasons = ", ".join(f"{n} × {reason}" for reason, n in self.failed.most_common(3))
        more = f" and {len(self.failed) - 3} other reasons" if len(self.failed) > 3 else ""
        return f"{total} of {total + self.succeeded} requests failed: {reasons}{more}"


class ChatEndpoint:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        retries: int = 4,
        timeout: float = 120.0,
        backoff: float = 1.0,
        needed_by: str = "this command",
    ):
        if not base_url:
            raise ConfigError(f"{needed_by} needs the endpoint's base URL (e.g. http://127.0.0.1:8000/v1)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = None
        if api_key_env:
            self.api_key = os.environ.get(api_key_env)
            if not self.api_key:
                raise ConfigError(f"--api-key-env {api_key_env}: that environment variable is not set")
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff

    def post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = json.dumps(payload).encode("utf-8")
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as error:
                said = _error_text(error)
                last = EndpointError(
                    f"HTTP {error.code} from {self.url}{likely_fix(self.url, error.code)}"
                    + (f" (it said: {said})" if said else "")
                )
                if error.code not in RETRY_STATUS:
                    raise last from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                reason = str(getattr(error, "reason", error))
                last = EndpointError(f"cannot reach {self.url}: {reason}{likely_fix(self.url, None, reason)}")
            except json.JSONDecodeError:
                last = EndpointError(f"{self.url} answered with something that is not JSON")
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        raise last

    def chat(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0, **extra) -> str:
        """The reply text of one chat completion."""
        return self.complete(messages, max_tokens=max_tokens, temperature=temperature, **extra)[0]

    def complete(
        self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0, **extra
    ) -> tuple[str, bool]:
        """(reply text, whether it stopped at max_tokens: finish_reason "length")."""
        answer = self.post(
            {
                "model": self.model,
                "messages": messages,
                "temperature": temperature,
                "max_tokens": max_tokens,
                **extra,
            }
        )
        try:
            choice = answer["choices"][0]
            return choice["message"]["content"] or "", choice.get("finish_reason") == "length"
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise EndpointError(f"{self.url}: response has no choices[0].message.content") from error


def _error_text(error: urllib.error.HTTPError) -> str:
    """The first line of an error response (OpenAI-style `error.message`, else the body), short."""
    try:
        body = error.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 — the status alone still says what failed
        return ""
    try:
        found = json.loads(body).get("error")
        body = found.get("message", "") if isinstance(found, dict) else str(found or body)
    except (json.JSONDecodeError, AttributeError):
        pass
    lines = body.strip().splitlines()
    return lines[0][:160] if lines else ""
