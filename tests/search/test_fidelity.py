"""Rank agreement between proxy and reference scores: exact values and interval sanity."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nasfpn_cli.errors import SearchError
from nasfpn_cli.search.fidelity import measure_fidelity, pooled_seed_std, top_k_overlap


def test_one_swapped_pair_of_four():
    proxy = np.array([[1.0], [2.0], [3.0], [4.0]])
    reference = np.array([[1.0], [3.0], [2.0], [4.0]])
    fidelity = measure_fidelity(proxy, reference, top_k=2, resamples=200)
    assert fidelity.kendall_tau.value == pytest.approx(4 / 6)  # 5 concordant, 1 discordant
    assert fidelity.spearman_rho.value == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert fidelity.top_k_overlap == 0.5  # {3, 4} against {2, 4}
    tau = fidelity.kendall_tau
    assert -1.0 <= tau.low <= tau.value <= tau.high <= 1.0
    assert fidelity.proxy_noise == 0.0  # one seed: no noise estimate
    assert fidelity.proxy_spread == pytest.approx(np.std([1, 2, 3, 4], ddof=1))


def test_perfect_agreement_has_a_degenerate_interval_at_one():
    proxy = np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4]])
    fidelity = measure_fidelity(proxy, proxy * 10, resamples=300)
    assert fidelity.kendall_tau.value == 1.0 and fidelity.kendall_tau.high == 1.0
    assert fidelity.kendall_tau.low == 1.0  # no seed noise, every resample still agrees
    assert fidelity.top_k_overlap == 1.0


def test_seed_noise_widens_the_interval():
    rng = np.random.default_rng(0)
    means = np.linspace(0.0, 1.0, 8)[:, None]
    quiet = measure_fidelity(means + rng.normal(0, 0.01, (8, 3)),
                             means + rng.normal(0, 0.01, (8, 3)), resamples=400)
    noisy = measure_fidelity(means + rng.normal(0, 0.5, (8, 3)),
                             means + rng.normal(0, 0.5, (8, 3)), resamples=400)
    width = lambda f: f.kendall_tau.high - f.kendall_tau.low  # noqa: E731
    assert width(noisy) > width(quiet)
    assert noisy.proxy_noise > 10 * quiet.proxy_noise


def test_constant_scores_make_the_correlation_undefined():
    proxy = np.zeros((4, 2))
    reference = np.arange(8.0).reshape(4, 2)
    fidelity = measure_fidelity(proxy, reference, resamples=50)
    assert fidelity.kendall_tau.value is None and fidelity.kendall_tau.text() == "undefined"
    assert fidelity.kendall_tau.undefined_resamples == 50


def test_pooled_std_and_top_k():
    scores = np.array([[1.0, 3.0], [2.0, 2.0]])  # variances 2 and 0
    assert pooled_seed_std(scores) == pytest.approx(math.sqrt(1.0))
    assert top_k_overlap(np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0]), 1) == 0.0


def test_fewer_than_three_architectures_is_refused():
    with pytest.raises(SearchError, match="at least 3"):
        measure_fidelity(np.ones((2, 1)), np.ones((2, 1)))


def test_paired_comparison_of_two_proxies():
    """The difference of two proxies' tau, bootstrapped on the same architectures: a proxy that
    swaps one pair ranks worse than a perfect one by a clear margin; a proxy against itself
    differs by exactly 0."""
    from nasfpn_cli.search.fidelity import compare_fidelity

    reference = np.arange(10, dtype=float)[:, None].repeat(2, axis=1)  # no seed noise
    swapped = reference.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    better = compare_fidelity(reference, swapped, reference, resamples=500)
    assert better.value == pytest.approx(1.0 - (1 - 2 * 1 / 45))
    assert better.low >= 0.0 and better.high > 0.0
    same = compare_fidelity(swapped, swapped, reference, resamples=200)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    with pytest.raises(SearchError, match="same architectures"):
        compare_fidelity(reference[:5], swapped, reference)


def test_the_correlations_are_scipy_s_bit_for_bit():
    """kendall_tau and spearman_rho count pairs and rank as scipy does (ties, constant sides
    giving NaN), so recorded intervals recompute exactly; they only run faster."""
    import warnings

    from scipy import stats

    from nasfpn_cli.search.fidelity import kendall_tau, spearman_rho

    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(2, 25))
        a = rng.integers(0, 4, n).astype(float) if rng.random() < 0.5 else rng.random(n)
        b = rng.integers(0, 3, n).astype(float) if rng.random() < 0.5 else rng.random(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = (float(stats.kendalltau(a, b).statistic),
                        float(stats.spearmanr(a, b).statistic))
        for want, got in zip(expected, (kendall_tau(a, b), spearman_rho(a, b))):
            assert want == got or (np.isnan(want) and np.isnan(got)), (a, b, want, got)
