"""The Retriever plug-in points: index a corpus, then rank it for a batch of queries.

Two forms. A text-only `Retriever` receives the text an augmenter made and nothing else. A
`ContextAwareRetriever` (`reads_context = True`) also receives the query as an augmenter may
see it (text, context, candidates; never the human rewrite, never qrels), for search and for
fine-tuning. `rank` and `search` below are the one search path for both.

A multi-text augmentation (several texts per query, e.g. HyDE's query and generated documents)
reaches only a retriever that lists the augmenter's combination rule in `combines` and offers
`search_combined`; any other retriever keeps receiving one text, and such a pairing is
NotApplicable (`check_combinable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence, runtime_checkable

from benchmark.metrics import ranked
from benchmark.task import Doc, Query

if TYPE_CHECKING:
    from benchmark.retrievers.finetune import FinetuneRecipe

Run = dict[str, dict[str, float]]  # query id -> doc id -> score (pytrec_eval / ranx / BEIR format)
MEAN_EMBEDDING = "mean-embedding"
"""The one combination rule defined: the retriever encodes each text, normalises each embedding
and ranks by their mean (HyDE, Gao et al. 2022: the query's embedding averaged with those of the
generated documents). A document's score is then the mean of its cosine similarities to the texts."""
Texts = Mapping[str, "str | tuple[str, ...]"]
"""query id -> what the retriever receives: one text, or several combined by a rule (see `combines`)."""


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


@runtime_checkable
class CombiningRetriever(Retriever, Protocol):
    """Optional: a retriever that takes several texts per query and combines them itself."""

    combines: tuple[str, ...]
    """The combination rules it implements (e.g. MEAN_EMBEDDING)."""

    def search_combined(self, texts: Mapping[str, tuple[str, ...]], rule: str, k: int) -> Run:
        """Top-k documents per query for its texts combined by `rule`, with `search`'s full-ranking rule."""


def reads_context(retriever: object) -> bool:
    return getattr(retriever, "reads_context", False) is True


def check_combinable(retriever: object, augmenter: str, retriever_use: str, rule: str) -> None:
    """NotApplicable unless `retriever` (its class will do) implements the rule by which
    `augmenter`'s several texts per query are combined."""
    from benchmark.augmenters.base import NotApplicable

    if rule not in getattr(retriever, "combines", ()):
        raise NotApplicable(f"augmenter {augmenter!r} hands several texts per query, combined by {rule!r}; "
                            f"retriever {retriever_use!r} takes one text")


def rank(retriever: Retriever, texts: Texts, queries: Mapping[str, Query], k: int, rule: str | None = None) -> Run:
    """The retriever's ranking of `texts` (several per query: combined by `rule`, which the caller
    has checked with check_combinable); a context-aware one also gets each query as an augmenter
    sees it (its own copy, the human rewrite removed)."""
    if not texts:
        return {}
    if rule is not None:
        return retriever.search_combined({qid: (t,) if isinstance(t, str) else tuple(t)
                                          for qid, t in texts.items()}, rule, k)
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


def search(retriever: Retriever, texts: Texts, queries: Sequence[Query], k: int, corpus_size: int,
           rule: str | None = None) -> Run:
    """Top-k documents per query; a query with `candidates` (e.g. one user's own profile
    statements) ranks all of them and nothing else: its candidates keep their scores from a
    full-corpus ranking (guardrails.check_run refuses a ranking that leaves one out)."""
    by_id = {q.id: q for q in queries}
    run = rank(retriever, {q.id: texts[q.id] for q in queries if q.candidates is None}, by_id, k, rule)
    bound = [q for q in queries if q.candidates is not None]
    if bound:
        full = rank(retriever, {q.id: texts[q.id] for q in bound}, by_id, corpus_size, rule)
        for q in bound:
            allowed = set(q.candidates)
            scores = {d: s for d, s in full.get(q.id, {}).items() if d in allowed}
            run[q.id] = {d: scores[d] for d in ranked(scores)[:k]}
    return run
