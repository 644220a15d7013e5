"""No number is shown or counted as present unless the board can recompute it from its file:
tampered, truncated and stale results are refused with the file and the field, and recomputed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark.board import build_board
from benchmark.cli import main
from benchmark.integrity import check_record, content_hash, sealed
from benchmark.protocol import expand_all
from benchmark.results import read_result, result_path
from benchmark.runner import expectations, run_suite
from benchmark.submission import load_submissions
from benchmark.task import load_suite

from conftest import REPO


@pytest.fixture()
def bm25_run(tiny_root: Path, tmp_path: Path):
    """The real BM25 submission on the tiny task: one genuine result to tamper with."""
    subs_dir = tmp_path / "submissions"
    shutil.copytree(REPO / "submissions" / "bm25", subs_dir / "bm25")
    subs = load_submissions(subs_dir)
    systems = [s for s in expand_all(subs) if s.id == "none@bm25"]
    results = tmp_path / "results"
    summary = run_suite(load_suite(tiny_root), subs, systems, results, show_progress=False)
    assert [p.name for p in summary.written] == ["none@bm25.json"]
    return tiny_root, subs_dir, results, result_path(results, "tiny", "test", "none@bm25")


def _edit(path: Path, change, reseal: bool = False) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(sealed(record) if reseal else record, indent=1))


def _board(tiny_root, subs_dir, results):
    suite, subs = load_suite(tiny_root), load_submissions(subs_dir)
    return build_board(results, list(suite.task_ids), expectations(suite, expand_all(subs)))


def _set_ndcg(value):
    return lambda r: r["metrics"].__setitem__("ndcg_cut_10", value)


def test_a_genuine_result_passes_and_carries_its_hash(bm25_run):
    tiny_root, subs_dir, results, path = bm25_run
    record = read_result(path)
    assert record["content_sha256"] == content_hash(record)
    board = _board(tiny_root, subs_dir, results)
    assert not board.refused and [r.system_id for r in board.rows] == ["none@bm25"]


def test_a_hand_edited_aggregate_is_refused_and_named(bm25_run):
    tiny_root, subs_dir, results, path = bm25_run
    _edit(path, _set_ndcg(0.99))
    board = _board(tiny_root, subs_dir, results)
    assert not board.rows and len(board.refused) == 1
    assert str(board.refused[0]).startswith(str(path))
    assert "content_sha256: does not match the content: the file was edited after it was written" in str(board.refused[0])


def test_an_aggregate_that_is_not_the_mean_is_refused_even_when_resealed(bm25_run):
    tiny_root, subs_dir, results, path = bm25_run
    _edit(path, _set_ndcg(0.99), reseal=True)
    [refused] = _board(tiny_root, subs_dir, results).refused
    assert "metrics.ndcg_cut_10: 0.99 is not the mean of its per-query values" in str(refused)


def test_a_missing_judged_query_is_refused(bm25_run):
    tiny_root, subs_dir, results, path = bm25_run

    def drop(record):
        del record["per_query"]["te5"]
        record["task"]["queries"] = 5
        for m in record["metrics"]:
            record["metrics"][m] = sum(v[m] for v in record["per_query"].values()) / 5

    _edit(path, drop, reseal=True)
    [refused] = _board(tiny_root, subs_dir, results).refused
    assert "per_query: 1 judged queries missing (first: te5)" in str(refused)


def test_truncated_and_schema_invalid_files_are_refused(bm25_run):
    tiny_root, subs_dir, results, path = bm25_run
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    [refused] = _board(tiny_root, subs_dir, results).refused
    assert "(file): not valid JSON" in str(refused)
    path.write_text(text)
    _edit(path, lambda r: r.pop("cost"), reseal=True)
    [refused] = _board(tiny_root, subs_dir, results).refused
    assert "cost: Field required" in str(refused)
    _edit(path, lambda r: r["system"].__setitem__("role", "winner"), reseal=True)
    assert "system.role: Input should be 'baseline', 'reference', 'submission', 'oracle' or 'budget'" in str(
        _board(tiny_root, subs_dir, results).refused[0])


def test_stale_task_and_configuration_are_refused(bm25_run):
    tiny_root, subs_dir, results, path = bm25_run
    manifest = subs_dir / "bm25" / "submission.toml"
    manifest.write_text(manifest.read_text().replace('use = "bm25"\n', 'use = "bm25"\nargs = { k1 = 1.2 }\n'))
    [refused] = _board(tiny_root, subs_dir, results).refused
    assert "system.config_sha256: stale" in str(refused)
    manifest.write_text(manifest.read_text().replace("args = { k1 = 1.2 }\n", ""))
    assert not _board(tiny_root, subs_dir, results).refused
    _edit(path, lambda r: r["task"].__setitem__("sha256", "0" * 64), reseal=True)
    assert "task.sha256: 000000000000…, but the task is now" in str(_board(tiny_root, subs_dir, results).refused[0])


def test_the_runner_recomputes_a_tampered_result_instead_of_keeping_it(bm25_run):
    tiny_root, subs_dir, results, path = bm25_run
    genuine = read_result(path)
    _edit(path, _set_ndcg(0.99))
    subs = load_submissions(subs_dir)
    summary = run_suite(load_suite(tiny_root), subs, [s for s in expand_all(subs) if s.id == "none@bm25"], results,
                        show_progress=False)
    assert summary.present == [] and summary.written == [path]
    assert len(summary.replaced) == 1 and "content_sha256: does not match" in summary.replaced[0]
    assert read_result(path)["metrics"] == genuine["metrics"]


def test_render_and_show_name_the_refused_file_and_fail(bm25_run, tmp_path, capsys):
    tiny_root, subs_dir, results, path = bm25_run
    _edit(path, _set_ndcg(0.99))
    site = tmp_path / "site"
    common = ["--tasks", str(tiny_root)]
    assert main([*common, "render", "--results", str(results), "--submissions", str(subs_dir), "--out", str(site)]) == 1
    out = capsys.readouterr().out
    assert "REFUSED" in out and "none@bm25.json" in out and "1 result files refused" in out
    assert "0.9900" not in (site / "index.html").read_text()
    assert not (site / "downloads" / "results" / "tiny" / "test" / "none@bm25.json").exists()
    assert main([*common, "show", "--results", str(results), "--submissions", str(subs_dir)]) == 1
    assert "content_sha256" in capsys.readouterr().out


def test_committed_results_pass_every_check():
    """What the board would refuse in the committed results/ (the main command also recomputes these)."""
    suite, subs = load_suite(), load_submissions()
    expected = expectations(suite, expand_all(subs))
    problems = []
    for path in sorted((REPO / "results").glob("*/*/*.json")):
        record = json.loads(path.read_text())
        problems += [f"{path.relative_to(REPO)}: {p}" for p in expected.problems(record)]
    assert not problems, problems[:5]


def test_check_record_without_expectations_checks_the_file_alone(bm25_run):
    *_, path = bm25_run
    record = read_result(path)
    assert check_record(record) == []
    record["task"]["sha256"] = "f" * 64  # only a check against the task can see this
    assert check_record(sealed(record)) == []
