"""Automatic thresholds on one score distribution: lower scores are the problem class.

Every method returns a threshold ``t``; an image is flagged when ``score <= t``. Methods:

- ``otsu``, ``li``, ``kittler``, ``kapur``, ``ght``, ``valley``, ``gamma_mixture``: the classic methods on the
  histogram, each described in :mod:`winnow.histogram_cuts`.
- ``fixed``: ``value``.
- ``auto``: the first of these rules that fires (:func:`winnow.auto_rule.auto_cut`); the rule is reported with the cut
  (``metrics/threshold.json`` ``rule``):

  - ``mode``: the minimum-error split, its cut moved to the density's valley between the two modes,
    kept only when the flagged side is a peak of its own with a valley deeper than chance
    (:func:`winnow.auto_rule.auto_threshold`'s steps). Finds a damaged group from a few percent of the images up.
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
    images (``_majority_cut`` in :mod:`winnow.auto_rule`). It cuts at their valley, so ``max_flagged_fraction``
    then decides: below it, rule ``too_many`` and a warning, as a majority is taken for the data set's norm.
  - ``split``: none of the above fired, and each side of Otsu's split holds at least a fifth of the images, with
    a valley between them that the ``mode`` rule's test passes when smoothed at the spread within each side, in
    a band where no score lies within that bandwidth (``_split_cut`` in :mod:`winnow.auto_rule`). Silverman's
    bandwidth over both modes is widened by the gap between them and can fill it: half of 100 photos darkened
    to 15% beside clean photos of widely spread brightness were rule ``none``. Over a fifth a side and the
    empty band added no firing on 3,600 clean draws (lognormal, Pareto(2), normal, uniform, beta, gamma,
    Student's t and others, 100-8,068 scores); below about 100 scored images it does not fire (1-15% of clean
    draws of 20-80 did, as the within-side spread of so few scores bounds no gap). Above ``max_flagged_fraction``,
    ``too_many`` as for ``majority``.
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

import numpy as np

from winnow.auto_rule import auto_cut
from winnow.configs import THRESHOLD_METHODS
from winnow.errors import WinnowError
from winnow.histogram_cuts import NOTHING, Histogram, gamma_mixture, ght, kapur, kittler, li, otsu, valley

METHODS = THRESHOLD_METHODS


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
    # values within rounding of each other (no histogram of `bins` bins resolves them) are one value too
    if finite.min() == finite.max() or not Histogram.resolves(finite, bins=bins):
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
    over_fraction: set[str] | None = None,
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
        over_fraction: filled, when given, with each issue whose cut would flag more than ``max_flagged_fraction``
            of those images (rule ``too_many``, or ``floor`` where the floor's images stay flagged after it); not
            one whose every image lies at the floor, which flags them whatever the fraction.
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
        # a share of the images that choose the cuts, those another issue explains among them (as the stage's
        # warnings count it): before, of the images left after them, so 40 low-information images of 100 beside 25
        # dark ones were 40 of 75, "more than threshold.max_flagged_fraction (0.5) of the images", and flagged none
        choosing = len(scores[issue]) if cut_on is None else int(np.count_nonzero(cut_on))
        if choosing and len(group) / choosing > max_flagged_fraction:
            cut, rule = NOTHING, "too_many"
            # not where the whole group lies at the score's floor, which flags it whatever the fraction: before, 40
            # black images of 40 were told "a property most images share is the data set's norm; raise the fraction",
            # and a raised fraction flagged the same 40
            if over_fraction is not None and (floor is None or (group > floor).any()):
                over_fraction.add(issue)
        elif above:
            cut, rule = NOTHING, "ceiling"
        # a flat image has no information whatever the rest hold, so the norm of a set is no reason to pass it:
        # before, 20 black images among 30 flagged none (the floor's cut was replaced by too_many's nothing)
        if rule in ("too_many", "ceiling") and floor is not None and (values <= floor).any():
            cut, rule = floor, "floor"
        flags[issue] = eligible & (scores[issue] <= cut)
        cuts[issue], rules[issue] = cut, rule
    return flags, cuts, rules
