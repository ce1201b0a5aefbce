"""The two statistics a topic's growth needs, from ``scipy.special`` alone.

``scipy.stats`` takes 0.6 s to import, and an update of a large run imports nothing else of
it: that was 3 % of an update of 147k papers. These are its ``beta.ppf`` and
``binomtest(...).pvalue`` (two-sided), computed by the same rules from the same special
functions; ``tests/test_timeline.py`` checks them against ``scipy.stats``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import bdtr, bdtrc, betaincinv, gammaln, xlog1py, xlogy


def beta_quantiles(q: list[float], a: float, b: float) -> np.ndarray:
    """``scipy.stats.beta.ppf(q, a, b)``."""
    return betaincinv(a, b, np.asarray(q, dtype=np.float64))


def binom_pmf(k: float, n: int, p: float) -> float:
    """P(X = k) for X ~ Binomial(n, p), in log space (no overflow at 147k papers)."""
    if k < 0 or k > n:
        return 0.0
    return math.exp(
        gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + xlogy(k, p) + xlog1py(n - k, -p)
    )


def binom_cdf(k: float, n: int, p: float) -> float:
    return 0.0 if k < 0 else float(bdtr(k, n, p))


def binom_sf(k: float, n: int, p: float) -> float:
    return 1.0 if k < 0 else float(bdtrc(k, n, p))


def binomtest_p(k: int, n: int, p: float) -> float:
    """The two-sided exact binomial test of success probability ``p`` given ``k`` of ``n``:
    the probability of every outcome no likelier than ``k`` (scipy's ``binomtest``, whose
    relative tolerance and search on the other side of the mode this follows)."""
    if n == 0 or k == p * n:
        return 1.0
    d = binom_pmf(k, n, p)
    rerr = 1 + 1e-7
    if k < p * n:
        ix = _search(lambda x: -binom_pmf(x, n, p), -d * rerr, math.ceil(p * n), n)
        y = n - ix + int(d * rerr == binom_pmf(ix, n, p))
        pval = binom_cdf(k, n, p) + binom_sf(n - y, n, p)
    else:
        ix = _search(lambda x: binom_pmf(x, n, p), d * rerr, 0, math.floor(p * n))
        pval = binom_cdf(ix, n, p) + binom_sf(k - 1, n, p)
    return min(1.0, pval)


def _search(a: Callable[[int], float], d: float, lo: int, hi: int) -> int:
    """The ``i`` in ``lo..hi`` with ``a(i) <= d < a(i + 1)``, ``a`` ascending on that range."""
    while lo < hi:
        mid = lo + (hi - lo) // 2
        value = a(mid)
        if value < d:
            lo = mid + 1
        elif value > d:
            hi = mid - 1
        else:
            return mid
    return lo if a(lo) <= d else lo - 1
