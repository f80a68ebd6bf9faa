"""How the cleaning budget picks its winner among the candidates judged (:mod:`winnow.budget`): a cleaning has to
beat doing less by more than the judge's noise, and never ships measurably below doing nothing.

Each candidate comes as what its judge images count (float64 ``(J,)``, higher = better, the same images for every
candidate), so the rule is a paired comparison: the gap of two candidates' sums against its standard error.
"""

from __future__ import annotations

import math

import numpy as np

from winnow.errors import WinnowError

# log-loss's "one image": ln 2 nats, one image moving between even odds and certainty. Without a floor a
# near-perfect probe (500 of 500 right either way) threw away 492 quality and duplicate drops for 0.0006 nats
# summed over its 500 judge images, a gap its own tiny standard error called real
LOG_LOSS_FLOOR = math.log(2)


def within_tie(better: np.ndarray, other: np.ndarray, *, tie_se: float, floor: float) -> bool:
    """Whether ``other`` scores no more than a tie below ``better`` on the same judge images (float ``(J,)``
    each, what each image counts): the gap of the sums is at most ``max(floor, tie_se * se)``, ``se``
    being its standard error from the paired per-image differences (for right/wrong, McNemar's discordant
    images). ``floor``: the gap that is always a tie (one image for accuracy)."""
    gap, se = paired_gap(better, other)
    return gap <= max(floor, tie_se * se)


def paired_gap(better: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """``(gap, se)``: how much more ``better`` sums than ``other`` over the same judge images (float ``(J,)``
    each), and the standard error of that sum from the paired per-image differences (0 for one image)."""
    d = np.asarray(better, np.float64) - np.asarray(other, np.float64)
    return float(d.sum()), float(np.sqrt(len(d) * d.var(ddof=1))) if len(d) > 1 else 0.0


def gap_words(gap_images: int, *, count=str) -> str:
    """A model check's gap (``gap_images``: none's judge images right less the candidate's) said from the candidate's
    side, so its sign cannot be misread: "2 more right than none", "1 fewer right than none", "as many right as none".
    ``count`` writes the number (the report's thousands separators). Before, "(gap -2 images)" stood beside a
    candidate two images better than none, and read as two worse."""
    if gap_images == 0:
        return "as many right as none"
    return f"{count(abs(gap_images))} {'more' if gap_images < 0 else 'fewer'} right than none"


def choose(gains: list[np.ndarray | None], *, names: list[str], tie_se: float, floor: float) -> int:
    """The winning candidate's index among ``names`` (least cleaning first, ``none`` at 0, ``filters`` at 1
    when present), from what each candidate's judge images count (None: not eligible).

    Among the label cuts (``filters`` onwards; ``none`` onwards without filters), the best score wins
    unless a cut with less cleaning is within a tie of it (:func:`within_tie`): then the least cleaning
    among those wins, so a cleaning has to beat doing less by more than the judge's noise. ``none`` wins
    whenever it scores more than a tie above that winner: the filters' drops, which the probe cannot
    reward, are kept unless the judge measures that they hurt; when it does (``filters`` more than a tie
    below ``none``, or not eligible), ``none`` joins the ladder, so a label cut has to beat doing nothing by more
    than a tie.
    """
    if gains[0] is None:
        raise WinnowError("budget: the baseline itself is not a trainable train split")
    first = 1 if len(names) > 1 and names[1] == "filters" else 0
    if first and (gains[1] is None or not within_tie(gains[0], gains[1], tie_se=tie_se, floor=floor)):
        # the judge measured that the filters' drops hurt, or could not judge them (they leave a class no train image):
        # they are no floor for the label cuts, which would otherwise ship on a tie with none (a probe: filters far
        # below none, filters plus 5% within a tie). Before, filters not eligible left none out of the ladder: `all`,
        # relabelling 66 images into the class the filters emptied, scored 2.4 nats below none (0.5 SE) and was chosen
        first = 0
    ladder = [i for i in range(first, len(gains)) if gains[i] is not None]
    if not ladder:
        return 0
    best = max(ladder, key=lambda i: (float(gains[i].sum()), -i))
    winner = next(i for i in ladder if within_tie(gains[best], gains[i], tie_se=tie_se, floor=floor))
    if first and not within_tie(gains[0], gains[winner], tie_se=tie_se, floor=floor):
        return 0
    return winner


def below_by_accuracy(hits: list[np.ndarray | None], gains: list[np.ndarray | None], i: int, *,
                      tie_se: float) -> str | None:
    """Why candidate ``i``, chosen by log-loss, may not ship (a note), or None: its probe gets more than a tie
    (``tie_se`` standard errors of the paired difference, and at least one judge image) fewer judge images right than
    none's. ``hits``: float64 ``(J,)`` per candidate, 1 where its probe classifies a judge image right, none's first;
    ``gains``: its log-probabilities of the judge labels (None where not judged). A cleaning whose log-loss is below
    none's while its accuracy is measurably below is what judge labels that are wrong make: a vaguer probe pays less
    for the confident misses on them (up to 28 nats each), and the note says so."""
    if i == 0 or within_tie(hits[0], hits[i], tie_se=tie_se, floor=1.0):
        return None
    gap, se = paired_gap(hits[0], hits[i])
    counts = (f"its probe gets {int(hits[i].sum())} of {len(hits[i])} judge images right against none's "
              f"{int(hits[0].sum())} ({gap:.0f} fewer, SE {se:.1f})")
    if gains[i].sum() <= gains[0].sum():
        return f"not chosen: {counts}"
    return (f"not chosen: its log-loss is below none's, but {counts}; a vaguer probe lowers the log-loss where judge "
            "labels are wrong: check the judge split's labels")
