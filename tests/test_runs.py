"""Runs out: --save-runs writes each ranking as a TREC run file that, re-scored with pytrec_eval
directly, gives the result's per-query values; a current result whose run is missing is searched
again for it and left untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytrec_eval

from benchmark.protocol import expand_all
from benchmark.runner import run_path, run_suite
from benchmark.submission import load_submissions
from benchmark.task import load_suite

REPO = Path(__file__).resolve().parents[1]


def read_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    ranks: dict[str, list[int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        qid, q0, did, rank, score, tag = line.split()
        assert q0 == "Q0" and tag == path.stem
        run.setdefault(qid, {})[did] = float(score)
        ranks.setdefault(qid, []).append(int(rank))
    assert all(r == list(range(1, len(r) + 1)) and len(r) <= 100 for r in ranks.values())
    return run


def test_saved_runs_rescore_to_the_per_query_values(tiny_root, tmp_path):
    for name in ("bm25", "prf-bm25"):
        shutil.copytree(REPO / "submissions" / name, tmp_path / "submissions" / name)
    subs = load_submissions(tmp_path / "submissions")
    systems = expand_all(subs)
    suite, task = load_suite(tiny_root), load_suite(tiny_root).load("tiny")
    summary = run_suite(suite, subs, systems, tmp_path / "results", show_progress=False, runs=tmp_path / "runs")
    assert not summary.failed and len(summary.runs) == len(summary.written) == len(systems) >= 2
    for system in systems:
        path = run_path(tmp_path / "runs", "tiny", "test", system.id)
        result = json.loads((tmp_path / "results" / "tiny" / "test" / f"{system.id}.json").read_text())
        qrels = {q: dict(d) for q, d in task.qrels["test"].items()}
        scored = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10", "recall_100"}).evaluate(read_run(path))
        for qid, values in result["per_query"].items():
            assert scored[qid]["ndcg_cut_10"] == values["ndcg_cut_10"], (system.id, qid)
            assert scored[qid]["recall_100"] == values["recall_100"], (system.id, qid)

    # A run file deleted later is written again from a search; the current result is not rewritten.
    victim = run_path(tmp_path / "runs", "tiny", "test", systems[0].id)
    before = victim.read_bytes()
    result_file = tmp_path / "results" / "tiny" / "test" / f"{systems[0].id}.json"
    stamp = result_file.read_bytes()
    victim.unlink()
    again = run_suite(suite, subs, systems, tmp_path / "results", show_progress=False, runs=tmp_path / "runs")
    assert again.runs == [victim] and not again.written and len(again.present) == len(systems)
    assert victim.read_bytes() == before and result_file.read_bytes() == stamp
