"""Context tuning (Anantha et al. 2023, "Context Tuning for Retrieval Augmented Generation"):
a LambdaMART ranker over text, context and usage features, fused with fine-tuned semantic
search by reciprocal rank fusion.

Candidates: the union of the dense model's and BM25's top CANDIDATES documents (every
document when a full ranking is asked for). Features: benchmark.retrievers.context_features.
Ranker: LightGBM, objective `lambdarank`, seeded, deterministic and single-threaded so that
reruns are bit-identical, trained on at most MAX_TRAIN_QUERIES train queries (seeded sample)
over the documents judged in train, early-stopped on nDCG@10 of the dev split (or, without
one, of a seeded HOLDOUT share of the train queries held out from the ranker). The final
ranking fuses the ranker's list with the fine-tuned dense ranking: RRF with k = 60 (Cormack
et al. 2009), score = sum over lists of 1 / (60 + rank), rank from 1 (`context-tuning-ranker`:
the ranker's list alone, an ablation of that fusion).

Untrained (the protocol's pretrained cell), the pipeline is the fusion of its base rankings:
RRF of the pretrained dense model's and BM25's lists. Fine-tuned, the dense model is the
suite's reference recipe on the same train queries (the reference's own model), and the
ranker reads its scores. Ranker files are LightGBM's text format, cached by content hash of
their inputs, and checked against the hash recorded beside them before use (a truncated or
edited file is retrained, never used).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

from benchmark.retrievers.base import RetrieverInput, Run, TrainingData
from benchmark.retrievers.bm25 import BM25Retriever
from benchmark.retrievers.context_features import FEATURES, FEATURES_VERSION, QueryChannels, feature_rows
from benchmark.retrievers.dense import DenseRetriever, model_sha256
from benchmark.storage import cache_dir, publish_dir, sha256_file, sha256_json
from benchmark.task import Doc

RRF_K = 60
CANDIDATES = 100
MAX_TRAIN_QUERIES = 2000
MAX_DEV_QUERIES = 1000
HOLDOUT = 0.2
ROUNDS, EARLY_STOPPING = 300, 30
SEED = 0
PARAMS = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "learning_rate": 0.05, "num_leaves": 15,
          "min_data_in_leaf": 20, "lambdarank_truncation_level": 20, "deterministic": True,
          "force_row_wise": True, "num_threads": 1, "seed": SEED, "verbosity": -1}


class Ranker:
    """A trained LightGBM LambdaMART model and the hash of its text file."""

    def __init__(self, folder: Path) -> None:
        import lightgbm

        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.sha256 = self.meta["sha256"]
        self.booster = lightgbm.Booster(model_file=str(folder / "model.txt"))

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.booster.predict(features, num_threads=1)

    def importances(self) -> dict[str, float]:
        """Total gain of the splits on each feature."""
        gains = self.booster.feature_importance(importance_type="gain")
        return {name: float(g) for name, g in zip(FEATURES, gains)}


def intact(folder: Path) -> bool:
    """The ranker file is there and matches the hash recorded when it was written."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        return sha256_file(folder / "model.txt") == meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def rrf(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion of ranked lists of doc ids."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, 1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
    return fused


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n best scores, best first (ties in corpus order)."""
    return np.argsort(-scores, kind="stable")[:n]


class _Index:
    """One corpus as the pipeline sees it: dense embeddings and a BM25 index, in corpus order."""

    def __init__(self, dense: DenseRetriever, corpus: Mapping[str, Doc]) -> None:
        self.dense = dense
        self.ids = list(corpus)
        self.position = {d: i for i, d in enumerate(self.ids)}
        self.doc_emb = dense.encode_corpus(corpus)
        self.bm25 = BM25Retriever()
        self.bm25.index(corpus)

    def score(self, inputs: list[RetrieverInput]) -> tuple[list[QueryChannels], dict[str, np.ndarray], np.ndarray,
                                                            np.ndarray, np.ndarray]:
        """Channels, an embedding per distinct channel text, and dense / BM25 / history-BM25
        scores of every document for each input."""
        channels = [QueryChannels.of(inp.text, inp.query.context) for inp in inputs]
        texts = sorted({t for c in channels for t in c.texts()})
        embedded = dict(zip(texts, self.dense.encode(texts))) if texts else {}
        dense = np.stack([self.doc_emb @ embedded[c.text] if c.text else np.zeros(len(self.ids), np.float32)
                          for c in channels]) if channels else np.zeros((0, len(self.ids)), np.float32)
        return (channels, embedded, dense, self.bm25.scores([c.text for c in channels]),
                self.bm25.scores([" ".join(c.turns) for c in channels]))

    def candidates(self, query, dense: np.ndarray, bm25: np.ndarray, full: bool) -> np.ndarray:
        """A query's candidate documents (indices): its own `candidates` where it has them, every
        document for a full ranking, else the dense and BM25 top CANDIDATES."""
        if query.candidates is not None:
            return np.array([self.position[d] for d in dict.fromkeys(query.candidates) if d in self.position], dtype=int)
        if full:
            return np.arange(len(self.ids))
        return np.array(sorted(set(_top(dense, CANDIDATES)) | set(_top(bm25, CANDIDATES))), dtype=int)

    def features(self, inputs: list[RetrieverInput], full: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(candidate indices, their feature rows, their dense ranking) per input."""
        channels, embedded, dense, bm25, history = self.score(inputs)
        out = []
        for i, inp in enumerate(inputs):
            cand = self.candidates(inp.query, dense[i], bm25[i], full)
            semantic = cand[np.argsort(-dense[i][cand], kind="stable")]
            out.append((cand, feature_rows(channels[i], inp.query.context, cand, self.ids, self.doc_emb,
                                           embedded.__getitem__, dense[i], bm25[i], history[i]), semantic))
        return out


def _sample(rows: list, limit: int, seed: int) -> list:
    return rows if len(rows) <= limit else random.Random(seed).sample(rows, limit)


def _grouped(index: _Index, examples: list[tuple[RetrieverInput, frozenset[str]]]):
    """LightGBM's (features, labels, group sizes) for `examples` ranked over `index`'s corpus;
    a query none of whose relevant documents is a candidate teaches nothing and is left out."""
    X, y, groups = [], [], []
    for (cand, rows, _), (_, relevant) in zip(index.features([e for e, _ in examples], full=False), examples):
        labels = np.array([1 if index.ids[i] in relevant else 0 for i in cand])
        if labels.any():
            X.append(rows)
            y.append(labels)
            groups.append(len(cand))
    if not X:
        raise ValueError("context tuning: no train query has a relevant document among its candidates")
    return np.vstack(X), np.concatenate(y), groups


def train_ranker(dense: DenseRetriever, training: TrainingData) -> Ranker:
    """The cached ranker for these inputs, trained only if missing or not intact."""
    import lightgbm

    examples = list(training.examples)
    if training.dev:
        dev, dev_corpus = list(training.dev), training.dev_corpus or training.corpus
    else:  # no dev split: hold out a seeded share of the train queries from the ranker
        held = set(random.Random(SEED).sample(range(len(examples)), max(1, int(HOLDOUT * len(examples)))))
        dev, dev_corpus = [e for i, e in enumerate(examples) if i in held], training.corpus
        examples = [e for i, e in enumerate(examples) if i not in held]
    examples, dev = _sample(examples, MAX_TRAIN_QUERIES, SEED), _sample(dev, MAX_DEV_QUERIES, SEED)

    def described(rows):
        return [[e.text, dict(e.query.context), sorted(rel)] for e, rel in rows]

    key = sha256_json({"features": FEATURES_VERSION, "params": PARAMS, "rounds": ROUNDS, "stop": EARLY_STOPPING,
                       "lightgbm": lightgbm.__version__, "dense": model_sha256(dense.folder),
                       "train": described(examples), "dev": described(dev), "candidates": CANDIDATES,
                       "corpus": sha256_json([[d, c.full_text] for d, c in training.corpus.items()]),
                       "dev_corpus": sha256_json([[d, c.full_text] for d, c in dev_corpus.items()])})
    final = cache_dir() / "rankers" / key
    if intact(final):
        return Ranker(final)
    index = _Index(dense, training.corpus)
    X, y, groups = _grouped(index, examples)
    Xd, yd, gd = _grouped(index if dev_corpus is training.corpus else _Index(dense, dev_corpus), dev)
    train_set = lightgbm.Dataset(X, y, group=groups, feature_name=list(FEATURES), free_raw_data=False)
    dev_set = lightgbm.Dataset(Xd, yd, group=gd, reference=train_set)
    booster = lightgbm.train(PARAMS, train_set, num_boost_round=ROUNDS, valid_sets=[dev_set],
                             callbacks=[lightgbm.early_stopping(EARLY_STOPPING, verbose=False)])
    (cache_dir() / "rankers").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir() / "rankers", prefix=f".{key[:12]}."))
    try:
        booster.save_model(str(tmp / "model.txt"), num_iteration=booster.best_iteration)
        meta = {"sha256": sha256_file(tmp / "model.txt"), "best_iteration": booster.best_iteration,
                "train_queries": len(groups), "dev_queries": len(gd), "features": list(FEATURES)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        if final.exists():  # present but not intact: replaced
            shutil.rmtree(final)
        publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Ranker(final)


class ContextTuningRetriever:
    """Reads the query's context; fine-tuned, a LambdaMART ranker fused with fine-tuned dense search."""

    name = "context-tuning"
    FUSED = True
    """Trained, fuse the ranker's list with the fine-tuned dense ranking (RRF), as the paper does."""
    reads_context = True
    version = 1
    """Feature, candidate and fusion rules: part of every result's configuration."""

    def __init__(self, model: str = "minilm-l6", dense: DenseRetriever | None = None,
                 ranker: Ranker | None = None) -> None:
        self.model = model
        self.dense = dense or DenseRetriever(model)
        self.ranker = ranker
        self._index: _Index | None = None

    def fingerprint(self) -> dict:
        import bm25s

        info = {"name": f"{self.name}{'-ft' if self.ranker else ''}", "dense": self.dense.fingerprint(),
                "bm25": BM25Retriever().fingerprint(), "bm25s": bm25s.__version__, "rrf_k": RRF_K,
                "candidates": CANDIDATES, "features": FEATURES_VERSION}
        if self.ranker:
            import lightgbm

            info.update(ranker_sha256=self.ranker.sha256, lightgbm=lightgbm.__version__, params=PARAMS,
                        best_iteration=self.ranker.meta["best_iteration"],
                        models={"context-tuning-ranker": self.ranker.sha256})
        return info

    def index(self, corpus: Mapping[str, Doc]) -> None:
        self._index = _Index(self.dense, corpus)

    def search_inputs(self, inputs: Mapping[str, RetrieverInput], k: int) -> Run:
        if self._index is None:
            raise RuntimeError("ContextTuningRetriever.search_inputs called before index()")
        ids, qids = self._index.ids, list(inputs)
        full = k >= len(ids)
        depth = len(ids) if full else CANDIDATES
        rows = [inputs[q] for q in qids]
        if self.ranker is None:  # untrained: the fusion of the base rankings
            _, _, dense, bm25, _ = self._index.score(rows)
            lists = []
            for r, inp in enumerate(rows):
                cand = self._index.candidates(inp.query, dense[r], bm25[r], full)
                matched = cand if full or inp.query.candidates is not None else cand[bm25[r][cand] > 0]
                lists.append([[ids[i] for i in cand[np.argsort(-dense[r][cand], kind="stable")][:depth]],
                              [ids[i] for i in matched[np.argsort(-bm25[r][matched], kind="stable")][:depth]]])
        else:  # the ranker's list of the candidates, fused with the fine-tuned dense ranking (if FUSED)
            lists = [[[ids[i] for i in cand[np.argsort(-self.ranker.predict(features), kind="stable")]],
                      *([[ids[i] for i in semantic[:depth]]] if self.FUSED else [])]
                     for cand, features, semantic in self._index.features(rows, full)]
        run: Run = {}
        for qid, ranking in zip(qids, lists):
            fused = rrf(ranking)
            run[qid] = dict(sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:min(k, len(ids))])
        return run

    def finetune(self, training: TrainingData) -> "ContextTuningRetriever":
        dense = self.dense.finetune(training.pairs, training.corpus)
        return type(self)(self.model, dense, train_ranker(dense, training))


class ContextTuningRankerRetriever(ContextTuningRetriever):
    """Context tuning without its last step: trained, the ranking is the LambdaMART ranker's own
    (same features, candidates, ranker and cache), not fused with the text-only dense ranking.
    An ablation: RRF gives the text-only list an equal vote, which costs where the answer lives in
    the signals rather than the text (the usage task). Untrained it is context tuning's pipeline."""

    name = "context-tuning-ranker"
    FUSED = False
