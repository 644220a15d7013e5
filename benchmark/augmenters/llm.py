"""LLM query augmenters: chain-of-thought, HyDE, query2doc and rewriting.

Each one is a versioned prompt (prompts/<name>.toml) plus a rule for combining the completion
with the query. With `precomputed_path`, completions come from the submission's shipped files
(one per task, written by `iqbench augment`); without it, from the local completion cache, then
the backend: `llama-cpp` (local GGUF, default SmolLM2-135M) or `openai` (any OpenAI-compatible
server). Backend `file` reads shipped files made elsewhere and never generates. Token counts are
the backend's own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from benchmark.augmenters.base import Augmentation, NotApplicable, TaskView
from benchmark.augmenters.precomputed import PrecomputedError
from benchmark.augmenters.simple import SERIALIZATION, serialize_context
from benchmark.llm.backend import ChatRequest, Completion, LLMError, build_backend
from benchmark.llm.cache import CachedBackend
from benchmark.llm.files import ShippedCompletions, read_completions, task_file
from benchmark.storage import sha256_json
from benchmark.task import Query

PROMPTS = Path(__file__).parent / "prompts"
MAX_CONTEXT_CHARS = 2000
"""Serialized context is cut to this many characters (most recent turns come first), ~500 tokens."""
COMBINE_VERSION = 1
BACKENDS = ("llama-cpp", "openai", "file")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    system: str
    user: str
    user_with_context: str
    sha256: str

    @classmethod
    def load(cls, name: str) -> "Prompt":
        path = PROMPTS / f"{name}.toml"
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        texts = {k: data[k] for k in ("system", "user", "user_with_context")}
        return cls(name, data["version"], **texts, sha256=sha256_json(texts))  # comments do not count

    def messages(self, query: Query) -> tuple[tuple[str, str], ...]:
        context = serialize_context(query.context)[:MAX_CONTEXT_CHARS]
        template = self.user_with_context if context else self.user
        return ("system", self.system), ("user", template.format(query=query.text, context=context))


class LLMAugmenter:
    """The shared machinery; subclasses name their prompt and how the completion is used."""

    name = "llm"
    prompt_name = ""
    oracle = False

    def __init__(self, backend: str = "llama-cpp", model: str | None = "smollm2-135m", max_new_tokens: int = 64,
                 precomputed_path: str | None = None, model_path: str | None = None, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4, timeout_s: float = 120.0,
                 retries: int = 3) -> None:
        if backend not in BACKENDS:
            raise LLMError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if backend == "file" and not precomputed_path:
            raise LLMError("backend 'file' needs precomputed_path (the folder of completion files)")
        if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= 4096:
            raise LLMError(f"max_new_tokens {max_new_tokens!r}: expected an integer from 1 to 4096")
        self.backend_kind, self.model, self.max_new_tokens = backend, model, max_new_tokens
        self.precomputed = Path(precomputed_path) if precomputed_path else None
        if backend == "llama-cpp":
            self._options: dict[str, Any] = {"model": model, "model_path": model_path}
        elif backend == "openai":
            self._options = {"base_url": base_url, "model": model, "api_key_env": api_key_env,
                             "concurrency": concurrency, "timeout_s": timeout_s, "retries": retries}
        else:
            self._options = {}
        self.prompt = Prompt.load(self.prompt_name)
        self._live = build_backend(backend, **self._options) if backend != "file" else None
        self.shipped: ShippedCompletions | None = None
        self.task: TaskView | None = None

    # What produced (or would produce) the completions: shipped files must match it to be used.
    @cached_property
    def generator(self) -> dict:
        return {"augmenter": self.name, "prompt": {"name": self.prompt.name, "version": self.prompt.version,
                                                   "sha256": self.prompt.sha256},
                "backend": self._live.identity() if self._live else {"backend": "file"},
                "max_new_tokens": self.max_new_tokens, "context": {"serialization": SERIALIZATION,
                                                                    "max_chars": MAX_CONTEXT_CHARS}}

    def prepare(self, task: TaskView) -> None:
        self.task, self.shipped = task, None
        if self.precomputed is None:
            return
        path = task_file(self.precomputed, task.id)
        if not path.is_file():
            if self._live is None:
                raise PrecomputedError(f"{path.name}: no completion file for task {task.id!r} in "
                                       f"{self.precomputed.name}/")
            return
        shipped = read_completions(path, task.id, task.sha256, task.query_texts)
        if self._live is not None and shipped.generator != self.generator:
            raise PrecomputedError(f"{path.name}:1: made by a different generator (prompt, model or settings) "
                                   f"than this manifest describes; regenerate with `iqbench augment`")
        self.shipped = shipped

    def fingerprint(self) -> dict:
        shipped = self.shipped.rows_sha256 if self.shipped else None
        file_generator = self.shipped.generator if self.shipped and self._live is None else None
        return {"name": self.name, "combine": COMBINE_VERSION, "generator": self.generator,
                "shipped_rows_sha256": shipped, "shipped_generator": file_generator}

    def requests(self, queries: Sequence[Query]) -> list[ChatRequest]:
        return [ChatRequest(self.prompt.messages(q), self.max_new_tokens) for q in queries]

    @cached_property
    def live(self) -> CachedBackend:
        if self._live is None:
            raise LLMError("backend 'file' generates nothing")
        return CachedBackend(self._live)

    def why_unavailable(self) -> str | None:
        if self.backend_kind == "llama-cpp":
            from benchmark.llm.llama_cpp import missing_dependency
            return missing_dependency(self._options["model"], self._options["model_path"])
        return None

    def completions(self, queries: Sequence[Query]) -> list[Completion]:
        """Shipped completions; without `precomputed_path`, the cache and then the backend.

        With `precomputed_path` a run never generates: completions come from `iqbench augment`,
        so a run cannot turn into hours of generation by surprise.
        """
        found = {q.id: c for q in queries if self.shipped and (c := self.shipped.get(q))}
        todo = [q for q in queries if q.id not in found]
        if todo and self.precomputed is not None:
            where = f"{self.precomputed.name}/{task_file(self.precomputed, self.task.id).name}" if self.task else \
                self.precomputed.name
            lacking = f"{where} has no completion for {len(todo)} of {len(queries)} queries"
            if self._live is None:
                raise PrecomputedError(f"{lacking} (first: {', '.join(q.id for q in todo[:5])})")
            raise NotApplicable(f"{lacking}: run `iqbench augment` on this submission first")
        if todo:
            if reason := self.why_unavailable():
                raise NotApplicable(f"{len(todo)} queries need generation and {reason}")
            found.update(zip((q.id for q in todo), self.live.complete(self.requests(todo)), strict=True))
        return [found[q.id] for q in queries]

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        return [Augmentation(self.combine(q, c.text.strip()), c.prompt_tokens, c.completion_tokens)
                for q, c in zip(queries, self.completions(queries), strict=True)]

    def combine(self, query: Query, completion: str) -> str:
        raise NotImplementedError


def appended(query: Query, completion: str) -> str:
    """The query, then the completion on the next line (the query alone if there is none)."""
    return f"{query.text}\n{completion}" if completion else query.text


class CoTAugmenter(LLMAugmenter):
    """The query, then the model's reasoning about what the user needs."""
    name, prompt_name = "llm-cot", "cot"
    combine = staticmethod(appended)


class HyDEAugmenter(LLMAugmenter):
    """The hypothetical document alone (the query if the model wrote nothing)."""
    name, prompt_name = "llm-hyde", "hyde"

    def combine(self, query: Query, completion: str) -> str:
        return completion or query.text


class Query2DocAugmenter(LLMAugmenter):
    """The query, then the pseudo-document (query2doc's form for dense retrievers)."""
    name, prompt_name = "llm-query2doc", "query2doc"
    combine = staticmethod(appended)


class RewriteAugmenter(LLMAugmenter):
    """The first non-empty line of the answer replaces the query (the query if there is none)."""
    name, prompt_name = "llm-rewrite", "rewrite"

    def combine(self, query: Query, completion: str) -> str:
        line = next((s.strip() for s in completion.splitlines() if s.strip()), "")
        return line.removeprefix("Query:").strip().strip('"') or query.text
