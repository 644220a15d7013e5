"""Ids that a whitespace-separated TREC file cannot hold are refused when a task loads and when a
run or qrels file is written; what is written reads back (pytrec_eval's own parser) to the same scores."""

from __future__ import annotations

import json
import shutil

import pytest
import pytrec_eval

from benchmark.metrics import evaluate
from benchmark.task import TaskError, load_task, write_checksums
from benchmark.trec import UnsafeId, qrels_lines, run_lines, write_qrels, write_run


def _rewrite(path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


@pytest.mark.parametrize("bad", ["First Aid", "tab\there", "line\u2028sep", "bell\x07"])
def test_a_document_id_with_whitespace_or_control_characters_is_refused(tiny_root, bad):
    task = tiny_root / "tiny"
    _rewrite(task / "corpus.jsonl", '"_id": "weather"', f'"_id": {json.dumps(bad)}')
    _rewrite(task / "qrels" / "train.tsv", "\tweather\t", f"\t{bad}\t")
    _rewrite(task / "qrels" / "test.tsv", "\tweather\t", f"\t{bad}\t")
    write_checksums(task)
    with pytest.raises(TaskError, match=r"corpus.jsonl:1: _id: .* holds whitespace or a control character"):
        load_task(task)


def test_a_query_id_with_a_space_is_refused(tiny_root):
    task = tiny_root / "tiny"
    _rewrite(task / "queries.jsonl", '"_id": "te0"', '"_id": "te 0"')
    write_checksums(task)
    with pytest.raises(TaskError, match=r"queries.jsonl:\d+: _id: 'te 0'"):
        load_task(task)


def test_a_duplicated_document_id_is_refused(tiny_root, tmp_path):
    copy = tmp_path / "dup"
    shutil.copytree(tiny_root / "tiny", copy)
    with (copy / "corpus.jsonl").open("a") as f:
        f.write('{"_id": "weather", "title": "", "text": "again"}\n')
    with pytest.raises(TaskError, match=r"corpus.jsonl:13: _id 'weather' already on line 1"):
        load_task(copy, allow_modified=True)


def test_writers_refuse_unsafe_ids():
    with pytest.raises(UnsafeId, match="document id 'requestFirst Aid Assistance'"):
        run_lines({"q1": {"requestFirst Aid Assistance": 1.0}}, "iqbench")
    with pytest.raises(UnsafeId, match="query id 'q 1'"):
        qrels_lines({"q 1": {"d": 1}})
    with pytest.raises(UnsafeId, match="run tag"):
        run_lines({"q1": {"d": 1.0}}, "two words")


def test_written_files_read_back_to_the_same_scores(tmp_path):
    """Ties and near-ties included: the file's ranks and scores give trec_eval the same ranking."""
    qrels = {"q1": {"d1": 1, "d3": 2}, "q2": {"d2": 1}}
    run = {"q1": {"d1": 0.5, "d2": 0.5, "d3": 0.1 + 0.2, "d4": 0.30000000000000004 - 1e-17},
           "q2": {"d1": 2.0, "d2": 2.0, "d3": -1.0}}
    write_run(tmp_path / "run.txt", run, "iqbench")
    write_qrels(tmp_path / "qrels.txt", qrels)
    assert (tmp_path / "run.txt").read_text().splitlines()[:2] == [
        "q1 Q0 d2 1 0.5 iqbench", "q1 Q0 d1 2 0.5 iqbench"]  # tie: document id descending, as trec_eval
    with (tmp_path / "run.txt").open() as f:
        parsed_run = pytrec_eval.parse_run(f)
    with (tmp_path / "qrels.txt").open() as f:
        parsed_qrels = pytrec_eval.parse_qrel(f)
    assert parsed_qrels == qrels
    assert evaluate(parsed_qrels, parsed_run) == evaluate(qrels, run)


@pytest.mark.slow
def test_seal_tools_scores_survive_trec_files(tmp_path):
    """The real task whose tool name held spaces: BM25's run and the qrels written as TREC files
    (through the command line for the qrels) score exactly as in memory."""
    from benchmark.cli import main
    from benchmark.retrievers.base import search
    from benchmark.retrievers.bm25 import BM25Retriever
    from benchmark.task import load_suite

    task = load_suite().load("seal-tools")
    assert "requestFirst_Aid_Assistance" in task.corpus  # renamed by the builder; the title keeps the name
    assert task.corpus["requestFirst_Aid_Assistance"].title == "requestFirst Aid Assistance"
    queries = task.split_queries("test")
    bm25 = BM25Retriever()
    bm25.index(task.corpus)
    run = search(bm25, {q.id: q.text for q in queries}, queries, 100, len(task.corpus))
    write_run(tmp_path / "run.txt", run, "bm25")
    assert main(["export-qrels", "seal-tools", "--split", "test", "--out", str(tmp_path / "qrels.txt")]) == 0
    with (tmp_path / "run.txt").open() as f:
        parsed_run = pytrec_eval.parse_run(f)
    with (tmp_path / "qrels.txt").open() as f:
        parsed_qrels = pytrec_eval.parse_qrel(f)
    assert parsed_qrels == {q: dict(d) for q, d in task.qrels["test"].items()}
    assert evaluate(parsed_qrels, parsed_run) == evaluate(task.qrels["test"], run)
