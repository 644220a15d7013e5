"""TREC run and qrels files, written so that trec_eval reads back exactly what was scored.

Both formats split lines on whitespace: an id holding a space, tab or line break would shift
the columns and silently change the scores, so such ids are refused, here and when a task is
loaded (benchmark.task). Runs are written in trec_eval's own order (score descending, then
document id descending), ranks from 1, scores with full float precision.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping

from benchmark.metrics import ranked
from benchmark.storage import atomic_write_bytes

UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
"""Whitespace (Unicode's too) and control characters: what a TREC file cannot hold in an id."""
RUN_TAG = re.compile(r"^\S+$")


class UnsafeId(ValueError):
    """An id that a whitespace-separated TREC file cannot hold."""


def is_unsafe(value: str) -> bool:
    return not value or UNSAFE.search(value) is not None


def unsafe_ids(ids: Iterable[str]) -> list[str]:
    return [i for i in ids if is_unsafe(i)]


def check_ids(ids: Iterable[str], what: str) -> None:
    if bad := unsafe_ids(ids):
        raise UnsafeId(f"{what} {bad[0]!r}: empty, or holds whitespace or a control character "
                       f"({len(bad)} such ids); TREC files split on whitespace")


def run_lines(run: Mapping[str, Mapping[str, float]], tag: str, depth: int | None = None) -> list[str]:
    """`qid Q0 docid rank score tag` lines, queries sorted, each ranking in trec_eval order."""
    if not RUN_TAG.match(tag):
        raise UnsafeId(f"run tag {tag!r}: empty or holds whitespace")
    check_ids(run, "query id")
    lines = []
    for qid in sorted(run):
        check_ids(run[qid], f"query {qid!r}: document id")
        for rank, did in enumerate(ranked(run[qid])[:depth], 1):
            lines.append(f"{qid} Q0 {did} {rank} {float(run[qid][did])!r} {tag}")
    return lines


def qrels_lines(qrels: Mapping[str, Mapping[str, int]]) -> list[str]:
    """`qid 0 docid grade` lines, sorted."""
    check_ids(qrels, "query id")
    lines = []
    for qid in sorted(qrels):
        check_ids(qrels[qid], f"query {qid!r}: document id")
        lines += [f"{qid} 0 {did} {int(qrels[qid][did])}" for did in sorted(qrels[qid])]
    return lines


def write_run(path: Path, run: Mapping[str, Mapping[str, float]], tag: str, depth: int | None = None) -> None:
    atomic_write_bytes(Path(path), "".join(f"{line}\n" for line in run_lines(run, tag, depth)).encode())


def write_qrels(path: Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    atomic_write_bytes(Path(path), "".join(f"{line}\n" for line in qrels_lines(qrels)).encode())
