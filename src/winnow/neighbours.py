"""Neighbour cleansing (001 section 3.3): judge each label by the images next to it in a learned space.

Read top to bottom:

1. a :class:`Space` holds, from one model, the features of the images on trial (queries) and of the
   labelled images they are compared with (references); distances mean nothing across models;
2. :func:`nearest` finds each query's k nearest references by cosine similarity of L2-normalised
   features, in batched matrix products or with faiss (``knn``, :mod:`winnow.cosine_index`; an image is
   never its own neighbour); :func:`vote` takes their majority label;
3. :func:`evidence` measures, per query, how many neighbours share another label, how far the nearest
   image of its own class is, and how much closer it sits to another class's centroid;
4. :func:`cleanse` turns evidence into one keep | drop | relabel decision per image with its reason;
5. :func:`final_decisions` folds several rounds of decisions into one per image.

The decision table has the columns of confident-learn's ``label_issues.parquet`` that
:func:`winnow.decision_rows.cleaner_decisions` reads (``id, decision, suggested_label, reason``) and those
:func:`winnow.labels.score_against_truth` reads (``given_label, is_issue``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from winnow.cosine_index import faiss_nearest, resolve, unit_rows
from winnow.errors import WinnowError, check_neighbour_count
from winnow.thresholds import METHODS, cut_issues

DECISIONS = ("keep", "drop", "relabel")
# reasons are "<rule>" or "<rule>:<class>"; the rules, in the order they are tried
RULES = ("neighbours_agree", "inside_class", "isolated")
DECISION_COLUMNS = ("id", "given_label", "suggested_label", "decision", "reason", "is_issue", "agreement",
                    "neighbour_label", "given_agreement", "same_class_distance", "centroid_margin")


@dataclass(frozen=True)
class Space:
    """Features from one model: the images on trial and the labelled images they are compared with.

    Attributes:
        positions: int64 ``(Q,)`` rows of the judged images in the caller's arrays.
        features: float32 ``(Q, D)``.
        reference_positions: int64 ``(R,)``; a reference at a query's own position is never its neighbour.
        reference_features: float32 ``(R, D)``.
        reference_labels: int64 ``(R,)``.
        val_accuracy: the model's accuracy on the clean val split at its chosen epoch (None: unknown).
    """

    positions: np.ndarray
    features: np.ndarray
    reference_positions: np.ndarray
    reference_features: np.ndarray
    reference_labels: np.ndarray
    val_accuracy: float | None = None

    @property
    def is_self(self) -> bool:
        """True when the queries are their own references (one model over every image)."""
        return np.array_equal(self.positions, self.reference_positions)


def _similarities(space: Space, batch_size: int) -> Iterator[tuple[slice, torch.Tensor]]:
    """Cosine similarities float32 ``(B, R)`` of each batch of queries to every reference, self at -inf."""
    query, reference = _unit(space.features), _unit(space.reference_features)
    query_pos = torch.from_numpy(np.array(space.positions, np.int64))
    reference_pos = torch.from_numpy(np.array(space.reference_positions, np.int64))
    for start in range(0, len(query), batch_size):
        rows = slice(start, start + batch_size)
        sim = query[rows] @ reference.T
        yield rows, sim.masked_fill(query_pos[rows, None] == reference_pos[None, :], -torch.inf)


def nearest(space: Space, *, k: int, batch_size: int = 2048, knn: str = "numpy") -> tuple[np.ndarray, np.ndarray]:
    """(similarity float32 ``(Q, k)``, reference index int64 ``(Q, k)``), most similar first.

    ``knn``: a backend of :data:`winnow.cosine_index.BACKENDS`; ``numpy`` is the batched torch matrix
    products here, the faiss ones find the same neighbours up to ties (:mod:`winnow.cosine_index`)."""
    check_k(k, space)
    return _search(space, k=k, batch_size=batch_size, knn=knn)


def _search(space: Space, *, k: int, batch_size: int, knn: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest` unchecked: ``k`` may reach the query's own reference, which comes last at -inf."""
    backend = resolve(knn)
    if backend != "numpy":
        return faiss_nearest(unit_rows(space.features), unit_rows(space.reference_features), k=k,
                             exclude=_own_reference(space), ivf=backend == "faiss_ivf")
    sims, index = [], []
    for _, sim in _similarities(space, batch_size):
        top = sim.topk(k, dim=1)
        sims.append(top.values)
        index.append(top.indices)
    return torch.cat(sims).numpy(), torch.cat(index).numpy()


def tied_votes(space: Space, *, k: int, num_classes: int, batch_size: int = 2048,
               knn: str = "numpy") -> tuple[torch.Tensor, torch.Tensor]:
    """(votes float64 ``(Q, C)``, behind float64 ``(Q, C)``: :func:`_ranks`) of each query's ``k`` nearest references,
    whatever their row order: the t references tied at the k-th similarity share the j places left after the nearer
    ones alike (j / t each), and tied voters share a rank. Before, torch's topk (faiss: its index) took the first tied
    rows by position: 20 images at one point of classes 0 and 1 (k 3), sorted by class, had 10 relabelled, shuffled
    none. Rows whose (k + 1)-th similarity equals their k-th (copies) are searched again among every reference."""
    check_k(k, space)
    labels = torch.from_numpy(np.array(space.reference_labels, np.int64))
    wider = min(k + 1, len(space.reference_positions))  # one past the k-th: is the tie wider than the k?
    sims, index = (torch.from_numpy(a) for a in _search(space, k=wider, batch_size=batch_size, knn=knn))
    straddles = (sims[:, k - 1] == sims[:, k]) if wider > k else torch.zeros(len(sims), dtype=torch.bool)
    straddles &= ~torch.from_numpy(silent_rows(space.features))  # a zero row ties with all, and has no vote anyway
    sims, index = sims[:, :k], index[:, :k]
    votes = F.one_hot(labels[index], num_classes).sum(dim=1).double()
    best = torch.full((len(sims), num_classes), -torch.inf).scatter_reduce(1, labels[index], sims, "amax")
    behind = _ranks(sims, best, k=k)
    rows = torch.nonzero(straddles).flatten().numpy()
    if len(rows):
        tied = Space(np.asarray(space.positions)[rows], np.asarray(space.features)[rows], space.reference_positions,
                     space.reference_features, space.reference_labels)
        for part, sim in _similarities(tied, batch_size):
            top = sim.topk(k, dim=1).values
            # the voters (above or at the k-th) as index pairs: (B, R) float masks took 7.7 GB for 2,048 tied rows
            row, ref = torch.nonzero(sim >= top[:, -1:], as_tuple=True)
            similarity, cls, at_kth = sim[row, ref], labels[ref], (sim[row, ref] == top[row, -1]).long()
            above, at = torch.zeros(2, len(sim), num_classes, dtype=torch.float64).index_put_(
                (at_kth, row, cls), torch.ones(len(row), dtype=torch.float64), accumulate=True)  # whole counts (B, C)
            places, tied_count = k - above.sum(dim=1, keepdim=True), at.sum(dim=1, keepdim=True)
            # m of the t tied get m * j / t rounded once (m * float32(j / t) gave 10 tied for 7 places 6.99999988)
            votes[rows[part]] = above + at * places / tied_count
            best = torch.full((len(sim) * num_classes,), -torch.inf).scatter_reduce(
                0, row * num_classes + cls, similarity, "amax").view(len(sim), num_classes)
            behind[rows[part]] = _ranks(top, best, k=k)  # what is nearer than a voter is among the top k
    return votes, behind


def _ranks(descending: torch.Tensor, best: torch.Tensor, *, k: int) -> torch.Tensor:
    """float64 ``(Q, C)`` in [0, 1): each class's rank among a query's voters over k + 1 (k / (k + 1) for a class none
    is of): how many of the similarities ``descending`` (``(Q, n)``, most similar first) are strictly greater than its
    nearest voter's (``best``, ``(Q, C)``, -inf for none), so tied voters share one. It breaks ties of votes
    (:func:`_majority`) to the class with the nearer neighbour, never to the lower class index (the names'). Before,
    :func:`vote` gave a tie to the nearest's class only: c, a, b, a, b (nearest first) voted a or b as names sorted."""
    ascending = descending.flip(1).contiguous()
    nearer = ascending.shape[1] - torch.searchsorted(ascending, best.contiguous(), right=True)
    return torch.where(torch.isinf(best), float(k), nearer.double()) / (k + 1)


def vote(space: Space, *, k: int, num_classes: int, knn: str = "numpy") -> np.ndarray:
    """int64 ``(Q,)``: each query's class by majority of its ``k`` nearest references' labels; of classes tied on
    votes, the one with the nearer neighbour (:func:`_ranks`); -1 for an all-zero query row, which no neighbour
    votes for (:func:`silent_rows`). ``knn``: as :func:`nearest`."""
    votes, behind = tied_votes(space, k=k, num_classes=num_classes, knn=knn)
    return np.where(silent_rows(space.features), -1, _majority(votes, behind))


def silent_rows(features: np.ndarray) -> np.ndarray:
    """bool ``(Q,)``: the all-zero rows of ``features`` ``(Q, D)``. Such a row (a ReLU model's, for an image none of its
    units answers: represent keeps a model's zero rows) lies at cosine similarity 0 to every reference, so its k
    "nearest" are a tie among all of them, which the search breaks by position (torch's topk) or by index (faiss):
    they say nothing of the image. Before, a zero row of class 0 took ten images of class 1 that the tie picked as
    its neighbours and was relabelled 1. data-valuation's kNN-Shapley leaves such val rows out alike."""
    return ~np.any(np.asarray(features) != 0, axis=1)


def _majority(votes: torch.Tensor, behind: torch.Tensor) -> np.ndarray:
    """int64 ``(Q,)``: each row's class of most ``votes`` (``(Q, C)``, :func:`tied_votes`), of those the one with the
    nearer neighbour (``behind``: :func:`_ranks`); -1 where classes tie on both (:func:`_leaders`)."""
    leader, tied = _leaders(votes, behind)
    return np.where(tied, -1, leader)


def _leaders(votes: torch.Tensor, behind: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(int64 ``(Q,)``: the lowest class :func:`_majority` ranks first, bool ``(Q,)``: several are, a complete tie that
    says nothing; before, 10,000 copies of one picture under 1,000 classes voted class 0). Votes first: fractional
    votes may differ by less than ``behind`` does, so subtracting it could put a class of fewer votes first."""
    votes = votes.double()
    key = (-behind).masked_fill(votes != votes.max(dim=1, keepdim=True).values, -torch.inf)
    return key.argmax(dim=1).numpy().astype(np.int64), ((key == key.max(dim=1, keepdim=True).values).sum(1) > 1).numpy()


def evidence(space: Space, labels: np.ndarray, *, k: int, num_classes: int, batch_size: int = 2048,
             knn: str = "numpy") -> pd.DataFrame:
    """Per query, what its neighbourhood says about its label.

    Args:
        labels: int ``(Q,)`` given labels of the queries.
        knn: how the k nearest are searched (:func:`nearest`).

    Returns:
        DataFrame of ``Q`` rows: ``position``; ``neighbour_label``, the most common label other than the
        given one among the k nearest references (of two as common, the one with the nearer neighbour; of those
        as near, the lowest, and ``neighbour_tied`` True), and
        ``agreement``, the share of the k carrying it;
        ``given_agreement``, the share of the k carrying the given label; ``vote``, the class :func:`vote`
        gives the query (an all-zero query row, whose k nearest are a tie among every reference, has no vote:
        agreements 0 and ``vote`` -1, :func:`silent_rows`);
        ``same_class_distance``, cosine distance to the nearest reference of the given class (2, the
        largest, when there is none); ``centroid_label``, the other class whose centroid (mean of its
        unit reference features) is nearest, and ``centroid_margin``, distance to the own class's
        centroid minus distance to that one (positive: closer to the other class). Where the queries
        are their own references, an image is in its own class's centroid but never its own neighbour.
    """
    labels = torch.from_numpy(np.array(labels, np.int64))  # copies: the inputs may be read-only memory maps
    reference_labels = torch.from_numpy(np.array(space.reference_labels, np.int64))
    if len(labels) != len(space.positions):
        raise WinnowError(f"neighbours: {len(labels)} labels for {len(space.positions)} judged images")
    # float64 (tied_votes): a tie's share j / t in float32 moved the agreement compared with embedding_clean.agree
    votes, behind = tied_votes(space, k=k, num_classes=num_classes, batch_size=batch_size, knn=knn)
    # an all-zero row's neighbours are a tie broken by position: no vote, so no relabel on their word (silent_rows)
    silent = torch.from_numpy(silent_rows(space.features))
    votes[silent] = 0.0
    own = F.one_hot(labels, num_classes).bool()
    other_votes = votes.masked_fill(own, -1.0)
    # other classes tied on votes go to the one with the nearer neighbour. Before, to the lower class index: at agree
    # 0.5 an image with one neighbour of b and one of c was relabelled b, or c once the class names sorted the other
    # way, whichever sat nearer
    behind[silent] = k / (k + 1)  # no class has a neighbour nearer than another's
    neighbour_label, neighbour_tied = _leaders(other_votes, behind)  # a complete tie relabels nothing (cleanse)

    nearest_same = torch.empty(len(labels))
    for rows, sim in _similarities(space, batch_size):
        same = reference_labels[None, :] == labels[rows, None]
        nearest_same[rows] = sim.masked_fill(~same, -torch.inf).max(dim=1).values
    unit_reference = _unit(space.reference_features)
    centroids = torch.zeros(num_classes, unit_reference.shape[1]).index_add_(0, reference_labels, unit_reference)
    centroid_distance = 1 - _unit(space.features) @ F.normalize(centroids, dim=1).T
    # a class without references has no centroid: infinitely far, so an image of such a class is nearer
    # to any other class (inside_class), and no image is ever inside it
    absent = torch.bincount(reference_labels, minlength=num_classes) == 0
    centroid_distance[:, absent] = torch.inf
    other_distance = centroid_distance.masked_fill(own, torch.inf)
    own_distance = centroid_distance.gather(1, labels[:, None])[:, 0]
    return pd.DataFrame({
        "position": np.asarray(space.positions, np.int64),
        "neighbour_label": neighbour_label, "neighbour_tied": neighbour_tied,
        # the shares divided in float64, as embedding_clean.agree is read: 9 of 10 in float32 is 0.89999998, and
        # before, agree 0.9 (or 0.7: 7 of 10) kept an image exactly that many of its neighbours called another class
        "agreement": other_votes.max(dim=1).values.clamp_min(0).double().numpy() / k,
        "given_agreement": votes.gather(1, labels[:, None])[:, 0].double().numpy() / k,
        "vote": np.where(silent.numpy(), -1, _majority(votes, behind)),
        "same_class_distance": (1 - nearest_same).clamp_max(2.0).numpy().astype(np.float64),
        "centroid_label": other_distance.argmin(dim=1).numpy().astype(np.int64),
        "centroid_margin": (own_distance - other_distance.min(dim=1).values).numpy().astype(np.float64),
    })


def say(line: str, warn: bool | set[str]) -> None:
    """Print ``line`` when ``warn`` is True; when it is a set (the lines a run of several rounds said already), only
    a line not in it yet, which joins it. before: each of embedding-clean's rounds printed its too_many lines again."""
    if warn is True or (isinstance(warn, set) and line not in warn):
        print(line)
        if isinstance(warn, set):
            warn.add(line)


def cleanse(ids: np.ndarray, labels: np.ndarray, found: pd.DataFrame, *, agree: float = 0.8,
            margin: float | None = 0.1, isolation: str | None = "auto", max_isolated_fraction: float = 0.1,
            bins: int = 256, warn: bool | set[str] = True, **isolation_options) -> pd.DataFrame:
    """One decision per image from its neighbourhood, tried in the order of :data:`RULES`.

    - ``neighbours_agree:c``: relabel to ``c`` when at least ``agree`` of the k neighbours carry ``c``, and more
      than carry the given label (``c``: of the other classes tied on votes, the one with the nearest neighbour;
      none where they tie on that too, ``neighbour_tied``) (001: "all neighbours having the same but a different
      label");
    - ``inside_class:c``: drop when the image sits closer to class ``c``'s centroid than to its own by at
      least ``margin`` and by more than 0 (None turns the rule off): it belongs to another cluster, but its
      neighbours are too mixed to say that ``c`` is its label;
    - ``isolated``: drop when its nearest same-class image is far: the similarity ``1 -
      same_class_distance`` at or below the cut :func:`winnow.thresholds.threshold` picks with method
      ``isolation`` (None turns the rule off; ``auto`` cuts only where a low second mode exists) among
      the images the other rules kept. A cut that would drop more than ``max_isolated_fraction`` of them
      drops none (a distance most images share is the norm), and with ``warn`` a ``warning:`` line says so
      (:func:`say`).

    Args:
        ids: str ``(N,)``; labels: int ``(N,)`` given labels.
        found: :func:`evidence` for the same ``N`` images in the same order.
        bins: histogram bins of the threshold method (few hundred images want fewer than the default).
        isolation_options: passed to the threshold method (``alpha`` for ``auto``, ``value`` for ``fixed``…).

    Returns:
        DataFrame with :data:`DECISION_COLUMNS`; ``suggested_label`` is the neighbours' label for a
        relabel and for an ``inside_class`` drop, the given label otherwise; ``neighbour_label`` -1 where no other
        class leads (none among the k, or ``neighbour_tied``: before, the lowest of them, a class for every image).
    """
    labels = np.asarray(labels, np.int64)
    if len(found) != len(labels) or len(ids) != len(labels):
        raise WinnowError(f"neighbours: {len(ids)} ids, {len(labels)} labels and {len(found)} evidence rows differ")
    if not 0 < agree <= 1:
        raise WinnowError(f"embedding_clean.agree: {agree!r} must lie in (0, 1] (a share of the k neighbours)")
    if margin is not None and not margin >= 0:
        raise WinnowError(f"embedding_clean.margin: {margin!r} must be at least 0, or null to turn the rule off")
    if isolation is not None and isolation not in METHODS:
        raise WinnowError(f"embedding_clean.isolation: unknown {isolation!r}; choose one of {', '.join(METHODS)} "
                          "or null")
    if not 0 < max_isolated_fraction <= 1:
        raise WinnowError(f"embedding_clean.max_isolated_fraction: {max_isolated_fraction!r} is outside (0, 1]")

    # and more of them than carry the given label: at agree 0.5, 5 of 10 neighbours of b relabelled an image of a
    # whose other 5 neighbours were of a, on no more evidence than it had for its own label
    agreement = found["agreement"].to_numpy()
    relabel = (agreement >= agree) & (agreement > found["given_agreement"].to_numpy())
    relabel &= ~found["neighbour_tied"].to_numpy()  # before: to the lowest class index of a complete tie
    inside = np.zeros(len(labels), bool)
    if margin is not None:
        # closer than to its own centroid, never as close: at margin 0 an all-zero row (silent_rows: at distance 1 from
        # every centroid) was dropped as inside_class of the lowest other class index, a class the names chose
        closer = found["centroid_margin"].to_numpy()
        inside = ~relabel & (closer >= margin) & (closer > 0)
    isolated = np.zeros(len(labels), bool)
    rest = ~relabel & ~inside
    if isolation is not None and rest.any():
        similarity = 1 - found["same_class_distance"].to_numpy()[rest]
        flags, _, rules = cut_issues({"isolated": similarity}, {"isolated": {"method": isolation,
                                                                           **isolation_options}},
                                     bins=bins, max_flagged_fraction=max_isolated_fraction)
        isolated[rest] = flags["isolated"]
        # before: silently, where the threshold stage warns of the same rule
        if rules["isolated"] == "too_many":
            say(f"warning: embedding-clean: the isolation cut would drop more than "
                f"embedding_clean.max_isolated_fraction ({max_isolated_fraction}) of the {int(rest.sum()):,} "
                "images the other rules kept, so it drops none: a distance most images share is the norm; raise "
                "the fraction if that many are far from their class", warn)

    neighbour, centroid = found["neighbour_label"].to_numpy(), found["centroid_label"].to_numpy()
    suggested = np.where(relabel, neighbour, np.where(inside, centroid, labels))
    neighbour = np.where(found["neighbour_tied"].to_numpy(), -1, neighbour)
    decision = np.where(relabel, "relabel", np.where(inside | isolated, "drop", "keep")).astype(object)
    reason = np.full(len(labels), "", dtype=object)
    reason[relabel] = [f"neighbours_agree:{c}" for c in neighbour[relabel]]
    reason[inside] = [f"inside_class:{c}" for c in centroid[inside]]
    reason[isolated] = "isolated"
    return pd.DataFrame({
        "id": np.asarray(ids, dtype=object), "given_label": labels, "suggested_label": suggested.astype(np.int64),
        "decision": decision, "reason": reason, "is_issue": decision != "keep",
        "agreement": found["agreement"].to_numpy(), "neighbour_label": neighbour,
        "given_agreement": found["given_agreement"].to_numpy(), "same_class_distance": found["same_class_distance"].to_numpy(),
        "centroid_margin": found["centroid_margin"].to_numpy(),
    })


def final_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """One row per image from the rows of several rounds (column ``round``), in first-seen order.

    An image dropped in any round is dropped; otherwise its label is the one its last relabel gave it,
    and an image relabelled back to its first given label is kept. ``given_label`` is the label it had
    before the first round, so :func:`winnow.labels.score_against_truth` scores the whole run; a drop's
    ``suggested_label`` is its drop row's (the judge's class, for a reviewer: no drop relabels).
    """
    ordered = decisions.sort_values("round", kind="stable")
    first = ordered.drop_duplicates("id", keep="first").set_index("id")

    def last(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.drop_duplicates("id", keep="last").set_index("id").reindex(first.index)

    out = last(ordered)
    drops, relabels = last(ordered[ordered["decision"] == "drop"]), last(ordered[ordered["decision"] == "relabel"])
    given = first["given_label"].to_numpy(np.int64)
    dropped = drops["decision"].notna().to_numpy()
    new_label = relabels["suggested_label"].fillna(first["given_label"]).to_numpy(np.int64)
    changed = ~dropped & (new_label != given)
    out["given_label"] = given
    # before: a drop's suggested_label was its given label, so every inside_class and untrusted_relabel drop
    # lost the judge's class and reached the review queue without a hint
    dropped_label = drops["suggested_label"].fillna(first["given_label"]).to_numpy(np.int64)
    out["suggested_label"] = np.where(dropped, dropped_label, np.where(changed, new_label, given))
    out["decision"] = np.where(dropped, "drop", np.where(changed, "relabel", "keep"))
    out["reason"] = np.where(dropped, drops["reason"], np.where(changed, relabels["reason"], ""))
    out["is_issue"] = out["decision"] != "keep"
    return out.reset_index()


def _unit(features: np.ndarray) -> torch.Tensor:
    """float32 ``(N, D)`` rows scaled to length 1 (an all-zero row stays zero)."""
    values = torch.from_numpy(np.array(features, np.float32))
    unit = F.normalize(values, dim=1)
    # F.normalize's float32 norm overflows past entries of about 1e19 (the row became zeros) and leaves rows
    # shorter than its eps 1e-12 unscaled (every similarity about 0): those rows alone are normalised in float64,
    # as winnow.cosine_index.unit_rows does, so every other row keeps its bits
    norms = torch.linalg.vector_norm(values, dim=1)
    odd = ~torch.isfinite(norms) | ((norms < 1e-12) & (values != 0).any(dim=1))
    if odd.any():
        unit[odd] = F.normalize(values[odd].double(), dim=1, eps=0.0).float()
    return unit


def _own_reference(space: Space) -> np.ndarray:
    """int64 ``(Q,)``: the reference row at each query's own position, -1 where there is none."""
    reference = np.asarray(space.reference_positions, np.int64)
    order = np.argsort(reference, kind="stable")
    at = np.minimum(np.searchsorted(reference[order], space.positions), max(len(reference) - 1, 0))
    found = reference[order][at] == np.asarray(space.positions, np.int64)
    return np.where(found, order[at], -1)


def check_k(k: int, *spaces: Space) -> None:
    """Raise :class:`WinnowError` unless ``k`` neighbours exist for every query of every space; the range it
    names is the narrowest of them, so that no other space refuses the value it suggests."""
    available = min(len(s.reference_positions) - (1 if s.is_self else 0) for s in spaces)
    check_neighbour_count(k, available, where="embedding_clean.k", among="reference images")
