"""LLM query augmenters: chain-of-thought (also with pseudo-relevance feedback), HyDE, query2doc
and rewriting.

Each one is a versioned prompt (prompts/<name>.toml) plus a rule for combining the completion
with the query; with `samples` > 1 it draws several completions per query (sampled at
`temperature`, seeds 0..samples-1), as HyDE does. With `precomputed_path`, completions come
from the submission's shipped files (one per task, written by `iqbench augment`); without it, from the local completion cache, then
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

from benchmark.augmenters.base import MAX_TEXTS, Augmentation, NotApplicable, TaskView
from benchmark.augmenters.precomputed import PrecomputedError
from benchmark.augmenters.simple import SERIALIZATION, serialize_context
from benchmark.llm.backend import ChatRequest, Completion, LLMError, build_backend
from benchmark.llm.cache import CachedBackend
from benchmark.llm.files import ShippedCompletions, read_completions, task_file
from benchmark.metrics import ranked
from benchmark.retrievers.base import MEAN_EMBEDDING, search
from benchmark.retrievers.bm25 import BM25Retriever
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

    def messages(self, query: Query, **inputs: str) -> tuple[tuple[str, str], ...]:
        """The chat for `query`; `inputs` fill the prompt's further fields (e.g. {documents})."""
        context = serialize_context(query.context)[:MAX_CONTEXT_CHARS]
        template = self.user_with_context if context else self.user
        return ("system", self.system), ("user", template.format(query=query.text, context=context, **inputs))


class LLMAugmenter:
    """The shared machinery; subclasses name their prompt and how the completion is used."""

    name = "llm"
    prompt_name = ""
    oracle = False

    def __init__(self, backend: str = "llama-cpp", model: str | None = "smollm2-135m", max_new_tokens: int = 64,
                 precomputed_path: str | None = None, model_path: str | None = None, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4, timeout_s: float = 120.0,
                 retries: int = 3, samples: int = 1, temperature: float = 0.0) -> None:
        if backend not in BACKENDS:
            raise LLMError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        if backend == "file" and not precomputed_path:
            raise LLMError("backend 'file' needs precomputed_path (the folder of completion files)")
        if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= 4096:
            raise LLMError(f"max_new_tokens {max_new_tokens!r}: expected an integer from 1 to 4096")
        if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples < MAX_TEXTS:
            raise LLMError(f"samples {samples!r}: expected an integer from 1 to {MAX_TEXTS - 1}")
        if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not 0 <= temperature <= 2:
            raise LLMError(f"temperature {temperature!r}: expected a number from 0 to 2")
        if samples > 1 and temperature == 0:
            raise LLMError(f"samples {samples}: several completions need a temperature above 0 "
                           "(greedy ones would all be the same)")
        self.samples, self.temperature = samples, float(temperature)
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
                                                                    "max_chars": MAX_CONTEXT_CHARS},
                **({"samples": self.samples, "temperature": self.temperature}  # greedy, one: as it always was
                   if self.samples > 1 or self.temperature else {}), **self.prompt_inputs()}

    def prompt_inputs(self) -> dict:
        """What else the prompt is built from (e.g. feedback documents), for the generator."""
        return {}

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

    def prompt_fields(self, queries: Sequence[Query]) -> list[dict[str, str]]:
        """Each query's further prompt fields (none here)."""
        return [{} for _ in queries]

    def requests(self, queries: Sequence[Query]) -> list[ChatRequest]:
        """`samples` requests per query, query after query (seed j for its j-th sample)."""
        return [ChatRequest(self.prompt.messages(q, **fields), self.max_new_tokens, self.temperature, j)
                for q, fields in zip(queries, self.prompt_fields(queries), strict=True) for j in range(self.samples)]

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

    def completions(self, queries: Sequence[Query]) -> list[tuple[Completion, ...]]:
        """Each query's `samples` completions: shipped ones; without `precomputed_path`, the cache
        and then the backend.

        With `precomputed_path` a run never generates: completions come from `iqbench augment`,
        so a run cannot turn into hours of generation by surprise.
        """
        draws = range(self.samples)
        found = {(q.id, j): c for q in queries for j in draws if self.shipped and (c := self.shipped.get(q, j))}
        todo = [q for q in queries if any((q.id, j) not in found for j in draws)]
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
            found.update(zip(((q.id, j) for q in todo for j in draws), self.live.complete(self.requests(todo)),
                             strict=True))
        return [tuple(found[(q.id, j)] for j in draws) for q in queries]

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        """Token counts are summed over a query's samples: every completion is paid for."""
        return [self.augmentation(q, [c.text.strip() for c in drawn], sum(c.prompt_tokens for c in drawn),
                                  sum(c.completion_tokens for c in drawn))
                for q, drawn in zip(queries, self.completions(queries), strict=True)]

    def augmentation(self, query: Query, completions: list[str], prompt_tokens: int,
                     completion_tokens: int) -> Augmentation:
        return Augmentation(self.combine(query, completions[0]), prompt_tokens, completion_tokens)

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
    """HyDE as Gao et al. (2022) define it: `samples` hypothetical documents, sampled, whose
    embeddings the retriever averages with the query's (MEAN_EMBEDDING). Empty ones are left out."""
    name, prompt_name = "llm-hyde", "hyde"
    text_combination = MEAN_EMBEDDING

    def __init__(self, samples: int = 4, temperature: float = 0.7, **options: Any) -> None:
        super().__init__(samples=samples, temperature=temperature, **options)

    def augmentation(self, query: Query, completions: list[str], prompt_tokens: int,
                     completion_tokens: int) -> Augmentation:
        texts = (query.text, *(c for c in completions if c))
        return Augmentation("\n".join(texts), prompt_tokens, completion_tokens, texts)


class HyDEPassageAugmenter(LLMAugmenter):
    """One greedy hypothetical document replaces the query (the query if the model wrote nothing):
    the suite's first HyDE row, kept as the contrast to the paper's averaged form."""
    name, prompt_name = "llm-hyde-passage", "hyde"

    def combine(self, query: Query, completion: str) -> str:
        return completion or query.text


class CoTPRFAugmenter(LLMAugmenter):
    """Jagerman et al. (2023)'s CoT/PRF: the query's top `fb_docs` BM25 documents (each cut to
    `doc_chars` characters, whitespace collapsed) are the prompt's context; the model's rationale
    and answer are appended to the query. BM25 ranks the task corpus for what the user typed, and
    a query with `candidates` takes its documents from them (as prf does); qrels are never read."""
    name, prompt_name = "llm-cot-prf", "cot-prf"
    combine = staticmethod(appended)

    def __init__(self, fb_docs: int = 3, doc_chars: int = 400, **options: Any) -> None:
        for key, value in (("fb_docs", fb_docs), ("doc_chars", doc_chars)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LLMError(f"{key} {value!r}: expected a positive integer")
        self.fb_docs, self.doc_chars = fb_docs, doc_chars
        self._bm25 = None
        super().__init__(**options)

    def prompt_inputs(self) -> dict:
        return {"feedback": {"first_stage": BM25Retriever().fingerprint(), "docs": self.fb_docs,
                             "doc_chars": self.doc_chars}}

    def prepare(self, task: TaskView) -> None:
        self._bm25 = None  # a new task: a new index, built when a prompt first needs it
        super().prepare(task)

    def prompt_fields(self, queries: Sequence[Query]) -> list[dict[str, str]]:
        """{documents}: the top documents, one per line (none when BM25 matches no word of the query)."""
        if self.task is None:
            raise LLMError("llm-cot-prf needs its task (prepare) before it can build a prompt")
        if self._bm25 is None:
            self._bm25 = BM25Retriever()
            self._bm25.index(self.task.corpus)
        run = search(self._bm25, {q.id: q.text for q in queries}, queries, self.fb_docs, len(self.task.corpus))
        return [{"documents": "\n".join(" ".join(self.task.corpus[d].full_text.split())[:self.doc_chars]
                                         for d in ranked(run.get(q.id, {}))[:self.fb_docs])} for q in queries]


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
