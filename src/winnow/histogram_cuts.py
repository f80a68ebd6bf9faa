"""Classic automatic thresholds on one histogram of scores: lower scores are the problem class.

Every method takes a :class:`Histogram` of the scores and returns a threshold ``t``; an image is
flagged when ``score <= t``. Methods:

- ``otsu``: maximum between-class variance (Otsu 1979).
- ``li``: minimum cross-entropy, iterated from the mean (Li & Lee 1993; Li & Tam 1998), as
  scikit-image's ``threshold_li`` but on the histogram.
- ``kittler``: minimum error, two Gaussians of their own variance (Kittler & Illingworth 1986).
- ``kapur``: maximum sum of the two classes' entropies (Kapur, Sahoo & Wong 1985).
- ``ght``: Barron's generalized histogram thresholding (ECCV 2020) with its priors ``nu, tau,
  kappa, omega``; ``nu = kappa = 0`` is minimum error, ``nu → ∞`` is Otsu.
- ``valley``: neighbourhood valley-emphasis (Fan & Lei 2012): Otsu's between-class variance weighted
  by one minus the histogram mass within ``valley_window`` bins of the cut; ``valley_window = 0``
  is Ng's (2006) original valley-emphasis.
- ``gamma_mixture``: two gamma distributions fitted by maximum likelihood (EM), cut where the
  posteriors cross (as Nouri & Kleinstein 2018 do for B-cell clone distances).

:mod:`winnow.thresholds` adds ``fixed`` and ``auto`` and applies the cut to every issue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from winnow.configs import DEFAULT_VALLEY_WINDOW
from winnow.errors import WinnowError

NOTHING = -math.inf  # threshold that flags nothing


@dataclass(frozen=True)
class Histogram:
    """``counts`` float64 ``(B,)`` over bins with ``centers`` float64 ``(B,)``, equal widths."""

    counts: np.ndarray
    centers: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, *, bins: int = 256) -> "Histogram":
        """Histogram of the finite ``scores`` over their own range (scikit-image's convention)."""
        scores = np.asarray(scores, dtype=np.float64)
        counts, edges = np.histogram(scores[np.isfinite(scores)], bins=bins)
        return cls(counts.astype(np.float64), 0.5 * (edges[:-1] + edges[1:]))

    @staticmethod
    def resolves(scores: np.ndarray, *, bins: int) -> bool:
        """Whether the range of ``scores`` float64 ``(N,)`` (finite, two distinct values or more) holds ``bins`` bins of
        distinct edges. Scores a few float64 steps apart (1 - cosine distances of near-copies, 1e-15 apart) hold none:
        they differ by rounding alone, so they are one value. Before, every method raised numpy's ValueError "Too many
        bins for data range" there (as numpy's own test, which compares the same edges)."""
        edges = np.linspace(float(np.min(scores)), float(np.max(scores)), bins + 1)
        return bool(np.all(edges[:-1] < edges[1:]))

    def cut_after(self, index: int) -> float:
        """The threshold that puts bins ``0..index`` below it: bin ``index``'s upper edge."""
        return float(self.centers[index] + 0.5 * (self.centers[1] - self.centers[0] if len(self.centers) > 1 else 0.0))

    def split_sums(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums of ``counts * values`` below and above each of the ``B - 1`` cuts (cut i: bins ≤ i below)."""
        below = np.cumsum(self.counts * values)[:-1]
        return below, np.sum(self.counts * values) - below


def otsu(h: Histogram) -> float:
    return h.cut_after(int(np.argmax(_between_class_variance(h))))


def _between_class_variance(h: Histogram) -> np.ndarray:
    w0, w1 = h.split_sums(np.ones_like(h.centers))
    s0, s1 = h.split_sums(h.centers)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(w0 * w1 * (s0 / w0 - s1 / w1) ** 2)


def li(h: Histogram, *, tolerance: float | None = None) -> float:
    # cross-entropy needs positive intensities; shift so the lowest bin sits at half a bin width
    width = h.centers[1] - h.centers[0] if len(h.centers) > 1 else 1.0
    x = h.centers - h.centers[0] + width / 2
    tolerance = width / 2 if tolerance is None else tolerance
    t = np.sum(h.counts * x) / np.sum(h.counts)
    for _ in range(1000):
        back, fore = x <= t, x > t
        if not back.any() or not fore.any() or h.counts[fore].sum() == 0 or h.counts[back].sum() == 0:
            break
        mean_back = np.average(x[back], weights=h.counts[back])
        mean_fore = np.average(x[fore], weights=h.counts[fore])
        t_next = (mean_fore - mean_back) / (math.log(mean_fore) - math.log(mean_back))
        done = abs(t_next - t) < tolerance
        t = t_next
        if done:
            break
    return float(t + h.centers[0] - width / 2)


def kittler(h: Histogram) -> float:
    w0, w1 = h.split_sums(np.ones_like(h.centers))
    s0, s1 = h.split_sums(h.centers)
    q0, q1 = h.split_sums(h.centers**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        var0, var1 = q0 / w0 - (s0 / w0) ** 2, q1 / w1 - (s1 / w1) ** 2
        p0, p1 = w0 / h.counts.sum(), w1 / h.counts.sum()
        # a class of one value has no variance and the criterion is undefined there (004, Table I)
        cost = p0 * np.log(var0) + p1 * np.log(var1) - 2 * (p0 * np.log(p0) + p1 * np.log(p1))
    cost[~((var0 > 0) & (var1 > 0))] = np.inf
    return h.cut_after(int(np.argmin(cost))) if np.isfinite(cost).any() else otsu(h)


def kapur(h: Histogram) -> float:
    p = h.counts / h.counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    hist = Histogram(p, h.centers)
    w0, w1 = hist.split_sums(np.ones_like(p))
    e0, e1 = Histogram(plogp, h.centers).split_sums(np.ones_like(p))
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.log(w0) - e0 / w0 + np.log(w1) - e1 / w1
    total[~((w0 > 0) & (w1 > 0))] = -np.inf
    return h.cut_after(int(np.argmax(total)))


def ght(h: Histogram, *, nu: float | None = None, tau: float | None = None, kappa: float = 0.0,
        omega: float = 0.5) -> float:
    """Barron (2020), eq. (8), in his numerically robust form (scatter ``d`` instead of variances).

    Defaults: ``nu`` 1% of the images and ``tau`` one bin width, a weak prior that a class is at least
    a bin wide; with ``nu = 0`` a class of a single bin has zero variance and wins every time.
    """
    tiny = 1e-30
    nu = 0.01 * h.counts.sum() if nu is None else nu
    tau = (h.centers[1] - h.centers[0] if len(h.centers) > 1 else 0.0) if tau is None else tau
    w0, w1 = (np.maximum(tiny, w) for w in h.split_sums(np.ones_like(h.centers)))
    s0, s1 = h.split_sums(h.centers)
    q0, q1 = h.split_sums(h.centers**2)
    p0, p1 = w0 / (w0 + w1), w1 / (w0 + w1)
    d0, d1 = q0 - s0**2 / w0, q1 - s1**2 / w1
    v0 = np.maximum(tiny, (p0 * nu * tau**2 + d0) / (p0 * nu + w0))
    v1 = np.maximum(tiny, (p1 * nu * tau**2 + d1) / (p1 * nu + w1))
    f0 = -d0 / v0 - w0 * np.log(v0) + 2 * (w0 + kappa * omega) * np.log(w0)
    f1 = -d1 / v1 - w1 * np.log(v1) + 2 * (w1 + kappa * (1 - omega)) * np.log(w1)
    score = f0 + f1
    return h.cut_after(int(np.mean(np.flatnonzero(score == score.max()))))  # ties: their middle, as Barron's code


def valley(h: Histogram, *, valley_window: int = DEFAULT_VALLEY_WINDOW) -> float:
    """Fan & Lei's criterion; the mass near cut ``i`` (bins ``0..i`` below) is that of bins ``i - w .. i + w``
    within the histogram.

    Raises:
        WinnowError: ``valley_window`` reaches every bin from every cut, so every cut weighs 0.
    """
    bins = len(h.counts)
    if valley_window >= bins - 1:
        # the window then holds all the mass around every cut: every cut weighs 0, and the argmax of zeros
        # would flag the lowest bin as if it were a valley
        raise WinnowError(f"method valley: valley_window {valley_window} reaches across the whole histogram of "
                          f"{bins} bins, so no cut has a valley to weigh; use a window below {bins - 1} or more bins")
    p = h.counts / h.counts.sum()
    # a windowed sum clipped at the histogram's ends: np.convolve(mode="same") returns the longer of the two
    # inputs, so a window of 2w + 1 > bins gave an array of another length (a broadcast traceback)
    total = np.concatenate([[0.0], np.cumsum(p)])
    cuts = np.arange(bins - 1)
    near_cut = total[np.minimum(cuts + valley_window + 1, bins)] - total[np.maximum(cuts - valley_window, 0)]
    return h.cut_after(int(np.argmax((1 - near_cut) * _between_class_variance(h))))


def gamma_mixture(h: Histogram, *, iterations: int = 200) -> float:
    """EM for ``pi Gamma(k0, θ0) + (1 - pi) Gamma(k1, θ1)`` on the binned scores, shifted positive."""
    from scipy import special, stats

    width = h.centers[1] - h.centers[0]
    x = h.centers - h.centers[0] + width / 2
    n = h.counts
    start = otsu(Histogram(n, x))
    resp = np.stack([(x <= start), (x > start)]).astype(np.float64)
    for _ in range(iterations):
        weight = resp * n
        total = weight.sum(axis=1)
        if (total <= 0).any():
            return NOTHING
        mean = (weight * x).sum(axis=1) / total
        mean_log = (weight * np.log(x)).sum(axis=1) / total
        shape = _gamma_shape(np.log(mean) - mean_log, special)
        scale = mean / shape
        log_density = np.log(total / n.sum())[:, None] + stats.gamma.logpdf(x[None, :], shape[:, None], scale=scale[:, None])
        new_resp = np.exp(log_density - np.logaddexp(log_density[0], log_density[1]))
        converged = np.abs(new_resp - resp).max() < 1e-6
        resp = new_resp
        if converged:
            break
    low_side = (x >= mean.min()) & (x <= mean.max()) & (resp[int(np.argmin(mean))] >= 0.5)
    if not low_side.any():
        return NOTHING
    return float(x[np.flatnonzero(low_side)[-1]] + h.centers[0])  # that bin's upper edge


def _gamma_shape(s: np.ndarray, special) -> np.ndarray:
    """Maximum-likelihood gamma shape from ``s = log(mean) - mean(log x)`` (Minka 2002's Newton steps)."""
    s = np.maximum(s, 1e-9)
    k = (3 - s + np.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)
    for _ in range(5):
        k = 1 / (1 / k + (np.log(k) - special.digamma(k) - s) / (k**2 * (1 / k - special.polygamma(1, k))))
    return k
