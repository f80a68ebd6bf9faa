"""The threshold method ``auto`` (:func:`auto_cut`): the first of its rules ``mode``, ``tail``, ``isolated``,
``majority`` and ``split`` that fires on one score distribution, each set out in :mod:`winnow.thresholds`' docstring; the mode test
itself is :func:`auto_threshold`.
"""

from __future__ import annotations

import math

import numpy as np

from winnow.histogram_cuts import NOTHING, Histogram, kittler, otsu

# the fewest scores the mode, tail and majority rules test: fewer fire none (the threshold stage's warnings say so)
MIN_SCORES = 10


def auto_cut(scores: np.ndarray, *, bins: int = 256, alpha: float = 0.01, tail_share: float | None = 0.1,
             isolated_max: int | None = 10) -> tuple[float, str]:
    """``(cut, rule)`` for finite ``scores`` float64 ``(N,)``: the first of the ``mode``, ``tail``, ``isolated``,
    ``majority`` and ``split`` rules (module docstring) that fires, else ``(NOTHING, "none")``; fewer than :data:`MIN_SCORES`
    scores fire none.

    ``tail_share`` (the lowest share the ``tail`` rule looks at, and the ``isolated`` rule's
    reference quantile) None turns those two rules off, ``isolated_max`` None the ``isolated`` rule;
    the ``majority`` and ``split`` rules stay either way.
    """
    cut = auto_threshold(scores, bins=bins, alpha=alpha)
    if cut != NOTHING:
        return cut, "mode"
    if len(scores) < MIN_SCORES:
        return NOTHING, "none"
    # before: tail_share None returned here, so it turned the majority rule off too: 800 of 1,000 images blurred
    # flagged none at max_flagged_fraction 0.9 (rule none), and said nothing at 0.5 (no too_many warning)
    if tail_share is not None:
        lowest = scores[scores <= np.quantile(scores, tail_share)]
        cut = auto_threshold(lowest, bins=bins, alpha=alpha)
        if cut != NOTHING:
            return cut, "tail"
        if isolated_max is not None:  # before: None was read as 0 tests, and the best of none raised ValueError
            cut = _isolated_cut(scores, share=tail_share, most=isolated_max, alpha=alpha)
            if cut != NOTHING:
                return cut, "isolated"
    # one histogram and one Otsu split for the majority and split rules, which both start from them
    h = Histogram.of(scores, bins=bins)
    split = otsu(h)
    cut = _majority_cut(scores, histogram=h, split=split, alpha=alpha)
    if cut != NOTHING:
        return cut, "majority"
    cut = _split_cut(scores, histogram=h, split=split, alpha=alpha)
    return (cut, "split") if cut != NOTHING else (NOTHING, "none")


def _majority_cut(scores: np.ndarray, *, histogram: Histogram, split: float, alpha: float) -> float:
    """The valley below which most of ``scores`` lie, when Otsu's split leaves more than half of them below
    it and both sides are modes of their own (the ``mode`` rule's test): 80% of the images
    blurred, or a minority scoring above the norm. Else :data:`NOTHING`. Before, such a set said nothing:
    rule ``none``, no warning, and no ``max_flagged_fraction`` could let the cut apply. ``histogram``: of
    ``scores``; ``split``: its Otsu threshold (Otsu, not minimum error: beside a tight majority mode, 80% darkened to
    x0.25, minimum error cut inside it)."""
    if np.mean(scores <= split) <= 0.5:
        return NOTHING
    valley = _valley_between_modes(histogram, split, bandwidth=_bandwidth(scores), alpha=alpha)
    # a majority at the valley too: a valley below Otsu's cut leaving fewer than half is a minority the mode rule
    # judged and passed, not this rule's to flag
    return NOTHING if valley is None or np.mean(scores <= valley) <= 0.5 else valley


# the split rule's sides each hold at least this share of the scores: a smaller side is the mode and tail rules' to
# judge, and beside a long clean tail (lognormal sigma 1-1.5, Pareto(2), 100 scores) the within-side smoothing found
# valleys between the body and a few tail scores (26 more false alarms over 1,800 clean draws at no minimum)
_SPLIT_SHARE = 0.2
# and it fires from this many scores (below the top value, which threshold_rule sets aside: 100 photos reach it as
# 99): its clean null holds from 100 images, but on 20-80 the within-side spread of so few scores is no measure of
# an empty band, and 1-15% of clean draws (uniform, beta, normal, gamma, lognormal) had a gap of 3-8 bandwidths
# between two sides; 10 of 40 clean uniform(0.2, 0.9) scores were flagged. At 90 itself 1-4 of 1,500 clean draws
# fired (uniform, lognormal sigma 1, Pareto(2); stop 79's review), under alpha; at 120 and more none of 1,000
_SPLIT_MIN = 90


def _split_cut(scores: np.ndarray, *, histogram: Histogram, split: float, alpha: float) -> float:
    """The valley between two modes of which each side of Otsu's split holds at least :data:`_SPLIT_SHARE` of
    ``scores`` float64 ``(N,)`` (at least :data:`_SPLIT_MIN` of them), tested (as the ``mode`` rule tests it) at the spread within each side, and lying in
    a band with no score within that bandwidth of it; else :data:`NOTHING`.

    Silverman's bandwidth over both modes is widened by the gap between them: half of 100 photos darkened to 15%
    (dark 0.06-0.14) beside clean photos of widely spread brightness (0.45-0.88) had it at 0.11, which filled the
    valley, so the mode rule passed them, and the majority rule, Otsu leaving exactly half below, did not test them:
    rule none, no warning. Smoothed at the within-side spread (0.019) the valley is plain."""
    if len(scores) < _SPLIT_MIN:
        return NOTHING
    low = scores <= split
    if not _SPLIT_SHARE <= np.mean(low) <= 1 - _SPLIT_SHARE:
        return NOTHING
    within = np.concatenate([scores[low] - scores[low].mean(), scores[~low] - scores[~low].mean()])
    # each side one value (scores on two levels) leaves no spread within: then the scores' own step, as _bandwidth's
    # floor (its median step over one distinct value was a mean of nothing, a RuntimeWarning in the stage's stderr)
    spread = _bandwidth(within) if np.unique(within).size > 1 else 0.0
    bandwidth = max(spread, _resolution(scores))
    valley = _valley_between_modes(histogram, split, bandwidth=bandwidth, alpha=alpha)
    # an empty band: at the finer bandwidth a clean beta(5, 2) of 8,068 scores had a ripple pass the valley test
    # with scores all round it (1 of 100 draws of 8,068); damage that moves a group leaves a gap
    if valley is None or np.any(np.abs(scores - valley) < bandwidth):
        return NOTHING
    return valley


# the isolated rule's scale is one range over the tail's scores: from fewer than this it varies too much to
# bound false alarms (a 64-image set with 6 scores below its lowest decile flagged a clean image)
MIN_TAIL = 20
# the isolated rule tests at most this many lowest scores, or a fifth of those below the tail quantile where that is
# more: deeper into the tail its spacings are no longer beyond chance at alpha. Clean normal scores (200 draws)
# flagged 12-28 of 300 on 16 draws at isolated_max 50 (8%, alpha 1%), 94-98 of 1,000 on 8 at 100, and 489-498 of
# 5,000 on 5 at 1,000; held to max(10, a fifth) none fired beyond the default's rate
_ISOLATED_SHARE, _ISOLATED_MEASURED = 0.2, 10


def tail_count(scores: np.ndarray, *, share: float) -> int:
    """How many of finite ``scores`` float64 ``(N,)`` lie strictly below their ``share`` quantile: the tail the
    ``isolated`` rule tests, which needs :data:`MIN_TAIL` (a pinned value at the quantile is no tail)."""
    x = np.sort(np.asarray(scores, np.float64))
    return int(np.searchsorted(x, np.quantile(x, share), side="left")) if len(x) else 0


def _isolated_cut(scores: np.ndarray, *, share: float, most: int, alpha: float) -> float:
    """The largest of the lowest ``k <= most`` scores when their gap to the rest is beyond chance
    under an exponential lower tail (module docstring, ``isolated``), else :data:`NOTHING`."""
    x = np.sort(scores)
    top = np.quantile(x, share)
    below = tail_count(x, share=share)
    if below < MIN_TAIL:
        return NOTHING
    k = np.arange(1, min(most, max(_ISOLATED_MEASURED, int(_ISOLATED_SHARE * below)), below - 2) + 1)
    # n exponential draws below ``top`` reach their (k+1)-th lowest at sigma (H_n - H_k) on average
    harmonic = np.cumsum(1.0 / np.arange(1, below + 1))
    rest_low = x[k]  # the lowest score left once the k lowest are set aside
    # on a grid the smallest gap there can be is one step, which says nothing: scores rounded to 0.1 put a
    # few at 0 a step below the rest, and gamma(2) draws of 5,000 fired on 75 of 300
    gap = np.maximum(rest_low - x[k - 1] - _resolution(x), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = (top - rest_low) / (harmonic[-1] - harmonic[k - 1])
        log_p = np.where(scale > 0, -k * gap / scale, 0.0)
    best = int(np.argmin(log_p))
    # the logs apart: alpha / len(k) underflowed to 0 from alpha 5e-324 (a level params.yaml allows), and
    # math.log(0) ended the threshold stage in a traceback
    return float(x[best]) if log_p[best] <= math.log(alpha) - math.log(len(k)) else NOTHING


def auto_threshold(scores: np.ndarray, *, bins: int = 256, alpha: float = 0.01) -> float:
    """The ``mode`` rule's cut for finite ``scores`` float64 ``(N,)``, or :data:`NOTHING` unless they have a
    low second mode.

    1. The minimum-error cut, which fits each side its own spread and share, so it finds a narrow
       damaged mode beside a wide clean one where Otsu (equal spreads) cuts into the larger class.
    2. If most images fall below that cut, the second mode lies above the norm (upscaled thumbnails
       scoring sharper than any photo): not a problem class, so drop it and start again below.
    3. Move the cut to the deepest point of the density between the two sides' modes. Minimum error
       models both sides as Gaussians; a skewed clean side (a long tail towards the damaged mode) costs
       it more spread than cutting off that tail does, so with a small damaged group it cuts into
       the tail. The valley does not assume a shape. The density is the histogram smoothed by a
       Gaussian of Silverman's bandwidth.
    4. The flagged side must be a separate mode: a peak of its own below the cut (not the rising
       flank of the clean mode), and a valley that chance does not explain (a binomial test at
       ``alpha`` of the images near that peak against those near the valley). Otherwise flag nothing.

    An earlier version first asked Hartigan's dip test for a second mode. It has little power for a
    small, well-separated group: 130 blurred digits among 4,755 (2.7%) passed it at one seed and
    failed at the next, and 98 low-information digits never did; step 4 alone kept every clean
    MNIST and CIFAR set at zero flags over five seeds (benchmarks/RESULTS.md), so the dip test went.
    """
    n = len(scores)
    # a low share of the scores (the tail rule's, a recursion's) may lie within rounding of each other: one value
    if n < MIN_SCORES or scores.min() == scores.max() or not Histogram.resolves(scores, bins=bins):
        return NOTHING
    h = Histogram.of(scores, bins=bins)
    cut = kittler(h)
    below = scores[scores <= cut]
    if len(below) > n / 2:
        return auto_threshold(below, bins=bins, alpha=alpha)
    valley = _valley_between_modes(h, cut, bandwidth=_bandwidth(scores), alpha=alpha)
    return NOTHING if valley is None else valley


def _bandwidth(scores: np.ndarray) -> float:
    """Silverman's (1986) rule of thumb, ``0.9 min(std, IQR / 1.34) n^(-1/5)`` (the std alone when IQR is 0),
    and never below the scores' resolution: the median step between their distinct values. Scores on a grid
    (a share of 1,024 pixels, values rounded to 0.01) smoothed by less than their step are a comb, each gap a
    valley: uniform scores rounded to 0.01 fired the tail rule on 289 of 1,000 draws of 5,000."""
    q1, q3 = np.percentile(scores, [25, 75])
    spread = min(scores.std(), (q3 - q1) / 1.34) if q3 > q1 else scores.std()
    return max(0.9 * spread * len(scores) ** -0.2, _resolution(scores))


def _resolution(scores: np.ndarray) -> float:
    """The median step between the distinct values of ``scores`` (at least two distinct values)."""
    return float(np.median(np.diff(np.unique(scores))))


# the valley's density at most this share of the main (unflagged) mode's: see _valley_between_modes
_MAX_VALLEY_HEIGHT = 0.25


def _valley_between_modes(h: Histogram, cut: float, *, bandwidth: float, alpha: float) -> float | None:
    """The upper edge of the least dense bin strictly between the modes below and above ``cut``
    (ties: their middle); None when the side below ``cut`` is no separate mode: it has no peak of its
    own, the valley is no deeper than ``_MAX_VALLEY_HEIGHT`` of the main mode, or the images within a
    bandwidth of that peak do not outnumber those within a bandwidth of the valley at level ``alpha``
    (one-sided binomial test, equal density under the null)."""
    from scipy import ndimage, special  # not scipy.stats: 1.6 s to import, against 0.4 s for special

    width = h.centers[1] - h.centers[0]
    # at least half a bin, so a bandwidth below the bin width still evens out single-bin noise
    density = ndimage.gaussian_filter1d(h.counts, max(bandwidth / width, 0.5), mode="constant")
    low = h.centers <= cut
    if low.all() or not low.any():
        return None
    # the low side's mode must be a peak of its own, not the rising flank of the high side's mode
    falls_after = np.append(density[:-1] > density[1:], False)
    rises_to = np.insert(density[1:] >= density[:-1], 0, True)
    peaks = low & falls_after & rises_to
    if not peaks.any():
        return None
    low_mode = int(np.argmax(np.where(peaks, density, -np.inf)))
    high_mode = int(np.argmax(np.where(low, -np.inf, density)))
    if not rises_to[high_mode]:
        # the side above is densest on the low mode's flank past the cut: beside a low mode about as large as the
        # main one, Silverman's bandwidth (wide over two modes) smooths so, and the flank was taken for the main
        # mode, with no valley before it (55-75 of 100 images darkened to 15% flagged none, no warning: rule none,
        # no majority). The main mode is then the highest peak above (the last bin one where the density rises into
        # it), where it is a mode beside the low one: at least _MAX_VALLEY_HEIGHT of its density, not a few scores
        # of a long upper tail
        high = ~low & rises_to & np.append(density[:-1] > density[1:], True)
        high = high & (density >= _MAX_VALLEY_HEIGHT * density[low_mode])
        if high.any():
            high_mode = int(np.argmax(np.where(high, density, -np.inf)))
    between = density[low_mode : high_mode + 1]
    deepest = np.flatnonzero(between == between.min())
    valley = low_mode + int(np.mean(deepest))
    if not low_mode < valley < high_mode:
        return None
    # a valley most of the way up the main mode is a ripple on a plateau, not a gap between the norm and a
    # problem group: on flat scores peak and valley are such ripples (valleys at 0.52-0.96 of the main mode
    # in every false alarm over 400 uniform draws), where every damage the prevalence benchmark finds cuts
    # at 0.10 of it or less (benchmarks/threshold_null.py)
    if density[valley] > _MAX_VALLEY_HEIGHT * density[high_mode]:
        return None
    # a real valley: the images within a bandwidth of the low peak outnumber those within a bandwidth
    # of the valley beyond chance (equal density on both would split them as a fair coin)
    radius = max(1, int(round(bandwidth / width)))
    window = np.ones(2 * radius + 1)
    mass = np.convolve(h.counts, window, mode="same")
    at_peak, at_valley = int(round(mass[low_mode])), int(round(mass[valley]))
    if special.bdtrc(at_peak - 1, at_peak + at_valley, 0.5) > alpha:  # P(Binomial >= at_peak)
        return None
    return h.cut_after(valley)
