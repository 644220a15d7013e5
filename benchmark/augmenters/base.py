"""The Augmenter plug-in point: query (text + context) in, retriever input text and its cost out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from benchmark.task import Query


@dataclass(frozen=True)
class Augmentation:
    text: str
    """Exactly what the retriever receives for this query."""
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0


class NotApplicable(Exception):
    """The augmenter cannot run on this task (e.g. an oracle on a task without human rewrites)."""


@runtime_checkable
class Augmenter(Protocol):
    name: str
    oracle: bool
    """True only for augmenters that read the human `explicit` rewrite; their systems are never ranked."""

    def fingerprint(self) -> dict:
        """What identifies this augmenter's behaviour (prompt hashes, model hashes, parameters)."""

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        """One augmentation per query, in order. Queries never carry qrels; `explicit` only for oracles."""


def visible_query(query: Query, oracle: bool) -> Query:
    """The query as an augmenter may see it: the human rewrite is removed unless it is an oracle."""
    if oracle or query.explicit is None:
        return query
    return Query(id=query.id, text=query.text, context=query.context, explicit=None, candidates=query.candidates)
