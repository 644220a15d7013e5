"""Significance of a system's difference from its fine-tuned reference, per task and split.

Paired over the same queries: a randomization (sign-flip) test of the mean per-query
difference, a paired bootstrap confidence interval of that mean, and Holm's correction
across every comparison shown. scipy and statsmodels do the work; seeds are fixed, so the
same results give the same p-values and intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import bootstrap, permutation_test
from statsmodels.stats.multitest import multipletests

PERMUTATIONS = 10_000
BOOTSTRAPS = 10_000
CONFIDENCE = 0.95
ALPHA = 0.05
SEED = 0


@dataclass(frozen=True)
class Comparison:
    """system minus reference on one task split."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    queries: int


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def compare(system: Mapping[str, float], reference: Mapping[str, float]) -> Comparison:
    """Paired comparison over the queries both sides scored (they score the same judged queries)."""
    if system.keys() != reference.keys() or not system:
        raise ValueError("a paired comparison needs per-query values for the same queries on both sides")
    qids = sorted(system)
    a = np.array([system[q] for q in qids], dtype=float)
    b = np.array([reference[q] for q in qids], dtype=float)
    diff = a - b
    delta = float(diff.mean())
    if not diff.any():  # identical rankings: nothing to test
        return Comparison(0.0, 0.0, 0.0, 1.0, len(qids))
    test = permutation_test((a, b), _mean_difference, permutation_type="samples", n_resamples=PERMUTATIONS,
                            alternative="two-sided", vectorized=True, random_state=np.random.default_rng(SEED))
    if np.all(diff == diff[0]):  # every query moved by the same amount: the interval is that amount
        low = high = delta
    else:
        ci = bootstrap((diff,), np.mean, n_resamples=BOOTSTRAPS, confidence_level=CONFIDENCE,
                       method="percentile", vectorized=True, random_state=np.random.default_rng(SEED)).confidence_interval
        low, high = float(ci.low), float(ci.high)
    return Comparison(delta, low, high, float(test.pvalue), len(qids))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order."""
    if not p_values:
        return []
    return [float(p) for p in multipletests(list(p_values), alpha=ALPHA, method="holm")[1]]


def verdict(delta: float, adjusted_p: float) -> str:
    """'better', 'worse' or 'same' (no significant difference) at ALPHA after correction."""
    if adjusted_p < ALPHA:
        return "better" if delta > 0 else "worse"
    return "same"
