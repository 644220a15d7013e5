"""Metric values against hand-computed trec_eval conventions: linear gains, ties by doc id descending,
missing queries as zeros, MRR@10 cut at rank 10."""

from math import isclose, log2

import pytest

from benchmark.metrics import METRICS, aggregate, evaluate, ranked, truncate

QRELS = {
    "q1": {"d1": 1, "d2": 1},
    "q2": {"d3": 2, "d4": 1},
    "q3": {"d5": 1},  # missing from the run
    "q4": {"x": 1},  # relevant document at rank 11
}
RUN = {
    "q1": {"d9": 0.9, "d1": 0.8, "d2": 0.5},
    "q2": {"d3": 1.0, "d4": 1.0, "d8": 1.0},  # a three-way tie: trec_eval ranks d8, d4, d3
    "q4": {**{f"a{i}": 1.0 - i / 20 for i in range(10)}, "x": 0.01},
    "q_unjudged": {"d1": 1.0},  # not in qrels: ignored
}


@pytest.fixture(scope="module")
def per_query():
    return evaluate(QRELS, RUN)


def test_ties_follow_trec_eval_order():
    assert ranked({"d3": 1.0, "d4": 1.0, "d8": 1.0, "d1": 2.0}) == ["d1", "d8", "d4", "d3"]
    assert list(truncate({"q": {"b": 1.0, "a": 1.0, "c": 0.5}}, 1)["q"]) == ["b"]


def test_graded_ndcg_with_ties(per_query):
    q1 = per_query["q1"]
    assert isclose(q1["ndcg_cut_3"], (1 / log2(3) + 1 / log2(4)) / (1 + 1 / log2(3)), rel_tol=1e-9)
    assert q1["recall_3"] == 1.0 and q1["recip_rank_10"] == 0.5 and q1["complete_10"] == 1.0
    q2 = per_query["q2"]  # ranks: d8 (0), d4 (1), d3 (2); linear gains as trec_eval
    expected = (1 / log2(3) + 2 / log2(4)) / (2 + 1 / log2(3))
    assert isclose(q2["ndcg_cut_3"], expected, rel_tol=1e-9)
    assert isclose(q2["ndcg_cut_10"], expected, rel_tol=1e-9)
    assert q2["recip_rank_10"] == 0.5


def test_missing_query_scores_zero_and_counts(per_query):
    assert set(per_query) == set(QRELS)
    assert all(v == 0.0 for v in per_query["q3"].values())
    agg = aggregate(per_query)
    assert isclose(agg["recip_rank_10"], (0.5 + 0.5 + 0 + 0) / 4)
    assert isclose(agg["recall_100"], (1 + 1 + 0 + 1) / 4)


def test_cutoffs_below_rank_eleven(per_query):
    q4 = per_query["q4"]
    assert q4["recall_10"] == 0.0 and q4["complete_10"] == 0.0 and q4["recip_rank_10"] == 0.0
    assert q4["recall_100"] == 1.0
    assert isclose(q4["ndcg_cut_10"], 0.0)


def test_complete_needs_every_relevant_doc():
    pq = evaluate({"q": {"a": 1, "b": 1, "c": 0}}, {"q": {"a": 2.0, **{f"z{i}": 1.0 for i in range(9)}, "b": 0.5}})
    assert pq["q"]["complete_10"] == 0.0 and pq["q"]["recall_10"] == 0.5
    pq = evaluate({"q": {"a": 1, "b": 1}}, {"q": {"a": 2.0, "b": 1.5}})
    assert pq["q"]["complete_10"] == 1.0


def test_every_metric_is_reported(per_query):
    assert all(set(v) == set(METRICS) for v in per_query.values())
