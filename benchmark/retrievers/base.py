"""The Retriever plug-in point: index a corpus, then rank it for a batch of query texts."""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence, runtime_checkable

from benchmark.metrics import ranked
from benchmark.task import Doc, Query

Run = dict[str, dict[str, float]]  # query id -> doc id -> score (pytrec_eval / ranx / BEIR format)


@runtime_checkable
class Retriever(Protocol):
    name: str

    def fingerprint(self) -> dict:
        """What identifies this retriever's behaviour (model hashes, parameters) for provenance and caches."""

    def index(self, corpus: Mapping[str, Doc]) -> None:
        """Prepare to search `corpus`; called once per task before any search."""

    def search(self, texts: Mapping[str, str], k: int) -> Run:
        """Top-k documents per query text. Retrievers see texts only, never query records.
        k >= the corpus size asks for a full ranking: every document gets a score (what a
        candidate-restricted query needs, since each of its candidates must be ranked)."""


@runtime_checkable
class TrainableRetriever(Retriever, Protocol):
    def finetune(self, examples: list[tuple[str, frozenset[str]]], corpus: Mapping[str, Doc]) -> "Retriever":
        """A new retriever fine-tuned with the suite's recipe on (query text, relevant doc ids)
        examples over the train documents `corpus`; self is unchanged."""


def search(retriever: Retriever, texts: dict[str, str], queries: Sequence[Query], k: int, corpus_size: int) -> Run:
    """Top-k documents per query; a query with `candidates` (e.g. one user's own profile
    statements) ranks all of them and nothing else: its candidates keep their scores from a
    full-corpus ranking (guardrails.check_run refuses a ranking that leaves one out)."""
    free = {q.id: texts[q.id] for q in queries if q.candidates is None}
    bound = [q for q in queries if q.candidates is not None]
    run = retriever.search(free, k) if free else {}
    if bound:
        full = retriever.search({q.id: texts[q.id] for q in bound}, corpus_size)
        for q in bound:
            allowed = set(q.candidates)
            scores = {d: s for d, s in full.get(q.id, {}).items() if d in allowed}
            run[q.id] = {d: scores[d] for d in ranked(scores)[:k]}
    return run
