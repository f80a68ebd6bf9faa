"""The one warning dedup gives where crowded pHashes or embeddings make its thumbnail comparisons grow with the
square of the images (:mod:`winnow.copies`): said once, with the time left at the measured pace."""

from __future__ import annotations

from math import ceil
from time import monotonic

import numpy as np

from winnow.hamming_index import meetings


class CrowdWarning:
    """A warning for images of equal or close pHashes (or embeddings), every pair of whose rows is a candidate
    (:func:`winnow.copies.image_pair_blocks`), compared thumbnail by thumbnail. Past ``past`` pairs found, the line
    comes once, after a block of ``timed`` pairs or more timed alone (not the first, which also pays for the setup),
    with the time the pairs found and not yet compared take at its pace. Before:
    20,000 images of one pHash (near-identical frames, each with its own pixels) sat minutes without a word, the
    progress bar not yet shown; and 9,000 such frames over 7 pHashes a bit or two apart, 5 minutes."""

    def __init__(self, *, subject: str, past: int, timed: int):
        # subject: what the line says takes the comparisons; past: the pairs found beyond which it is said; timed:
        # the fewest pairs of a block whose pace is told
        self.subject, self.past, self.timed = subject, past, timed
        self.pairs = self.done = 0
        self.started, self.told = None, False

    def planned(self, pairs: int) -> None:
        """Called with the count of the image pairs of one expansion before they come."""
        self.pairs += pairs

    def compared(self, pairs: int) -> None:
        """Called after each block of ``pairs`` pairs is compared: pairs, not blocks, are the measure, since each
        of many sparse expansions is a block of its own (the CIFAR subset: 7 blocks of 55 pairs). A pair of rows of
        two hashes close in several chunks comes in several blocks: it counts, and is compared, each time."""
        self.done, now = self.done + pairs, monotonic()
        if (not self.told and self.started is not None and self.pairs > self.past
                and pairs >= self.timed):
            self.told = True
            left = (self.pairs - self.done) * (now - self.started) / pairs
            print(f"warning: dedup: {self.subject} take {self.pairs:,} "
                  f"thumbnail comparisons, a number growing with the square of theirs: about "
                  f"{f'{ceil(left / 60):,} min' if left > 120 else f'{ceil(left)} s'} more for those found so far, "
                  f"at the pace of the last {pairs:,}", flush=True)
        self.started = now


class Repeats:
    """The image pairs a :class:`CrowdWarning` is told of a pHash search that finds a pair of hashes once per chunk
    table key the two share (:func:`winnow.hamming_index.meetings`), each time expanded to every pair of their
    images and compared again. A crowded pair of hashes (at least ``crowded`` image pairs) is told once, the first
    time, with all its meetings; the rest as they come. Before, each expansion was told as it came: 2,000 images of
    one pHash (their mirrors and crops too, radius 6) were said to need "about 3 s more", and took 70 s (2 shared
    cores), 7 chunks each comparing the 12 million pairs again."""

    def __init__(self, *, n: int, radius: int, crowded: int):
        # n: the hashes searched (the search's plan is theirs); told: the crowded pairs of hashes already counted
        self.n, self.radius, self.crowded, self.told = n, radius, crowded, set()

    def weigh(self, left: np.ndarray, right: np.ndarray, kept: np.ndarray) -> int:
        """The image pairs to tell for uint64 ``(K,)`` hash pairs ``left[i]``, ``right[i]`` found in one block,
        each expanding to int ``(K,)`` ``kept`` image pairs."""
        crowded = np.flatnonzero(kept >= self.crowded)
        total = int(kept.sum()) - int(kept[crowded].sum())
        if len(crowded):
            times = meetings(left[crowded], right[crowded], n=self.n, radius=self.radius)
            for pair, pairs, met in zip(zip(left[crowded].tolist(), right[crowded].tolist()), kept[crowded].tolist(),
                                        times.tolist()):
                if pair not in self.told:
                    self.told.add(pair)
                    total += pairs * met
        return total


def warn_of_equal_rows(features: np.ndarray, *, past: int) -> None:
    """Print one line, before the search, when the nonzero rows of float ``(M, D)`` ``features`` that equal
    another value for value make more than ``past`` pairs: every such pair lies within any cosine radius, so the radius
    search (:func:`winnow.cosine_index.cosine_pairs`) widens to all of them and each is then compared thumbnail by
    thumbnail. Before, 2,000 images of one embedding sat 13 s in the search (2 shared cores) without a word, the
    :class:`CrowdWarning` coming only after it. Rows are grouped by their bytes once -0.0 is 0.0 (one sort: 1 s at
    200,000 rows of 256 float32, 3.3-3.8 s on 2 loaded cores); an all-zero row is at distance 1 from every row, so
    it is left out, and so is a row holding a non-finite value."""
    features = np.asarray(features)
    # equal values, not bits: -0.0 is 0.0 to the search (adding 0 makes it so: before, 1,000 of 2,000 equal rows
    # with a -0.0 split them in two groups under the line's count, and the search sat 9 s without it); a row holding
    # a NaN or an inf lies within no radius of any row, however equal its bits
    rows = np.add(features[np.isfinite(features).all(axis=1)], 0, dtype=features.dtype)
    if not rows.size:
        return
    as_bytes = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))[:, 0]
    _, first, counts = np.unique(as_bytes, return_index=True, return_counts=True)
    counts = counts[rows[first].any(axis=1)]
    pairs = int((counts * (counts - 1) // 2).sum())
    if pairs > past:
        print(f"warning: dedup: {int(counts[counts > 1].sum()):,} images share their embedding row with others "
              f"({pairs:,} pairs of equal rows, within any dedup.embedding_radius): the embedding search and its "
              "thumbnail comparisons grow with the square of their number and may take minutes; an embedding that "
              "gives many images one row (a constant or collapsed model) tells them apart by nothing", flush=True)
