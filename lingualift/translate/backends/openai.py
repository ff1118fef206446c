"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, hosted APIs) as a translator.

One request per segment (no item-count guessing), a bounded number in flight; retries, backoff and
the API key are the endpoint client's (lingualift.endpoint).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from lingualift.endpoint import ChatEndpoint
from lingualift.translate.backends.base import Translation, row_caps
from lingualift.translate.backends.llm import TOWER_PROMPT, check_prompt_template, clean_output


class OpenAITranslator:
    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key_env: str | None = None,
        concurrency: int = 8,
        retries: int = 4,
        timeout: float = 120.0,
        prompt_template: str | None = None,
        backoff: float = 1.0,
    ):
        self.endpoint = ChatEndpoint(
            base_url,
            model,
            api_key_env=api_key_env,
            retries=retries,
            timeout=timeout,
            backoff=backoff,
            needed_by="--backend openai (--base-url)",
        )
        self.model = model
        self.name = f"openai:{model}"
        self.concurrency = max(1, concurrency)
        self.template = check_prompt_template(prompt_template or TOWER_PROMPT)
        self.max_input_tokens = 400
        self.max_length = 4096

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [max(1, len(t) // 4) for t in texts]  # the endpoint's tokenizer is not known here

    def _one(self, text: str, src, tgt, max_new_tokens: int, strict: bool) -> Translation:
        prompt = self.template.format(src=src.name, tgt=tgt.name, text=text)
        extra = {"frequency_penalty": 0.5} if strict else {}
        content = self.endpoint.chat(
            [{"role": "user", "content": prompt}], max_tokens=max_new_tokens, **extra
        )
        return clean_output(content, text, tgt)

    def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
        caps = row_caps(max_new_tokens, len(texts))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(texts))) as pool:
            return list(pool.map(lambda t, cap: self._one(t, src, tgt, cap, strict), texts, caps))
