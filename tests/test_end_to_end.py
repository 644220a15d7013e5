"""The tiny task through every retriever and augmenter, with the real MiniLM model, BM25 and pytrec_eval."""

import json

import pytest

from benchmark.cli import main
from benchmark.protocol import expand_all
from benchmark.results import SCHEMA, read_result
from benchmark.runner import run_suite
from benchmark.submission import load_submissions
from benchmark.task import load_suite

EXPECTED = {
    "none@bm25": "baseline",
    "none@minilm-l6": "baseline",
    "none@minilm-l6-ft": "reference",
    "context-minilm@minilm-l6": "submission",
    "context-minilm@minilm-l6-ft": "submission",
    "context-minilm@minilm-l6-ftA": "submission",
    "none@context-tuning": "submission",
    "none@context-tuning-ft": "submission",
    "none@context-tuning-ranker": "submission",
    "none@context-tuning-ranker-ft": "submission",
    "oracle-minilm@minilm-l6": "oracle",
    "oracle-minilm@minilm-l6-ft": "oracle",
    "prf-bm25@bm25": "submission",
    "prf-bm25@minilm-l6-ft": "submission",
}
LLM_SUBMISSIONS = ("cot-gemma3", "cot-prf-gemma3", "cot-prf-smollm2", "cot-smollm2", "hyde-passage-smollm2",
                   "hyde-smollm2", "query2doc-gemma3", "query2doc-smollm2", "rewrite-smollm2")


def run(tiny_root, submissions_dir, results):
    suite = load_suite(tiny_root)
    subs = load_submissions(submissions_dir)
    return run_suite(suite, subs, expand_all(subs), results, show_progress=False)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    from conftest import REPO, build_tiny_task

    base = tmp_path_factory.mktemp("e2e")
    tiny_root = build_tiny_task(base / "tasks")
    summary = run(tiny_root, REPO / "submissions", base / "results")
    return tiny_root, base / "results", summary


def test_every_system_writes_a_result(first_run):
    _, results, summary = first_run
    assert not summary.failed, summary.failed
    written = {p.stem: read_result(p) for p in (results / "tiny" / "test").glob("*.json")}
    assert {k: r["system"]["role"] for k, r in written.items()} == EXPECTED
    # The official LLM submissions ship no completions for this fixture task: reported, not generated.
    assert sorted(line.split(":")[0] for line in summary.skipped) == sorted(
        f"tiny/test/{sub}@{r}" for sub in LLM_SUBMISSIONS for r in ("minilm-l6", "minilm-l6-ft", "minilm-l6-ftA"))
    assert all("has no completion for 6 of 6 queries: run `iqbench augment`" in line for line in summary.skipped)
    for rec in written.values():
        assert rec["schema"] == SCHEMA
        assert rec["system"]["reference"] == "none@minilm-l6-ft"
        assert set(rec["per_query"]) == {f"te{i}" for i in range(6)}
        assert all(0.0 <= v <= 1.0 for v in rec["metrics"].values())
        assert rec["task"]["sha256"] and rec["provenance"]["libraries"]["pytrec-eval-terrier"]


def test_costs_and_augmentations(first_run):
    _, results, _ = first_run
    get = lambda sid: read_result(results / "tiny" / "test" / f"{sid}.json")  # noqa: E731
    assert get("none@minilm-l6")["cost"]["added_tokens_mean"] == 0
    assert get("none@bm25")["cost"]["added_tokens_mean"] == 0
    assert get("context-minilm@minilm-l6")["cost"]["added_tokens_mean"] > 5
    assert get("oracle-minilm@minilm-l6")["cost"]["added_tokens_mean"] > 0
    assert get("none@minilm-l6-ft")["system"]["retriever"]["fingerprint"]["finetune"]["seed"] == 0
    pre, ft = (get(s)["system"]["retriever"]["fingerprint"]["weights_sha256"] for s in ("none@minilm-l6", "none@minilm-l6-ft"))
    assert pre != ft
    # MiniLM understands the explicit rewrites: the oracle ranks perfectly on this fixture's easy queries.
    assert get("oracle-minilm@minilm-l6")["metrics"]["recall_10"] == 1.0


def test_only_missing_results_are_computed(first_run, tmp_path):
    from conftest import REPO

    tiny_root, results, _ = first_run
    victim = results / "tiny" / "test" / "none@bm25.json"
    victim.unlink()
    summary = run(tiny_root, REPO / "submissions", results)
    assert [p.name for p in summary.written] == ["none@bm25.json"]
    assert len(summary.present) == len(EXPECTED) - 1


def test_same_run_twice_gives_identical_metrics(first_run, tmp_path, monkeypatch):
    from conftest import REPO

    tiny_root, results, _ = first_run
    monkeypatch.setenv("IQBENCH_CACHE", str(tmp_path / "fresh-cache"))  # recompute everything, fine-tuning included
    run(tiny_root, REPO / "submissions", tmp_path / "again")
    for path in (results / "tiny" / "test").glob("*.json"):
        a, b = read_result(path), read_result(tmp_path / "again" / "tiny" / "test" / path.name)
        assert a["metrics"] == b["metrics"] and a["per_query"] == b["per_query"], path.name


def test_cli_run_and_show(first_run, capsys):
    from conftest import REPO

    tiny_root, results, _ = first_run
    code = main(["--tasks", str(tiny_root), "run", "--results", str(results), "--submissions", str(REPO / "submissions"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    skipped = 3 * len(LLM_SUBMISSIONS)  # each LLM submission's three cells: no completions for the fixture
    assert f"0 results written, {len(EXPECTED)} already present, {skipped} not applicable" in out
    assert f"n/a … and {skipped - 8} more (-v lists them all)" in out and out.count(" n/a ") == 8 + 1
    assert "oracle-minilm@minilm-l6-ft" in out and "tiny / test" in out
    main(["--tasks", str(tiny_root), "run", "context-minilm", "--task", "tiny", "--results", str(results),
          "--submissions", str(REPO / "submissions"), "--quiet"])
    out = capsys.readouterr().out  # the table shows what the run was about: that submission's systems
    assert "context-minilm@minilm-l6-ft" in out and "none@minilm-l6-ft" in out and "none@bm25" not in out
    assert main(["--tasks", str(tiny_root), "tasks"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "tiny" in ln)
    assert "tool" in line and "12" in line and "100%" in line  # family, docs, share with explicit


def test_cli_reports_unknown_submission(tiny_root, capsys):
    from conftest import REPO

    assert main(["--tasks", str(tiny_root), "run", "nope", "--submissions", str(REPO / "submissions")]) == 2
    assert "unknown submission 'nope'" in capsys.readouterr().out


def test_result_json_is_plain(first_run):
    _, results, _ = first_run
    text = (results / "tiny" / "test" / "none@bm25.json").read_text()
    assert json.loads(text)["task"]["id"] == "tiny"


def test_changed_configuration_makes_results_stale(first_run, tmp_path):
    import shutil

    from conftest import REPO

    tiny_root, results, _ = first_run
    subs = tmp_path / "subs"
    shutil.copytree(REPO / "submissions", subs, ignore=shutil.ignore_patterns("prf-bm25"))  # its none@bm25 row
    manifest = subs / "bm25" / "submission.toml"
    manifest.write_text(manifest.read_text().replace('use = "bm25"\n', 'use = "bm25"\nargs = { k1 = 1.2 }\n'))
    summary = run(tiny_root, subs, results)
    assert [p.name for p in summary.written] == ["none@bm25.json"]
    assert read_result(results / "tiny" / "test" / "none@bm25.json")["system"]["retriever"]["args"] == {"k1": 1.2}
    run(tiny_root, REPO / "submissions", results)  # restore the fixture's results for the other tests


def test_modified_task_gives_unofficial_results_beside_official_ones(first_run, tmp_path):
    import shutil

    from conftest import REPO

    tiny_root, results, _ = first_run
    modified = tmp_path / "tasks"
    shutil.copytree(tiny_root, modified)
    queries = modified / "tiny" / "queries.jsonl"
    queries.write_text(queries.read_text().replace("Should I take an umbrella", "Must I take an umbrella"))
    suite = load_suite(modified)
    subs = load_submissions(REPO / "submissions")
    bm25 = [s for s in expand_all(subs) if s.id == "none@bm25"]
    out = tmp_path / "results"
    shutil.copytree(results, out)
    summary = run_suite(suite, subs, bm25, out, show_progress=False, allow_modified=True)
    assert [p.name for p in summary.written] == ["none@bm25.json"]  # the official result is not reused
    rec = read_result(out / "tiny" / "test" / "none@bm25.json")
    assert rec["task"]["official"] is False
    assert rec["task"]["sha256"] != read_result(results / "tiny" / "test" / "none@bm25.json")["task"]["sha256"]


def test_the_board_refuses_a_fine_tuned_cell_whose_model_is_not_its_references(first_run, tmp_path):
    """E.g. A@R-ft computed elsewhere (a GPU, another machine) beside a reference from other weights."""
    import shutil

    from conftest import REPO

    from benchmark.board import build_board
    from benchmark.integrity import sealed
    from benchmark.runner import expectations

    tiny_root, results, _ = first_run
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    path = copy / "tiny" / "test" / "context-minilm@minilm-l6-ft.json"
    record = json.loads(path.read_text())
    record["system"]["retriever"]["fingerprint"]["weights_sha256"] = "ab" * 32
    path.write_text(json.dumps(sealed(record)))
    suite, subs = load_suite(tiny_root), load_submissions(REPO / "submissions")
    board = build_board(copy, list(suite.task_ids), expectations(suite, expand_all(subs)))
    [refused] = board.refused
    assert refused.path == path
    assert ("fine-tuned model abababababab… differs from the one its reference row 'none@minilm-l6-ft' ran"
            in str(refused))
    assert "context-minilm@minilm-l6-ft" not in {r.system_id for r in board.rows}
    assert "context-minilm@minilm-l6" in {r.system_id for r in board.rows}
