"""Any OpenAI-compatible chat server (vLLM, llama.cpp server, Ollama, OpenAI) by base URL.

Requests run with bounded concurrency; the openai client retries connection errors, timeouts,
429 and 5xx with exponential backoff; any other 4xx fails at once with the server's message.
The API key comes from an environment variable, never from the manifest.
"""

from __future__ import annotations

import importlib.metadata
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from benchmark.llm.backend import ChatRequest, Completion, LLMError


class OpenAIBackend:
    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
                 timeout_s: float = 120.0, retries: int = 3) -> None:
        import openai

        if not base_url or not model:
            raise LLMError("the openai backend needs base_url and model")
        if concurrency < 1 or timeout_s <= 0 or retries < 0:
            raise LLMError("the openai backend needs concurrency >= 1, timeout_s > 0 and retries >= 0")
        self.base_url, self.model = base_url.rstrip("/"), model
        self.concurrency, self.timeout_s, self.retries = concurrency, timeout_s, retries
        # Local servers accept any key; a hosted API without one answers 401, reported below.
        self._client = openai.OpenAI(base_url=self.base_url, api_key=os.environ.get(api_key_env) or "none",
                                     timeout=timeout_s, max_retries=retries)

    def identity(self) -> dict:
        # The served weights are not visible through the API: the model name stands for them.
        return {"backend": "openai", "base_url": self.base_url, "model": self.model}

    def provenance(self) -> dict:
        return {"openai": importlib.metadata.version("openai")}

    def _one(self, request: ChatRequest) -> Completion:
        import openai

        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=[{"role": r, "content": c} for r, c in request.messages],
                max_tokens=request.max_tokens,
                temperature=request.temperature, seed=request.seed)
        except openai.APITimeoutError:
            raise LLMError(f"{self.base_url}: no answer within {self.timeout_s:g} s "
                           f"({self.retries} retries)") from None
        except openai.APIConnectionError as e:
            raise LLMError(f"{self.base_url}: cannot connect ({e.__cause__ or e}; {self.retries} retries)") from None
        except openai.APIStatusError as e:
            raise LLMError(f"{self.base_url}: HTTP {e.status_code}: {_message(e)}") from None
        if not response.choices:
            raise LLMError(f"{self.base_url}: the answer has no choices")
        usage = response.usage
        if usage is None or usage.prompt_tokens is None or usage.completion_tokens is None:
            raise LLMError(f"{self.base_url}: the answer reports no token usage; iqbench counts the "
                           "backend's own tokens and will not estimate them")
        return Completion(response.choices[0].message.content or "", int(usage.prompt_tokens),
                          int(usage.completion_tokens))

    def complete(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        if len(requests) <= 1 or self.concurrency == 1:
            return [self._one(r) for r in requests]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._one, requests))  # in order; the first error is raised


def _message(error) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
        if isinstance(body.get("detail"), (str, list)):
            return str(body["detail"])[:500]
    return str(error.message)[:500]
