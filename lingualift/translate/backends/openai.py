"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, hosted APIs) as a translator.

One request per segment (no item-count guessing), a bounded number in flight, retries with
exponential backoff on 429/5xx and connection errors. The API key is read from the environment
variable the user names and never logged.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from lingualift.errors import ConfigError
from lingualift.translate.backends.base import Translation
from lingualift.translate.backends.llm import TOWER_PROMPT, check_prompt_template, clean_output

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EndpointError(RuntimeError):
    pass


class OpenAITranslator:
    def __init__(self, model: str, *, base_url: str, api_key_env: str | None = None, concurrency: int = 8,
                 retries: int = 4, timeout: float = 120.0, prompt_template: str | None = None,
                 backoff: float = 1.0):  # fmt: skip
        if not base_url:
            raise ConfigError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.name = f"openai:{model}"
        self.api_key = None
        if api_key_env:
            self.api_key = os.environ.get(api_key_env)
            if not self.api_key:
                raise ConfigError(f"--api-key-env {api_key_env}: that environment variable is not set")
        self.concurrency = max(1, concurrency)
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.template = check_prompt_template(prompt_template or TOWER_PROMPT)
        self.max_input_tokens = 400
        self.max_length = 4096

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [max(1, len(t) // 4) for t in texts]  # the endpoint's tokenizer is not known here

    def _post(self, payload: dict) -> dict:
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

    def _one(self, text: str, src, tgt, max_new_tokens: int, strict: bool) -> Translation:
        payload = {
            "model": self.model,
            "messages": [
                {"role": "user", "content": self.template.format(src=src.name, tgt=tgt.name, text=text)}
            ],
            "temperature": 0,
            "max_tokens": max_new_tokens,
        }
        if strict:
            payload["frequency_penalty"] = 0.5
        answer = self._post(payload)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as error:
            raise EndpointError(f"{self.url}: response has no choices[0].message.content") from error
        return clean_output(content or "", text, tgt)

    def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts))) as pool:
            return list(pool.map(lambda t: self._one(t, src, tgt, max_new_tokens, strict), texts))
