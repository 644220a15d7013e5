"""The suite as ir_datasets datasets: `ir_datasets.load("iqbench/<task>/<split>")`, offline.

Importing this module registers every task of the repository's suite (set IQBENCH_TASKS
for another folder). `iqbench/<task>` has the documents; `iqbench/<task>/<split>` adds
that split's judged queries and qrels. Files are read through the task loader, so a
modified task is refused here as everywhere else.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Iterator, NamedTuple

from benchmark.storage import cache_dir

os.environ.setdefault("IR_DATASETS_HOME", str(cache_dir() / "ir_datasets"))  # nothing written outside our cache

import ir_datasets  # noqa: E402
from ir_datasets.datasets.base import Dataset  # noqa: E402
from ir_datasets.formats import BaseDocs, BaseQrels, BaseQueries, TrecQrel  # noqa: E402

from benchmark.task import Task, load_suite  # noqa: E402

PREFIX = "iqbench"


class IqbenchDoc(NamedTuple):
    doc_id: str
    title: str
    text: str

    def default_text(self) -> str:
        """What the suite's retrievers index: title and text."""
        return f"{self.title}: {self.text}" if self.title else self.text


class IqbenchQuery(NamedTuple):
    query_id: str
    text: str
    context: str
    """The structured context as JSON ("{}" when there is none)."""
    explicit: str | None
    candidates: tuple[str, ...] | None

    def default_text(self) -> str:
        return self.text


@cache
def _task(task_id: str) -> Task:
    return load_suite().load(task_id)


class _Docs(BaseDocs):
    def __init__(self, task_id: str) -> None:
        self._task_id = task_id

    def docs_iter(self) -> Iterator[IqbenchDoc]:
        return (IqbenchDoc(did, d.title, d.text) for did, d in _task(self._task_id).corpus.items())

    def docs_count(self) -> int:
        return len(_task(self._task_id).corpus)

    def docs_cls(self) -> type:
        return IqbenchDoc

    def docs_store(self, field: str = "doc_id") -> "_DocStore":
        return _DocStore(self)

    def docs_namespace(self) -> str:
        return f"{PREFIX}/{self._task_id}"

    def docs_lang(self) -> str:
        return "en"


class _DocStore:
    """ir_datasets' docstore interface over the loaded corpus (no index files are written)."""

    def __init__(self, docs: _Docs) -> None:
        self._docs = {d.doc_id: d for d in docs.docs_iter()}

    def get(self, doc_id: str) -> IqbenchDoc:
        return self._docs[doc_id]

    def get_many(self, doc_ids) -> dict[str, IqbenchDoc]:
        return {d: self._docs[d] for d in doc_ids if d in self._docs}

    def count(self) -> int:
        return len(self._docs)


class _Queries(BaseQueries):
    def __init__(self, task_id: str, split: str) -> None:
        self._task_id, self._split = task_id, split

    def queries_iter(self) -> Iterator[IqbenchQuery]:
        for q in _task(self._task_id).split_queries(self._split):
            yield IqbenchQuery(q.id, q.text, json.dumps(dict(q.context), ensure_ascii=False, sort_keys=True),
                               q.explicit, q.candidates)

    def queries_cls(self) -> type:
        return IqbenchQuery

    def queries_namespace(self) -> str:
        return f"{PREFIX}/{self._task_id}"

    def queries_lang(self) -> str:
        return "en"


class _Qrels(BaseQrels):
    def __init__(self, task_id: str, split: str) -> None:
        self._task_id, self._split = task_id, split

    def qrels_iter(self) -> Iterator[TrecQrel]:
        for qid, docs in _task(self._task_id).qrels[self._split].items():
            for did, grade in docs.items():
                yield TrecQrel(qid, did, grade, "0")

    def qrels_cls(self) -> type:
        return TrecQrel

    def qrels_defs(self) -> dict[int, str]:
        return {1: "relevant (graded tasks use higher grades too; see the task card)"}


def _dataset(name: str, groups: tuple[str | None, ...]) -> Dataset:
    task_id, split = groups
    if task_id not in load_suite().task_ids:
        raise KeyError(f"{name}: the suite has no task {task_id!r}")
    if split is None:
        return Dataset(_Docs(task_id))
    if split not in _task(task_id).qrels:
        raise KeyError(f"{name}: task {task_id!r} has no split {split!r}")
    return Dataset(_Docs(task_id), _Queries(task_id, split), _Qrels(task_id, split))


def dataset_ids() -> list[str]:
    """Every id this module makes loadable, in suite order."""
    suite = load_suite()
    ids = []
    for task_id in suite.task_ids:
        ids += [f"{PREFIX}/{task_id}"] + [f"{PREFIX}/{task_id}/{s}" for s in suite.card(task_id)["splits"]]
    return ids


ir_datasets.registry.register_pattern(rf"^{PREFIX}/([^/]+)(?:/([^/]+))?$", _dataset)
