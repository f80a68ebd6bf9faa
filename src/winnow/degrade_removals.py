"""The checks of ``degrade.perturbations`` that depend on what the removals left, so :mod:`winnow.degrade`
calls them after the removals and before any image is picked: :func:`check_class_subsample` (a subsample
never empties a class) and :func:`after_removals` (label noise never gives a removed class). The checks that
need no such state are :mod:`winnow.degrade_options`'.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from winnow.degrade_options import Perturbation, next_class
from winnow.errors import WinnowError
from winnow.groundtruth import LABEL_KINDS


def long_tail_shares(classes: list[int], ratio: float) -> dict[int, float]:
    """class_subsample's long tail: the i-th of the K listed classes keeps ``ratio ** (-i / (K - 1))`` of its
    train images, so the first keeps all and the last ``1 / ratio``."""
    return {c: ratio ** (-i / max(len(classes) - 1, 1)) for i, c in enumerate(classes)}


def long_tail_left(p: Perturbation, *, left) -> Perturbation:
    """``p``, a long tail whose classes were left to the data (no ``classes`` given), over the classes of its default
    that ``left`` (the classes with train images just before it) holds: the ones earlier removals emptied take no
    place in the tail (and the ground truth records the classes it ran over). Before: [class_removal owl,
    class_subsample imbalance_ratio 4] kept cat 1 and dog 1/2 of their images, the 1/4 falling on the removed owl, a
    tail of ratio 2 recorded as one of 4. A tail given its classes keeps them, as written."""
    if p.kind != "class_subsample" or "imbalance_ratio" not in p.params or "classes" in p.given:
        return p
    return replace(p, params={**p.params, "classes": [c for c in p.params["classes"] if c in set(left.tolist())]})


def kept(share: float, count: int) -> int:
    """Train images a removal keeps of ``count`` when it keeps ``share`` of them (what _remove keeps)."""
    return round(share * count)


def check_class_subsample(p: Perturbation, counts: dict[int, int], *, classes: list[str]) -> None:
    """Refuse a class_subsample that would leave a class it names without a train image.

    ``counts``: each named class's train images just before this removal (after the ones listed before it).
    Refused rather than topped up to one image: a topped-up class would not follow the keep or ratio that
    the ground truth records, and one image per class is not what was asked for; cutting a class to nothing
    is class_removal's job, said on purpose. A class that earlier removals already emptied is not this
    perturbation's doing and is left to them, except in a long tail given its classes, whose ratio it would cut short
    (a tail left to the data's classes leaves it out: :func:`long_tail_left`).

    Raises:
        WinnowError: one line naming the perturbation and the largest ratio (smallest keep) that keeps one
        train image of every named class.
    """
    counts = {c: n for c, n in counts.items() if n}
    if "imbalance_ratio" in p.params:
        order = p.params["classes"]  # the tail's positions, as _remove reads them

        def emptied_at(ratio):
            shares = long_tail_shares(order, ratio)
            return [c for c, share in shares.items() if c in counts and not kept(share, counts[c])]

        ratio = p.params["imbalance_ratio"]
        # a given tail's places are its classes as written: one an earlier removal emptied keeps its place and share,
        # so [class_removal owl, tail cat dog owl ratio 4] kept dog at 1/2 and owl's 1/4 fell on nothing, a tail of 2
        # recorded as one of 4 (a tail left to the data is remade from the classes left: long_tail_left)
        gone = [c for c in order if c not in counts]
        if gone:
            # the first or last gone, the classes left span less than the ratio; one in the middle leaves the ratio
            # whole, its places uneven (before: said to fall short of the ratio too)
            why = (f"the tail would fall short of imbalance_ratio {ratio:g}" if {order[0], order[-1]} & set(gone)
                   else "its place in the tail falls on no image and the classes left are spaced unlike the tail "
                        "recorded")
            raise WinnowError(f"{p.where}: classes names {classes[gone[0]]!r}, which the removals before it leave "
                              f"without train images, so {why}; leave {classes[gone[0]]!r} out of classes")
        emptied = emptied_at(ratio)
        if not emptied:
            return
        # the i-th class keeps round(n_i * ratio ** (-i / (K - 1))) >= 1 while ratio < (2 n_i) ** ((K - 1) / i);
        # in logs, since (2 n) ** (K - 1) overflows a float for a few hundred classes
        k = max(len(order) - 1, 1)
        bound = math.exp(min(k / i * math.log(2 * counts[c]) for i, c in enumerate(order) if i and c in counts))
        best = _three_digits(bound, down=True, fits=lambda r: r < bound and not emptied_at(r))
        raise WinnowError(f"{p.where}: imbalance_ratio {ratio:g} leaves {len(emptied)} class(es) without a train "
                          f"image, first {classes[emptied[0]]!r}; set it at most {best:g} (the largest ratio that "
                          "keeps one train image of every class), or remove classes on purpose with class_removal")
    keep = p.params["keep"]
    emptied = [c for c in p.params["classes"] if c in counts and not kept(keep, counts[c])]
    if not emptied:
        return
    smallest = min(counts[c] for c in p.params["classes"] if c in counts)
    least = _three_digits(0.5 / smallest, down=False,
                          fits=lambda k: all(kept(k, counts[c]) for c in p.params["classes"] if c in counts))
    raise WinnowError(f"{p.where}: keep {keep:g} leaves class {classes[emptied[0]]!r} without a train image "
                      f"({counts[emptied[0]]} x {keep:g} rounds to 0); set keep to at least {least:g}, or remove "
                      "the class on purpose with class_removal")


def untouched_classes(p: Perturbation, counts, *, classes: list[str]) -> list[str]:
    """Warnings for the classes ``p``, a perturbation that took images, takes none of where its share of that class
    rounds to nothing: a ``rates`` entry that rounds to no image of its class, or a class_subsample ``keep`` that
    rounds to keeping every image of a class it names. ``counts``: each class's train images just before ``p`` (for a
    removal) or after the removals (for the others). A class with no train image there is the removals' doing, said
    by them; a long tail's head keeps all its images by design, a place after it that rounds to all is said."""
    if "rates" in p.params:
        return [f"{p.where} rates[{classes[c]!r}] took no image: {rate:g} of its {counts[c]} train images rounds to "
                f"none; change it, or leave {classes[c]!r} out of rates"
                for c, rate in sorted(p.params["rates"].items()) if counts[c] and not round(rate * counts[c])]
    if p.kind == "class_subsample" and "keep" in p.params:
        keep = p.params["keep"]
        return [f"{p.where} took no image of class {classes[c]!r}: keep {keep:g} of its {counts[c]} train images "
                f"rounds to keeping all {counts[c]}; change it, or leave {classes[c]!r} out of classes"
                for c in p.params["classes"] if counts[c] and kept(keep, counts[c]) == counts[c]]
    if p.kind == "class_subsample":
        # a place past the head likewise: before, a tail of ratio 1.2 over [cat 20, dog 4, owl 20] thinned owl alone
        # (dog's 0.913 of 4 rounds to 4), recorded as a tail of three classes
        tail = long_tail_left(p, left=np.flatnonzero(counts)).params["classes"]
        shares = long_tail_shares(tail, p.params["imbalance_ratio"])
        return [f"{p.where} took no image of class {classes[c]!r}: its place in the tail keeps "
                f"{_below_one(shares[c])} of its {counts[c]} train images, which rounds to keeping all {counts[c]}; "
                f"change imbalance_ratio, or leave {classes[c]!r} out of classes"
                for c in tail[1:] if counts[c] and kept(shares[c], counts[c]) == counts[c]]
    return []


def _below_one(share: float) -> str:
    """A share below 1 in three significant digits, more where three would print 1: before, a tail of ratio 1.001 over
    [cat 100, dog 100, owl 1000] was said to keep "1 of its 100 train images, which rounds to keeping all 100"."""
    digits = 3
    while digits < 17 and float(f"{share:.{digits}g}") >= 1:
        digits += 1
    return f"{share:.{digits}g}"


def _three_digits(start: float, *, down: bool, fits) -> float:
    """The value of three significant digits nearest ``start`` (going down or up from it) that ``fits``:
    what a message can print and the user can paste back, checked by the very rounding the removal does."""
    value = float(f"{start:.3g}")
    while not fits(value):
        # the decade of the next value, so that 100 goes down to 99.9, not 99
        step = 10.0 ** (math.floor(math.log10(value * 0.999 if down else value)) - 2)
        value = float(f"{value - step if down else value + step:.3g}")
    return value


def after_removals(specs: list[Perturbation], *, left, classes: list[str]) -> list[Perturbation]:
    """The perturbations, their label noise checked against ``left``, the classes that keep train images
    after the removals.

    A removed class stays removed: symmetric noise draws only among ``left`` (:mod:`winnow.degrade`), the
    classic pair flip (no ``mapping`` given) is remade as each class of ``left`` to the next one of
    ``left`` (and recorded so), and a given mapping that names a removed class (as a source or a target), or
    rates of one, are refused.
    Otherwise a removed class would come back as images that all carry a wrong label.

    Raises:
        WinnowError: one line naming the perturbation and the class.
    """
    left = sorted(int(c) for c in left)
    checked = []
    for p in specs:
        if p.kind in LABEL_KINDS and len(left) < 2:
            raise WinnowError(f"{p.where}: needs 2 classes with train images to move labels between, the removals "
                              f"leave {len(left)}; remove fewer classes")
        # a rate (or a given mapping) of a class the removals emptied moved nothing, silently, or failed as a
        # shortage of free images that degrade.disjoint: false was said to cure
        gone = [c for c in [*p.params.get("rates", {}), *(p.params["mapping"] if "mapping" in p.given else {})]
                if c not in left]
        if p.kind in LABEL_KINDS and gone:
            option = "rates" if gone[0] in p.params.get("rates", {}) else "mapping"
            raise WinnowError(f"{p.where}: {option}[{classes[gone[0]]!r}] names a class the removals leave without "
                              f"train images, so it has no label to move; leave {classes[gone[0]]!r} out of {option}")
        if p.kind == "pair_flip" and "mapping" in p.given:
            for source, target in p.params["mapping"].items():
                if target not in left:
                    raise WinnowError(f"{p.where}: mapping[{classes[source]!r}] is {classes[target]!r}, a class the "
                                      "removals leave without train images (a removed class stays removed); map "
                                      f"{classes[source]!r} to a class that keeps some")
        elif p.kind == "pair_flip":
            p = replace(p, params={**p.params, "mapping": next_class(left)})
        checked.append(p)
    return checked
