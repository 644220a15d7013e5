"""The suite through ir_datasets: the same documents, queries and qrels as the task loader gives."""

from __future__ import annotations

import json

import pytest

import benchmark.irds  # noqa: F401  (registers the iqbench/ datasets)
import ir_datasets
from benchmark.task import load_suite


def test_every_task_and_split_is_registered():
    suite = load_suite()
    ids = benchmark.irds.dataset_ids()
    assert f"iqbench/{suite.task_ids[0]}" in ids
    assert {i.split("/")[1] for i in ids} == set(suite.task_ids)


def test_split_matches_the_task_loader():
    task = load_suite().load("ikat-passages")
    ds = ir_datasets.load("iqbench/ikat-passages/test")
    assert ds.docs_count() == len(task.corpus)
    queries = list(ds.queries_iter())
    assert [q.query_id for q in queries] == list(task.qrels["test"])
    first = task.queries[queries[0].query_id]
    assert queries[0].text == first.text and queries[0].explicit == first.explicit
    assert json.loads(queries[0].context) == dict(first.context)
    qrels = {(r.query_id, r.doc_id): r.relevance for r in ds.qrels_iter()}
    assert qrels == {(q, d): g for q, rel in task.qrels["test"].items() for d, g in rel.items()}
    doc_id = next(iter(task.corpus))
    assert ds.docs_store().get(doc_id).text == task.corpus[doc_id].text


def test_unknown_names_are_refused():
    with pytest.raises(KeyError, match="no task"):
        ir_datasets.load("iqbench/no-such-task/test")
    with pytest.raises(KeyError, match="no split"):
        ir_datasets.load("iqbench/metatool/no-such-split")
