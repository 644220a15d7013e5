"""The Augmenter plug-in point: query (text + context) in, retriever input text and its cost out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence, runtime_checkable

from benchmark.task import Doc, Query


MAX_TEXT_CHARS = 50_000
"""The most characters an augmentation may hand a retriever (about 12,000 tokens): a bound on
runaway output, above what the suite's own inputs reach (query + full context: 21,523 characters
for the longest iKAT-PTKB turn). A multi-text augmentation's texts share this bound."""
MAX_TEXTS = 16
"""The most texts one multi-text augmentation may hand a retriever."""


@dataclass(frozen=True)
class Augmentation:
    text: str
    """Exactly what the retriever receives for this query."""
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    texts: tuple[str, ...] = ()
    """Several texts for this one query, which the retriever combines by its augmenter's
    `text_combination` rule (then `text` is their newline join, for display only); empty for the usual single text."""

    @property
    def retriever_input(self) -> str | tuple[str, ...]:
        """What the retriever receives: the texts of a multi-text augmentation, else the text."""
        return self.texts or self.text


class NotApplicable(Exception):
    """The augmenter cannot run on this task (e.g. an oracle on a task without human rewrites)."""


@runtime_checkable
class Augmenter(Protocol):
    name: str
    oracle: bool
    """True only for augmenters that read the human `explicit` rewrite; their systems are never ranked."""
    # Optional: `text_combination: str`, a rule such as retrievers.base.MEAN_EMBEDDING, for augmenters
    # whose augmentations carry several `texts`; only retrievers listing the rule in `combines` take them.

    def fingerprint(self) -> dict:
        """What identifies this augmenter's behaviour (prompt hashes, model hashes, parameters)."""

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        """One augmentation per query, in order. Queries never carry qrels; `explicit` only for oracles."""


@dataclass(frozen=True)
class TaskView:
    """What a task-aware augmenter may see of its task: never qrels, never `explicit`."""
    id: str
    sha256: str
    corpus: Mapping[str, Doc]
    query_texts: Mapping[str, str]
    """query id -> what the user typed, for every query of the task (all splits)."""


@runtime_checkable
class TaskAware(Protocol):
    """Optional: augmenters that need their task (pseudo-relevance feedback reads the corpus;
    shipped LLM completions are per task) offer `prepare`, called before `fingerprint`."""

    def prepare(self, task: TaskView) -> None: ...


def visible_query(query: Query, oracle: bool) -> Query:
    """The query as an augmenter may see it (see Query.visible)."""
    return query.visible(oracle)
