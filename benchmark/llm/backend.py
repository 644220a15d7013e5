"""The LLM backend plug-in point: chat requests in, completions with the backend's own token counts out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

TEMPERATURE = 0.0
SEED = 0
"""By default generation is greedy and seeded: the same request gives the same completion on the
same build. A request may ask for sampling (temperature > 0, e.g. HyDE's several documents); its
seed then decides the draw, so it is as reproducible as a greedy one."""


class LLMError(RuntimeError):
    """A backend that cannot be loaded or reached, or a request it refused; the message says which."""


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]
    """(role, content) pairs, in order."""
    max_tokens: int
    """Generation ends at the model's end-of-turn token or after this many tokens (no stop strings)."""
    temperature: float = TEMPERATURE
    """0: greedy; above 0: sampled from the softmax of logits / temperature (no top-p or top-k cut)."""
    seed: int = SEED

    def as_dict(self) -> dict[str, Any]:
        return {"messages": [list(m) for m in self.messages], "max_tokens": self.max_tokens,
                "temperature": self.temperature, "seed": self.seed}


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    """As the backend counted them (its tokenizer and chat template), not an estimate."""
    completion_tokens: int


@runtime_checkable
class LLMBackend(Protocol):
    def identity(self) -> dict:
        """What decides the completions (model weights hash or served model name): the cache key's part."""

    def provenance(self) -> dict:
        """Versions worth recording that do not enter the cache key (library versions, host)."""

    def complete(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """One completion per request, in order."""


def build_backend(kind: str, **options: Any) -> LLMBackend:
    """`llama-cpp` (local GGUF) or `openai` (any OpenAI-compatible server)."""
    if kind == "llama-cpp":
        from benchmark.llm.llama_cpp import LlamaCppBackend
        return LlamaCppBackend(**options)
    if kind == "openai":
        from benchmark.llm.openai_compat import OpenAIBackend
        return OpenAIBackend(**options)
    raise LLMError(f"unknown LLM backend {kind!r}; expected 'llama-cpp', 'openai' or 'file'")
