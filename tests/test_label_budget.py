"""The label budget: nested subsets, the step rule, break-even points, and a real curve point end to end."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from benchmark import label_budget
from benchmark.augmenters import NotApplicable
from benchmark.protocol import expand_all
from benchmark.results import read_result, result_path
from benchmark.retrievers.finetune import DEFAULT_RECIPE
from benchmark.runner import run_suite
from benchmark.submission import load_submissions
from benchmark.task import load_suite
from leaderboard.budget import build_curve, crossing, first_not_worse, summary_sentence
from leaderboard.exports import label_budget_csv, label_budget_latex
from leaderboard.render import render_site
from leaderboard.view import build_leaderboard


def test_subsets_are_nested_seeded_prefixes_of_the_train_split(tiny_root):
    task = load_suite(tiny_root).load("tiny")
    order = label_budget.ordered_train_queries(task)
    assert sorted(order) == sorted(task.qrels["train"]) and len(order) == 14
    assert order != sorted(order)  # shuffled, by the fixed seed
    assert label_budget.ordered_train_queries(load_suite(tiny_root).load("tiny")) == order
    small, large = label_budget.subset(task, 4), label_budget.subset(task, 8)
    assert large[:4] == small and len(set(large)) == 8
    with pytest.raises(NotApplicable, match="14 queries with a relevant document"):
        label_budget.subset(task, 14)  # n = all is the reference itself


def test_step_rule():
    # At most 10 passes over the subset's pairs; a batch holds at most one row per query.
    assert [label_budget.steps(n, n) for n in (16, 64, 256, 1024)] == [10, 20, 80, 100]
    assert label_budget.steps(5, 4) == 13  # ceil(10 * 5 / 4): four rows a batch
    assert label_budget.steps(40, 32) == 13  # ceil(10 * 40 / 32)
    assert label_budget.steps(10**6, 10**6) == DEFAULT_RECIPE.steps
    with pytest.raises(ValueError):
        label_budget.steps(0, 0)


def test_the_recipe_of_a_subset_counts_its_pairs(tiny_root):
    task = load_suite(tiny_root).load("tiny")
    for n in (4, 8, 13):
        chosen = label_budget.subset(task, n)
        pairs = sum(len(task.qrels["train"][q]) for q in chosen)
        recipe = label_budget.recipe(task, n)
        assert recipe.steps == min(100, math.ceil(10 * pairs / n))
        assert recipe.batch_size == DEFAULT_RECIPE.batch_size and recipe.seed == DEFAULT_RECIPE.seed


NS = [0, 16, 64, 256]
QIDS = [f"q{i}" for i in range(40)]


def _curve(levels: list[float], target: float):
    """Per-query values base + level: every query moves by the same amount, so the tests are clear-cut."""
    base = {q: 0.1 * (i % 5) for i, q in enumerate(QIDS)}
    points = [(n, f"ref-n{n}", {q: base[q] + level for q in QIDS}) for n, level in zip(NS, levels)]
    return build_curve("t", "test", 300, points, [("aug", "sub", "submission", {q: base[q] + target for q in QIDS})],
                       resamples=300)


def test_break_even_is_found_at_the_right_n():
    curve = _curve([0.2, 0.3, 0.6, 0.7], 0.45)
    [b] = curve.break_even
    assert b.n_star == 64 and b.status == "reached"
    # Halfway between n = 16 and n = 64 in log(1 + n): sqrt(17 * 65) - 1.
    assert b.crossing == pytest.approx(math.sqrt(17 * 65) - 1)
    assert b.crossing_low <= b.crossing <= b.crossing_high
    assert b.p_holm[0] < 0.05 and b.p_holm[16] < 0.05 and b.p_holm[64] < 0.05  # better at 64 is not worse
    assert [p.mean for p in curve.points] == pytest.approx([0.4, 0.5, 0.8, 0.9])
    assert all(p.ci_low <= p.mean <= p.ci_high for p in curve.points)


def test_break_even_not_reached_and_never_needed():
    [above] = _curve([0.2, 0.3, 0.6, 0.7], 0.9).break_even
    assert above.n_star is None and above.status == "not reached" and above.crossing == math.inf
    [below] = _curve([0.2, 0.3, 0.6, 0.7], 0.1).break_even
    assert below.n_star == 0 and below.status == "never needed" and below.crossing == 0.0
    assert summary_sentence([above, below]) == (
        "Label budget (2 task splits with a curve): it never beats the pretrained retriever on 1, so fine-tuning needs "
        "no label to match it there; the reference does not match it even with the whole train split on 1.")
    [reached] = _curve([0.2, 0.3, 0.6, 0.7], 0.45).break_even
    assert summary_sentence([reached, below]) == (
        "Label budget (2 task splits with a curve): fine-tuning on at most 64 labelled queries matches it on 2 of them "
        "(on 1 it never beats the pretrained retriever: no label is needed).")


def test_n_star_is_the_first_point_not_significantly_worse():
    assert first_not_worse([0, 16, 64], [-0.1, -0.2, -0.1], [0.01, 0.01, 0.01]) is None
    assert first_not_worse([0, 16, 64], [-0.1, -0.05, 0.1], [0.01, 0.2, 0.01]) == 16  # worse but not significantly
    assert first_not_worse([0, 16, 64], [0.0, -0.1, 0.1], [1.0, 0.01, 0.01]) == 0  # a dip later does not matter
    assert crossing([0, 16, 64], [0.1, 0.5, 0.4], 0.3) == pytest.approx(math.expm1(math.log(17) / 2))


@pytest.mark.slow
def test_a_curve_point_through_the_runner_the_board_and_the_browser(tiny_root, baseline_submissions,
                                                                    tmp_path, monkeypatch, browser):
    """A real fine-tuning on 4 of the tiny task's 14 train queries, scored, shown and drawn."""
    monkeypatch.setattr(label_budget, "SIZES", (4, 8))
    suite, subs = load_suite(tiny_root), load_submissions(baseline_submissions)
    assert "none@minilm-l6-ft-n4" not in {s.id for s in expand_all(subs)}  # only when asked
    systems = [s for s in expand_all(subs, label_budget=True)
               if s.id in ("none@minilm-l6", "none@minilm-l6-ft", "none@minilm-l6-ft-n4", "context-minilm@minilm-l6",
                           "context-minilm@minilm-l6-ft")]
    results = tmp_path / "results"
    summary = run_suite(suite, subs, systems, results, show_progress=False)
    assert not summary.failed, summary.failed
    point = read_result(result_path(results, "tiny", "test", "none@minilm-l6-ft-n4"))
    reference = read_result(result_path(results, "tiny", "test", "none@minilm-l6-ft"))
    assert point["system"]["role"] == "budget" and point["system"]["retriever"]["label_budget"] == 4
    assert point["provenance"]["finetune"]["steps"] == label_budget.recipe(suite.load("tiny"), 4).steps < 100
    assert point["system"]["retriever"]["fingerprint"]["weights_sha256"] != \
        reference["system"]["retriever"]["fingerprint"]["weights_sha256"]

    lb = build_leaderboard(results, suite, subs)
    assert not lb.refused and "none@minilm-l6-ft-n4" not in {r.system_id for r in lb.rows}
    [curve] = lb.curves
    assert [p.n for p in curve.points] == [0, 4, 14] and curve.missing == [8]
    assert [b.system_id for b in curve.break_even] == ["context-minilm@minilm-l6"]
    rows = list(csv.DictReader(io.StringIO(label_budget_csv(lb))))
    assert [r["n"] for r in rows if r["kind"] == "curve"] == ["0", "4", "14"]
    assert "tiny/test & 0." in label_budget_latex(lb)

    site = render_site(lb, tmp_path / "site", results).parent
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto((site / "label-budget.html").as_uri())
    assert page.locator("figure[role=img] svg").count() == 1
    assert "0, 4, 14" in page.get_attribute("figure[role=img]", "aria-label")
    assert page.locator("table.curve tbody tr").count() == 3
    assert "context-minilm@minilm-l6" in page.locator("table.break-even").inner_text()
    page.goto((site / "verdict.html").as_uri())
    assert "Label budget (1 task split with a curve): " in page.content()
    assert not problems, problems
    assert Path(site / "downloads" / "iqbench-label-budget.csv").is_file()


def test_curve_intervals_agree_with_scipy_bootstrap():
    """The curve's own paired resampling gives the same 95% percentile interval as scipy's bootstrap."""
    import numpy as np
    from scipy.stats import bootstrap

    rng = np.random.default_rng(7)
    qids = [f"q{i}" for i in range(200)]
    per_query = {q: float(v) for q, v in zip(qids, rng.beta(2, 3, size=200))}
    curve = build_curve("t", "test", 300, [(0, "pre", per_query), (300, "ref", per_query)], [], resamples=4000)
    ref = bootstrap((np.array(list(per_query.values())),), np.mean, n_resamples=4000, method="percentile",
                    random_state=np.random.default_rng(0)).confidence_interval
    point = curve.points[0]
    assert point.ci_low == pytest.approx(ref.low, abs=0.005) and point.ci_high == pytest.approx(ref.high, abs=0.005)
