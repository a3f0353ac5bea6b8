"""The two-sided two-sample Kolmogorov-Smirnov test on large samples, as ``scipy.stats.ks_2samp``
computes it (method 'auto' above 10,000 values: the statistic from the empirical CDFs, the p-value
``kstwo.sf(D, round(n1 * n2 / (n1 + n2)))``), without importing ``scipy.stats``.

Why not scipy.stats itself: importing it costs 0.45-0.8 s on the 2-core machine, a tenth of
``mlgate validate`` on 10M rows (measured in ``benchmarks/validate.py``), and only this test
needed it there. ``kstwo.sf`` for an effective size above 140 is scipy's ``_kolmogn`` (Simard &
L'Ecuyer 2011): the branches below are copied from scipy 1.17 ``scipy/stats/_ksstats.py``
(BSD-3-Clause, Copyright (c) 2001-2002 Enthought, Inc. 2003, SciPy Developers), down to the order
of the floating-point operations, and ``tests/unit/stats/test_kolmogorov.py`` checks them against
the installed scipy over a grid that reaches every branch. Smaller effective sizes, and the exact
method for samples of at most 10,000, stay with scipy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EXACT_MAX = 10_000  # ks_2samp's MAX_AUTO_N: at or below it, scipy's exact p-value
SMALL_N = 140  # kstwo.sf at or below this effective size uses Pomeranz' recursion: left to scipy

_E128 = 128
_EP128 = np.ldexp(np.longdouble(1), _E128)
_EM128 = np.ldexp(np.longdouble(1), -_E128)
_SQRT2PI = np.sqrt(2 * np.pi)
_LOG_2PI = np.log(2 * np.pi)
_MIN_LOG = -708
_SQRT3 = np.sqrt(3)
_PI_SQUARED = np.pi ** 2
_PI_FOUR = np.pi ** 4
_PI_SIX = np.pi ** 6
# B_{2j}/(2j)/(2j-1) for j = 8..1 (Bernoulli numbers B), Stirling's series
_STIRLING_COEFFS = [-2.955065359477124183e-2, 6.4102564102564102564e-3,
                    -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                    -5.952380952380952381e-4, 7.9365079365079365079e-4,
                    -2.7777777777777777778e-3, 8.3333333333333333333e-2]


def ks_two_sided(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(D, p-value) of ``scipy.stats.ks_2samp(ref, cur, method="auto")``, two-sided; both samples
    non-empty and free of NaN."""
    n1, n2 = len(ref), len(cur)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = float(np.round(m * n / (m + n)))
    if max(n1, n2) <= EXACT_MAX or en <= SMALL_N:
        from scipy.stats import ks_2samp

        res = ks_2samp(ref, cur, method="auto")
        return float(res.statistic), float(res.pvalue)
    d = ks_statistic(ref, cur)
    return d, kstwo_sf(d, int(en))


def ks_statistic(ref: np.ndarray, cur: np.ndarray) -> float:
    """The largest gap between the two empirical CDFs (scipy's computation)."""
    data1, data2 = np.sort(ref), np.sort(cur)
    data_all = np.concatenate([data1, data2])
    cddiffs = (np.searchsorted(data1, data_all, side="right") / len(data1)
               - np.searchsorted(data2, data_all, side="right") / len(data2))
    min_s = np.clip(-cddiffs[np.argmin(cddiffs)], 0, 1)
    max_s = cddiffs[np.argmax(cddiffs)]
    return float(min_s if min_s > max_s else max_s)


def kstwo_sf(x: float, n: int) -> float:
    """P(D_n >= x) of the two-sided one-sample KS statistic, for n above ``SMALL_N`` (scipy's
    ``kstwo.sf``, ``_kolmogn(n, x, cdf=False)``)."""
    from scipy.special import smirnov

    if n <= SMALL_N:
        raise ValueError(f"kstwo_sf covers n > {SMALL_N}, got {n}")
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: 1/2n <= x <= 1/n
        if t <= 0.5:
            return 1.0
        prob = np.exp(_log_nfactorial_div_n_pow_n(n) + n * np.log(2 * t - 1))
        return float(_clip(1.0 - prob))
    if t >= n - 1:  # Ruben-Gambino
        return float(_clip(2 * (1.0 - x) ** n))
    if x >= 0.5:  # exact: 2 * smirnov
        return float(_clip(2 * smirnov(n, x)))
    nxsquared = t * x
    if nxsquared >= 370.0:
        return 0.0
    if nxsquared >= 2.2:
        return float(_clip(2 * smirnov(n, x)))
    cdfprob = _dmtw_cdf(n, x) if n <= 100000 and n * x ** 1.5 <= 1.4 else _pelz_good_cdf(n, x)
    return float(_clip(1.0 - cdfprob))


def _clip(p: Any) -> Any:
    """p within [0, 1], in the precision it has (the matrix algorithm works in long double)."""
    return np.clip(p, 0.0, 1.0)


def _log_nfactorial_div_n_pow_n(n: int) -> float:
    """log(n! / n**n) by Stirling's series, n*log(n) removed up front against cancellation."""
    rn = 1.0 / n
    return float(np.log(n) / 2 - n + _LOG_2PI / 2 + rn * np.polyval(_STIRLING_COEFFS, rn / n))


def _dmtw_cdf(n: int, d: float) -> Any:
    """P(D_n <= d) by Durbin's matrix algorithm as Marsaglia, Tsang & Wang compute it."""
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = int(np.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    H = np.zeros([m, m])
    intm = np.arange(1, m + 1)
    v = 1.0 - h ** intm
    w = np.empty(m)
    fac = 1.0
    for j in intm:
        w[j - 1] = fac
        fac /= j  # may underflow, harmlessly
        v[j - 1] *= fac
    tt = max(2 * h - 1.0, 0) ** m - 2 * h ** m
    v[-1] = (1.0 + tt) * fac
    for i in range(1, m):
        H[i - 1:, i] = w[:m - i + 1]
    H[:, 0] = v
    H[-1, :] = np.flip(v, axis=0)
    Hpwr = np.eye(np.shape(H)[0])
    nn, expnt, Hexpnt = n, 0, 0
    while nn > 0:
        if nn % 2:
            Hpwr = np.matmul(Hpwr, H)
            expnt += Hexpnt
        H = np.matmul(H, H)
        Hexpnt *= 2
        if np.abs(H[k - 1, k - 1]) > _EP128:
            H /= _EP128
            Hexpnt += _E128
        nn = nn // 2
    p = Hpwr[k - 1, k - 1]
    for i in range(1, n + 1):  # times n!/n^n
        p = i * p / n
        if np.abs(p) < _EM128:
            p *= _EP128
            expnt -= _E128
    if expnt != 0:
        p = np.ldexp(p, expnt)
    return _clip(p)


def _pelz_good_cdf(n: int, x: float) -> Any:
    """P(D_n <= x) by Pelz and Good's approximation (Li-Chien and Korolyuk's series, transformed
    by Jacobi theta functions for small z = x * sqrt(n))."""
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z ** 2, z ** 3, z ** 4, z ** 6
    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:
        return 0.0
    q = np.exp(qlog)
    k1a, k1b = -zsquared, _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z ** 8
    K0to3 = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):  # Horner's scheme for sum c_i q^(i^2) over odd i
        m = 2 * k - 1
        msquared, mfour, msix = m ** 2, m ** 4, m ** 6
        qpower = np.power(q, 8 * k)
        coeffs = np.array([1.0, k1a + k1b * msquared, k2a + k2b * msquared + k2c * mfour,
                           k3a + k3b * msquared + k3c * mfour + k3d * msix])
        K0to3 *= qpower
        K0to3 += coeffs
    K0to3 *= q
    K0to3 *= _SQRT2PI
    K0to3 /= np.array([z, 6 * zfour, 72 * z ** 7, 6480 * z ** 10])
    q = np.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks ** 2
    sqrt3z = _SQRT3 * z
    kspi = np.pi * ks
    qpwers = q ** ksquared
    k2extra = np.sum(ksquared * qpwers) * (_PI_SQUARED * _SQRT2PI / (-36 * zthree))
    K0to3[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers) * (_PI_SQUARED * _SQRT2PI / (216 * zsix))
    K0to3[3] += k3extra
    K0to3 /= np.power(n * 1.0, np.arange(len(K0to3)) / 2.0)
    return sum(K0to3)
