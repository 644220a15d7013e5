"""RM3-style pseudo-relevance feedback: a classic, LLM-free expansion that also costs tokens.

BM25 (the suite's lexical retriever) ranks the task's corpus for the query; the top
`fb_docs` documents form a relevance model P(w|R) = sum_d P(w|d) * score(d) / sum score,
with P(w|d) = tf(w, d) / |d| over lower-cased words (English stopwords, numbers, words under
3 letters and the query's own words left out). The `fb_terms` heaviest words are appended to
the query. The retriever takes text, so terms are appended unweighted (RM3's interpolation
weight has no text form). A query with `candidates` takes feedback from its candidates only.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Sequence

from bm25s.stopwords import STOPWORDS_EN

from benchmark.augmenters.base import Augmentation, TaskView
from benchmark.retrievers.base import search
from benchmark.retrievers.bm25 import BM25Retriever
from benchmark.task import Query

WORD = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
STOP = frozenset(STOPWORDS_EN)


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if len(w) >= 3 and w not in STOP]


class PRFAugmenter:
    name = "prf"
    oracle = False

    def __init__(self, fb_docs: int = 10, fb_terms: int = 10) -> None:
        if fb_docs < 1 or fb_terms < 1:
            raise ValueError("fb_docs and fb_terms must be at least 1")
        self.fb_docs, self.fb_terms = fb_docs, fb_terms
        self._bm25: BM25Retriever | None = None
        self._task: TaskView | None = None

    def fingerprint(self) -> dict:
        return {"name": self.name, "version": 1, "fb_docs": self.fb_docs, "fb_terms": self.fb_terms,
                "first_stage": BM25Retriever().fingerprint()}

    def prepare(self, task: TaskView) -> None:
        """Keep the task; its BM25 index is built on the first augment (a fingerprint needs none)."""
        self._task, self._bm25 = task, None

    def expansion_terms(self, query: Query, scores: dict[str, float]) -> list[str]:
        total = sum(scores.values())
        if total <= 0:
            return []
        own = set(words(query.text))
        weights: dict[str, float] = defaultdict(float)
        for doc_id, score in scores.items():
            if score <= 0:  # an unmatched candidate (ranked, at 0) carries no feedback
                continue
            tokens = words(self._task.corpus[doc_id].full_text)
            if not tokens:
                continue
            for word, tf in Counter(tokens).items():
                if word not in own:
                    weights[word] += tf / len(tokens) * score / total
        return sorted(weights, key=lambda w: (-weights[w], w))[:self.fb_terms]

    def augment(self, queries: Sequence[Query]) -> list[Augmentation]:
        if self._task is None:
            raise RuntimeError("PRFAugmenter.augment called before prepare()")
        if self._bm25 is None:
            self._bm25 = BM25Retriever()
            self._bm25.index(self._task.corpus)
        run = search(self._bm25, {q.id: q.text for q in queries}, queries, self.fb_docs, len(self._task.corpus))
        out = []
        for q in queries:
            terms = self.expansion_terms(q, run.get(q.id, {}))
            out.append(Augmentation(f"{q.text} {' '.join(terms)}" if terms else q.text))
        return out
