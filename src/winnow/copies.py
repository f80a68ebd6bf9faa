"""Which pairs of images are copies of one another, by kind of evidence (:data:`LINKS`, strongest first).

- ``exact_duplicate``: equal pixel digests;
- ``near_duplicate``: 64-bit pHashes at most ``radius`` bits apart (the multi-index search of
  :mod:`winnow.hamming_index`, never all pairs) whose grey thumbnails correlate at least
  ``min_correlation`` (less float32's rounding, :data:`winnow.cosine_index.ROUNDING`, so that 1 finds a
  pixel-exact mirror whose correlation rounds to 0.99999994): a re-encoded or colour-jittered copy;
- ``flip_crop_duplicate``: the same test between one image's mirror or centre crop and the other whole
  image (:func:`variant_hashes`, :class:`winnow.thumbnails.Looks`): a mirrored or cropped copy;
- ``embedding_duplicate``: represent embeddings within a cosine distance of each other
  (:mod:`winnow.cosine_index`), confirmed by the thumbnails when a correlation is asked for.

The pHash search finds candidates cheaply; the correlation check keeps digits, icons and other sets of
look-alike images, whose hashes crowd together, from chaining into one giant group. Each function
returns int64 ``(P, 2)`` row pairs; the groups are the connected components of all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from winnow.cosine_index import ROUNDING, cosine_pairs, unique_pairs, unit_rows
from winnow.crowd_warning import CrowdWarning, Repeats, warn_of_equal_rows
from winnow.engine import Engine
from winnow.hamming_index import hamming_components, hamming_cross_blocks, hamming_pair_blocks
from winnow.phash import phash64
from winnow.pixel_batches import batch_rows
from winnow.thumbnails import BATCH_PIXELS, Looks, crop_pixels, pair_correlation

LINKS = ("exact_duplicate", "near_duplicate", "flip_crop_duplicate", "turned_duplicate", "embedding_duplicate")
PAIR_BLOCK = 1 << 22  # candidate pairs expanded and confirmed at a time (64 MiB of int64 pairs)
EMBEDDING_NEIGHBOURS = 10  # nearest embeddings searched first per image; more where all 10 are within the radius
CROWDED_BLOCKS = 16  # candidate pairs past this many half blocks (30 s on 2 cores) are told, with their time
# mirror and crop candidates cost some 3 times a whole one (each view, both ways): past this many, told likewise
CROWDED_VIEW_PAIRS = 2 * PAIR_BLOCK
EMBEDDING_CROWD = PAIR_BLOCK // 4  # embedding candidates past this (some 12 s) are told likewise, timed by eighths
CROWDED_HASH_PAIR = 1 << 12  # image pairs of one pair of hashes past which its repeats are told at once (Repeats)
EMBEDDING_BLOCK = 1 << 14  # image pairs whose embeddings resembling() compares at a time (32 MiB a side at D = 512)


def exact_pairs(digests: np.ndarray) -> np.ndarray:
    """Rows with equal ``(N,)`` pixel digests (any hashable dtype): consecutive members of each set."""
    return _chain(_pixel_ids(digests))


def near_pairs(phashes: np.ndarray, *, radius: int, features: np.ndarray | None = None,
               min_correlation: float | None = None, rows: np.ndarray | None = None) -> np.ndarray:
    """Near duplicates: uint64 ``(M,)`` pHashes within ``radius`` bits and, when ``features`` (float32
    ``(N, D)`` whole-image thumbnails) are given, thumbnails correlating at least ``min_correlation``.
    pHash alone returns enough pairs to join each component (consecutive members).

    ``rows``: int ``(M,)``, increasing, the image row of each hash (default ``0 .. M - 1``): the pairs are of
    image rows, and ``features`` is read at them, never copied."""
    phashes = np.asarray(phashes, dtype=np.uint64)
    rows = np.arange(len(phashes)) if rows is None else rows
    if features is None:
        return rows[_chain(hamming_components(phashes, radius=radius))]
    # the candidates are confirmed a block at a time: crowded hashes make far more candidates than copies
    confirmed = _Spanning(len(features))
    crowd = CrowdWarning(subject="images of equal or close pHashes (within dedup.radius)",
                         past=CROWDED_BLOCKS * PAIR_BLOCK // 2, timed=PAIR_BLOCK // 4)
    for block in image_pair_blocks(phashes, radius=radius, progress="dedup near duplicates", planned=crowd.planned):
        block = rows[block]
        confirmed.add(block[_correlated(pair_correlation(features, block), min_correlation)])
        crowd.compared(len(block))
    return confirmed.pairs()


def variant_hashes(images: np.ndarray, *, flip: bool, crop: float | None, batch_size: int = 4096,
                   engine: Engine = Engine()) -> np.ndarray:
    """uint64 ``(V, N)`` pHashes of each image's mirror (``flip``), centre crop (``crop``: the share of
    height and width cut from each side, :func:`winnow.thumbnails.crop_pixels`) and mirrored crop (both
    on); ``V`` is 0, 1 or 3.

    Args:
        images: uint8 ``(N, H, W, C)``, memory-mapped or not (hashed in batches).
        engine: where the batches run (:class:`winnow.engine.Engine`).
    """
    if not flip and not crop:
        return np.empty((0, len(images)), np.uint64)
    hashes = engine.map(partial(_view_hashes, flip=flip, crop=crop), images,
                        batch_size=batch_rows(images, batch_size, pixels=BATCH_PIXELS))
    return np.stack(list(hashes.values()))


def mirrored_views(*, flip: bool, crop: float | None) -> np.ndarray:
    """bool ``(V,)``: which rows of :func:`variant_hashes` (same ``flip`` and ``crop``) are mirrored views."""
    return np.array([True] * flip + ([False] + [True] * flip if crop else []), dtype=bool)


def _view_hashes(batch: np.ndarray, *, flip: bool, crop: float | None) -> dict[str, np.ndarray]:
    """uint64 ``(B,)`` pHashes of the views of uint8 ``(B, H, W, C)``, in :func:`variant_hashes`' order."""
    height, width = batch.shape[1:3]
    cut_h, cut_w = crop_pixels(batch.shape[1:], crop or 0.0)
    views = {"flip": batch[:, :, ::-1]} if flip else {}
    if crop:
        cropped = batch[:, cut_h:height - cut_h, cut_w:width - cut_w]
        views |= {"crop": cropped} | ({"flip_crop": cropped[:, :, ::-1]} if flip else {})
    return {name: phash64(view) for name, view in views.items()}


def flip_crop_pairs(phashes: np.ndarray, variants: np.ndarray, *, radius: int, looks: Looks | None = None,
                    min_correlation: float | None = None, rows: np.ndarray | None = None,
                    labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mirrored or cropped copies, ``i < j``, each pair once, and the pairs of different ``labels`` left out.

    A pair is a candidate when the pHash of a view of one image (a row of ``variants``, from
    :func:`variant_hashes`) is within ``radius`` bits of the other image's pHash (of uint64 ``(M,)``
    ``phashes``), and a copy when, with ``looks``, a view's thumbnail correlates with the other whole
    thumbnail at least ``min_correlation``. Whole against whole is :func:`near_pairs`' own test; ``rows``
    as there.

    Returns:
        ``(pairs, across)``, int64 ``(P, 2)`` each: the copies; and with ``labels`` (int ``(N,)`` by image row),
        the confirmed pairs of different labels, which are left out of ``pairs`` (empty without ``labels``).
    """
    m = len(phashes)
    rows = np.arange(m) if rows is None else rows
    n = int(rows[-1]) + 1 if m else 0
    confirmed, across = _Spanning(n), _Spanning(n)
    # a block at a time, as near_pairs, and told as there: 1,000 images of one pHash (so their mirrors and crops too)
    # took 35 s without a word (2 shared cores), 2,000 past 2 minutes
    crowd = CrowdWarning(subject="mirrors, crops or turns of images of equal or close pHashes (within dedup.radius)",
                         past=CROWDED_VIEW_PAIRS, timed=PAIR_BLOCK // 4)
    for found in image_cross_blocks(phashes, variants.ravel(), radius=radius, progress="dedup mirrors and crops",
                                    planned=crowd.planned):
        image = np.stack([found[:, 0], found[:, 1] % m], axis=1)  # a view's row is v * m + its image
        candidates = unique_pairs(rows[image[image[:, 0] != image[:, 1]]], n)
        if looks is not None:
            candidates = candidates[_correlated(looks.correlation(candidates, whole=False), min_correlation)]
        other = (np.zeros(len(candidates), bool) if labels is None else
                 labels[candidates[:, 0]] != labels[candidates[:, 1]])
        confirmed.add(candidates[~other])
        across.add(candidates[other])
        crowd.compared(len(found))
    return confirmed.pairs(), across.pairs()


def embedding_pairs(embedding: np.ndarray, *, radius: float, looks: Looks | None = None,
                    min_correlation: float | None = None, knn: str = "numpy", digests: np.ndarray | None = None,
                    labels: np.ndarray | None = None, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images whose float ``(N, D)`` embeddings (read at int ``(M,)`` ``rows``, default all: the pairs are of image
    rows; with ``(N,)`` ``digests``, one row per set of equal pixels and embedding, :func:`_standing_for`) are
    within cosine distance ``radius`` (:func:`winnow.cosine_index.cosine_pairs`, a radius search from
    :data:`EMBEDDING_NEIGHBOURS` nearest), confirmed, with ``looks``, by the best thumbnail correlation of the
    whole images or a view (at least ``min_correlation``); ``knn``: a backend of :data:`winnow.cosine_index.BACKENDS`.

    With ``labels`` (int ``(N,)``) and ``digests`` (``(N,)``), a pair whose pixels carry no label in common
    (:func:`share_a_label`) is confirmed by the unmirrored views alone, as :func:`flip_crop_pairs` leaves out
    a mirror of another class: an embedding trained with mirrored views (selfsup hflip) puts an image and its
    mirror together, and mirroring may change the class (left/right, b/d).

    Returns:
        ``(pairs, across)``, int64 ``(P, 2)`` each: the copies; and those pairs of no label in common that only a
        mirrored view confirms, left out of ``pairs`` (empty without ``labels``).
    """
    rows = np.arange(len(embedding)) if rows is None else np.asarray(rows)
    if digests is not None:
        rows = rows[~_standing_for(embedding, rows=rows, digests=digests)]
    warn_of_equal_rows(embedding[rows], past=EMBEDDING_CROWD)
    candidates = rows[cosine_pairs(embedding[rows], radius=radius, k=EMBEDDING_NEIGHBOURS, backend=knn,
                                   name="dedup.embedding_radius")]
    if looks is None:
        return candidates, np.empty((0, 2), np.int64)
    same = np.ones(len(candidates), bool)
    if labels is not None and looks.flip:  # the pandas matching only for the pairs whose own labels differ
        other = np.flatnonzero(labels[candidates[:, 0]] != labels[candidates[:, 1]])
        same[other] = share_a_label(candidates[other], digests=digests, labels=labels)
    # a block at a time, told as near_pairs: 2,000 images of one embedding (each its own pixels) sat 25 s here
    # after the search's 13 s, without a word (2 shared cores); each pair costs some 12 times a whole pHash pair
    confirmed, mirror_only = np.zeros(len(candidates), bool), np.zeros(len(candidates), bool)
    block = EMBEDDING_CROWD // 8  # the pairs compared, and timed, at a time
    crowd = CrowdWarning(subject="images of equal or close embeddings (within dedup.embedding_radius)",
                         past=EMBEDDING_CROWD, timed=block)
    crowd.planned(len(candidates))
    for start in range(0, len(candidates), block):
        part = slice(start, start + block)
        pairs, alike = candidates[part], same[part]
        correlation = np.empty(len(pairs), np.float32)
        correlation[alike] = looks.correlation(pairs[alike], whole=True)
        correlation[~alike] = replace(looks, flip=False).correlation(pairs[~alike], whole=True)
        confirmed[part] = _correlated(correlation, min_correlation)
        mirror = np.flatnonzero(~alike & ~confirmed[part])
        mirror_only[part][mirror] = _correlated(looks.correlation(pairs[mirror], whole=True), min_correlation)
        crowd.compared(len(pairs))
    return candidates[confirmed], candidates[mirror_only]


def share_a_label(pairs: np.ndarray, *, digests: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """bool ``(P,)``: for each ``(i, j)`` of int ``(P, 2)`` ``pairs``, whether some image of ``i``'s pixels and some
    image of ``j``'s (equal ``digests``, ``(N,)``) carry one label (int ``(N,)`` ``labels``): the pHash searches
    read one image of each set of equal pixels, whose label need not be the others'."""
    pixels = _pixel_ids(digests)
    carried = pd.DataFrame({"pixels": pixels, "label": labels}).drop_duplicates()
    ends = pd.DataFrame({"a": pixels[pairs[:, 0]], "b": pixels[pairs[:, 1]], "pair": np.arange(len(pairs))})
    found = (ends.merge(carried, left_on="a", right_on="pixels")
             .merge(carried, left_on=["b", "label"], right_on=["pixels", "label"])["pair"])
    return np.isin(np.arange(len(pairs)), found.to_numpy())


def resembling(pairs: np.ndarray, *, digests: np.ndarray, phashes: np.ndarray, links: dict[str, np.ndarray],
               radius: int | None, looks: Looks | None = None, min_correlation: float | None = None,
               embedding: np.ndarray | None = None, embedding_radius: float | None = None) -> np.ndarray:
    """bool ``(P,)``: for each ``(i, j)`` of int ``(P, 2)`` ``pairs``, whether the two images are copies of each other
    by themselves, not only through a chain of others: equal ``digests``, a flip/crop or embedding pair of their own
    among ``links`` (int ``(Q, 2)`` by kind) between their pixels (a link of one image stands for every image of
    equal pixels: the pHash searches link one of each), or, with ``looks``, thumbnails (whole or a view) correlating
    at least ``min_correlation``, without, uint64 ``phashes`` within ``radius`` bits, or float ``(N, D)``
    ``embedding`` rows (given where its pairs go unconfirmed) within cosine distance ``embedding_radius``. The exact
    and near links are not read: they may chain a group's members in row order (:func:`near_pairs` by pHash alone),
    so they say nothing of two images by themselves; digests, pHashes and thumbnails are compared here instead."""
    # before: links were matched by image, so a train mirror of a test image whose train exact copy came first in
    # the manifest (the copy, not the test image, searched and linked) resembled no image kept and stayed in train
    pixels = _pixel_ids(digests)
    n = len(digests)
    # before: with dedup.min_correlation null the near links chained each group in row order, so a train image 9
    # bits from a test image (radius 3) was linked to it only because the two came last in the manifest, and went
    # as its leak although it resembles it no more than through the chain
    found_pairs = [pairs for kind, pairs in links.items() if kind not in ("exact_duplicate", "near_duplicate")]
    own = pixels[np.concatenate([np.empty((0, 2), np.int64), *found_pairs])]
    mine = pixels[pairs]
    found = mine[:, 0] == mine[:, 1]
    found |= np.isin(pair_keys(mine, n), pair_keys(own, n))
    if looks is not None and min_correlation is not None:  # the pairs still open alone: 25 s a million on 2 cores
        open_rows = np.flatnonzero(~found)
        found[open_rows] = _correlated(looks.correlation(pairs[open_rows], whole=True), min_correlation)
    elif radius is not None:
        found |= np.bitwise_count(phashes[pairs[:, 0]] ^ phashes[pairs[:, 1]]) <= radius
    if embedding is not None:
        # before: only the pairs among each image's EMBEDDING_NEIGHBOURS nearest, so of 20 train copies of a test image
        # whose embeddings all lay within 0.003 of it (embedding_radius 0.01, embedding_confirm false) the 10 it was
        # not among the nearest of stayed in train, said to "resemble none of the images it keeps"
        # only the pairs still open: those of equal pixels, own links or alike thumbnails need no distance
        open_rows, unit = np.flatnonzero(~found), unit_rows(embedding)  # each row scaled once, not once a pair
        for start in range(0, len(open_rows), EMBEDDING_BLOCK):  # two (block, D) float32 arrays at a time
            block = open_rows[start:start + EMBEDDING_BLOCK]
            ends = pairs[block]
            similarity = np.einsum("pd,pd->p", unit[ends[:, 0]], unit[ends[:, 1]])
            found[block] = 1.0 - similarity <= embedding_radius + ROUNDING
    return found


def pixel_pairs(pairs: np.ndarray, *, digests: np.ndarray) -> int:
    """How many distinct pairs of different pixels (equal ``digests``, ``(N,)``, are the same) int ``(P, 2)`` image
    ``pairs`` join: the pHash searches link one image of each set of equal pixels, the embedding any."""
    ends = _pixel_ids(digests)[pairs]
    return len(np.unique(pair_keys(ends[ends[:, 0] != ends[:, 1]], len(digests))))


def pair_keys(pairs: np.ndarray, n: int) -> np.ndarray:
    """int ``(P,)``: one number per unordered pair of int ``(P, 2)`` ``pairs`` of indices below ``n``
    (``(i, j)`` and ``(j, i)`` alike), for matching pairs with ``np.isin``."""
    return pairs.min(axis=1) * n + pairs.max(axis=1)


def _standing_for(embedding: np.ndarray, *, rows: np.ndarray, digests: np.ndarray) -> np.ndarray:
    """bool ``(M,)``: which int ``(M,)`` ``rows`` the first of their set of equal pixels (``(N,)`` ``digests``) stands
    for in the embedding search: those whose float ``(N, D)`` ``embedding`` row is the first's too (cosine distance
    within :data:`~winnow.cosine_index.ROUNDING`). Before, 11 train copies of one picture filled each other's 10
    nearest, and so did 11 test copies of a picture 0.0002 from it (embedding_radius 0.01): no link, every train copy
    kept beside its leak. A user's embedding (represent.source) may give equal pixels different rows (a caption's,
    a crop's): each such row is searched (when the first stood for all, a test image near the second train copy's
    row alone was no leak)."""
    ids = _pixel_ids(np.asarray(digests)[rows])
    first = rows[np.unique(ids, return_index=True)[1][ids]]
    later = np.flatnonzero(rows != first)
    same = np.zeros(len(rows), bool)
    same[later] = (embedding[rows[later]] == embedding[first[later]]).all(axis=1)
    near = later[~same[later]]  # unequal bits, normalised only here: a million rows' unit_rows took 18 s
    ends = unit_rows(embedding[rows[near]]), unit_rows(embedding[first[near]])
    same[near] = 1.0 - np.einsum("ij,ij->i", *ends) <= ROUNDING
    return same


def _pixel_ids(digests: np.ndarray) -> np.ndarray:
    """int ``(N,)``: one number per set of equal ``digests`` (equal pixels), numbered by first row."""
    return pd.factorize(pd.Series(np.asarray(digests, dtype=object)))[0]


def _correlated(correlation: np.ndarray, min_correlation: float) -> np.ndarray:
    """bool: which float ``correlation`` values reach ``min_correlation``, less float32's rounding (so that 1 finds
    a pixel-exact copy, 0.99999994 in float32)."""
    return correlation >= min_correlation - ROUNDING


def image_pair_blocks(phashes: np.ndarray, *, radius: int, progress: str | None = None,
                      planned: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
    """int64 ``(P, 2)`` pairs of rows whose hashes are within ``radius``, equal hashes included, a block at a
    time (:func:`winnow.hamming_index.hamming_pair_blocks`, each cut to :data:`PAIR_BLOCK` pairs), the pairs of
    equal hashes first; a pair may come in several blocks. ``progress``: a bar's label; ``planned``: told the
    count of the pairs of each expansion (below) before they come.

    The search runs on distinct hashes; each pair of distinct hashes then expands to all pairs of the
    rows carrying them.
    """
    rows = _RowsOfHashes(phashes)
    repeated = np.flatnonzero(rows.counts > 1)
    yield from rows.pairs(np.stack([repeated, repeated], axis=1), rows, planned=planned)
    repeats = Repeats(n=len(rows.unique), radius=radius, crowded=CROWDED_HASH_PAIR)
    for block in hamming_pair_blocks(rows.unique, radius=radius, progress=progress):
        yield from rows.pairs(block, rows, planned=planned, repeats=repeats)


def image_cross_blocks(left: np.ndarray, right: np.ndarray, *, radius: int, progress: str | None = None,
                       planned: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
    """int64 ``(P, 2)`` pairs ``(i, j)`` of a row of uint64 ``left`` and a row of uint64 ``right`` whose hashes
    are within ``radius``, a block at a time (:func:`winnow.hamming_index.hamming_cross_blocks` on the
    distinct hashes of each side); a pair may come in several blocks; ``progress``: a bar's label; ``planned`` as
    :func:`image_pair_blocks`'."""
    left_rows, right_rows = _RowsOfHashes(left), _RowsOfHashes(right)
    repeats = Repeats(n=len(left_rows.unique) + len(right_rows.unique), radius=radius, crowded=CROWDED_HASH_PAIR)
    for block in hamming_cross_blocks(left_rows.unique, right_rows.unique, radius=radius, progress=progress):
        yield from left_rows.pairs(block, right_rows, planned=planned, repeats=repeats)


class _RowsOfHashes:
    """The distinct hashes of uint64 ``(N,)`` ``hashes`` and the rows carrying each."""

    def __init__(self, hashes: np.ndarray):
        self.unique, inverse = np.unique(np.asarray(hashes, dtype=np.uint64), return_inverse=True)
        inverse = inverse.ravel()
        self.counts = np.bincount(inverse, minlength=len(self.unique))
        self.members = np.argsort(inverse, kind="stable")
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)

    def pairs(self, hash_pairs: np.ndarray, other: _RowsOfHashes, *,
              planned: Callable[[int], None] | None = None, repeats: Repeats | None = None) -> Iterator[np.ndarray]:
        """int64 ``(P, 2)`` blocks of at most :data:`PAIR_BLOCK` pairs: every pair of a row carrying hash ``a``
        here and a row carrying hash ``b`` in ``other``, for each ``(a, b)`` of int ``(K, 2)`` ``hash_pairs``;
        when ``other`` is this set, a pair within one hash (``a == b``) comes once, ``i < j``. Blocks, since
        10,000 images of one hash are 50 million pairs. ``planned``: told their count first, weighed by ``repeats``
        where the search finds a pair of hashes more than once."""
        a, b = hash_pairs[:, 0], hash_pairs[:, 1]
        sizes = self.counts[a] * other.counts[b]
        ends = np.cumsum(sizes)
        if planned is not None and len(ends):
            kept = np.where(a == b, (sizes - self.counts[a]) // 2, sizes) if other is self else sizes
            planned(int(kept.sum()) if repeats is None else repeats.weigh(self.unique[a], other.unique[b], kept))
        for first in range(0, int(ends[-1]) if len(ends) else 0, PAIR_BLOCK):
            index = np.arange(first, min(first + PAIR_BLOCK, int(ends[-1])))
            which = np.searchsorted(ends, index, side="right")  # the hash pair each index expands
            within = index - (ends[which] - sizes[which])
            left = self.members[self.starts[a][which] + within // other.counts[b][which]]
            right = other.members[other.starts[b][which] + within % other.counts[b][which]]
            if other is self:
                keep = (a[which] != b[which]) | (left < right)
                left, right = left[keep], right[keep]
            yield np.stack([left, right], axis=1)


class _Spanning:
    """Confirmed pairs of ``n`` rows gathered block by block, cut to a spanning forest of those pairs
    (:func:`_forest`) whenever they pass ``4 n`` + :data:`PAIR_BLOCK`: near-identical images confirm every pair of
    one another (memory grew with N squared), and the groups need only a forest; a pair kept is a pair confirmed,
    which :func:`resembling` takes for two images' own mirror or crop link."""

    def __init__(self, n: int):
        self.n, self.held, self.count = n, [np.empty((0, 2), np.int64)], 0

    def add(self, pairs: np.ndarray) -> None:
        self.held.append(pairs)
        self.count += len(pairs)
        if self.count > 4 * self.n + PAIR_BLOCK:
            self.held = [_forest(self.n, np.concatenate(self.held))]
            self.count = len(self.held[0])

    def pairs(self) -> np.ndarray:
        """int64 ``(P, 2)``, ``i < j``, each once, sorted."""
        return unique_pairs(np.concatenate(self.held), self.n)


def _forest(n: int, pairs: np.ndarray) -> np.ndarray:
    """int64 ``(F, 2)``: a spanning forest of the graph of ``n`` rows joined by int ``(P, 2)`` ``pairs``, made of
    those pairs (the same connected components, at most ``n - 1`` pairs).

    before: the consecutive members of each component, pairs never confirmed: past 4 million confirmed mirror and
    crop pairs, resembling() took them for own links, and a train frame of a fade that resembles no image kept went
    as a copy of one at the other end."""
    graph = coo_matrix((np.ones(len(pairs)), (pairs.min(axis=1), pairs.max(axis=1))), shape=(n, n))
    tree = minimum_spanning_tree(graph).tocoo()  # every weight 1: any spanning forest of the pairs given
    return np.stack([tree.row, tree.col], axis=1).astype(np.int64)


def _chain(labels: np.ndarray) -> np.ndarray:
    """Consecutive members of each set of equal int ``(N,)`` ``labels``: enough pairs to join each set."""
    order = np.argsort(labels, kind="stable")
    same = labels[order][1:] == labels[order][:-1]
    return np.stack([order[:-1][same], order[1:][same]], axis=1)
