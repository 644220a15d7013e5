"""The leaderboard's view model, exports and HTML, from result files with known per-query values."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path
from statistics import fmean

import pytest

from benchmark.metrics import METRICS
from benchmark.protocol import expand_all
from benchmark.results import SCHEMA, result_path, write_result
from benchmark.runner import expectations
from benchmark.storage import atomic_write_json
from benchmark.submission import load_submissions
from benchmark.task import load_suite
from leaderboard.chart import pareto
from leaderboard.exports import latex_escape, to_bibtex, to_csv, to_latex
from leaderboard.render import http_url, render_site
from leaderboard.view import build_leaderboard

QIDS = [f"te{i}" for i in range(6)]  # the tiny task's test queries
# Per-query nDCG@10 by system: the reference is perfect on the first four queries; the augmenter
# on the pretrained retriever matches it on three; on top of fine-tuning it changes nothing.
SCORES = {
    "none@minilm-l6": [0.0, 0.0, 0.0, 0.0, 0.5, 0.5],
    "none@minilm-l6-ft": [1.0, 1.0, 1.0, 1.0, 0.5, 0.5],
    "xss@minilm-l6": [1.0, 1.0, 1.0, 0.0, 0.5, 0.5],
    "xss@minilm-l6-ft": [1.0, 1.0, 1.0, 1.0, 0.5, 0.5],
}
ROLES = {"none@minilm-l6": "baseline", "none@minilm-l6-ft": "reference"}
TITLE = "<script>window.__pwned = 1</script> Rewrite & expand"


def record(system_id: str, values: list[float], tokens: float, task_sha256: str, config_sha256: str) -> dict:
    """A complete result record (it must pass the board's checks) with the given per-query nDCG@10."""
    per_query = {q: {m: (v if m == "ndcg_cut_10" else 0.0) for m in METRICS} for q, v in zip(QIDS, values)}
    return {
        "schema": SCHEMA,
        "system": {"id": system_id, "role": ROLES.get(system_id, "submission"),
                   "submission": None if system_id in ROLES else "xss", "reference": "none@minilm-l6-ft",
                   "config_sha256": config_sha256, "augmenter": {"use": "context", "args": {}},
                   "retriever": {"use": "dense", "args": {"model": "minilm-l6"},
                                 "finetuned": "-ft" in system_id, "fingerprint": {},
                                 **({"finetuned_on": "augmented"} if system_id.endswith("-ftA") else {})}},
        "task": {"id": "tiny", "split": "test", "sha256": task_sha256, "suite": "0.0", "official": True,
                 "queries": len(QIDS)},
        "metrics": {m: fmean(pq[m] for pq in per_query.values()) for m in METRICS},
        "per_query": per_query,
        "cost": {"added_tokens_mean": tokens, "llm_prompt_tokens_mean": 2 * tokens,
                 "llm_completion_tokens_mean": tokens, "augment_ms_mean": 0.0, "search_ms_mean": 0.0},
        "provenance": {"harness": "test"},
    }


@pytest.fixture()
def board(tiny_root: Path, tmp_path: Path):
    subs = tmp_path / "submissions" / "xss"
    subs.mkdir(parents=True)
    (subs / "submission.toml").write_text(
        f'[submission]\nname = "xss"\ntitle = {json.dumps(TITLE)}\nauthors = ["A. Tester"]\n'
        'paper = "javascript:alert(1)"\n\n[augmenter]\nuse = "context"\n\n'
        '[retriever]\nuse = "dense"\nargs = {{ model = "minilm-l6" }}\n\n[metadata]\n'
        'llm = "<img src=x onerror=alert(1)>"\nllm_parameters = 135000000\ntrained_on_test = false\n'
        .replace("{{", "{").replace("}}", "}"))
    suite, submissions = load_suite(tiny_root), load_submissions(tmp_path / "submissions")
    expected = expectations(suite, expand_all(submissions))
    results = tmp_path / "results"
    for system_id, values in SCORES.items():
        tokens = 40.0 if system_id.startswith("xss") else 0.0
        write_result(result_path(results, "tiny", "test", system_id),
                     record(system_id, values, tokens, expected.tasks["tiny"].sha256, expected.configs[("tiny", system_id)]))
    return build_leaderboard(results, suite, submissions, expected), results


def test_rows_ranks_and_significance(board):
    lb, _ = board
    rows = {r.system_id: r for r in lb.rows}
    assert [r.system_id for r in lb.rows][:2] in (["none@minilm-l6-ft", "xss@minilm-l6-ft"],
                                                 ["xss@minilm-l6-ft", "none@minilm-l6-ft"])
    assert rows["none@minilm-l6"].rank == 4 and rows["none@minilm-l6"].mean_main == pytest.approx(1 / 6)
    cell = rows["none@minilm-l6"].cells[("tiny", "test")]
    # Four queries each lose 1.0: exact sign-flip p = 2/16 (both all-same-sign patterns); Holm over three
    # comparisons (p = 0.125, 0.5, 1.0) multiplies the smallest by 3.
    assert cell.comparison.delta == pytest.approx(-4 / 6) and cell.comparison.p_value == pytest.approx(0.125)
    assert cell.adjusted_p == pytest.approx(0.375) and cell.verdict == "same"
    same = rows["xss@minilm-l6-ft"].cells[("tiny", "test")]
    assert (same.comparison.delta, same.comparison.p_value, same.verdict) == (0.0, 1.0, "same")
    assert rows["none@minilm-l6-ft"].cells[("tiny", "test")].comparison is None


def test_verdict_in_numbers_and_words(board):
    lb, _ = board
    [v] = lb.verdicts
    assert (v.baseline, v.reference, v.augmented, v.augmented_finetuned) == pytest.approx((1 / 6, 5 / 6, 4 / 6, 5 / 6))
    assert v.gap_closed == pytest.approx(0.75) and v.llm_tokens == pytest.approx(120.0)
    first, second, matched, best = v.sentences
    assert "closes 75% of the gap to fine-tuning" in first and "+40 tokens/query" in first
    assert second.startswith("It adds nothing significant on top of fine-tuning (+0.000")
    assert matched.startswith("Fine-tuned on its own inputs (-ftA): not applicable yet")
    assert v.matched is None and best == "Best cell of the table: the fine-tuned reference (0.833)."


def test_verdict_with_the_matched_fine_tuning_cell(board, tiny_root, tmp_path):
    """The -ftA cell (fine-tuned on the augmenter's own train inputs) joins the table, is
    compared with the reference, and wins the table when it is best."""
    _, results = board
    suite, submissions = load_suite(tiny_root), load_submissions(tmp_path / "submissions")
    expected = expectations(suite, expand_all(submissions))
    write_result(result_path(results, "tiny", "test", "xss@minilm-l6-ftA"),
                 record("xss@minilm-l6-ftA", [1.0] * 6, 40.0, expected.tasks["tiny"].sha256,
                        expected.configs[("tiny", "xss@minilm-l6-ftA")]))
    lb = build_leaderboard(results, suite, submissions, expected)
    assert not lb.refused  # another model than the reference's by design: not refused
    [v] = lb.verdicts
    assert v.matched == pytest.approx(1.0) and v.best == "matched" and v.ids["matched"] == "xss@minilm-l6-ftA"
    # Two queries gain 0.5 each: exact sign-flip p = 2/4 = 0.5, not significant after Holm.
    assert v.matched_on_top == {"better": 0, "same": 1, "worse": 0}
    assert v.sentences[2] == ("Fine-tuned on its own inputs (-ftA) it reaches 1.000 (+0.167 against the reference: "
                              "significantly better on 0, worse on 0 of 1 task split).")
    assert v.sentences[3] == "Best cell of the table: fine-tuned on its own inputs (-ftA) (1.000)."


def test_exports(board):
    lb, _ = board
    rows = list(csv.DictReader(io.StringIO(to_csv(lb))))
    assert len(rows) == 4 and {r["system"] for r in rows} == set(SCORES)
    base = next(r for r in rows if r["system"] == "none@minilm-l6")
    assert base["ndcg_cut_10"] == "0.166667" and base["p_holm"] == "0.375000" and base["verdict"] == "same"
    assert next(r for r in rows if r["role"] == "reference")["p_value"] == ""
    tex = to_latex(lb)
    assert r"\toprule" in tex and r"\bottomrule" in tex and "xss@minilm-l6-ft & 0.833 & 0.833 & 40" in tex
    assert "none@minilm-l6-ft (ref.) & 0.833" in tex
    assert latex_escape("a_b & 50% #1") == r"a\_b \& 50\% \#1"
    bib = to_bibtex(lb)
    assert bib.startswith("@misc{iqbench,") and lb.suite_sha in bib


def test_pareto_frontier():
    points = [(0, 0.5, "a"), (10, 0.6, "b"), (5, 0.4, "c"), (20, 0.6, "d"), (30, 0.7, "e")]
    assert [p[2] for p in pareto(points)] == ["a", "b", "e"]


def test_only_http_links():
    assert http_url("https://example.org/paper") == "https://example.org/paper"
    assert http_url("javascript:alert(1)") is None and http_url("data:text/html,x") is None and http_url(None) is None


def test_site_files_and_escaping(board, tmp_path):
    lb, results = board
    index = render_site(lb, tmp_path / "site", results)
    site = index.parent
    for name in ("index.html", "verdict.html", "downloads.html", "tasks/tiny.html", "submissions/xss.html",
                 "downloads/iqbench.csv", "downloads/iqbench.tex", "downloads/iqbench.bib", "assets/board.js",
                 "downloads/results/tiny/test/xss@minilm-l6.json"):
        assert (site / name).is_file(), name
    page = (site / "submissions" / "xss.html").read_text()
    assert "<script>window.__pwned" not in page and "&lt;script&gt;window.__pwned" in page
    assert 'href="javascript:' not in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt; (135M parameters)" in page
    assert "no (declared)" in page
    assert "<svg" in index.read_text() and "http://" not in index.read_text().split("<svg", 1)[0]


def test_site_and_results_are_readable_by_a_web_server(board, tmp_path):
    """Temporary files and folders are private (0600/0700); what replaces them follows the umask."""
    lb, results = board
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "result.json", {"a": 1})
        site = render_site(lb, tmp_path / "site", results).parent
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(site.stat().st_mode) == 0o755
    for path in site.rglob("*"):
        assert path.stat().st_mode & stat.S_IROTH, path


def test_site_in_a_real_browser(board, tmp_path, browser):
    from conftest import REPO

    lb, results = board
    index = render_site(lb, tmp_path / "site", results)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(index.as_uri())

    def systems() -> list[str]:
        return page.eval_on_selector_all("#board tbody tr", "rows => rows.map(r => r.children[1].textContent.trim())")

    ranked = systems()
    assert ranked[-1] == "none@minilm-l6"  # rank order: the pretrained baseline is last
    page.click("#board thead th:nth-child(2)")  # sort by system name
    assert systems() == sorted(ranked)
    page.click("#board thead th:nth-child(2)")
    assert systems() == sorted(ranked, reverse=True)
    page.click("#board thead th:nth-child(4)")  # mean nDCG@10, highest first
    assert systems()[-1] == "none@minilm-l6"

    page.select_option("#role-filter", "baseline")
    visible = page.eval_on_selector_all("#board tbody tr:not(.hidden)", "rows => rows.length")
    assert visible == 1
    page.select_option("#role-filter", "")
    assert page.locator("#chart svg").count() == 1
    shots = REPO / "build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "index.png"), full_page=True)

    page.goto((index.parent / "submissions" / "xss.html").as_uri())
    assert page.evaluate("window.__pwned === undefined")
    assert "<script>window.__pwned = 1</script> Rewrite & expand" in page.locator("h1").inner_text()
    page.goto((index.parent / "verdict.html").as_uri())
    assert "closes 75% of the gap" in page.content()
    assert not problems, problems


def test_render_refuses_to_replace_a_folder_it_did_not_write(board, tmp_path):
    lb, results = board
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="refusing to replace"):
        render_site(lb, precious, results)
    assert (precious / "thesis.tex").read_text() == "years of work"
    site = render_site(lb, tmp_path / "site", results).parent
    render_site(lb, site, results)  # its own site is replaced whole
    assert (site / "index.html").is_file() and not list(tmp_path.glob(".site.*"))


def test_verdict_of_a_retriever_that_reads_context():
    """Context tuning's table: the text-only retriever pretrained and fine-tuned, against its
    own untrained and trained pipeline; no -ftA row (it has no augmenter)."""
    from leaderboard.view import Verdict

    v = Verdict(submission="context-tuning", title="", role="submission", columns=["tiny/test"], baseline=0.5,
                reference=0.6, augmented=0.55, augmented_finetuned=0.7, added_tokens=0.0, llm_tokens=0.0,
                on_top={"better": 1, "same": 0, "worse": 0}, alone={"better": 0, "same": 1, "worse": 0},
                ids={"baseline": "none@minilm-l6", "reference": "none@minilm-l6-ft",
                     "augmented": "none@context-tuning", "augmented_finetuned": "none@context-tuning-ft"})
    assert v.reads_context and v.best == "augmented_finetuned"
    assert v.sentences == [
        "Untrained (the fusion of its base rankings) it moves nDCG@10 from 0.500 to 0.550; fine-tuning the "
        "text-only retriever reaches 0.600.",
        "Trained on the train split it reaches 0.700 (+0.100 against the reference: significantly better on 1, "
        "worse on 0 of 1 task split).",
        "Best cell of the table: the trained retriever (0.700)."]


def test_verdict_per_task_family():
    """Families that behave oppositely are reported apart: against the reference the augmenter gains
    0.3 on the ambiguous split and loses 0.2 on each conversational one (overall mean -0.033)."""
    from benchmark.board import Cell
    from leaderboard.view import CellView, RowView, _verdicts

    columns = {("qa", "test"): "ambiguous", ("chat", "test"): "conversational", ("chat", "test_ood"): "conversational"}
    main = {  # system -> nDCG@10 per column, in the order above
        "none@m": (0.2, 0.5, 0.4), "none@m-ft": (0.3, 0.6, 0.5), "ctx@m": (0.6, 0.4, 0.3), "ctx@m-ft": (0.7, 0.5, 0.4),
    }
    verdicts = {"ctx@m-ft": ("better", "worse", "same"), "ctx@m": ("better", "same", "same")}

    def row(system_id: str) -> RowView:
        cells = {}
        for n, col in enumerate(columns):
            cell = Cell({"ndcg_cut_10": main[system_id][n]}, 0.0, 0.0, True, {}, Path("x.json"))
            cells[col] = CellView(cell, verdict=verdicts.get(system_id, (None,) * 3)[n])
        return RowView(system_id, "submission" if system_id.startswith("ctx") else "baseline",
                       "ctx" if system_id.startswith("ctx") else None, "none@m-ft", system_id.endswith("-ft"), cells)

    [v] = _verdicts([row(s) for s in main], {}, columns)
    assert [f.family for f in v.families] == ["ambiguous", "conversational"]
    ambiguous, conversational = v.families
    assert ambiguous.columns == ["qa/test"] and conversational.columns == ["chat/test", "chat/test_ood"]
    assert ambiguous.cells["augmented"] == pytest.approx(0.6) and ambiguous.delta_reference == pytest.approx(0.3)
    assert conversational.cells["reference"] == pytest.approx(0.55)
    assert conversational.delta_reference == pytest.approx(-0.2)
    assert (ambiguous.on_top, conversational.on_top) == ({"better": 1, "same": 0, "worse": 0},
                                                          {"better": 0, "same": 1, "worse": 1})
    assert v.augmented - v.reference == pytest.approx((0.3 - 0.2 - 0.2) / 3)


def test_a_submission_that_does_not_declare_a_clean_test_is_shown_but_not_ranked(board, tiny_root, tmp_path):
    _, results = board
    manifest = tmp_path / "submissions" / "xss" / "submission.toml"
    manifest.write_text(manifest.read_text().replace("trained_on_test = false\n", ""))
    suite, submissions = load_suite(tiny_root), load_submissions(tmp_path / "submissions")
    lb = build_leaderboard(results, suite, submissions)
    rows = {r.system_id: r for r in lb.rows}
    assert rows["xss@minilm-l6-ft"].rank is None and rows["xss@minilm-l6"].rank is None
    assert rows["none@minilm-l6-ft"].rank == 1 and rows["none@minilm-l6"].rank == 2
    assert not lb.refused and len(rows) == 4  # shown, with their verdicts
    page = render_site(lb, tmp_path / "site", results).parent / "submissions" / "xss.html"
    assert "not declared: not ranked until it is" in page.read_text()
