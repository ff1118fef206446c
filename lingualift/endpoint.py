"""A client for any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, hosted APIs): used by the
`openai` translator and the LLM judge. Retries with exponential backoff on 429/5xx and connection
errors; the API key comes from the environment variable the user names and is never logged."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from lingualift.errors import ConfigError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EndpointError(RuntimeError):
    pass


class ChatEndpoint:
    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = None, retries: int = 4,
                 timeout: float = 120.0, backoff: float = 1.0, needed_by: str = "this command"):  # fmt: skip
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
                last = EndpointError(f"HTTP {error.code} from {self.url}")
                if error.code not in RETRY_STATUS:
                    raise last from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                last = EndpointError(f"cannot reach {self.url}: {getattr(error, 'reason', error)}")
            except json.JSONDecodeError:
                last = EndpointError(f"{self.url} answered with something that is not JSON")
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        raise last

    def chat(self, messages: list[dict], *, max_tokens: int, temperature: float = 0.0, **extra) -> str:
        """The reply text of one chat completion."""
        answer = self.post({"model": self.model, "messages": messages, "temperature": temperature,
                            "max_tokens": max_tokens, **extra})  # fmt: skip
        try:
            return answer["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as error:
            raise EndpointError(f"{self.url}: response has no choices[0].message.content") from error
