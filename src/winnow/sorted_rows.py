"""Per-image statistics of sorted rows (each image's pixel brightness, sorted once by :mod:`winnow.quality`): the
percentiles ``np.percentile`` gives, read off the order statistics, and the runs of equal values."""

from __future__ import annotations

import numpy as np


def sorted_percentiles(rows: np.ndarray, percentiles: list[float]) -> np.ndarray:
    """float64 ``(len(percentiles), B)``: ``np.percentile(rows, percentiles, axis=1)`` (its default linear method)
    of float ``(B, P)`` ``rows`` each sorted ascending without NaN, bit for bit.

    np.percentile partitions every row to find two order statistics, through a transposed view whose partition
    is strided (on 256 sorted rows of 1,024 values, 14 times the cost of this); in a sorted row they stand at their
    indexes. The indexes, weights and interpolation are numpy's own (``_quantile``, ``_get_indexes``, ``_lerp``):
    ``(P - 1) q`` split into its floor and fraction, ``a + (b - a) t`` below a fraction of 1/2 and
    ``b - (b - a)(1 - t)`` from it."""
    p = rows.shape[1]
    quantiles = np.true_divide(np.asarray(percentiles, dtype=np.float64), 100)
    virtual = (p - 1) * quantiles
    below = np.floor(virtual)
    above = below + 1
    last = virtual >= p - 1  # the top percentile: the last value, taken twice as numpy takes it
    below[last], above[last] = -1, -1
    below, above = below.astype(np.intp), above.astype(np.intp)
    weight = (virtual - below)[:, None]
    low, high = rows[:, below].T, rows[:, above].T
    step = high - low
    out = np.add(low, step * weight)
    np.subtract(high, step * (1 - weight), out=out, where=weight >= 0.5, casting="unsafe", dtype=out.dtype.type)
    return out


def changes(rows: np.ndarray) -> np.ndarray:
    """bool ``(B, P)``: where each of ``rows`` ``(B, P)`` differs from its value before, True at each row's start."""
    change = np.empty(rows.shape, bool)
    change[:, :1] = True
    np.not_equal(rows[:, 1:], rows[:, :-1], out=change[:, 1:])
    return change


def largest_equal_share(rows: np.ndarray, change: np.ndarray | None = None, *,
                        colours: np.ndarray | None = None) -> np.ndarray:
    """float ``(B,)``: the share of each sorted row of ``rows`` ``(B, P)`` taken by its longest run of equal
    values (its most common value). ``change``: :func:`changes` of ``rows``, when made already; ``colours``: each
    row's count of distinct values (its True values in ``change``), when counted already."""
    b, p = rows.shape
    if b == 0 or p == 0:
        return np.ones(b)
    # run lengths from where values change, over all rows at once (a row's start is a change); a cumulative
    # count reset at each change took six times as long
    change = changes(rows) if change is None else change
    starts = np.flatnonzero(change)
    # each run's length, the next run's start less its own (the last run's ends with the rows): np.diff's append
    # copied the starts first (8 bytes a pixel); each row's first run is found from the rows' counts of distinct
    # values, not by a search of the starts (#20)
    lengths = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1] = b * p - starts[-1]
    firsts = np.zeros(b, np.intp)
    counts = np.count_nonzero(change, axis=1) if colours is None else colours
    np.cumsum(counts[:-1], out=firsts[1:])
    return np.maximum.reduceat(lengths, firsts) / p
