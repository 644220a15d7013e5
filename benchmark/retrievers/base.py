"""The Retriever plug-in points: index a corpus, then rank it for a batch of queries.

Two forms. A text-only `Retriever` receives the text an augmenter made and nothing else. A
`ContextAwareRetriever` (`reads_context = True`) also receives the query as an augmenter may
see it (text, context, candidates; never the human rewrite, never qrels), for search and for
fine-tuning. `rank` and `search` below are the one search path for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence, runtime_checkable

from benchmark.metrics import ranked
from benchmark.task import Doc, Query

if TYPE_CHECKING:
    from benchmark.retrievers.finetune import FinetuneRecipe

Run = dict[str, dict[str, float]]  # query id -> doc id -> score (pytrec_eval / ranx / BEIR format)


@dataclass(frozen=True)
class RetrieverInput:
    """One query as a context-aware retriever receives it."""

    text: str
    """What the augmenter made of the query (the typed text itself without augmentation)."""
    query: Query
    """The query record as an augmenter sees it: `explicit` is always None here."""


@dataclass(frozen=True)
class TrainingData:
    """What fine-tuning may read: the train split only, plus dev queries for early stopping."""

    examples: tuple[tuple[RetrieverInput, frozenset[str]], ...]
    """(input, relevant doc ids) per train query with a relevant document."""
    corpus: Mapping[str, Doc]
    """The documents judged in train: fine-tuning sees no other, not even as a negative."""
    dev: tuple[tuple[RetrieverInput, frozenset[str]], ...] = ()
    """The dev split's queries, when the task has one (for early stopping; never test)."""
    dev_corpus: Mapping[str, Doc] | None = None
    """The documents judged in train or dev (what dev queries are ranked over)."""

    @property
    def pairs(self) -> list[tuple[str, frozenset[str]]]:
        """(text, relevant doc ids): what a text-only retriever's `finetune` receives."""
        return [(inp.text, relevant) for inp, relevant in self.examples]


@runtime_checkable
class Retriever(Protocol):
    name: str

    def fingerprint(self) -> dict:
        """What identifies this retriever's behaviour (model hashes, parameters) for provenance and caches."""

    def index(self, corpus: Mapping[str, Doc]) -> None:
        """Prepare to search `corpus`; called once per task before any search."""

    def search(self, texts: Mapping[str, str], k: int) -> Run:
        """Top-k documents per query text. Text-only retrievers see texts, never query records.
        k >= the corpus size asks for a full ranking: every document gets a score (what a
        candidate-restricted query needs, since each of its candidates must be ranked)."""


@runtime_checkable
class TrainableRetriever(Retriever, Protocol):
    def finetune(self, examples: list[tuple[str, frozenset[str]]], corpus: Mapping[str, Doc]) -> "Retriever":
        """A new retriever fine-tuned with the suite's recipe on (query text, relevant doc ids)
        examples over the train documents `corpus`; self is unchanged."""


@runtime_checkable
class ContextAwareRetriever(Protocol):
    """Reads the query's context as well as its text. Trainable when it offers
    `finetune(training: TrainingData) -> ContextAwareRetriever` (a new retriever; self unchanged)."""

    name: str
    reads_context: bool
    """True (a class attribute): the runner hands it RetrieverInputs."""

    def fingerprint(self) -> dict: ...

    def index(self, corpus: Mapping[str, Doc]) -> None: ...

    def search_inputs(self, inputs: Mapping[str, RetrieverInput], k: int) -> Run:
        """Top-k documents per query, with the same full-ranking rule as `Retriever.search`."""


def reads_context(retriever: object) -> bool:
    return getattr(retriever, "reads_context", False) is True


def rank(retriever: Retriever, texts: Mapping[str, str], queries: Mapping[str, Query], k: int) -> Run:
    """The retriever's ranking of `texts`; a context-aware one also gets each query as an
    augmenter sees it (its own copy, the human rewrite removed)."""
    if not texts:
        return {}
    if reads_context(retriever):
        return retriever.search_inputs({qid: RetrieverInput(text, queries[qid].visible()) for qid, text in texts.items()}, k)
    return retriever.search(texts, k)


def finetune(retriever: Retriever, training: TrainingData, recipe: "FinetuneRecipe | None" = None) -> Retriever:
    """The retriever fine-tuned on `training`, in whichever form it takes its data; with `recipe`
    (a label-budget point's step budget) instead of the retriever's default recipe."""
    if reads_context(retriever):
        return retriever.finetune(training)
    if recipe is not None:
        return retriever.finetune(training.pairs, training.corpus, recipe)
    return retriever.finetune(training.pairs, training.corpus)


def search(retriever: Retriever, texts: dict[str, str], queries: Sequence[Query], k: int, corpus_size: int) -> Run:
    """Top-k documents per query; a query with `candidates` (e.g. one user's own profile
    statements) ranks all of them and nothing else: its candidates keep their scores from a
    full-corpus ranking (guardrails.check_run refuses a ranking that leaves one out)."""
    by_id = {q.id: q for q in queries}
    run = rank(retriever, {q.id: texts[q.id] for q in queries if q.candidates is None}, by_id, k)
    bound = [q for q in queries if q.candidates is not None]
    if bound:
        full = rank(retriever, {q.id: texts[q.id] for q in bound}, by_id, corpus_size)
        for q in bound:
            allowed = set(q.candidates)
            scores = {d: s for d, s in full.get(q.id, {}).items() if d in allowed}
            run[q.id] = {d: scores[d] for d in ranked(scores)[:k]}
    return run
