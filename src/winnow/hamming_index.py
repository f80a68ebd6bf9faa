"""Pairs of 64-bit hashes within a Hamming radius, without comparing all pairs.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012) by the pigeonhole principle: cut the 64 bits
into ``m`` chunks; two hashes at distance ``d <= radius`` differ in at most ``radius // m`` bits of
some chunk. A chunk distance of up to ``2t`` is found with sorting alone: every hash enters each
chunk's table under its chunk value and every value ``t`` bit flips away, so two hashes whose
chunks are at most ``2t`` apart share a key (the midpoint). ``m * (2t + 1) > radius`` makes the
search exact. Hashes sharing a key are compared in full with a popcount, one offset at a time, in
whole-array numpy operations; only pairs within the radius survive.

The plan (``m``, ``t``) is chosen by an estimate of the work for uniformly spread hashes: table
entries ``n * V(b, t)`` plus candidate pairs ``(n * V(b, t))**2 / 2**(b + 1)`` per chunk, where
``V(b, t)`` counts the values within ``t`` flips of a ``b``-bit chunk. Hashes of real images are not
uniform, so a crowded chunk value costs more; the candidates are still compared block by block and
never all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from itertools import combinations
from math import ceil, comb, log2

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from winnow.progress_env import progress_bar

HASH_BITS = 64
_MAX_CHUNK_BITS = 32  # a chunk value and a row number share one uint64 sort key
TABLE_ENTRIES = 1 << 22  # entries of one part of a chunk table: a few arrays of 32 MiB, whatever N


def hamming_pairs(hashes: np.ndarray, *, radius: int) -> np.ndarray:
    """Every pair of rows whose hashes are at most ``radius`` bits apart, each pair once.

    Args:
        hashes: uint64 ``(N,)``; equal hashes are paired too (distance 0).
        radius: largest Hamming distance that makes a pair, ``0 <= radius < 64``.

    Returns:
        int64 ``(P, 2)`` row numbers ``(i, j)`` with ``i < j``, sorted.
    """
    n = len(hashes)
    # a pair close in several chunks, or through several midpoints, is found more than once
    keys = np.unique(np.concatenate([np.empty(0, np.int64), *_key_blocks(hashes, radius=radius)]))
    return np.stack([keys // n, keys % n], axis=1)


def hamming_pair_blocks(hashes: np.ndarray, *, radius: int, progress: str | None = None) -> Iterator[np.ndarray]:
    """:func:`hamming_pairs` a block at a time, for a caller that keeps only some of them (a block: the
    pairs one part of one chunk's table finds): int64 ``(P, 2)`` rows ``(i, j)``, ``i < j``, in no order,
    and a pair close in several chunks comes in several blocks. Memory holds one block, however crowded
    the hashes are: at 400,000 generated images the flip/crop search's candidates took gigabytes at once.
    ``progress``: the label of a progress bar over the blocks, on a terminal (None: no bar)."""
    n = len(hashes)
    for keys in _key_blocks(hashes, radius=radius, progress=progress):
        yield np.stack([keys // n, keys % n], axis=1)


def hamming_cross_blocks(left: np.ndarray, right: np.ndarray, *, radius: int,
                         progress: str | None = None) -> Iterator[np.ndarray]:
    """Pairs of a ``left`` and a ``right`` hash (uint64 ``(L,)`` and ``(R,)``) within ``radius``, a block at a
    time as :func:`hamming_pair_blocks` (``progress`` too): int64 ``(P, 2)`` rows ``(i, j)``, ``i`` a row of
    ``left`` and ``j`` of ``right``, in no order, a pair perhaps in several blocks.

    Both sets share the tables, but only a left and a right entry under one key are compared: no pair within
    one set is ever a candidate. dedup's mirrors and crops against the whole images (three views an image)
    made 620 million candidates at 200,000 generated images searched as one set, most of them two views.
    """
    if not len(left) or not len(right):
        return
    hashes = np.concatenate([np.asarray(left, dtype=np.uint64), np.asarray(right, dtype=np.uint64)])
    n = len(hashes)
    for keys in _key_blocks(hashes, radius=radius, left=len(left), progress=progress):
        yield np.stack([keys // n, keys % n - len(left)], axis=1)


def _key_blocks(hashes: np.ndarray, *, radius: int, left: int | None = None,
                progress: str | None = None) -> Iterator[np.ndarray]:
    """Pair keys ``i * n + j`` (int64, ``i < j``) of the hashes within ``radius``, a non-empty block at a time;
    with ``left``, only pairs of a row below ``left`` and a row from ``left`` on; ``progress``: a bar's label."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(hashes) < 2:
        return
    chunk_bounds, flips = search_plan(len(hashes), radius=radius)
    # a permutation of the bits keeps every distance; interleaved, each chunk holds bits from all over the
    # hash instead of one run of neighbours. A pHash's neighbouring bits are neighbouring DCT coefficients,
    # which vary together, so contiguous chunks crowd: on the flip/crop search of MNIST-5k interleaving
    # cut the candidate pairs 4x, on 50,000 generated smooth images 4x, on the CIFAR subset by 16%
    interleaved = _interleave(hashes, chunks=len(chunk_bounds) - 1)
    tables = [(low, high - low, flips[flips < np.uint64(1 << (high - low))])  # the last chunk may be narrower
              for low, high in zip(chunk_bounds[:-1], chunk_bounds[1:])]
    parts = [min(width, ceil(log2(max(1.0, len(hashes) * len(table_flips) / TABLE_ENTRIES))))
             for _, width, table_flips in tables]
    total = sum(1 << p for p in parts)
    with progress_bar(total=total, desc=progress, unit="table part") if progress else nullcontext() as bar:
        for (low, width, table_flips), part_bits in zip(tables, parts):
            for found in _pairs_sharing_a_key(interleaved, low=low, width=width, flips=table_flips,
                                              part_bits=part_bits, radius=radius, left=left):
                if bar is not None:
                    bar.update()
                if len(found):
                    yield found


def hamming_components(hashes: np.ndarray, *, radius: int) -> np.ndarray:
    """Connected components of the graph joining hashes at most ``radius`` bits apart.

    Equal hashes are merged before the search, so a thousand copies of one image cost one entry.

    Args:
        hashes: uint64 ``(N,)``.
        radius: see :func:`hamming_pairs`.

    Returns:
        int64 ``(N,)`` component labels, numbered ``0..K-1`` by first appearance.
    """
    unique, inverse = np.unique(np.asarray(hashes, dtype=np.uint64), return_inverse=True)
    return components(len(unique), hamming_pairs(unique, radius=radius))[inverse.ravel()]


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """int64 ``(n,)`` connected-component labels of ``n`` nodes joined by int ``(P, 2)`` ``pairs``,
    numbered by first appearance."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return first_seen_numbering(connected_components(graph, directed=False)[1])


def first_seen_numbering(labels: np.ndarray) -> np.ndarray:
    """int64 ``(N,)``: the same partition as ``labels``, numbered 0, 1, ... in order of first row."""
    _, first_row, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first_row), dtype=np.int64)
    rank[np.argsort(first_row, kind="stable")] = np.arange(len(first_row))
    return rank[inverse.ravel()]


def search_plan(n: int, *, radius: int) -> tuple[list[int], np.ndarray]:
    """The cheapest exact plan for ``n`` hashes: chunk boundaries and the flip masks of one chunk.

    Returns:
        ``(bounds, flips)``: bit offsets ``0 = b0 < b1 < ... < bm = 64`` of the ``m`` chunks, and
        uint64 ``(V,)`` masks of at most ``t`` set bits within the widest chunk (0 first).
    """
    if not 0 <= radius < HASH_BITS:
        raise ValueError(f"radius must be in [0, {HASH_BITS - 1}], got {radius}")
    best = None
    fewest_chunks = -(-HASH_BITS // _MAX_CHUNK_BITS)
    for chunks in range(fewest_chunks, max(radius + 2, fewest_chunks + 1)):
        width = -(-HASH_BITS // chunks)
        flips_each_side = -(-(radius + 1 - chunks) // (2 * chunks))  # smallest t with m(2t+1) > radius
        variants = sum(comb(width, k) for k in range(flips_each_side + 1))
        entries = n * variants
        cost = chunks * (entries + entries**2 / 2 ** (width + 1))
        if best is None or cost < best[0]:
            best = (cost, chunks, width, flips_each_side)
    _, chunks, width, flips_each_side = best
    bounds = [k * HASH_BITS // chunks for k in range(chunks + 1)]  # widths differ by at most one bit
    masks = [
        sum(1 << bit for bit in bits)
        for k in range(flips_each_side + 1)
        for bits in combinations(range(width), k)
    ]
    return bounds, np.array(masks, dtype=np.uint64)


def _interleave(hashes: np.ndarray, *, chunks: int) -> np.ndarray:
    """uint64 ``(N,)`` ``hashes`` with bit ``b`` moved so that runs of bits hold every ``chunks``-th bit:
    bits ``0, m, 2m, ...`` first, then ``1, m + 1, ...``."""
    order = sorted(range(HASH_BITS), key=lambda bit: (bit % chunks, bit))
    out = np.zeros_like(hashes)
    for position, bit in enumerate(order):
        out |= ((hashes >> np.uint64(bit)) & np.uint64(1)) << np.uint64(position)
    return out


def _pairs_sharing_a_key(
    hashes: np.ndarray, *, low: int, width: int, flips: np.ndarray, part_bits: int, radius: int, left: int | None
) -> Iterator[np.ndarray]:
    """Pair keys ``i * n + j`` (int64, ``i < j``) of hashes within ``radius`` that meet in one chunk table
    (``flips``: its masks), an array for each of the ``2 ** part_bits`` parts of the table, perhaps empty.

    The table (every hash under each of its keys) is built and scanned a part of the key space at a time,
    about :data:`TABLE_ENTRIES` entries a part, so memory stays flat as ``n`` grows: two hashes meet under
    one key, so never in different parts. With the chunk values sorted, the hashes whose key under a flip
    falls in a part (its high bits) are one contiguous run. ``left``: see :func:`_key_blocks`.
    """
    chunk = (hashes >> np.uint64(low)) & np.uint64((1 << width) - 1)
    shift = np.uint64(width - part_bits)
    order = np.argsort(chunk, kind="stable").astype(np.uint64)
    chunk = chunk[order]
    for part in range(1 << part_bits):
        entries = []
        for flip in flips:
            high = np.uint64(part) ^ (flip >> shift)  # the chunks' high bits whose key lands in this part
            first, last = np.searchsorted(chunk, np.array([high << shift, (high + np.uint64(1)) << shift]))
            entries.append(((chunk[first:last] ^ flip) << np.uint64(_MAX_CHUNK_BITS)) | order[first:last])
        table = np.concatenate(entries)
        found = _scan(hashes, table, radius=radius) if left is None else _scan_across(hashes, table, radius=radius,
                                                                                      left=left)
        yield np.concatenate([np.empty(0, np.int64), *found])


def _sorted_table(entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint64 keys and int64 rows of uint64 ``entries`` (key << 32 | row), sorted by key, then by row (one
    sort of the packed entries), so within a key the earlier entry holds the smaller row."""
    table = np.sort(entries)
    return table >> np.uint64(_MAX_CHUNK_BITS), (table & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _scan(hashes: np.ndarray, entries: np.ndarray, *, radius: int) -> list[np.ndarray]:
    """Pair keys of the rows that share a key among uint64 ``entries`` (key << 32 | row), within ``radius``."""
    n = len(hashes)
    table_keys, table_rows = _sorted_table(entries)
    table_hashes = hashes[table_rows]

    found = []
    active = np.flatnonzero(table_keys[:-1] == table_keys[1:])
    offset = 1
    while active.size:
        partner = active + offset
        close = np.bitwise_count(table_hashes[active] ^ table_hashes[partner]) <= radius
        found.append(table_rows[active[close]] * n + table_rows[partner[close]])
        offset += 1
        # an entry whose block ends before this offset ends before every larger one too
        active = active[active + offset < len(table_keys)]
        active = active[table_keys[active + offset] == table_keys[active]]
    return found


def _scan_across(hashes: np.ndarray, entries: np.ndarray, *, radius: int, left: int) -> list[np.ndarray]:
    """:func:`_scan` of only the left rows (below ``left``) against the right rows that share their key."""
    n = len(hashes)
    table_keys, table_rows = _sorted_table(entries)  # within a key, the left rows come first
    if not len(table_rows):
        return []
    starts = np.flatnonzero(np.concatenate([[True], table_keys[1:] != table_keys[:-1]]))
    ends = np.append(starts[1:], len(table_rows))
    del table_keys
    is_left = table_rows < left
    first_right = starts + np.add.reduceat(is_left, starts)
    block = np.repeat(np.arange(len(starts)), ends - starts)
    active = np.flatnonzero(is_left & (first_right < ends)[block])
    partner, end = first_right[block[active]], ends[block[active]]
    del block, is_left
    table_hashes = hashes[table_rows]

    found = []
    while active.size:
        close = np.bitwise_count(table_hashes[active] ^ table_hashes[partner]) <= radius
        found.append(table_rows[active[close]] * n + table_rows[partner[close]])
        partner = partner + 1
        more = partner < end
        active, partner, end = active[more], partner[more], end[more]
    return found


def meetings(left: np.ndarray, right: np.ndarray, *, n: int, radius: int) -> np.ndarray:
    """int64 ``(K,)``: how many times the search of ``n`` hashes (:func:`_key_blocks`, its plan for ``n``) finds
    each pair of uint64 ``(K,)`` hashes ``left[i]``, ``right[i]`` within ``radius``: once per key of a chunk table
    the two share, that is per flip ``f`` of the chunk whose XOR with their chunks' difference is itself a flip
    (at most ``t`` bits). Equal hashes meet in every chunk: at radius 6, 7 times, each time expanded to all the
    pairs of their images, which a count of the pairs found once put at a seventh of their time."""
    bounds, flips = search_plan(n, radius=radius)
    chunks = len(bounds) - 1
    differ = _interleave(np.asarray(left, np.uint64), chunks=chunks) ^ _interleave(np.asarray(right, np.uint64),
                                                                                   chunks=chunks)
    count = np.zeros(len(differ), np.int64)
    for low, high in zip(bounds[:-1], bounds[1:]):
        table_flips = flips[flips < np.uint64(1 << (high - low))]
        most = int(np.bitwise_count(table_flips).max())
        chunk = (differ >> np.uint64(low)) & np.uint64((1 << (high - low)) - 1)
        for flip in table_flips:
            count += np.bitwise_count(chunk ^ flip) <= most
    return count
