"""A content-addressed completion cache: the same model, prompt and generation settings never
run twice, so re-scoring a new retriever (or resuming a killed run) costs no generation.

Key = sha256 of (backend identity, messages, max_tokens, temperature, seed). The prompt
holds the query's text and context and the augmenter's prompt template, so any change to them
is a miss. One SQLite file in the iqbench cache; each completion is committed as it arrives.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Callable, Sequence

from benchmark.llm.backend import ChatRequest, Completion, LLMBackend
from benchmark.storage import cache_dir, sha256_json

BATCH = 32
"""Misses go to the backend this many at a time, so progress is saved as it is made."""


def cache_file() -> Path:
    return cache_dir() / "llm" / "completions.sqlite3"


class CompletionCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path or cache_file())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
        with self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
                             "prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, "
                             "provenance TEXT NOT NULL)")

    @staticmethod
    def key(identity: dict, request: ChatRequest) -> str:
        return sha256_json({"backend": identity, "request": request.as_dict()})

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT text, prompt_tokens, completion_tokens FROM completions WHERE key = ?",
                                   (key,)).fetchone()
        return Completion(*row) if row else None

    def put(self, key: str, completion: Completion, provenance: dict) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?)",
                             (key, completion.text, completion.prompt_tokens, completion.completion_tokens,
                              json.dumps(provenance, sort_keys=True)))

    def close(self) -> None:
        self._db.close()


class CachedBackend:
    """A backend behind the cache; counts hits and misses (what a run actually generated)."""

    def __init__(self, backend: LLMBackend, cache: CompletionCache | None = None) -> None:
        self.backend = backend
        self.cache = cache or CompletionCache()
        self.hits = 0
        self.misses = 0

    def identity(self) -> dict:
        return self.backend.identity()

    def provenance(self) -> dict:
        return self.backend.provenance()

    def complete(self, requests: Sequence[ChatRequest],
                 progress: Callable[[int], None] = lambda _: None) -> list[Completion]:
        identity = self.backend.identity()
        keys = [CompletionCache.key(identity, r) for r in requests]
        out: list[Completion | None] = [self.cache.get(k) for k in keys]
        todo = [i for i, c in enumerate(out) if c is None]
        self.hits += len(requests) - len(todo)
        progress(len(requests) - len(todo))
        provenance = self.backend.provenance()
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            for i, completion in zip(chunk, self.backend.complete([requests[i] for i in chunk]), strict=True):
                self.cache.put(keys[i], completion, provenance)
                out[i] = completion
            self.misses += len(chunk)
            progress(len(chunk))
        return out  # type: ignore[return-value]
