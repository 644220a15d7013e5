"""Lexical baseline: BM25 (bm25s, Lucene scoring) with English stopwords and Snowball stemming."""

from __future__ import annotations

import logging
from typing import Mapping

import bm25s
import numpy as np
import Stemmer

from benchmark.retrievers.base import Run
from benchmark.task import Doc

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG to stderr


class BM25Retriever:
    name = "bm25"

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._stemmer = Stemmer.Stemmer("english")
        self._ids: list[str] = []
        self._model: bm25s.BM25 | None = None

    def fingerprint(self) -> dict:
        return {"name": self.name, "bm25s": bm25s.__version__, "k1": self.k1, "b": self.b,
                "method": "lucene", "stopwords": "en", "stemmer": "snowball-english"}

    def _tokenize(self, texts: list[str]):
        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)

    def index(self, corpus: Mapping[str, Doc]) -> None:
        self._ids = list(corpus)
        self._model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self._model.index(self._tokenize([d.full_text for d in corpus.values()]), show_progress=False)

    def scores(self, texts: list[str]) -> np.ndarray:
        """BM25 score of every indexed document (columns, in corpus order) for each text (rows)."""
        if self._model is None:
            raise RuntimeError("BM25Retriever.scores called before index()")
        out = np.zeros((len(texts), len(self._ids)), dtype=np.float32)
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False)
        for row, toks in enumerate(tokens):
            known = self._model.get_tokens_ids(toks)
            if known:
                out[row] = self._model.get_scores(known)
        return out

    def search(self, texts: Mapping[str, str], k: int) -> Run:
        if self._model is None:
            raise RuntimeError("BM25Retriever.search called before index()")
        qids = list(texts)
        if not qids:
            return {}
        full = k >= len(self._ids)
        k = min(k, len(self._ids))
        tokens = self._tokenize([texts[q] for q in qids])
        docs, scores = self._model.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        run: Run = {}
        for row, qid in enumerate(qids):
            # A top-k list holds matched documents only (a query with no indexable term retrieves
            # nothing); a full ranking (k >= corpus size) holds every document, unmatched ones at 0.
            run[qid] = {self._ids[int(d)]: float(s) for d, s in zip(docs[row], scores[row])
                        if np.isfinite(s) and (s > 0 or full)}
        return run
