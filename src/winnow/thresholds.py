"""Automatic thresholds on one score distribution: lower scores are the problem class.

Every method returns a threshold ``t``; an image is flagged when ``score <= t``. Methods:

- ``otsu``, ``li``, ``kittler``, ``kapur``, ``ght``, ``valley``, ``gamma_mixture``: the classic methods on the
  histogram, each described in :mod:`winnow.histogram_cuts`.
- ``fixed``: ``value``.
- ``auto``: the first of these rules that fires (:func:`auto_cut`); the rule is reported with the cut
  (``metrics/threshold.json`` ``rule``):

  - ``mode``: the minimum-error split, its cut moved to the density's valley between the two modes,
    kept only when the flagged side is a peak of its own with a valley deeper than chance
    (:func:`auto_threshold`'s steps). Finds a damaged group from a few percent of the images up.
    The test picks its peak and valley from the same noise it tests, so on a flat score (uniform, the
    least favourable unimodal shape) ripples on the plateau passed for them: ``mode`` or ``tail`` fired
    on 7 of 200 draws of 1,000 scores and 20 of 200 of 5,000, flagging about a third. Those valleys
    stood at 0.52-0.96 of the main mode's height, where every damage the prevalence benchmark finds
    cuts at 0.10 or less, so the valley must lie below a quarter of it: no flat draw fires, and no
    benchmark F1 moved (benchmarks/threshold_null.py). The smoothing is never finer than the scores'
    own step, so scores on a grid (a share of pixels, rounded values) are not a comb of valleys.
    Scores pinned at the top are left out of every rule; where they are most of the images and every
    other score lies under half of the top, those others are the flagged side (rule ``mode`` too).
  - ``tail``: the same test on the lowest ``tail_share`` of the scores alone. Silverman's bandwidth
    over all the scores smooths a group of 0.5–2% into the clean tail; within the lowest decile it is
    a peak of its own again (40 thumbnails among 8,068 CIFAR images: F1 0.90, none before).
  - ``isolated``: the lowest ``k <= isolated_max`` scores (and no more than 10 or a fifth of those below
    ``q``, whichever is more) lie below the rest by a gap an exponential lower tail does not explain. Of
    ``n`` exponential draws of scale ``s`` below ``q`` (the ``tail_share`` quantile), the (k+1)-th
    lowest lies ``s (H_n - H_k)`` below ``q`` on average (``H`` the harmonic numbers), which gives
    ``s`` from the lowest score ``m`` left once the ``k`` are set aside; the normalised spacing
    ``k (m - x_k)`` is then exponential of scale ``s`` (Rényi), so its chance is
    ``exp(-k (m - x_k) / s)`` (the gap less one step of the scores' grid: rounded scores are never
    closer than a step), kept below ``alpha`` over the tests made (Bonferroni: one for each ``k``); it
    needs 20 scores below ``q``. The scale comes from the tail itself, so a bounded clean
    tail (CIFAR's dark score stops at 0.37) makes a smaller ``s`` and a long one (MNIST's dark score
    trails from 0.99 to 0.85) a larger one: a clean score whose lower tail is exponential or lighter
    flags nothing at about ``alpha``, and a single black image among 8,068 CIFAR images is flagged. A
    lower tail heavier than an exponential's (Student's t, 1 - lognormal) is not explained by it: there
    the rule flags a few clean images on a large share of draws (benchmarks/results/threshold_null.md,
    docs/design.md on why a fitted tail shape was not adopted).
  - ``floor`` (:func:`cut_issues` ``floors``): scores at or below the bottom of their range are
    flagged whatever the rest do (a flat image has no information at all); the cut is the floor
    where a rule above left one of them unflagged.
  - ``majority``: none of the above fired, and the scores form two modes of which the lower holds most
    images (:func:`_majority_cut`). It cuts at their valley, so ``max_flagged_fraction`` then decides:
    below it, rule ``too_many`` and a warning, as a majority is taken for the data set's norm.
  - ``ceiling`` (:func:`cut_issues` ``ceilings``): an ``auto`` cut above the score's absolute
    ceiling, most of whose group lies above it, flags none. ``light`` and ``dark`` are measured against
    the set's own norm, so in a set of mostly dim photos the ordinary ones read as light (284 of 300
    flagged, none overexposed). The group is judged whole: lowering the cut to the ceiling split a
    homogeneous mode in two, or kept 8 of 100 underexposed images the relative cut had set apart.
    A group mostly under the ceiling keeps its cut.
  - ``none``: nothing flagged.

  A ``reference`` cut (a score that defines its own, :func:`flag_issues`) replaces all of these.

Whatever the method, a cut that would flag more than ``max_flagged_fraction`` of the images flags
none (rule ``too_many``): a property most images share is the data set's norm, not an issue. Scores at
their floor stay flagged even then (rule ``floor``): a set of mostly black images is broken, not its norm.
"""

from __future__ import annotations

import math

import numpy as np

from winnow.configs import THRESHOLD_METHODS
from winnow.errors import WinnowError
from winnow.histogram_cuts import NOTHING, Histogram, gamma_mixture, ght, kapur, kittler, li, otsu, valley

METHODS = THRESHOLD_METHODS


def auto_cut(scores: np.ndarray, *, bins: int = 256, alpha: float = 0.01, tail_share: float | None = 0.1,
             isolated_max: int | None = 10) -> tuple[float, str]:
    """``(cut, rule)`` for finite ``scores`` float64 ``(N,)``: the first of the ``mode``, ``tail``, ``isolated``
    and ``majority`` rules (module docstring) that fires, else ``(NOTHING, "none")``; fewer than 10 scores fire none.

    ``tail_share`` (the lowest share the ``tail`` rule looks at, and the ``isolated`` rule's
    reference quantile) None turns those two rules off, ``isolated_max`` None the ``isolated`` rule;
    the ``majority`` rule stays either way.
    """
    cut = auto_threshold(scores, bins=bins, alpha=alpha)
    if cut != NOTHING:
        return cut, "mode"
    if len(scores) < 10:
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
    cut = _majority_cut(scores, bins=bins, alpha=alpha)
    return (cut, "majority") if cut != NOTHING else (NOTHING, "none")


def _majority_cut(scores: np.ndarray, *, bins: int, alpha: float) -> float:
    """The valley below which most of ``scores`` lie, when Otsu's split leaves more than half of them below
    it and both sides are modes of their own (the ``mode`` rule's test): 80% of the images
    blurred, or a minority scoring above the norm. Else :data:`NOTHING`. Before, such a set said nothing:
    rule ``none``, no warning, and no ``max_flagged_fraction`` could let the cut apply."""
    h = Histogram.of(scores, bins=bins)
    # Otsu, not minimum error: beside a tight majority mode (80% darkened to x0.25) minimum error cut inside it
    cut = otsu(h)
    if np.mean(scores <= cut) <= 0.5:
        return NOTHING
    valley = _valley_between_modes(h, cut, bandwidth=_bandwidth(scores), alpha=alpha)
    # a majority at the valley too: a valley below Otsu's cut leaving fewer than half is a minority the mode rule
    # judged and passed, not this rule's to flag
    return NOTHING if valley is None or np.mean(scores <= valley) <= 0.5 else valley


# the isolated rule's scale is one range over the tail's scores: from fewer than this it varies too much to
# bound false alarms (a 64-image set with 6 scores below its lowest decile flagged a clean image)
_MIN_TAIL = 20
# the isolated rule tests at most this many lowest scores, or a fifth of those below the tail quantile where that is
# more: deeper into the tail its spacings are no longer beyond chance at alpha. Clean normal scores (200 draws)
# flagged 12-28 of 300 on 16 draws at isolated_max 50 (8%, alpha 1%), 94-98 of 1,000 on 8 at 100, and 489-498 of
# 5,000 on 5 at 1,000; held to max(10, a fifth) none fired beyond the default's rate
_ISOLATED_SHARE, _ISOLATED_MEASURED = 0.2, 10


def _isolated_cut(scores: np.ndarray, *, share: float, most: int, alpha: float) -> float:
    """The largest of the lowest ``k <= most`` scores when their gap to the rest is beyond chance
    under an exponential lower tail (module docstring, ``isolated``), else :data:`NOTHING`."""
    x = np.sort(scores)
    top = np.quantile(x, share)
    below = int(np.searchsorted(x, top, side="left"))  # strictly below: a pinned value at the quantile is no tail
    if below < _MIN_TAIL:
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
    if n < 10 or scores.min() == scores.max():
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


def threshold(scores: np.ndarray, *, method: str = "auto", bins: int = 256, **options) -> float:
    """The threshold ``method`` picks for ``scores`` float ``(N,)``; flag ``scores <= threshold``.

    ``options`` go to the method (``value`` for ``fixed``, ``alpha``… for ``auto``, ``nu``… for ``ght``).
    """
    return threshold_rule(scores, method=method, bins=bins, **options)[0]


def threshold_rule(scores: np.ndarray, *, method: str = "auto", bins: int = 256, min_span: float = 0.0,
                   **options) -> tuple[float, str]:
    """``(threshold, rule)``: :func:`threshold` and what made it: ``auto``'s rule (module docstring),
    ``none`` when nothing is flagged, or the method's name. With ``auto``, scores below the top that all lie
    within ``min_span`` of each other fire no rule (:func:`cut_issues` ``spans``)."""
    cut, rule = _cut_and_rule(scores, method=method, bins=bins, min_span=min_span, **options)
    return cut, "none" if cut == NOTHING else rule


def _cut_and_rule(scores: np.ndarray, *, method: str, bins: int, min_span: float,
                  **options) -> tuple[float, str]:
    if method not in METHODS:
        raise WinnowError(f"threshold method {method!r} is not one of {', '.join(METHODS)}")
    if method == "fixed":
        if "value" not in options:
            raise WinnowError("threshold method 'fixed' needs a value")
        return float(options["value"]), "fixed"
    finite = np.asarray(scores, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    # scores pinned at the top of their range (a white 99th percentile…) are one value, not a
    # distribution; they would pull a cut towards the best images, and are never flagged anyway
    top = float(finite.max()) if len(finite) else NOTHING
    scored, finite = len(finite), finite[finite < top]
    if len(finite) == 0:
        return NOTHING, "none"  # one value: no second class to separate
    if finite.min() == finite.max():
        # two values: a method cuts between them. auto has no spread to test a second mode against, so it
        # asks for a gap no rounding makes: a score measured from 0 up at less than half the top value (digits
        # darkened to 5%: 12/255 beside 1). One quantisation step is no class (3 of 100 digits whose brightest
        # pixel is 254, not 255, were flagged dark), nor is 0.5 beside 0.6
        lower = float(finite.max())
        if method != "auto":
            return lower, method
        return (lower, "mode") if 0 <= lower < 0.5 * top else (NOTHING, "none")
    if method == "auto":
        # most scores pinned at the top and every other one under half of it (photos on white beside a few
        # underexposed ones): the clean mode is the top the rules never see, and the scores left are one group set
        # apart from it by the gap the two-value case asks for. Before, 12 digits darkened to 25-47% among 88
        # reaching white were flagged none (fewer than 10, or one group with no second mode among them)
        if 0 <= finite.min() and finite.max() < 0.5 * top and scored - len(finite) > len(finite):
            return float(finite.max()), "mode"
        if finite.max() - finite.min() < min_span:
            return NOTHING, "none"
        return auto_cut(finite, bins=bins, **options)
    algorithm = {"otsu": otsu, "li": li, "kittler": kittler, "kapur": kapur, "ght": ght,
                 "valley": valley, "gamma_mixture": gamma_mixture}[method]
    return float(algorithm(Histogram.of(finite, bins=bins), **options)), method


def flag_issues(scores: dict[str, np.ndarray], settings: dict[str, dict], **options) -> tuple[dict, dict]:
    """``(flags, thresholds)`` of :func:`cut_issues`, without the rules."""
    flags, cuts, _ = cut_issues(scores, settings, **options)
    return flags, cuts


def cut_issues(
    scores: dict[str, np.ndarray],
    settings: dict[str, dict],
    *,
    explained_by: dict[str, tuple[str, ...]] | None = None,
    reference: dict[str, float] | None = None,
    floors: dict[str, float] | None = None,
    ceilings: dict[str, float] | None = None,
    discarded: dict[str, tuple[float, int]] | None = None,
    spans: dict[str, float] | None = None,
    bins: int = 256,
    max_flagged_fraction: float = 0.5,
    cut_on: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, str]]:
    """Flags, thresholds and the rule behind each for every issue in ``settings``.

    Args:
        scores: ``{issue: float (N,)}``.
        settings: ``{issue: {"method": ..., **options}}``; a missing method means ``auto``.
        explained_by: ``{issue: (other issues…)}``: images flagged for one of the others are neither
            thresholded nor flagged for ``issue`` (clipped or crushed brightness lowers entropy by
            itself, so a light image is not also low-information).
        reference: ``{issue: threshold}`` that ``auto`` uses as is where a score defines its own cut
            (rule ``reference``).
        floors: ``{issue: value}``: with ``auto``, scores at or below ``value`` are flagged whatever
            the distribution (rule ``floor``, unless ``auto`` cut higher), and however many there are.
        ceilings: ``{issue: value}``: with ``auto``, a cut above ``value`` whose flagged group lies mostly
            above it flags none (rule ``ceiling``; ``floor`` where scores at the floor remain).
        discarded: filled, when given, with ``{issue: (cut, images)}`` for each cut a ceiling set aside, or would
            have where the cut flagged more than ``max_flagged_fraction`` too (rule ``too_many``): what the relative
            cut was and how many images of those that choose it (``cut_on``) it would have flagged.
        spans: ``{issue: width}``: with ``auto``, scores that all lie within ``width`` of each other (the top
            value aside) fire no rule (rule ``none``; ``floor`` still applies). A width in the score's own units:
            the quality scores' two grey levels (:data:`winnow.quality.MIN_SPAN`) mean nothing to a distance.
        cut_on: bool ``(N,)``, the images whose scores choose the cuts (default all); every image is
            flagged by them.

    Returns:
        ``({issue: bool (N,)}, {issue: threshold}, {issue: rule})``; a threshold of ``-inf`` flagged
        nothing; rules as the module docstring says.
    """
    explained_by, reference, floors, ceilings = explained_by or {}, reference or {}, floors or {}, ceilings or {}
    spans = spans or {}
    order = sorted(settings, key=lambda issue: issue in explained_by)  # explainers first
    flags, cuts, rules = {}, {}, {}
    for issue in order:
        options = dict(settings[issue])
        method = options.pop("method", "auto")
        eligible = np.ones(len(scores[issue]), dtype=bool)
        for other in explained_by.get(issue, ()):
            eligible &= ~flags.get(other, np.zeros_like(eligible))
        values = scores[issue][eligible if cut_on is None else eligible & cut_on]
        if method == "auto" and issue in reference:
            if options:  # before: accepted and ignored without a word
                raise WinnowError(f"{issue}: auto takes {issue}'s own cut ({reference[issue]:.4g}), so "
                                  f"{', '.join(map(str, options))} would change nothing; drop them, or give method "
                                  "fixed and a value")
            cut, rule = reference[issue], "reference"
        else:
            try:
                cut, rule = threshold_rule(values, method=method, bins=bins, min_span=spans.get(issue, 0.0),
                                           **options)
            except WinnowError as err:
                raise WinnowError(f"{issue}: {err}") from None
            if method == "auto" and issue in floors and ((values <= floors[issue]) & (values > cut)).any():
                cut, rule = floors[issue], "floor"
        floor = floors.get(issue) if method == "auto" else None
        group = values[values <= cut]
        # a group mostly above the ceiling is recorded where too many images lie below the cut as well: before, only
        # too_many's advice was given (raise the fraction), and a raised fraction flagged none all the same (ceiling)
        above = (method == "auto" and issue in ceilings and cut > ceilings[issue] and len(group) > 0
                 and np.mean(group <= ceilings[issue]) <= 0.5)
        if above and discarded is not None:
            discarded[issue] = (float(cut), len(group))
        if len(values) and len(group) / len(values) > max_flagged_fraction:
            cut, rule = NOTHING, "too_many"
        elif above:
            cut, rule = NOTHING, "ceiling"
        # a flat image has no information whatever the rest hold, so the norm of a set is no reason to pass it:
        # before, 20 black images among 30 flagged none (the floor's cut was replaced by too_many's nothing)
        if rule in ("too_many", "ceiling") and floor is not None and (values <= floor).any():
            cut, rule = floor, "floor"
        flags[issue] = eligible & (scores[issue] <= cut)
        cuts[issue], rules[issue] = cut, rule
    return flags, cuts, rules
