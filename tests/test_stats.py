"""Significance statistics against values computed independently (enumeration, hand arithmetic)."""

from __future__ import annotations

import itertools
import math
import random

import pytest

import numpy as np
from scipy.stats import permutation_test

from benchmark.stats import compare, holm, randomization_p, verdict


def exact_sign_flip_p(diffs: list[float]) -> float:
    """Two-sided randomization p-value by enumerating every sign assignment."""
    observed = abs(sum(diffs))
    flips = list(itertools.product((1, -1), repeat=len(diffs)))
    extreme = sum(abs(sum(s * d for s, d in zip(signs, diffs))) >= observed - 1e-12 for signs in flips)
    return extreme / len(flips)


def test_randomization_test_is_exact_for_small_samples():
    # Three queries all improved by 1: only all-plus and all-minus are as extreme, p = 2/8.
    c = compare({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.0, "b": 0.0, "c": 0.0})
    assert c.p_value == pytest.approx(0.25) and c.delta == 1.0 and (c.ci_low, c.ci_high) == (1.0, 1.0)
    system = {"q1": 0.9, "q2": 0.5, "q3": 0.3, "q4": 1.0, "q5": 0.2, "q6": 0.7}
    reference = {"q1": 0.4, "q2": 0.3, "q3": 0.4, "q4": 0.6, "q5": 0.2, "q6": 0.1}
    diffs = [system[q] - reference[q] for q in system]
    assert compare(system, reference).p_value == pytest.approx(exact_sign_flip_p(diffs))  # 2^6 < 10,000: exact


def test_large_sample_p_value_and_interval_match_the_normal_approximation():
    rng = random.Random(7)
    reference = {f"q{i}": rng.random() for i in range(1000)}
    system = {q: min(1.0, max(0.0, v + rng.gauss(0.012, 0.2))) for q, v in reference.items()}
    diffs = [system[q] - reference[q] for q in system]
    n, mean = len(diffs), sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) / math.sqrt(n)
    c = compare(system, reference)
    assert c.delta == pytest.approx(mean)
    assert c.ci_low == pytest.approx(mean - 1.959964 * se, abs=0.15 * se)
    assert c.ci_high == pytest.approx(mean + 1.959964 * se, abs=0.15 * se)
    z = mean / se
    normal_p = math.erfc(abs(z) / math.sqrt(2))
    assert 0.01 < normal_p < 0.5 and c.p_value == pytest.approx(normal_p, abs=0.01)
    assert compare(system, reference) == c  # seeded: the same inputs give the same numbers


def test_identical_systems_are_not_different():
    c = compare({"a": 0.5, "b": 0.2}, {"a": 0.5, "b": 0.2})
    assert (c.delta, c.p_value) == (0.0, 1.0) and verdict(c.delta, c.p_value) == "same"


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4 0.02, x3 0.03, x2 0.06, x1 0.04 -> running max 0.02 0.03 0.06 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == [] and holm([0.7]) == [0.7]


def test_verdicts():
    assert verdict(0.02, 0.01) == "better" and verdict(-0.02, 0.01) == "worse" and verdict(0.05, 0.2) == "same"


def test_unpaired_inputs_are_refused():
    with pytest.raises(ValueError, match="same queries"):
        compare({"a": 1.0}, {"b": 1.0})


def test_sign_flip_test_agrees_with_scipy_permutation_test():
    rng = np.random.default_rng(3)
    diff = rng.normal(0.02, 0.25, 400)
    ours = randomization_p(diff)
    theirs = permutation_test((diff,), lambda x, axis=-1: np.mean(x, axis=axis), permutation_type="samples",
                              n_resamples=10_000, vectorized=True, random_state=np.random.default_rng(1)).pvalue
    assert 0.01 < theirs < 0.5 and ours == pytest.approx(theirs, abs=0.015)  # Monte Carlo error ~0.005
