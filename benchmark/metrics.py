"""Ranking metrics with trec_eval's definitions (through pytrec_eval), per query and aggregated.

Conventions, as trec_eval: documents are ranked by score, ties broken by document id in
reverse lexicographic order; a document is relevant when its grade is >= 1. Every query
in the qrels gets a value: a query missing from the run scores zero on every metric.
"""

from __future__ import annotations

from statistics import fmean
from typing import Mapping

import pytrec_eval

Run = dict[str, dict[str, float]]
PerQuery = dict[str, dict[str, float]]

CUTOFFS_NDCG = (3, 5, 10)
CUTOFFS_RECALL = (3, 5, 10, 100)
MAIN_METRIC = "ndcg_cut_10"
# Output keys in display order: pytrec_eval's names, plus MRR@10 and Complete@10.
METRICS = (
    *(f"ndcg_cut_{k}" for k in CUTOFFS_NDCG),
    *(f"recall_{k}" for k in CUTOFFS_RECALL),
    "recip_rank_10",
    "complete_10",
)
LABELS = {
    **{f"ndcg_cut_{k}": f"nDCG@{k}" for k in CUTOFFS_NDCG},
    **{f"recall_{k}": f"R@{k}" for k in CUTOFFS_RECALL},
    "recip_rank_10": "MRR@10",
    "complete_10": "Complete@10",
}
_TREC_MEASURES = {
    "ndcg_cut." + ",".join(map(str, CUTOFFS_NDCG)),
    "recall." + ",".join(map(str, CUTOFFS_RECALL)),
}


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Document ids in trec_eval order: score descending, then document id descending."""
    return [did for did, _ in sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def truncate(run: Mapping[str, Mapping[str, float]], depth: int) -> Run:
    return {qid: {did: float(scores[did]) for did in ranked(scores)[:depth]} for qid, scores in run.items()}


def _complete_at(qrels: Mapping[str, int], scores: Mapping[str, float], depth: int) -> float:
    relevant = {did for did, grade in qrels.items() if grade >= 1}
    return float(bool(relevant) and relevant <= set(ranked(scores)[:depth]))


def evaluate(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]) -> PerQuery:
    """Per-query values of every metric in METRICS, for every query in qrels."""
    plain_qrels = {qid: {did: int(g) for did, g in docs.items()} for qid, docs in qrels.items()}
    plain_run = {qid: {did: float(s) for did, s in scores.items()} for qid, scores in run.items() if qid in plain_qrels}
    trec = pytrec_eval.RelevanceEvaluator(plain_qrels, _TREC_MEASURES).evaluate(plain_run)
    rr = pytrec_eval.RelevanceEvaluator(plain_qrels, {"recip_rank"}).evaluate(truncate(plain_run, 10))
    per_query: PerQuery = {}
    for qid in plain_qrels:
        values = {m: 0.0 for m in METRICS}
        if qid in trec:
            values.update({m: float(trec[qid][m]) for m in METRICS if m in trec[qid]})
            values["recip_rank_10"] = float(rr[qid]["recip_rank"])
            values["complete_10"] = _complete_at(plain_qrels[qid], plain_run[qid], 10)
        per_query[qid] = values
    return per_query


def aggregate(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean over every query (the per-query table already holds zeros for missing ones)."""
    if not per_query:
        return {m: 0.0 for m in METRICS}
    return {m: fmean(values[m] for values in per_query.values()) for m in METRICS}
