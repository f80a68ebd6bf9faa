"""Which image each duplicate group keeps: the groups the links make (:func:`linked_groups`), the image kept in each
(:func:`choose_kept`: of the train images' majority label, then by ``keep``) and, so that no chain of links removes an
image that resembles none it was grouped with, the groups split until every removed image resembles one kept
(:func:`kept_by_resemblance`). The links themselves, and the table of groups they go into, are :mod:`winnow.dedup`'s."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from winnow.copies import LINKS
from winnow.hamming_index import components, first_seen_numbering


def linked_groups(n: int, links: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The groups of ``n`` images joined by ``links`` (:func:`winnow.dedup.duplicate_links`), and how strongly.

    Returns:
        ``(groups, tiers, kinds)``: int64 ``(N,)`` connected components numbered by first row; int64
        ``(K, N)`` components of the first ``k + 1`` of the ``K`` kinds present, in :data:`LINKS` order
        (the last row is the same partition as ``groups``); and those kinds' names.
    """
    kinds = [kind for kind in LINKS if kind in links]
    tiers = np.stack([components(n, np.concatenate([links[kind] for kind in kinds[:k + 1]]))
                      for k in range(len(kinds))]) if n else np.zeros((len(kinds), 0), np.int64)
    return tiers[-1], tiers, kinds


def choose_kept(
    *,
    groups: np.ndarray,
    splits: np.ndarray,
    tiers: np.ndarray,
    kinds: list[str],
    quality: np.ndarray | None,
    keep: str,
    drop_leaks: bool,
    labels: np.ndarray | None = None,
    voters: np.ndarray | None = None,
    flagged: np.ndarray | None = None,
    derived: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which images stay, and why.

    Args:
        groups: int64 ``(N,)`` from :func:`linked_groups`.
        splits: str ``(N,)``, each train/val/test.
        tiers, kinds: from :func:`linked_groups`, to tell how a removed image is linked to the kept one.
        quality: float ``(N,)`` higher = better, required by ``keep="best_quality"``.
        keep: one of :data:`winnow.configs.KEEP_POLICIES`.
        drop_leaks: remove train members of groups that hold a val, test or trusted image.
        labels: int ``(N,)``; given, a group whose train images carry one label more often than any other keeps
            an image of that label (:func:`majority_labels`); a tie keeps by ``keep`` alone.
        voters: bool ``(N,)``, the images whose labels that majority counts and among which the kept image is
            chosen first (default all).
        flagged: bool ``(N,)``, the images threshold flags (pruned drops them): kept only where every image of the
            majority label is flagged (default none).
        derived: int64 ``(N,)`` from :func:`derived_rank`, lower = more likely the original the others were made
            from; under ``keep="best_quality"`` it ranks before the quality scores (default: all alike).

    Returns:
        ``(kept, reason)``: bool ``(N,)`` and object ``(N,)`` of :data:`winnow.dedup.REASONS`.
    """
    n = len(groups)
    n_groups = int(groups.max()) + 1 if n else 0
    is_train = np.asarray(splits) == "train"
    size = np.bincount(groups, minlength=n_groups)[groups]
    leaky_group = np.zeros(n_groups, dtype=bool)
    leaky_group[groups[~is_train]] = drop_leaks
    leaky = leaky_group[groups]

    # rank train images within their group: of its majority label, unflagged, best, then manifest order. before: a
    # picture labelled 0 once and 1 twice shipped as 0 when that copy came first or scored best
    score = np.zeros(n) if keep == "first" else -np.asarray(quality, dtype=np.float64)
    voters = np.ones(n, bool) if voters is None else voters
    minority = (np.zeros(n, bool) if labels is None else
                labels != majority_labels(groups, labels, train=is_train & voters))
    # before: keep first (or best_quality, by the mean of seven scores) kept a dark copy that threshold drops and
    # removed its sound copy as a duplicate of it: pruned held no copy of the picture
    flagged = np.zeros(n, bool) if flagged is None else flagged
    # before: a JPEG re-encode of a digit outscored its PNG original (its ringing lifts low_information and light),
    # so best_quality kept the lossy copy and dropped the original: the scores find defects, not which is the source
    derived = np.zeros(n, np.int64) if derived is None or keep == "first" else derived
    order = np.lexsort((np.arange(n), score, derived, flagged, minority, ~voters, ~is_train, groups))
    first_of_group = np.ones(n, dtype=bool)
    first_of_group[1:] = groups[order][1:] != groups[order][:-1]
    winner = np.zeros(n, dtype=bool)
    winner[order[first_of_group]] = True
    winner &= is_train & ~leaky
    kept = ~is_train | winner
    # the first tier in which an image already shares a component with its group's kept image
    kept_row = np.full(n_groups, -1)
    kept_row[groups[winner]] = np.flatnonzero(winner)
    kept_row = kept_row[groups]
    link = np.full(n, "", dtype=object)
    open_rows = kept_row >= 0
    for kind, tier in zip(kinds, tiers):
        joined = open_rows & (tier == tier[np.maximum(kept_row, 0)])
        link[joined] = kind
        open_rows &= ~joined
    reason = np.select([size == 1, ~is_train, winner, leaky], ["unique", "eval_copy", "kept", "leak"],
                       default="").astype(object)
    reason[reason == ""] = link[reason == ""]
    return kept, reason


def kept_by_resemblance(
    links: dict[str, np.ndarray], *, splits: np.ndarray, labels: np.ndarray,
    resembles: Callable[[np.ndarray], np.ndarray], quality: np.ndarray | None, keep: str, drop_leaks: bool,
    flagged: np.ndarray | None = None, relink: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None,
    derived: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`linked_groups` and :func:`choose_kept` (``splits``, ``labels``, ``quality``, ``keep``, ``drop_leaks``,
    ``flagged``, ``derived`` as there), where every removed image resembles an image its group keeps.

    before: groups close links transitively, so a fade of 30 frames from one picture to another joined a test
    image and all 29 train frames went as its leaks, the other picture too. A removed image that resembles
    none of the images its group keeps (``resembles``: bool ``(P,)`` of int ``(P, 2)`` image pairs,
    :func:`winnow.copies.resembling`) leaves the group: those that left are grouped by their own links and
    chosen among the same way, until every removed image resembles one kept. Where some left, the kept image is
    chosen once more, by the labels of those that stayed (``voters`` of :func:`choose_kept`), and who resembles it
    asked again, and a group the leavers held together splits into the pieces that stay joined (:func:`_split_apart`).
    ``relink``: int64 ``(P, 2)`` pairs of image rows by kind, searched again among int ``(R,)`` rows that left, in
    place of those kinds' links (the near links may be a chain of each group, the embedding's each image's nearest:
    the leavers' links alone may not join two that resemble).

    Returns:
        ``(groups, kept, reason, chained)``: int64 ``(N,)`` groups numbered by first row, bool ``(N,)``, object
        ``(N,)`` of :data:`winnow.dedup.REASONS` and bool ``(N,)``, the images that left a group resembling none of
        the images it kept.
    """
    n = len(splits)
    groups, kept, reason = np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, object)
    rows, chained, offset = np.arange(n), np.zeros(n, bool), 0
    while len(rows):
        local = np.full(n, -1)
        local[rows] = np.arange(len(rows))
        if relink is not None and offset:  # rows that left a group
            links = {**links, **relink(rows)}
        sub = {kind: local[pairs][(local[pairs] >= 0).all(axis=1)] for kind, pairs in links.items()}
        part, tiers, kinds = linked_groups(len(rows), sub)
        choose = partial(choose_kept, groups=part, splits=splits[rows], tiers=tiers, kinds=kinds, keep=keep,
                         quality=None if quality is None else quality[rows], drop_leaks=drop_leaks, labels=labels[rows],
                         flagged=None if flagged is None else flagged[rows],
                         derived=None if derived is None else derived[rows])
        part_kept, part_reason = choose()
        left, ties = _leaving(part, part_kept, rows=rows, resembles=resembles)
        if left.any():
            # before: the majority counted the images that then left: a picture labelled 1 once and 0 by its six
            # copies shipped as 1, voted for by 22 chained look-alikes labelled 1 that went to groups of their own
            part_kept, part_reason = choose(voters=~left)
            left, ties = _leaving(part, part_kept, rows=rows, resembles=resembles)
            chained[rows[left]] = True  # not the pieces _split_apart sends away: they resemble an image kept
            train = splits[rows] == "train"
            part, away = _split_apart(part, stay=~left, ties=np.concatenate([*sub.values(), ties]),
                                      kept_train=train & part_kept, copies=train & ~part_kept & (part_reason != "leak"),
                                      kept=part_kept, resembles=lambda pairs: resembles(rows[pairs]))
            left |= away
        settled = rows[~left]
        groups[settled], kept[settled], reason[settled] = offset + part[~left], part_kept[~left], part_reason[~left]
        offset += 2 * len(rows)  # _split_apart numbers up to twice the rows
        rows = rows[left]
    groups = first_seen_numbering(groups)
    reason[np.bincount(groups, minlength=1)[groups] == 1] = "unique"  # its group's others left it
    return groups, kept, reason, chained


def _leaving(part: np.ndarray, part_kept: np.ndarray, *, rows: np.ndarray,
             resembles: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """bool ``(R,)``: the removed images of int ``(R,)`` groups ``part`` (of image ``rows``) that resemble none of
    the images their group keeps (bool ``(R,)`` ``part_kept``; ``resembles`` as :func:`kept_by_resemblance`), and
    int64 ``(P, 2)`` the pairs of positions in ``rows`` (a removed image, a kept one of its group) that resemble."""
    frame = pd.DataFrame({"group": part, "row": np.arange(len(rows))})
    candidates = frame[~part_kept].merge(frame[part_kept], on="group")  # each removed image and each kept one
    local = candidates[["row_x", "row_y"]].to_numpy(np.int64).reshape(-1, 2)
    ties = local[resembles(rows[local])]
    return ~part_kept & ~np.isin(np.arange(len(rows)), ties[:, 0]), ties


def _split_apart(part: np.ndarray, *, stay: np.ndarray, ties: np.ndarray, kept_train: np.ndarray,
                 copies: np.ndarray, kept: np.ndarray,
                 resembles: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Where the images that ``stay`` (bool ``(R,)``) of a group of int ``(R,)`` ``part`` fall apart into pieces
    joined by no int ``(P, 2)`` tie among them (the links, each removed image's resemblance to a kept one, and the
    resemblance of two ``kept`` images, bool ``(R,)``, of different pieces: ``resembles`` as :func:`_leaving`, of
    positions in ``part``): the piece holding the group's ``kept_train`` image (bool ``(R,)``) keeps the group, and
    each other piece goes.

    Returns:
        ``(groups, away)``: int64 ``(R,)`` groups, each piece without the kept train image a group of its own (val
        or test images and the train images dropped as their leaks); and bool ``(R,)``, the images of those pieces
        that hold ``copies`` (bool ``(R,)``: train images removed as duplicates, not as leaks) of no image kept in
        train, which must leave like the chained ones and be chosen among again.

    before: a group stayed whole after the images that chained it left, so a val image and a test image correlating
    0.44, each with the fade frames that look like it, stayed one group with the frames between them gone: "test
    holds copies of val images", and the two of different labels "copies ... carry different labels". And with
    drop_leaks false the train frames that look like the test image only stayed too, removed as copies of a kept
    train image at the other end of the fade that they do not resemble, so no train copy of that picture was kept
    and "test holds copies of val images" stayed. A removed copy's reason names the kept train image of its group."""
    n = len(part)
    ties = ties[stay[ties].all(axis=1)]
    # the links join a group by as few pairs as connect it (pHash alone: its members in row order), so two kept images
    # that resemble may have been joined only through one that left. before: with dedup.min_correlation null, a train
    # image kept beside its val copy 2 bits away (drop_leaks false) went to another group when the train image
    # chaining them left: the leak was reported nowhere; with drop_leaks true, a val image and its test copy split
    across = _across_pieces(part, components(n, ties), stay & kept)
    piece = components(n, np.concatenate([ties, across[resembles(across)]]))
    whole = np.isin(piece, piece[stay & kept_train])
    away = stay & ~whole & np.isin(piece, piece[stay & copies])
    return np.where(whole, part, n + piece), away


def _across_pieces(part: np.ndarray, piece: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """int64 ``(P, 2)``: each pair of the ``rows`` (bool ``(R,)``) in one group of int ``(R,)`` ``part`` but in
    different pieces of int ``(R,)`` ``piece``, made in as many steps as there are pairs. before: every pair of a
    group's rows was made, then those in one piece dropped, on every pass where an image left any group: a group of
    6,000 kept images in one piece took 2 GB and 3 s to give no pair (20,000: 22 GB)."""
    row = np.flatnonzero(rows)
    if not len(row):
        return np.zeros((0, 2), np.int64)
    row = row[np.lexsort((piece[row], part[row]))]  # by group, then piece: a row's partners follow its piece's run
    group, its_piece = part[row], piece[row]
    group_end = np.searchsorted(group, group, side="right")
    run_end = np.flatnonzero(np.r_[(group[1:] != group[:-1]) | (its_piece[1:] != its_piece[:-1]), True]) + 1
    after = run_end[np.searchsorted(run_end, np.arange(len(row)), side="right")]  # where the next piece starts
    counts = group_end - after
    start = np.repeat(after - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return np.stack([np.repeat(row, counts), row[start]], axis=1).astype(np.int64).reshape(-1, 2)


# file suffixes of formats that only store lossily: a copy read from one is a re-encode, never the lossless source
LOSSY_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")


def derived_rank(ids: np.ndarray, orig_h: np.ndarray | None = None, orig_w: np.ndarray | None = None) -> np.ndarray:
    """int64 ``(N,)``, lower = more likely the original a group's other copies were made from: the larger source
    (``orig_h`` x ``orig_w``, int ``(N,)``, the size before ingest resized it: a downscaled or cropped copy holds
    less of the picture), then a lossless file before a lossy one (an imagefolder id is the file's path, whose
    suffix names its format: a JPEG re-encode only loses). ``ids``: str ``(N,)``; sizes None: all alike.

    A copy's pixels cannot tell which came first (ingest resized both); its source size and format can, and
    ids without a suffix (npz, mnist5k, cifar10) and equal sizes leave the quality scores to choose as before."""
    # a loop over the ids' last characters: pandas' str methods took 8 s for a million
    lossy = np.fromiter((str(i)[-5:].lower().endswith(LOSSY_SUFFIXES) for i in ids), bool, count=len(ids))
    pixels = (np.zeros(len(lossy), np.int64) if orig_h is None or orig_w is None else
              np.asarray(orig_h, np.int64) * np.asarray(orig_w, np.int64))
    return -2 * pixels + lossy


def majority_labels(groups: np.ndarray, labels: np.ndarray, *, train: np.ndarray) -> np.ndarray:
    """float64 ``(N,)``: the label most of each image's group's ``train`` images (bool ``(N,)``) carry, NaN where two
    labels tie for most or the group has no train image; ``groups``, ``labels``: int ``(N,)``."""
    counts = pd.DataFrame({"group": groups[train], "label": labels[train]}).value_counts()
    top = counts == counts.groupby(level="group").transform("max")
    single = top.groupby(level="group").sum() == 1
    winners = top[top & single.reindex(top.index.get_level_values("group")).to_numpy()].index
    majority = pd.Series(winners.get_level_values("label"), index=winners.get_level_values("group"), dtype=np.float64)
    return majority.reindex(groups).to_numpy()
