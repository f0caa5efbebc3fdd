"""How faithfully a cheap score (the proxy) ranks architectures like an expensive one.

Given a score per architecture and seed on each side, :func:`measure_fidelity` reports Kendall's
tau and Spearman's rho between the two sides' per-architecture means, each with a bootstrap
interval, the overlap of the two top-k sets, and the seed noise of each side next to the spread
between architectures (a ranking can only be as good as that ratio allows).

The bootstrap resamples at both levels that carry noise: the architectures (with replacement),
and within each drawn architecture its seeds on each side. Resamples where a correlation is
undefined (all means equal on a side) are left out and counted.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
from scipy import stats

from ..errors import SearchError

Correlation = Callable[[np.ndarray, np.ndarray], float]


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b (ties allowed); NaN when a side is constant. Counted over all pairs
    (the tables here rank tens of architectures, thousands of times per bootstrap): the same
    value as ``scipy.stats.kendalltau``, bit for bit, in a seventh of the time."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    upper = np.triu_indices(len(a), 1)
    signs_a = np.sign(a[:, None] - a[None, :])[upper]
    signs_b = np.sign(b[:, None] - b[None, :])[upper]
    untied_a, untied_b = np.count_nonzero(signs_a), np.count_nonzero(signs_b)
    if untied_a == 0 or untied_b == 0:
        return math.nan
    tau = float(np.dot(signs_a, signs_b)) / np.sqrt(untied_a) / np.sqrt(untied_b)
    return float(min(1.0, max(-1.0, tau)))


def spearman_rho(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation; NaN when a side is constant (``scipy.stats.spearmanr``'s
    value, computed as it does, without its p-value)."""
    with np.errstate(all="ignore"):
        return float(np.corrcoef(np.vstack([stats.rankdata(a), stats.rankdata(b)]))[1, 0])


CORRELATIONS: dict[str, Correlation] = {"kendall_tau": kendall_tau, "spearman_rho": spearman_rho}


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap interval; None where it is undefined."""

    value: float | None
    low: float | None
    high: float | None
    undefined_resamples: int = 0

    def text(self, digits: int = 2) -> str:
        if self.value is None:
            return "undefined"
        if self.low is None:
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class Fidelity:
    kendall_tau: Estimate
    spearman_rho: Estimate
    confidence: float
    resamples: int
    top_k: int
    top_k_overlap: float  # |top-k by proxy & top-k by reference| / k
    proxy_noise: float  # pooled standard deviation over seeds, within an architecture
    reference_noise: float
    proxy_spread: float  # standard deviation of the architecture means
    reference_spread: float

    def to_dict(self) -> dict:
        return asdict(self)


def pooled_seed_std(scores: np.ndarray) -> float:
    """sqrt of the mean within-architecture variance (ddof 1); 0 with a single seed."""
    if scores.shape[1] < 2:
        return 0.0
    return float(np.sqrt(np.mean(np.var(scores, axis=1, ddof=1))))


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Share of the k best by ``a`` that are among the k best by ``b`` (ties: lower index)."""
    best_a = set(np.argsort(-a, kind="stable")[:k].tolist())
    best_b = set(np.argsort(-b, kind="stable")[:k].tolist())
    return len(best_a & best_b) / k


def _resampled_means(table: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The per-architecture means of ``table`` over drawn ``rows`` and, within each, its seeds
    drawn with replacement."""
    cols = rng.integers(table.shape[1], size=(len(rows), table.shape[1]))
    return np.take_along_axis(table[rows], cols, axis=1).mean(axis=1)


def _interval(values: list[float], confidence: float) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap ``values``."""
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _bootstrap(proxy: np.ndarray, reference: np.ndarray, correlation: Correlation,
               resamples: int, confidence: float, rng: np.random.Generator
               ) -> tuple[float | None, float | None, int]:
    count = proxy.shape[0]
    values: list[float] = []
    undefined = 0
    for _ in range(resamples):
        rows = rng.integers(count, size=count)
        value = correlation(_resampled_means(proxy, rows, rng),
                            _resampled_means(reference, rows, rng))
        if math.isfinite(value):
            values.append(value)
        else:
            undefined += 1
    if not values:
        return None, None, undefined
    return (*_interval(values, confidence), undefined)


def measure_fidelity(proxy: np.ndarray, reference: np.ndarray, *, top_k: int = 3,
                     resamples: int = 2000, confidence: float = 0.9, seed: int = 0) -> Fidelity:
    """Compare ``proxy`` (architectures x seeds) with ``reference`` (architectures x seeds)."""
    proxy = np.asarray(proxy, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if proxy.ndim != 2 or reference.ndim != 2 or proxy.shape[0] != reference.shape[0]:
        raise SearchError(f"fidelity: expected two (architectures x seeds) tables with the same "
                          f"architectures, got shapes {proxy.shape} and {reference.shape}")
    if proxy.shape[0] < 3:
        raise SearchError(f"fidelity: a ranking needs at least 3 architectures, got "
                          f"{proxy.shape[0]}")
    rng = np.random.default_rng(seed)
    proxy_means, reference_means = proxy.mean(axis=1), reference.mean(axis=1)
    estimates = {}
    for name, correlation in CORRELATIONS.items():
        low, high, undefined = _bootstrap(proxy, reference, correlation, resamples, confidence,
                                          rng)
        value = _finite_or_none(correlation(proxy_means, reference_means))
        estimates[name] = Estimate(value, low if value is not None else None,
                                   high if value is not None else None, undefined)
    k = min(top_k, proxy.shape[0])
    return Fidelity(estimates["kendall_tau"], estimates["spearman_rho"], confidence, resamples, k,
                    top_k_overlap(proxy_means, reference_means, k), pooled_seed_std(proxy),
                    pooled_seed_std(reference), float(np.std(proxy_means, ddof=1)),
                    float(np.std(reference_means, ddof=1)))


def compare_fidelity(first: np.ndarray, second: np.ndarray, reference: np.ndarray, *,
                     correlation: Correlation = kendall_tau, resamples: int = 2000,
                     confidence: float = 0.9, seed: int = 0) -> Estimate:
    """How much better ``first`` ranks than ``second`` (both architectures x seeds, the same
    architectures as ``reference``): the difference of their correlations with the reference,
    with a *paired* bootstrap interval (each resample draws the same architectures for both,
    seeds within each side), far narrower than two separate intervals when the two scores
    share the architectures that are easy or hard to rank."""
    tables = [np.asarray(t, dtype=float) for t in (first, second, reference)]
    if any(t.ndim != 2 or t.shape[0] != tables[2].shape[0] for t in tables):
        raise SearchError("fidelity: expected three (architectures x seeds) tables with the same "
                          f"architectures, got shapes {[t.shape for t in tables]}")
    if tables[2].shape[0] < 3:
        raise SearchError(f"fidelity: a ranking needs at least 3 architectures, got "
                          f"{tables[2].shape[0]}")
    first, second, reference = tables
    rng = np.random.default_rng(seed)
    count = reference.shape[0]
    values: list[float] = []
    undefined = 0
    for _ in range(resamples):
        rows = rng.integers(count, size=count)
        truth = _resampled_means(reference, rows, rng)
        value = (correlation(_resampled_means(first, rows, rng), truth)
                 - correlation(_resampled_means(second, rows, rng), truth))
        if math.isfinite(value):
            values.append(value)
        else:
            undefined += 1
    point = _finite_or_none(correlation(first.mean(axis=1), reference.mean(axis=1))
                            - correlation(second.mean(axis=1), reference.mean(axis=1)))
    if point is None or not values:
        return Estimate(point, None, None, undefined)
    return Estimate(point, *_interval(values, confidence), undefined)
