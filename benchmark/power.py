"""How small a difference in the main metric each split can detect, from real per-query scores.

Paired normal approximation: with n queries and per-query differences of standard deviation
sd between two systems, a two-sided test at level alpha detects a mean difference of
(z(1 - alpha/2) + z(power)) * sd / sqrt(n) with the given power. The significance test of
the leaderboard is a paired randomization test; for these sample sizes the two agree closely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import stdev
from typing import Mapping

from scipy.stats import norm

ALPHA, POWER, TARGET = 0.05, 0.8, 0.02


@dataclass(frozen=True)
class PowerEstimate:
    queries: int
    sd: float
    """Standard deviation of the per-query differences."""
    detectable: float
    """Smallest mean difference detected with probability POWER at level ALPHA."""
    power_at_target: float
    """Probability of detecting a true difference of TARGET."""


def estimate(a: Mapping[str, float], b: Mapping[str, float], target: float = TARGET,
             alpha: float = ALPHA, power: float = POWER) -> PowerEstimate:
    """Power of a paired comparison of per-query values `a` and `b` (same queries)."""
    if a.keys() != b.keys() or len(a) < 2:
        raise ValueError("a paired estimate needs the same (two or more) queries on both sides")
    diffs = [a[q] - b[q] for q in a]
    n, sd = len(diffs), stdev(diffs)
    z_alpha = norm.ppf(1 - alpha / 2)
    se = sd / math.sqrt(n)
    detectable = (z_alpha + norm.ppf(power)) * se
    reached = 1.0 if se == 0 else float(norm.cdf(target / se - z_alpha) + norm.cdf(-target / se - z_alpha))
    return PowerEstimate(n, sd, detectable, reached)
