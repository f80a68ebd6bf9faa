"""Balanced augmentation (001 §3.4): augmented copies bring every class up to the same count, and
edge cases (images far from their class centre) get more of the copies than typical images, within an
optional budget of images (001's competition allowed 10,000).

The copies are made by :func:`winnow.augment.augment` (torch only, batched, on the device; its
:class:`winnow.configs.Policy` says how). Images go in and come out as uint8 ``(N, H, W, C)`` numpy arrays.

Read top to bottom: :func:`balance_counts`, :func:`edge_scores`, :func:`edge_cases`, :func:`balanced_augment`,
:func:`few_sources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch

from winnow.augment import augment
from winnow.configs import HANDFUL, Policy
from winnow.errors import WinnowError, check_fits_in_memory

# what a copy costs beside its pixels (its source and label indices, its ops, its id and manifest row): on 8x8 images
# a copy took about 680 bytes at the peak where three arrays of pixels count 192, and 40,000 of them passed the guard
COPY_BOOKKEEPING_BYTES = 512


def balance_counts(labels: np.ndarray, *, num_classes: int, target: int | str = "max") -> np.ndarray:
    """int64 ``(num_classes,)``: how many images each class needs added to reach ``target``.

    ``target`` is ``"max"`` (the largest class's count) or a number of images; a class already at or
    above it gets 0 (nothing is removed), and so does a class with no image, which has nothing to
    augment from.

    Args:
        labels: int ``(N,)`` in ``[0, num_classes)``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise WinnowError(f"balance: labels must be in [0, {num_classes - 1}], got {labels.min()}..{labels.max()}")
    counts = np.bincount(labels, minlength=num_classes)
    if target == "max":
        goal = int(counts.max(initial=0))
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool) and target >= 0:
        goal = int(target)
    else:
        raise WinnowError(f"balance.target: must be 'max' or a number of images >= 0, got {target!r}")
    return np.where(counts > 0, np.maximum(goal - counts, 0), 0).astype(np.int64)


def edge_scores(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """float64 ``(N,)``: each image's Euclidean distance to the mean of its class's float ``(N, D)``
    ``features`` (a classifier's penultimate layer), or -1 where another class's mean is nearer.

    The images farthest from their class are its edge cases, but on noisy labels they are mostly wrong
    labels: on CIFAR-10N random1 47% of the farthest tenth against 17.5% overall. An image nearer
    another class's centre is more likely mislabelled than hard, and emphasis would multiply its error,
    so it ranks below every image that sits with its own class (:func:`edge_cases`)."""
    features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels)
    classes, own = np.unique(labels, return_inverse=True)
    distance = np.stack([np.linalg.norm(features - features[own == k].mean(axis=0), axis=1)
                         for k in range(len(classes))], axis=1)
    mine = distance[np.arange(len(labels)), own]
    return np.where(distance.argmin(axis=1) == own, mine, -1.0)


def edge_cases(scores: np.ndarray, labels: np.ndarray, *, fraction: float) -> np.ndarray:
    """bool ``(N,)``: per class, the ``fraction`` of its images with the highest float ``(N,)`` scores
    (at least one per class when ``fraction`` > 0), among those scored 0 or more: an image :func:`edge_scores`
    scores -1 sits nearer another class and is never one (before, a class with fewer images near its own
    centre than the fraction asked took them, and copied wrong labels three times over). Ranked within each
    class because distances to a class centre are on each class's own scale."""
    if not 0.0 <= fraction <= 1.0:
        raise WinnowError(f"balance.edge_fraction: must be in [0, 1], got {fraction!r}")
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.shape != labels.shape or not np.isfinite(scores).all():
        raise WinnowError(f"balance: edge_scores must be finite floats, one per image {labels.shape}, "
                          f"got {scores.shape}")
    edge = np.zeros(len(labels), bool)
    for label in np.unique(labels) if fraction > 0 else []:
        members = np.flatnonzero(labels == label)
        top = max(1, round(fraction * len(members)))
        ranked = members[np.argsort(-scores[members], kind="stable")[:top]]
        edge[ranked[scores[ranked] >= 0]] = True
    return edge


class Balanced(NamedTuple):
    """What :func:`balanced_augment` made: ``images`` uint8 ``(M, H, W, C)``, ``labels`` int64 ``(M,)``,
    ``source`` int64 ``(M,)`` the input each copy was made from, ``ops`` bool ``(M, len(policy.ops))``
    the ops each copy got, ``edge`` bool ``(N,)`` which inputs counted as edge cases, and ``kept`` bool
    ``(N,)`` which inputs stay in the train set (all of them unless ``max_images`` cut a class down)."""

    images: np.ndarray
    labels: np.ndarray
    source: np.ndarray
    ops: np.ndarray
    edge: np.ndarray
    kept: np.ndarray


def budget_caps(counts: np.ndarray, *, max_images: int) -> np.ndarray:
    """int64 ``(K,)``: the most images each class may end with when the train set, copies included, holds
    at most ``max_images``: an equal share for every class that has an image (the remainder one each to
    the largest classes), so a budget keeps the classes balanced. ``counts``: int ``(K,)`` images per class."""
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) or max_images < 1:
        raise WinnowError(f"balance.max_images: must be a whole number >= 1 or null, got {max_images!r}")
    counts = np.asarray(counts, dtype=np.int64)
    present = np.flatnonzero(counts > 0)
    if max_images < len(present):
        raise WinnowError(f"balance.max_images: {max_images} is fewer than the {len(present)} classes with train "
                          f"images, so some class would keep none; set at least {len(present)}, or null")
    cap = np.zeros(len(counts), np.int64)
    if len(present):
        share, rest = divmod(int(max_images), len(present))
        cap[present] = share
        cap[present[np.argsort(-counts[present], kind="stable")[:rest]]] += 1
    return cap


def balanced_augment(
    images: np.ndarray, labels: np.ndarray, *, policy: Mapping[str, Any] | Policy, seed: int, num_classes: int,
    target: int | str = "max", edge_scores: np.ndarray | None = None, edge_fraction: float = 0.1,
    edge_extra: float = 2.0, max_images: int | None = None, device: str | torch.device = "cpu",
) -> Balanced:
    """Augmented copies that bring every class to ``target`` images (:func:`balance_counts`).

    Each class's copies are spread over its images as evenly as the count allows (:func:`_spread`: every
    image gets ``floor`` or ``ceil`` of its share, the extra one with the chance of the share's fraction,
    drawn from ``seed``). With ``edge_scores`` (float ``(N,)``, higher = farther from the class centre, e.g. the
    distance to the class centroid in a classifier's feature space), the top ``edge_fraction`` of each class are
    edge cases (001's extra augmentation): their share weighs ``1 + edge_extra`` against 1 for the rest.
    The extra copies come out of the same per-class budget, so class counts stay equal; a class that
    needs no copies (the largest, under ``target="max"``) gets none, edge cases included; set a
    ``target`` above the largest count to augment every class.

    ``max_images`` caps the train set, inputs and copies together (:func:`budget_caps`): a class gets
    copies only up to its share, and a class above its share keeps its edge cases first and a random
    draw (from ``seed``) of the rest; the others are left out (``kept``).

    Args:
        images: uint8 ``(N, H, W, C)``; labels: int ``(N,)`` in ``[0, num_classes)``.
        policy: a :class:`Policy` or its params dict.

    Returns:
        :class:`Balanced`, copies grouped by class, then by source image.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(images) != len(labels):
        raise WinnowError(f"balance: {len(images)} images but {len(labels)} labels")
    policy = Policy.from_params(policy)
    needed = balance_counts(labels, num_classes=num_classes, target=target)
    edge = (np.zeros(len(labels), bool) if edge_scores is None
            else edge_cases(edge_scores, labels, fraction=edge_fraction))
    if not 0 <= edge_extra < np.inf:
        raise WinnowError(f"balance.edge_extra: must be a finite number >= 0, got {edge_extra!r}")
    weight = np.where(edge, 1.0 + edge_extra, 1.0)
    rng = np.random.default_rng(seed)
    kept = np.ones(len(labels), bool)
    if max_images is not None:
        counts = np.bincount(labels, minlength=num_classes)
        cap = budget_caps(counts, max_images=max_images)
        needed = np.minimum(needed, np.maximum(cap - counts, 0))
        for label in np.flatnonzero(counts > cap):
            members = np.flatnonzero(labels == label)
            order = np.lexsort((rng.permutation(len(members)), ~edge[members]))  # edge cases first
            kept[members[order[cap[label]:]]] = False
    # the gathered sources, the augmented copies and the variant they join: three arrays of the copies' size, and
    # each copy's bookkeeping whatever its size
    check_fits_in_memory(int(needed.sum()) * (3 * images[0].nbytes + COPY_BOOKKEEPING_BYTES) if len(images) else 0,
                         what=f"balance.target {target!r}: {int(needed.sum()):,} augmented copies")
    copies = np.zeros(len(labels), np.int64)
    for label in np.flatnonzero(needed):
        members = np.flatnonzero(labels == label)
        copies[members] = _spread(int(needed[label]), weight[members], rng=rng)
    source = np.repeat(np.arange(len(labels)), copies)
    source = source[np.argsort(labels[source], kind="stable")]
    new, ops = augment(images[source], policy=policy, seed=seed, device=device)
    return Balanced(new, labels[source], source, ops, edge, kept)


def _spread(total: int, weight: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """int64 ``(n,)``: ``total`` copies over n images of float ``(n,)`` weights (1, or ``1 + edge_extra`` for
    an edge case): each image's share of ``total`` in proportion to its weight, rounded down, and the copies
    that leaves over drawn by systematic sampling over the images, heaviest first and in a random order within a
    weight, so each image gets one more with the chance of its share's fraction (its share in expectation) and
    each weight's images together get their share rounded down or up. Before: the left-over copies went to the
    largest fractions, and when a class needed fewer copies than it had images every edge case's beat every
    other's, so edge cases took one copy each first whatever ``edge_extra`` said (0.01, 2 and 10 alike: 1.0 copy
    an edge case, 0.058 the rest, 17 times where 2 asks 3)."""
    scaled = weight / weight.max()  # over the largest: edge_extra near float's limit (1e308) overflowed the sum
    share = total * scaled / scaled.sum()
    copies = np.floor(share).astype(np.int64)
    left = total - int(copies.sum())
    if left > 0:
        order = np.lexsort((rng.permutation(len(weight)), -weight))
        ends = np.cumsum((share - copies)[order])
        ends *= left / ends[-1]  # the fractions sum to the copies left over, up to rounding
        # one random start, then every whole step: each fraction's chance. Each point held below the next whole
        # number, which a start within float's last bit of 1 rounds k + start up to: the boundary of the next image's
        # fraction (before: past the last image an IndexError; a copy to the image after the boundary, beyond the
        # ceiling of its share: shares 1.5, 1.5, 1.5, 1.5, 1 gave the 1 two copies)
        points = np.minimum(rng.random() + np.arange(left), np.nextafter(np.arange(1.0, left + 1), 0))
        # the ends rescaled may fall a bit short of ``left``: a point beyond goes to the last image with a fraction
        last = np.searchsorted(ends, ends[-1])
        np.add.at(copies, order[np.minimum(np.searchsorted(ends, points, side="right"), last)], 1)
    return copies


def few_sources(labels: np.ndarray, made: Balanced, classes: list[str], *, digests: np.ndarray) -> str | None:
    """The one warning line when balance left a class on fewer than :data:`HANDFUL` source images, by copying
    them (a class of one pruned image got 368 copies of it) or by ``max_images`` cutting the class down
    (keeping its edge cases first: at one image a class, each class's farthest from its centre); None when
    none. Names the class of fewest sources (the first of a tie), its images, copies and sources, and how many
    more classes there are.

    Sources are distinct pictures (``digests``), not rows: before, a class of 10 rows of one picture (exact duplicates
    pruned kept: dedup not among pruned.cleaners) was "10 source images", its copies of that one picture unsaid.

    Args:
        labels: int ``(N,)``, the inputs :func:`balanced_augment` made ``made`` from; classes: their names;
        digests: object ``(N,)``, the inputs' pixel digests (:func:`winnow.imageset.pixel_digest`).
    """
    labels, k = np.asarray(labels, dtype=np.int64), len(classes)
    rows = np.bincount(labels[made.kept], minlength=k)
    sources = _pictures(labels, digests, made.kept, k)
    added = np.bincount(made.labels, minlength=k)
    left_out = np.bincount(labels[~made.kept], minlength=k)
    edges = _pictures(labels, digests, made.kept & made.edge, k)
    few = np.flatnonzero((sources > 0) & (sources < HANDFUL) & ((added > 0) | (left_out > 0)))
    if not len(few):
        return None
    c = few[np.argmin(sources[few])]
    details = [f"{added[c]} augmented cop{'y' if added[c] == 1 else 'ies'}"]
    if rows[c] > sources[c]:
        details.insert(0, f"{rows[c] - sources[c]} of its {rows[c]} train rows exact duplicates of another")
    if left_out[c]:
        details.append(f"{left_out[c]} left out for balance.max_images")
    # said of the sources, beside them: before, "(10 augmented copies, 1 of them an edge case)" read as one of the
    # copies, of which 8 were of that edge case, and "(368 left out ..., 1 of them an edge case)" as one left out
    edge = ("" if not edges[c] else ", an edge case" if sources[c] == 1 else
            f", {edges[c]} of them {'an edge case' if edges[c] == 1 else 'edge cases'}")
    more = f", and {len(few) - 1} more class{'es' if len(few) > 2 else ''} from fewer than {HANDFUL}" if len(few) > 1 else ""
    # the named class's own fix, then the other one where the other classes need it: before, "raise
    # balance.max_images" whenever any of them was cut, said of a class of 1 image that got copies, which a larger
    # budget only gives more copies of that image
    fix = "raise balance.max_images" if left_out[c] else "give the class more train images"
    others = [k for k in few if k != c and bool(left_out[k]) != bool(left_out[c])]
    if others:
        which = f"the {len(others)} other class{'es' if len(others) > 1 else ''}"
        fix += (f", and give more train images to {which} copied from fewer than {HANDFUL}" if left_out[c] else
                f", and raise balance.max_images for {which} it cut to fewer than {HANDFUL}")
    total = rows[c] + added[c]
    return (f"warning: balance: class {classes[c]} ends with {total} train image{'s' if total != 1 else ''} from "
            f"{sources[c]} source image{'s' if sources[c] != 1 else ''}{edge} ({', '.join(details)}){more}; so few "
            f"sources add little variety: {fix}")


def no_train_images(labels: np.ndarray, classes: list[str], *, target: int | str) -> str | None:
    """The one warning line when a class has no train image among the int ``(N,)`` ``labels`` balance copies from, so
    no copy of it can be made and balanced holds none while the others are brought to ``target``; None otherwise.
    Before: "per class now a 5, b 5, c 0" alone, where gan-synthesize warns of the same class."""
    counts = np.bincount(np.asarray(labels, np.int64), minlength=len(classes))
    empty = [name for name, n in zip(classes, counts) if not n]
    if not empty or len(empty) == len(classes):
        return None
    one = len(empty) == 1
    return (f"warning: balance: class{'' if one else 'es'} {', '.join(map(repr, empty))} ha{'s' if one else 've'} no "
            f"pruned train image, so no copy of {'it' if one else 'them'} can be made and balanced holds none of "
            f"{'it' if one else 'them'} while balance.target {target} is reached by the others; give "
            f"{'the class' if one else 'the classes'} train images, or leave balanced out of variants")


def _pictures(labels: np.ndarray, digests: np.ndarray, chosen: np.ndarray, k: int) -> np.ndarray:
    """int64 ``(k,)``: per class, the distinct pictures (object ``(N,)`` ``digests``) among the ``chosen`` (bool
    ``(N,)``) of the inputs of int ``(N,)`` ``labels``."""
    pairs = {(int(label), digest) for label, digest in zip(labels[chosen], np.asarray(digests, dtype=object)[chosen])}
    return np.bincount(np.array([label for label, _ in pairs], np.int64), minlength=k)
