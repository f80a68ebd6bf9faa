"""Paired comparisons of two classifiers on the same test images: counts, an exact test, an interval.

Two models (base and head) judged on the same n images give a paired 2x2 table: ``both`` right,
``lost`` (right at base, wrong at head), ``gained`` (wrong at base, right at head), ``neither``. Only
the discordant images (lost + gained) carry evidence about a change; under "no change" each of them
is equally likely to fall either way, so the number lost is Binomial(lost + gained, 1/2) — McNemar's
exact test. The change in accuracy is (gained - lost) / n, with Newcombe's interval for a difference
of paired proportions (his method 10: Wilson score intervals of the two accuracies combined with the
correlation of the pairs), which keeps its coverage when counts are small, where the Wald interval is
zero-width at 0 discordant images.

Two models trained with different seeds are not two measurements of one model: a run that happens to
be weaker on a class is weaker on many of its images at once, so the discordant images of one class
come in clumps and their count is overdispersed against the binomial (more spread than Binomial(n, 1/2)
allows). ``overdispersion`` (phi >= 1, :func:`overdispersion` measures it from runs that differ only in
their seed) scales the evidence down: the test counts lost / phi of (lost + gained) / phi images, and the
interval widens by sqrt(phi). With phi = 1 it is McNemar's exact test and Newcombe's interval.

Several runs a side (seeds of one setting) are pooled image by image (:meth:`PairedCounts.from_runs`):
each image's share of runs right at base, r_b, and at head, r_h, and its change d = r_h - r_b. Under "no
change" every d is as likely to be negative as positive, so sum(d) has variance sum(d^2) (the sign-flip
variance); with one run a side d is -1, 0 or 1 and that is McNemar's lost + gained. The pooled table
counts the images lost and gained, sum(-d | d < 0) and sum(d | d > 0), scaled by c = (lost + gained) /
sum(d^2) >= 1, and every other cell by the same c, so that its accuracies and change are the runs' means
and its McNemar variance is the sign-flip variance: averaging runs shrinks the noise, and the same tests
then see it as evidence from c times as many images. phi carries over unchanged: a seed's clumped
errors shrink with the number of runs exactly as the per-image noise does.

Several runs a side also measure phi themselves: two runs of one side differ only in their seed, so their
paired tables are exactly what :func:`overdispersion` wants (:func:`seed_overdispersion`). A seed that
trains a model worse on every class at once, an unlucky run a few points of accuracy below its siblings,
shows there, and the gate uses the larger of that and the phi it is given. A class's phi is measured on the
other classes, so that a seed which lost that class does not widen the phi that tests the loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from winnow.configs import CORRECTIONS


@dataclass(frozen=True)
class PairedCounts:
    """The paired 2x2 table of right/wrong at base and head over the same images (whole counts for one
    run a side; pooled, fractional counts for several, see :meth:`from_runs`)."""

    both: float
    lost: float
    gained: float
    neither: float

    @classmethod
    def from_correct(cls, base_right: np.ndarray, head_right: np.ndarray) -> "PairedCounts":
        """Args: base_right, head_right: bool ``(n,)``, whether each image was classified right."""
        base_right, head_right = np.asarray(base_right, bool), np.asarray(head_right, bool)
        return cls(both=int(np.sum(base_right & head_right)), lost=int(np.sum(base_right & ~head_right)),
                   gained=int(np.sum(~base_right & head_right)), neither=int(np.sum(~base_right & ~head_right)))

    @classmethod
    def from_runs(cls, base_right: np.ndarray, head_right: np.ndarray) -> "PairedCounts":
        """The pooled table of several runs a side (see the module docstring); with one run a side it is
        :meth:`from_correct`'s.

        Args:
            base_right: bool ``(runs_base, n)``; head_right: bool ``(runs_head, n)``: whether each run
                classified each image right.
        """
        base_right, head_right = np.atleast_2d(base_right), np.atleast_2d(head_right)
        if len(base_right) == 1 and len(head_right) == 1:
            return cls.from_correct(base_right[0], head_right[0])
        base_rate, head_rate = base_right.mean(axis=0), head_right.mean(axis=0)
        change = head_rate - base_rate
        lost, gained, spread = float(np.sum(-change[change < 0])), float(np.sum(change[change > 0])), float(
            np.sum(change ** 2))
        scale = (lost + gained) / spread if spread > 0 else 1.0
        total, base = len(change) * scale, float(np.sum(base_rate)) * scale
        both = base - lost * scale
        return cls(both=both, lost=lost * scale, gained=gained * scale,
                   neither=total - both - (lost + gained) * scale)

    @property
    def n(self) -> float:
        return self.both + self.lost + self.gained + self.neither

    @property
    def base(self) -> float:
        """Accuracy at base (NaN for no images)."""
        return (self.both + self.lost) / self.n if self.n else math.nan

    @property
    def head(self) -> float:
        return (self.both + self.gained) / self.n if self.n else math.nan

    @property
    def change(self) -> float:
        """head - base."""
        return (self.gained - self.lost) / self.n if self.n else math.nan


def drop_p_value(counts: PairedCounts, *, overdispersion: float = 1.0) -> float:
    """One-sided p-value for "head is worse than base": P(X >= lost), X ~ Binomial(lost + gained, 1/2)
    (McNemar's exact test), with both counts divided by ``overdispersion`` first (pooled, fractional
    counts go through the same beta form). One-sided because the gate asks only whether a metric fell;
    1.0 with no image lost."""
    n = counts.lost + counts.gained
    if counts.lost == 0:
        return 1.0
    if overdispersion == 1 and float(counts.lost).is_integer() and float(n).is_integer():
        n, lost = int(n), int(counts.lost)  # exact in integers (n is at most the number of test images)
        # each C(n, k + 1) from C(n, k), exact: before, math.comb anew for every k cost seconds at 10,000 discordant
        # images (a test set of 50,000 and two versions 20% apart) and minutes at 40,000, per test and twice for a
        # two-sided one, so a gate or report of a large test set hung there
        term, total = math.comb(n, lost), 0
        for k in range(lost, n + 1):
            total += term
            term = term * (n - k) // (k + 1)
        return total / 2 ** n
    from scipy.special import betainc

    # P(X >= k) for X ~ Binomial(m, 1/2) is the regularised incomplete beta I_{1/2}(k, m - k + 1), which is
    # defined for the fractional k = lost / phi and m = n / phi as well
    k, m = counts.lost / overdispersion, n / overdispersion
    return float(betainc(k, m - k + 1, 0.5))


def change_p_value(counts: PairedCounts, *, overdispersion: float = 1.0) -> float:
    """Two-sided p-value for "head differs from base" (McNemar's exact test): twice the smaller of the
    one-sided :func:`drop_p_value` for a drop and for a gain, at most 1."""
    gain = PairedCounts(both=counts.both, lost=counts.gained, gained=counts.lost, neither=counts.neither)
    return min(1.0, 2 * min(drop_p_value(counts, overdispersion=overdispersion),
                            drop_p_value(gain, overdispersion=overdispersion)))


def overdispersion(lost: np.ndarray, gained: np.ndarray) -> float:
    """Pearson's estimate of phi from paired tables of no-op changes (runs that differ only in their seed):
    the mean of (lost - gained)^2 / (lost + gained) over the tables with a discordant image, at least 1.

    Args:
        lost, gained: int ``(m,)``, one entry per (class, pair of runs).
    """
    lost, gained = np.asarray(lost, float), np.asarray(gained, float)
    n = lost + gained
    used = n > 0
    if not used.any():
        return 1.0
    return max(1.0, float(np.mean((lost[used] - gained[used]) ** 2 / n[used])))


def seed_overdispersion(sides: list[np.ndarray], *, masks: list[np.ndarray]) -> tuple[float, list[float]]:
    """phi over all images, and each class's phi from the other classes' tables (:func:`overdispersion`), from
    every pair of runs within a side.

    A class's own tables are left out of its phi: a seed that lost one class would otherwise widen the phi
    that tests that loss.

    Args:
        sides: bool ``(runs, n)`` per side: whether each run classified each image right.
        masks: bool ``(n,)`` per class, at least two.

    Returns:
        ``(overall, per_class)``, ``per_class`` one float per mask; 1.0 each when no side has two runs.
    """
    overall, per_class = ([], []), ([], [])  # per_class: (lost, gained) rows of one entry per mask
    for right in sides:
        for i in range(len(right)):
            for j in range(i + 1, len(right)):
                counts = PairedCounts.from_correct(right[i], right[j])
                overall[0].append(counts.lost)
                overall[1].append(counts.gained)
                tables = [PairedCounts.from_correct(right[i][m], right[j][m]) for m in masks]
                per_class[0].append([t.lost for t in tables])
                per_class[1].append([t.gained for t in tables])
    lost, gained = (np.array(rows, float).reshape(-1, len(masks)) for rows in per_class)
    others = ~np.eye(len(masks), dtype=bool)
    return overdispersion(*overall), [overdispersion(lost[:, keep].ravel(), gained[:, keep].ravel())
                                      for keep in others]


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def change_interval(counts: PairedCounts, *, confidence: float = 0.95,
                    overdispersion: float = 1.0) -> tuple[float, float]:
    """Newcombe's (1998, method 10) interval for head - base accuracy, each side widened by
    sqrt(``overdispersion``); ``(nan, nan)`` for no images.

    Checked against Fagerland, Lydersen & Laake, *Statistical Analysis of Contingency Tables*, ch. 8.
    """
    n = counts.n
    if n == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    # in Newcombe's notation p1 is head and p2 base, so that the interval is for head - base
    a, b, c, d = counts.both, counts.gained, counts.lost, counts.neither
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson(a + b, n, z)
    l2, u2 = _wilson(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    # Newcombe's continuity adjustment of the correlation: positive values shrink by n/2, never below 0
    adjusted = cross - n / 2 if cross > n / 2 else cross if cross < 0 else 0.0
    phi = adjusted / math.sqrt(margins) if margins > 0 else 0.0
    change, widen = p1 - p2, math.sqrt(overdispersion)
    low = change - widen * math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    high = change + widen * math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return max(low, -1.0), min(high, 1.0)


def adjust(p_values: np.ndarray, *, method: str) -> np.ndarray:
    """Family-wise adjusted p-values (compare each with alpha).

    Args:
        p_values: float ``(m,)``.
        method: ``holm`` (step-down: the i-th smallest times m - i + 1, kept monotone), ``bonferroni``
            (times m) or ``none``.
    """
    p = np.asarray(p_values, float)
    if method == "none" or len(p) == 0:
        return p.copy()
    m = len(p)
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method != "holm":
        raise ValueError(f"unknown correction {method!r}; choose from {', '.join(CORRECTIONS)}")
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(np.maximum.accumulate(p[order] * (m - np.arange(m))), 1.0)
    out = np.empty(m)
    out[order] = stepped
    return out


def macro_f1_change(labels: np.ndarray, base_predicted: np.ndarray, head_predicted: np.ndarray, *,
                    num_classes: int, resamples: int = 2000, confidence: float = 0.95,
                    seed: int = 0) -> dict[str, float]:
    """head - base macro F1 on the same test images, with a paired permutation test and the interval that
    inverts it, both from one set of draws made image by image (the unit the test set was sampled in).

    The permutation test swaps the two models' predictions of each image with probability 1/2 (under "no
    difference" either model could have made either prediction) and counts how often the swapped change is
    at least as large as the one seen, in either direction: ``p = (1 + count) / (1 + resamples)``. The
    interval is ``change ± h``, h the smallest swapped size that the test would call significant at
    ``1 - confidence``: the changes it does not reject, when the permutation spread is taken to hold around
    the true change as around 0 (a shift). So the interval leaves out 0 exactly when p < 1 - confidence.
    Before: the interval was a bootstrap of the images, which runs narrower than the permutation null, and
    the page showed "p 0.077" beside a 95% interval wholly above 0. Macro F1 is evaluate's: the mean over
    the classes with test images (of ``num_classes``) of 2 tp / (support + predicted).

    Args:
        labels, base_predicted, head_predicted: int ``(n,)`` class indices in ``[0, num_classes)``.

    Returns:
        ``change``, ``p`` (two-sided), ``ci_low``, ``ci_high``.
    """
    labels, base_predicted, head_predicted = (np.asarray(a, np.int64) for a in (labels, base_predicted, head_predicted))
    change = float(_macro_f1(labels[None], head_predicted[None], num_classes)[0]
                   - _macro_f1(labels[None], base_predicted[None], num_classes)[0])
    rng = np.random.default_rng(seed)
    swapped = []
    for start in range(0, resamples, 250):  # blocks of draws: (250, n) arrays stay small for any test set
        size = min(250, resamples - start)
        swap = rng.random((size, len(labels))) < 0.5
        tiled = np.broadcast_to(labels, swap.shape)
        swapped.append(_macro_f1(tiled, np.where(swap, base_predicted, head_predicted), num_classes)
                       - _macro_f1(tiled, np.where(swap, head_predicted, base_predicted), num_classes))
    sizes = np.sort(np.abs(np.concatenate(swapped)))[::-1]  # largest first
    extreme = int(np.sum(sizes >= abs(change) - 1e-12))
    # p < 1 - confidence exactly when at most `allowed` swapped sizes reach |change|, that is when |change| lies
    # above the (allowed + 1)-th largest (with the count's 1e-12 of float slack); none allowed: never significant
    allowed = math.ceil(round((1 - confidence) * (1 + resamples), 9)) - 2
    half = float(sizes[allowed]) + 1e-12 if allowed >= 0 else math.inf
    # a bound within float slack of 0 is a tie with the largest size not rejected: 0, the interval touches it
    low, high = (0.0 if abs(x) < 1e-11 else x for x in (change - half, change + half))
    return {"change": change, "p": (1 + extreme) / (1 + resamples), "ci_low": max(low, -1.0), "ci_high": min(high, 1.0)}


def decimals(x: float, *, digits: int, signed: bool = False) -> str:
    """``x`` to ``digits`` decimals with thousands separators ("–" for NaN), but to its first digit that is not 0 (at
    most 10 decimals) where those would show 0, so that a number that is not 0 never reads as 0 (nor one in (-1, 1) as
    ±1: to its first decimal that is not 9); ``signed``: with its sign, + too. What reads 0 even at 10 decimals (below
    5e-11) is the float noise of figures that are equal, and reads as 0 does, unsigned (before: two versions of the
    same macro F1, summed in another order, read "+0.0000000000 over baseline", a change of 1e-16; and a 0 of -0.0
    read "-0.000")."""
    if math.isnan(x):
        return "–"
    sign = "+" if signed else ""
    if x == 0 or f"{abs(x):.10f}" == f"{0:.10f}":
        return f"{0.0:{sign}.{digits}f}"
    if 0 < abs(x) < 1 and f"{abs(x):.{digits}f}" == f"{1:.{digits}f}":
        # nor a rate that is not 1 as 1: before, a model wrong on 1 of 2,500 test images read "test accuracy 1.000"
        # and "Ship pruned: macro F1 1.000", as if it erred nowhere (within 5e-11 of 1: float noise of 1, read as 1)
        shown = next((d for d in range(digits + 1, 11) if f"{abs(x):.{d}f}" != f"{1:.{d}f}"), digits)
        return f"{x:{sign}.{shown}f}"
    if math.isinf(x) or f"{abs(x):.{digits}f}" != f"{0:.{digits}f}":
        return f"{x:{sign},.{digits}f}"
    return f"{x:{sign}.{min(-math.floor(math.log10(abs(x))), 10)}f}"


def significant(x: float, *, digits: int = 6) -> float:
    """``x`` to ``digits`` significant digits, as a table file holds a change or its bounds; what :func:`decimals` reads
    as 0 (below 5e-11, the float noise of figures that are equal) is 0. Before, the compare stage's CSV wrote a tie
    across classes (per-class changes of +0.1, +0.2 and -0.3) as a change of 1.85037e-17, where its markdown says
    0.0000."""
    return 0.0 if decimals(x, digits=digits) == f"{0.0:.{digits}f}" else float(f"{x:.{digits}g}")


def p_text(p: float, *, digits: int = 3, alpha: float | None = None) -> str:
    """A p-value as the page, the comparison tables and the gate's comment write it: ``digits`` decimals,
    ``< 0.001`` (for 3) below the smallest they show, "–" for NaN, and with up to three more decimals where
    rounding would put it on the other side of ``alpha`` than it is. Before: p 0.04998 showed as "p 0.050" in the
    sentence shipping a version because p < 0.05; it now reads 0.04998."""
    if math.isnan(p):
        return "–"
    if p < 10 ** -digits:
        return f"< {10 ** -digits:.{digits}f}"
    for shown in range(digits, digits + 4):
        text = f"{p:.{shown}f}"
        if alpha is None or (float(text) < alpha) == (p < alpha):
            return text
    step = 10 ** -(digits + 3)  # still across alpha (0.0499999): cut toward the side p is on
    return f"{(math.floor(p / step) if p < alpha else math.ceil(p / step)) * step:.{digits + 3}f}"


def _macro_f1(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """float ``(m,)``: the macro F1 of each row of int ``(m, n)`` labels and predictions, over the classes its labels
    hold (:func:`winnow.metrics.summarise`'s: a class without test images has no F1 to measure); 0 for no label."""
    rows = np.arange(labels.shape[0])[:, None] * num_classes

    def count(index: np.ndarray) -> np.ndarray:
        return np.bincount(index.ravel(), minlength=labels.shape[0] * num_classes).reshape(-1, num_classes)

    tp = count((rows + labels)[labels == predicted])
    support = count(rows + labels)
    both = support + count(rows + predicted)
    f1 = np.divide(2 * tp, both, out=np.zeros(tp.shape), where=both > 0)
    tested = support > 0
    return (f1 * tested).sum(axis=1) / np.maximum(tested.sum(axis=1), 1)
