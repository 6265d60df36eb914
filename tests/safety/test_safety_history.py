"""The trend memories: window means match a brute-force mean, and bad-read windows count right."""

from __future__ import annotations

import pytest

from firmware.safety.history import ReadHealth, Series


@pytest.mark.parametrize(("t0_s", "t1_s"), [(0.0, 999.0), (900.0, 950.0), (990.5, 991.5)])
def test_series_means_match_brute_force_after_trimming(t0_s, t1_s) -> None:
    series = Series(keep_s=100.0)
    points = [(i * 0.1, float(i % 7)) for i in range(10000)]
    for t, v in points:
        series.add(t, v)
    kept = [v for t, v in points if max(t0_s, 899.9) <= t <= t1_s]
    assert series.mean_between(t0_s, t1_s) == pytest.approx(sum(kept) / len(kept))


def test_series_rise_needs_the_window_covered_and_averages_its_ends() -> None:
    series = Series(keep_s=60.0)
    for i in range(100):  # 1 C/s
        series.add(i * 0.25, 20.0 + i * 0.25)
    assert series.rise(-1.0, 24.75) is None
    assert series.rise(0.0, 24.75) == pytest.approx(22.75)  # 2 s averaged at each end


def test_a_filling_window_counts_missing_reads_as_good() -> None:
    health = ReadHealth(consecutive_limit=4, window_reads=20, window_fraction=0.3)
    for ok in (False, True, False, True, False):
        health.record(ok)
    assert not health.tripped() and health.bad_in_window == 3
