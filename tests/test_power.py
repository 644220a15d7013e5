"""The power estimate against hand-computed values (normal quantiles from printed tables)."""

import math

import pytest

from benchmark.power import estimate

Z_975, Z_80 = 1.959964, 0.841621


def test_detectable_difference_and_power_by_hand():
    a = {f"q{i}": 0.6 if i % 2 else 0.4 for i in range(100)}
    b = {q: 0.5 for q in a}
    e = estimate(a, b)
    sd = math.sqrt(100 * 0.01 / 99)  # differences are +-0.1
    assert e.queries == 100 and e.sd == pytest.approx(sd)
    assert e.detectable == pytest.approx((Z_975 + Z_80) * sd / 10, rel=1e-5)  # 0.028157
    # Phi(0.02 / se - 1.96) with se = 0.0100504: Phi(0.030000) = 0.511967 (the other tail is ~4e-5)
    assert e.power_at_target == pytest.approx(0.511967 + 0.0000392, abs=2e-5)


def test_needs_paired_queries():
    with pytest.raises(ValueError, match="same"):
        estimate({"a": 1.0, "b": 0.0}, {"a": 1.0})
