"""Runs out: --save-runs writes each ranking as a TREC run file that, re-scored with pytrec_eval
directly, gives the result's per-query values; a current result whose run is missing is searched
again for it and left untouched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
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


def test_cli_save_runs_export_run_and_show_formats(tiny_root, tmp_path, capsys):
    import csv
    import io

    from benchmark.cli import main

    for name in ("bm25", "prf-bm25"):
        shutil.copytree(REPO / "submissions" / name, tmp_path / "submissions" / name)
    common = ["--results", str(tmp_path / "results"), "--submissions", str(tmp_path / "submissions")]
    assert main(["--tasks", str(tiny_root), "run", *common, "--quiet", "--no-table",
                 "--save-runs", str(tmp_path / "runs")]) == 0
    saved = tmp_path / "runs" / "tiny" / "test" / "prf-bm25@bm25.run"
    assert saved.is_file()
    # export-run searches again (the result is current and left alone) and writes the same bytes.
    result = tmp_path / "results" / "tiny" / "test" / "prf-bm25@bm25.json"
    stamp = result.read_bytes()
    assert main(["--tasks", str(tiny_root), "export-run", "prf-bm25@bm25", "--task", "tiny", "--out",
                 str(tmp_path / "out.run"), *common]) == 0
    assert (tmp_path / "out.run").read_bytes() == saved.read_bytes() and result.read_bytes() == stamp
    assert main(["--tasks", str(tiny_root), "export-run", "nope@bm25", "--task", "tiny", "--out",
                 str(tmp_path / "x.run"), *common]) == 2
    assert "no submission defines the system 'nope@bm25'" in capsys.readouterr().out

    values = {p.stem: json.loads(p.read_text())["metrics"]["ndcg_cut_10"]
              for p in (tmp_path / "results" / "tiny" / "test").glob("*.json")}
    assert main(["--tasks", str(tiny_root), "show", "--format", "csv", *common]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["system"]: float(r["tiny/test"]) for r in rows} == pytest.approx(values, abs=5e-7)
    assert main(["--tasks", str(tiny_root), "show", "--format", "json", *common]) == 0
    assert {s: v["tiny/test"] for s, v in json.loads(capsys.readouterr().out).items()} == values
    assert main(["--tasks", str(tiny_root), "show", "--format", "markdown", *common]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| system | tiny/test |" and f"| `none@bm25` | {values['none@bm25']:.4f} |" in table


def test_a_task_without_a_train_split_has_no_fine_tuned_rows(tiny_root, tmp_path):
    """An imported task may lack a train split: its fine-tuned rows are not applicable (said so),
    never a bare KeyError, and the other rows are computed."""
    from benchmark.task import write_checksums, write_suite

    (tiny_root / "tiny" / "qrels" / "train.tsv").unlink()
    write_checksums(tiny_root / "tiny")
    write_suite(tiny_root, "tiny-suite", "0.0", ["tiny"])
    shutil.copytree(REPO / "submissions" / "bm25", tmp_path / "submissions" / "bm25")
    subs = load_submissions(tmp_path / "submissions")
    summary = run_suite(load_suite(tiny_root), subs, expand_all(subs), tmp_path / "results", show_progress=False)
    assert not summary.failed
    assert [p.stem for p in summary.written] == ["none@bm25"]
    assert summary.skipped == ["tiny/test/none@minilm-l6-ft: task 'tiny' has no train split to fine-tune on "
                               "(qrels/train.tsv)"]
