"""Label-budget curves and break-even points as data (the page and the exports lay them out).

A curve is nDCG@10 of the fine-tuned reference recipe against the number n of labelled train
queries it read: n = 0 is the pretrained retriever, n = all the reference itself, the points
between are the `budget` rows (benchmark.label_budget). Against it, each augmenter's pretrained
cell (A@R, no fine-tuning) on the same queries.

Break-even, per (task split, augmenter), two numbers:
- n*: the smallest evaluated n at which the curve is not significantly worse than the augmenter
  (paired randomization test at the board's alpha, Holm over that curve's comparisons). "never
  needed" when that holds at n = 0 (the augmenter does not beat the pretrained retriever); "not
  reached" when it holds nowhere, the reference itself (n = all) included. A curve need not rise
  with n (a few labels can hurt): n* is where it first matches, the chart shows what follows.
- the crossing: where the curve's mean first reaches the augmenter's, interpolated linearly in
  log(1 + n) between the two evaluated points around it, with a 95% percentile interval from a
  paired bootstrap over queries (the same resampled queries for every point and the augmenter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from benchmark.stats import ALPHA, CONFIDENCE, SEED, compare, holm, permutations_for

BOOTSTRAPS = 2_000


@dataclass(frozen=True)
class CurvePoint:
    n: int
    """Labelled train queries the fine-tuning read (0: pretrained; the split's size: the reference)."""
    system_id: str
    mean: float
    ci_low: float
    ci_high: float
    """95% percentile bootstrap interval of the mean over queries."""


@dataclass(frozen=True)
class BreakEven:
    system_id: str
    submission: str
    role: str
    augmented: float
    """The augmenter's mean nDCG@10 on the pretrained retriever."""
    n_star: int | None
    """Smallest n at which the curve is not significantly worse (None: not reached)."""
    crossing: float
    """Interpolated n where the curve's mean reaches the augmenter's (0: from the start; inf: never)."""
    crossing_low: float
    crossing_high: float
    p_holm: Mapping[int, float] = field(default_factory=dict)
    """Holm-adjusted p-value of curve(n) against the augmenter, per n."""

    @property
    def status(self) -> str:
        if self.n_star is None:
            return "not reached"
        return "never needed" if self.n_star == 0 else "reached"


@dataclass(frozen=True)
class Curve:
    task_id: str
    split: str
    train_queries: int
    points: list[CurvePoint]
    break_even: list[BreakEven]
    missing: list[int] = field(default_factory=list)
    """Curve sizes below the train split's size whose results are not there yet."""

    @property
    def label(self) -> str:
        return f"{self.task_id}/{self.split}"


def crossing(ns: Sequence[int], means: Sequence[float], target: float) -> float:
    """Where a curve's mean first reaches `target`, linear in log(1 + n) between evaluated points."""
    if means[0] >= target:
        return 0.0
    for i in range(1, len(ns)):
        if means[i] >= target:
            lo, hi = math.log1p(ns[i - 1]), math.log1p(ns[i])
            frac = (target - means[i - 1]) / (means[i] - means[i - 1])
            return math.expm1(lo + frac * (hi - lo))
    return math.inf


def first_not_worse(ns: Sequence[int], deltas: Sequence[float], adjusted: Sequence[float],
                    alpha: float = ALPHA) -> int | None:
    """The smallest n whose point is not significantly worse than the augmenter (curve minus
    augmenter: a negative delta with a Holm-adjusted p below alpha is worse); None if every one is."""
    return next((n for n, delta, p in zip(ns, deltas, adjusted) if not (delta < 0 and p < alpha)), None)


def _resample_means(matrix: np.ndarray, resamples: int) -> np.ndarray:
    """Means of each row over `resamples` paired bootstrap draws of the columns (queries): (B, rows)."""
    q = matrix.shape[1]
    rng = np.random.default_rng(SEED)
    draws = rng.integers(0, q, size=(resamples, q))
    counts = np.zeros((resamples, q))
    np.add.at(counts, (np.repeat(np.arange(resamples), q), draws.ravel()), 1.0)
    return counts @ matrix.T / q


def build_curve(task_id: str, split: str, train_queries: int, points: Sequence[tuple[int, str, Mapping[str, float]]],
                augmenters: Sequence[tuple[str, str, str, Mapping[str, float]]], missing: Sequence[int] = (),
                resamples: int = BOOTSTRAPS) -> Curve:
    """`points`: (n, system id, per-query nDCG@10), n ascending; `augmenters`: (system id,
    submission, role, per-query nDCG@10) of pretrained augmented cells on the same queries."""
    qids = sorted(points[0][2])
    for _, system_id, values in points:
        if sorted(values) != qids:
            raise ValueError(f"{task_id}/{split}: {system_id} was scored on other queries than {points[0][1]}")
    ns = [n for n, _, _ in points]
    curve = np.array([[values[q] for q in qids] for _, _, values in points], dtype=float)
    rows = [np.array([values[q] for q in qids], dtype=float) for *_, values in augmenters]
    means = _resample_means(np.vstack([curve, *rows]) if rows else curve, resamples)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means[:, :len(ns)], [tail, 100 - tail], axis=0)
    out_points = [CurvePoint(n, sid, float(curve[i].mean()), float(low[i]), float(high[i]))
                  for i, (n, sid, _) in enumerate(points)]
    permutations = permutations_for(len(ns))
    found = []
    for j, (system_id, submission, role, values) in enumerate(augmenters):
        tests = [compare(dict(zip(qids, curve[i])), values, permutations) for i in range(len(ns))]
        adjusted = holm([t.p_value for t in tests])
        target = float(rows[j].mean())
        draws = np.array([crossing(ns, means[b, :len(ns)], means[b, len(ns) + j]) for b in range(resamples)])
        found.append(BreakEven(system_id, submission, role, target,
                               first_not_worse(ns, [t.delta for t in tests], adjusted),
                               crossing(ns, [p.mean for p in out_points], target),
                               float(np.percentile(draws, tail, method="lower")),  # draws may be inf: no
                               float(np.percentile(draws, 100 - tail, method="higher")),  # interpolation
                               dict(zip(ns, adjusted))))
    return Curve(task_id, split, train_queries, out_points, found, list(missing))


def summary_sentence(found: Sequence[BreakEven]) -> str | None:
    """One sentence per augmenter over the task splits with a curve (the verdict page's)."""
    if not found:
        return None
    m = len(found)
    head = f"Label budget ({m} task split{'' if m == 1 else 's'} with a curve): "
    needed = sorted(b.n_star for b in found if b.status == "reached")
    never = sum(b.status == "never needed" for b in found)
    missed = sum(b.status == "not reached" for b in found)
    parts = []
    if needed:
        parts.append(f"fine-tuning on at most {needed[-1]:,} labelled queries matches it on {len(needed) + never} of them"
                     + (f" (on {never} it never beats the pretrained retriever: no label is needed)" if never else ""))
    elif never:
        parts.append(f"it never beats the pretrained retriever on {never}, so fine-tuning needs no label to match it there")
    if missed:
        parts.append(f"the reference does not match it even with the whole train split on {missed}")
    return head + "; ".join(parts) + "."
