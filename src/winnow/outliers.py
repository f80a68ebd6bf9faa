"""Outliers in a learned representation (002 section 2.2): isolation forest, local outlier factor and the
distance to the k nearest neighbours, each as a normality score in [0, 1], higher = more normal (the
convention of the quality scores: lower = worse), cut by the threshold machinery of
:mod:`winnow.thresholds` (flag ``score <= cut``).

- ``isolation_forest``: ``1 - s`` with ``s = 2^(-E[h(x)] / c(n))`` the anomaly score of Liu, Ting & Zhou
  (2008), scikit-learn's ``-score_samples``: ``s`` near 1 is isolated in few splits, below 0.5 is normal;
- ``lof``: ``1 / LOF`` clipped at 1 (Breunig et al. 2000): LOF is about 1 inside a cluster of even
  density and grows where the image's neighbourhood is sparser than its neighbours' neighbourhoods;
- ``knn``: ``1 - d / 2`` with ``d`` the mean cosine distance (in [0, 2]) to the k nearest neighbours.

Copies of one image (equal unit rows, or within float32 rounding of one another) are one point to all three
methods, and weigh once in the cuts: a picture repeated is no more typical, nor odder, for it.

Every method works on L2-normalised features, so all three see the cosine geometry that neighbour
cleansing uses. Scores come per :class:`winnow.neighbours.Space`: the detector is fitted on the space's
references and scores its queries; when the queries are their own references an image is never
its own neighbour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from winnow.auto_rule import MIN_TAIL, tail_count
from winnow.configs import OUTLIER_METHODS
from winnow.cosine_index import cosine_pairs
from winnow.errors import WinnowError
from winnow.hamming_index import components
from winnow.neighbours import Space, check_k, nearest, say
from winnow.thresholds import cut_issues

METHODS = OUTLIER_METHODS


def outlier_scores(space: Space, *, method: str, k: int = 10, seed: int = 0, knn: str = "numpy",
                   points: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """float64 ``(Q,)`` normality in [0, 1] of the space's queries, higher = more normal; ``knn``: how the
    ``knn`` method searches (:func:`winnow.neighbours.nearest`); ``points``: the references' copies as one point
    (:func:`_points`), where the caller found them already (each a search of their neighbours)."""
    from sklearn.ensemble import IsolationForest

    if method not in METHODS:
        raise WinnowError(f"embedding_clean.outliers: unknown method {method!r}; choose from {', '.join(METHODS)}")
    query, reference = _unit(space.features), _unit(space.reference_features)
    if method == "knn":
        return _knn(space, k=k, knn=knn, points=points)
    if method == "isolation_forest":
        # copies are one point to the forest as to LOF and kNN: before, it was fitted on every copy, so 20 copies of an
        # image unlike any class filled its samples and were isolated late (normality 0.54, above the ordinary images'
        # 0.45), and the six such images, flagged alone, were flagged by no cut. Each picture is scored once, a copy as
        # the first of its copies
        unique, inverse = points or _points(reference, k=k, knn=knn)
        # fitted on the pictures in the order they came (the forest's samples are drawn by position): the images
        # with copies added score as they do without them
        forest = IsolationForest(random_state=seed).fit(unique[np.argsort(np.unique(inverse, return_index=True)[1])])
        return np.clip(1 + forest.score_samples(unique[inverse] if space.is_self else query), 0, 1)
    check_k(k, space)  # the same message as the other methods, before scikit-learn's own
    # copies (equal unit rows, or within float32 rounding: _points) are one point to LOF: k or more of them have a
    # k-distance of 0 and a local density of 1e10, so every image that had them among its neighbours scored LOF ~1e10
    # (normality 0, flagged), and scikit-learn warned "Duplicate values are leading to incorrect results". Before,
    # copies within rounding were merged only where an LOF near 300 showed them (another image with them among its
    # k nearest): 15 of an image unlike any class, 1e-7 apart, were one another's neighbours alone, a dense cluster of
    # LOF 1, and none was flagged
    grouped = points or _points(reference, k=k, knn=knn)
    lof = _lof(*grouped, query, k=k, is_self=space.is_self,
               twin=None if space.is_self else _twins(space, *grouped, knn=knn))
    return np.clip(1 / lof, 0, 1)


def find_outliers(
    spaces: list[Space],
    *,
    methods: tuple[str, ...] | list[str] = METHODS,
    k: int = 10,
    threshold: str = "auto",
    max_flagged_fraction: float = 0.1,
    bins: int = 256,
    seed: int = 0,
    knn: str = "numpy",
    warn: bool | set[str] = True,
    drop: bool = False,
    **threshold_options,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Scores and flags of every method for the queries of all ``spaces``, one cut per method over them all.

    Args:
        spaces: e.g. one per fold model; their queries are the images judged.
        threshold: a method of :func:`winnow.thresholds.threshold` (``auto`` cuts only where the scores
            have a low second mode); ``threshold_options`` go to it.
        max_flagged_fraction: a cut that would flag more than this share of the images flags none, and a
            ``warning:`` line names its methods (``warn``: :func:`winnow.neighbours.say`).
        bins: histogram bins of the threshold method (few hundred images want fewer than the default).
        knn: how the ``knn`` method searches (:func:`winnow.neighbours.nearest`).
        drop: whether the caller drops the images flagged (embedding_clean.drop_outliers): then an ``auto`` cut that
            flagged none where too few scores lie in the tail its ``isolated`` rule tests is named in a ``warning:``
            line (:func:`_small_tail_warning`).

    Returns:
        (DataFrame with ``position`` (int64, the queries' positions, in the order of ``spaces``) and, per
        method, ``<method>`` float64 score and ``<method>_outlier`` bool; ``{method: cut}``, ``-inf``
        when nothing was flagged).
    """
    if not 0 < max_flagged_fraction <= 1:
        raise WinnowError(f"embedding_clean.max_outlier_fraction: {max_flagged_fraction!r} is outside (0, 1]")
    table = pd.DataFrame({"position": np.concatenate([s.positions for s in spaces]).astype(np.int64)})
    # every copy of one image scores as its first (before: copies 1e-7 apart scored within 1e-8 of one another, and a
    # cut at one of their scores flagged some of them, kept the others)
    # the references' copies found once a space for every method (a search of their neighbours each time)
    grouped = [_points(s.reference_features, k=k, knn=knn) for s in spaces]
    copy_of = [_copy_of(s, k=k, knn=knn, reference_points=g) for s, g in zip(spaces, grouped)]
    scores = {m: np.concatenate([outlier_scores(s, method=m, k=k, seed=seed, knn=knn, points=g)[c]
                                 for s, g, c in zip(spaces, grouped, copy_of)])
              for m in methods}
    # copies of one image weigh once in the cuts, as in LOF's scores: before, 15 copies of an image between two
    # classes (LOF normality 0.68, not flagged alone) made a low mode of their own and were all flagged as outliers
    first = np.concatenate([c == np.arange(len(c)) for c in copy_of])
    flags, cuts, rules = cut_issues(scores, {m: {"method": threshold, **threshold_options} for m in methods},
                                    bins=bins, max_flagged_fraction=max_flagged_fraction, cut_on=first)
    # before: 40 images unlike any class among 300 (13%) were flagged by no method, and nothing said why, where the
    # threshold stage warns of the same rule; drop_outliers true then dropped none
    too_many = [m for m in methods if rules[m] == "too_many"]
    if too_many:
        say(f"warning: embedding-clean: the outlier cut of {', '.join(too_many)} would flag more than "
            f"embedding_clean.max_outlier_fraction ({max_flagged_fraction}) of the {_judged(first)} judged, "
            "so it flags none: a share that large is taken for the data's norm; raise the fraction if that many "
            "are outliers", warn)
    if drop and len(first) > 1 and all((c == 0).all() for c in copy_of):
        # before: 20 images at one point were told that auto's isolated rule needs "20 scores below their 0.1
        # quantile, where the 1 images (copies counted once) judged give 0 ... judge about 200 images or more, or give
        # embedding_clean.outlier_threshold another method (such as kittler)": neither helps, as no cut of any method
        # sets apart one of a set of copies of one picture
        say(f"warning: embedding-clean: drop_outliers is on, but the {len(first):,} images judged are all copies of one "
            "picture in the embedding (one point to every outlier method), so none is an outlier of the others and "
            "none can be dropped; an embedding that puts every image at one point tells none apart: see "
            "represent.source", warn)
    elif drop and threshold == "auto":
        line = _small_tail_warning({m: scores[m][first] for m in methods if rules[m] == "none"}, first=first,
                                   share=threshold_options.get("tail_share", 0.1),
                                   tested=threshold_options.get("isolated_max", 10) is not None)
        if line is not None:
            say(line, warn)
    for m in methods:
        table[m], table[f"{m}_outlier"] = scores[m], flags[m]
    return table, cuts


def _small_tail_warning(unflagged: dict[str, np.ndarray], *, first: np.ndarray, share: float | None,
                        tested: bool) -> str | None:
    """The ``warning:`` line for the methods whose ``auto`` cut flagged none (``unflagged``: method -> float64 scores
    of the images that chose the cuts) where fewer than :data:`winnow.auto_rule.MIN_TAIL` of them lie below their
    ``share`` quantile, so the ``isolated`` rule, the one that sets a few odd images apart from a set with no second
    mode, tested nothing; None where it could test (or is off: ``share`` None, ``tested`` False). The scores pinned at
    the top are left out as the cut leaves them (:func:`winnow.thresholds.threshold_rule`).

    before: drop_outliers true on 150 images judged dropped none and said nothing (the isolated rule needs 20 scores
    below the 10% quantile, about 200 images)."""
    if share is None or not tested:
        return None
    tails, tested_share = {}, {}
    for method, values in unflagged.items():
        finite = values[np.isfinite(values)]
        finite = finite[finite < finite.max()] if len(finite) else finite
        tails[method] = tail_count(finite, share=share)
        # the share of the judged the tail is drawn from: all but the one top score where none other is pinned there
        tested_share[method] = (len(finite) + 1) / max(len(values), 1)
    short = {m: n for m, n in tails.items() if n < MIN_TAIL}
    if not short:
        return None
    counts = sorted(set(short.values()))
    given = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    # pinned scores (lof's normality clipped at 1 for every image denser than its neighbours: 40 to 60 of 200) leave
    # the tail fewer to draw from, so more images are needed. before: 200 images judged, 48 of them pinned, were told
    # to "judge about 200 images or more"
    needed = MIN_TAIL / share / min(tested_share[m] for m in short)
    needed = needed if needed <= MIN_TAIL / share * 1.001 else np.ceil(needed / 10) * 10
    return (f"warning: embedding-clean: drop_outliers is on, but the outlier cut of {', '.join(short)} flagged none, "
            f"and auto's isolated rule, which sets a few odd images apart, needs {MIN_TAIL} scores below their "
            f"{share:g} quantile, where the {_judged(first)} judged give {given}: no outlier can be dropped unless "
            f"the scores have a second mode; judge about {needed:,.0f} "
            # copies count once (before: "judge about 200 images or more" of 300 images, 150 of them copies)
            f"{'images' if first.all() else 'distinct pictures'} or more, or give "
            "embedding_clean.outlier_threshold another method (such as kittler)")


# unit rows closer than this are one image's embedding up to float32 rounding (2^-23, about 1e-7, of each number:
# another batch, another order of summation). Distinct images lie further apart: the jittered copies of the default
# run's MNIST-5k embedding 0.0026 to 0.0045
TWIN = 1e-4


def _lof(points: np.ndarray, inverse: np.ndarray, query: np.ndarray, *, k: int, is_self: bool,
         twin: np.ndarray | None = None) -> np.ndarray:
    """float64 ``(Q,)`` local outlier factors of the unit ``query`` rows: of float64 ``(G, D)`` ``points`` (each
    reference row's point: int ``(R,)`` ``inverse``) where the queries are the references (``is_self``), else
    against them, each query's copy among the points (``twin``: :func:`_twins`) none of its neighbours; ``k``
    neighbours, fewer where there are fewer other points."""
    from sklearn.neighbors import LocalOutlierFactor

    if len(points) == 1:  # one point, however many copies: nothing is sparser than anything else
        return np.ones(len(query))
    neighbours = min(k, len(points) - 1)
    if is_self:  # scikit-learn leaves each point out of its own neighbourhood only without novelty
        return -LocalOutlierFactor(n_neighbors=neighbours).fit(points).negative_outlier_factor_[inverse]
    fitted = LocalOutlierFactor(n_neighbors=neighbours, novelty=True).fit(points)
    lof = -fitted.score_samples(query)
    copies = np.flatnonzero(twin >= 0) if twin is not None else np.zeros(0, np.int64)
    if not len(copies):
        return lof
    # scikit-learn's novelty LOF (Breunig et al.'s ratio of local reachability densities) with each query's copy left
    # out of its neighbours, as an image's own copies are where the queries are the references; only for those
    # queries (before: for every query of the space once one had a copy, so where distances tie at the k-th
    # neighbour, an image without one took other neighbours than scikit-learn's: a normality up to 0.027 apart)
    reference_distance, reference_index = fitted.kneighbors()  # each point's neighbours but itself
    k_distance = reference_distance[:, -1]
    density = 1 / (np.maximum(reference_distance, k_distance[reference_index]).mean(axis=1) + 1e-10)
    distance, index = fitted.kneighbors(query[copies], n_neighbors=neighbours + 1)
    kept = np.argsort(index == twin[copies, None], axis=1, kind="stable")[:, :neighbours]  # the nearest but its copy
    distance, index = np.take_along_axis(distance, kept, axis=1), np.take_along_axis(index, kept, axis=1)
    own = 1 / (np.maximum(distance, k_distance[index]).mean(axis=1) + 1e-10)
    lof[copies] = np.mean(density[index] / own[:, None], axis=1)
    return lof


def _merged(points: np.ndarray, inverse: np.ndarray, *, k: int, knn: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_lof`'s ``points`` and ``inverse`` with the points within float32 rounding of one another one: each
    point within :data:`TWIN` of the first of its chain of such pairs (found among each one's ``k`` nearest at
    cosine distance 0 by :func:`winnow.cosine_index.cosine_pairs`, searched by ``knn``) is that one.

    before: only bit-equal rows were one point, so 20 copies of one image whose embeddings differed in the last bits
    (another batch, another order of summation) had a k-distance near 0 and made the 10 ordinary images beside them
    outliers (normality 0)."""
    candidates = cosine_pairs(points, radius=0.0, k=k, backend=knn)
    # before: every candidate was a pair (unit rows up to 0.0045 apart, distinct images), and their chains made one
    # point of 30 distinct rows whose ends lie 0.12 apart; the float64 distance and the chain's first row decide now
    twins = candidates[np.linalg.norm(points[candidates[:, 0]] - points[candidates[:, 1]], axis=1) <= TWIN]
    chain = components(len(points), twins)
    leader = np.unique(chain, return_index=True)[1][chain]  # the first row of each one's chain
    own = np.where(np.linalg.norm(points - points[leader], axis=1) <= TWIN, leader, np.arange(len(points)))
    _, first, point = np.unique(own, return_index=True, return_inverse=True)  # points are numbered by their first row
    return points[first], point[inverse]


def _knn(space: Space, *, k: int, knn: str, points: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The ``knn`` method's normality of the space's queries: the mean cosine distance to the ``k`` nearest of the
    references, copies one point (:func:`_points`), a query's own copies none of its neighbours where the queries are
    the references (fewer than ``k`` where fewer other points are left; 1, normal, where none is).

    before: 15 copies of an image unlike any class were each other's 10 nearest, at distance 0, and scored 1, the most
    normal of all, where LOF, to which copies are one point, flagged them."""
    check_k(k, space)
    points, point = points or _points(space.reference_features, k=k, knn=knn)
    twin = None if space.is_self else _twins(space, points, point, knn=knn)
    if len(points) == len(point) and (twin is None or (twin < 0).all()):
        similarity, _ = nearest(space, k=k, knn=knn)
    else:
        # each point's first row as it came: every image's similarities as they are without the copies, to the bit
        first = space.reference_features[np.unique(point, return_index=True)[1]]
        labels = np.zeros(len(points), np.int64)  # unread: nearest reads no label
        # a query's own point is none of its neighbours: its copies where the queries are the references, else its
        # copy among them (before: a copy in another fold's references was a neighbour at distance 0 to the held-out
        # image, and one copy made an image unlike any class normal enough to pass the cut)
        own = point if space.is_self else twin
        # a query whose own point is among the references has one neighbour fewer to give, the others all of them
        # (before: once one query had a copy there, every query was held to one fewer: with k at the references'
        # count, or one reference point, an image with no copy scored otherwise, or 1, for another's copy)
        short = (own >= 0) | (k < len(points))  # below that, every query has k left: one search
        normality = np.ones(len(space.features))  # 1, normal, where no point is left
        for rows, available in ((short, len(points) - 1), (~short, len(points))):
            if rows.any() and available >= 1:
                part = Space(own[rows], space.features[rows], np.arange(len(points)), first, labels)
                similarity, _ = nearest(part, k=min(k, available), knn=knn)
                normality[rows] = np.clip(1 - (1 - similarity.astype(np.float64)).mean(axis=1) / 2, 0, 1)
        return normality
    return np.clip(1 - (1 - similarity.astype(np.float64)).mean(axis=1) / 2, 0, 1)


def _points(features: np.ndarray, *, k: int, knn: str) -> tuple[np.ndarray, np.ndarray]:
    """float64 ``(G, D)`` unit points of the rows of ``features`` and int ``(N,)`` each row's point: copies (equal
    unit rows, or within float32 rounding of one another: :func:`_merged`) are one, numbered by their first row."""
    unit = _unit(features)
    points, inverse = np.unique(unit, axis=0, return_inverse=True)
    if len(points) == len(unit):  # as they come
        points, inverse = unit, np.arange(len(unit))
    if len(points) < 2:
        return points, inverse.ravel()
    return _merged(points, inverse.ravel(), k=k, knn=knn)


def _twins(space: Space, points: np.ndarray, point: np.ndarray, *, knn: str) -> np.ndarray:
    """int ``(Q,)``: the point (of the references' ``points``, each reference row's ``point``: :func:`_points`) each
    query of a space whose queries are not its references is a copy of (within :data:`TWIN`), -1 where none is: in
    folds mode an image's copies dealt to other folds are its fold model's references."""
    first = space.reference_features[np.unique(point, return_index=True)[1]]
    apart = Space(space.positions, space.features, -1 - np.arange(len(points)), first, np.zeros(len(points), np.int64))
    index = nearest(apart, k=1, knn=knn)[1][:, 0]
    return np.where(np.linalg.norm(_unit(space.features) - points[index], axis=1) <= TWIN, index, -1)


def _copy_of(space: Space, *, k: int, knn: str, reference_points: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """int ``(Q,)``: each of the space's queries' first copy among them (:func:`_points`), its own index where it
    has none. ``reference_points``: the references' (:func:`_points`), the queries' own where they are the
    references' rows (one model over every image)."""
    same = np.array_equal(space.features, space.reference_features)
    point = reference_points[1] if same else _points(space.features, k=k, knn=knn)[1]
    return np.unique(point, return_index=True)[1][point]


def _judged(first: np.ndarray) -> str:
    """The images that chose the cuts, in words: ``"300 images"``, ``"285 images (copies counted once)"``."""
    judged = np.count_nonzero(first)
    return f"{judged:,} image{'' if judged == 1 else 's'}" + ("" if first.all() else " (copies counted once)")


def _unit(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, np.float64)
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
