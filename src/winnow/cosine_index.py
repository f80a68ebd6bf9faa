"""Nearest neighbours by cosine similarity, and the pairs of rows within a cosine distance.

Each row's ``k`` nearest other rows (cosine similarity of L2-normalised rows) are found, and the pairs
at most ``radius`` apart in cosine distance (``1 - similarity``) are kept. A row whose ``k`` nearest all
lie within the radius may have more there, so it alone is searched again with twice the neighbours, until
its farthest lies beyond the radius or every row is its neighbour: every pair within the radius is found.
(Before, only the ``k`` nearest were read, and the claim that a larger group of copies still joins
through chains was wrong: 12 train copies of one picture were each other's 10 nearest, as were 12 test
copies of a picture 0.0002 from it, so the two groups, within radius 0.01 of each other, never joined.)
Rows with nothing else near cost nothing more. A dense crowd costs ``N**2`` pairs (20,000 rows within
the radius of one another: 2e8), so a search again stops at :data:`MAX_NEIGHBOURS` neighbours a round,
and a ``warning:`` line names the rows left with only their nearest paired; before a round of searching again
gathers :data:`CROWDED_NEIGHBOURS` or more, a line says how many rows crowd the radius and how far it may widen.

The backends (:data:`BACKENDS`, params.yaml ``compute.knn``):

- ``numpy``: a block of query rows times all rows at a time, so memory stays at ``block x N`` floats,
  never ``N x N``; the work is still ``N**2 * D`` multiply-adds (about a minute for 100,000 rows of 128
  numbers on two cores);
- ``faiss`` (optional, ``pip install faiss-cpu``, installed by ``make setup``): ``IndexFlatIP``, the same
  exact search, multi-threaded. It finds the same neighbours; its similarities differ from numpy's in
  the last bits (another order of summation), so two neighbours within about ``1e-7`` of each other
  may swap, and among exactly tied neighbours (copies) each backend keeps its own order;
- ``faiss_ivf``: ``IndexIVFFlat``, approximate: the rows are cut into ``nlist`` k-means cells (about
  ``4 sqrt(N)``, at least 39 training rows each) and each query searches the ``nprobe`` nearest cells
  (``nlist / 16``), about 16 times less work than exact, missing a neighbour that lies in a cell not
  searched;
- ``auto``: ``faiss`` when it imports, else ``numpy``.
"""

from __future__ import annotations

import math

import numpy as np

from winnow.configs import KNN_BACKENDS as BACKENDS
from winnow.errors import WinnowError

_BLOCK_BYTES = 64 << 20  # similarities held at once by the numpy backend
# neighbours gathered by one round of searching again (rows x k): 5e6 pairs, two int64 each, 80 MB, where 20,000
# rows within the radius of one another would be 2e8 pairs and several GB, each then confirmed
MAX_NEIGHBOURS = 5_000_000
# neighbours one round of searching again gathers past which the search says so before it (:func:`_tell_widening`):
# MNIST-5k's raw pixels gather at most 72,080 a round at radius 0.2; 8,068 near-equal rows 161,360 in their second
CROWDED_NEIGHBOURS = 100_000


# float32 dot products of two equal unit rows land a few ulps either side of 1 (a row of 512 dimensions: up to
# about 1e-6), so radius 0 found some exact copies and not others, and numpy and faiss different ones
ROUNDING = 1e-5


def cosine_pairs(features: np.ndarray, *, radius: float, k: int = 10, backend: str = "numpy",
                 name: str | None = None) -> np.ndarray:
    """Every pair of rows whose cosine distance is at most ``radius`` (a radius search: module docstring).

    Args:
        features: float ``(N, D)``; an all-zero row is at distance 1 from every row.
        radius: largest cosine distance ``1 - cos`` that makes a pair, in ``[0, 2]``, give or take
            :data:`ROUNDING` (so that 0 pairs equal rows on every backend).
        k: nearest other rows searched first per row (fewer when ``N - 1`` is smaller); a row whose ``k``
            nearest are all within ``radius`` is searched again with ``2 k``, and so on.
        backend: one of :data:`BACKENDS`.
        name: the param that set ``radius``, named by the ``warning:`` line when :data:`MAX_NEIGHBOURS` stops
            a search (None: "cosine search", and no advice).

    Returns:
        int64 ``(P, 2)`` row numbers ``(i, j)`` with ``i < j``, each pair once, sorted.
    """
    backend = resolve(backend)
    unit = unit_rows(features)
    n = len(unit)
    k = min(k, n - 1)
    found = [np.empty((0, 2), np.int64)]
    rows = np.arange(n, dtype=np.int64)  # the rows searched this round
    # faiss's tables are built once for every round (before: faiss_ivf trained its k-means again each round, 100,000
    # rows of 64 numbers: 8 s a round of 2,000 rows, whose search took 2 s)
    tables = faiss_tables(unit, ivf=backend == "faiss_ivf") if backend != "numpy" and k >= 1 else None
    told = False
    while k >= 1:
        if backend == "numpy":
            similarity, index = _numpy_neighbours(unit, k=k, rows=rows)
        else:
            similarity, index = faiss_nearest(unit[rows], unit, k=k, exclude=rows, tables=tables)
        close = (1.0 - similarity) <= radius + ROUNDING
        full = close.all(axis=1) if k < n - 1 else np.zeros(len(rows), bool)  # more may lie within the radius
        crowd = int(full.sum())
        wider = min(2 * k, n - 1, MAX_NEIGHBOURS // max(1, crowd))
        if not told and wider > k and crowd * wider >= CROWDED_NEIGHBOURS:
            told = True
            _tell_widening(crowd, n=n, k=k, wider=wider, radius=radius, name=name)
        if full.any() and wider <= k:
            print(f"warning: {name or 'cosine search'}: {int(full.sum())} embedding(s) have all of their {k} "
                  f"nearest within cosine distance {radius:g}, and more are not searched (at most "
                  f"{MAX_NEIGHBOURS:,} neighbours a search): a copy beyond their {k} nearest is missed unless a "
                  "chain of copies joins it" + (f"; a smaller {name} pairs fewer" if name else ""))
            full[:] = False
        done = close & ~full[:, None]  # a row searched again gives its pairs then
        found.append(np.stack([np.broadcast_to(rows[:, None], done.shape)[done], index[done]], axis=1))
        if not full.any():
            break
        rows, k = rows[full], wider
    return unique_pairs(np.concatenate(found), n)


def _tell_widening(crowd: int, *, n: int, k: int, wider: int, radius: float, name: str | None) -> None:
    """Print one line before the search gathers the ``wider`` nearest of ``crowd`` of the ``n`` rows, each with all its
    ``k`` nearest within ``radius``: the neighbours it may widen to. Before, rows near-equal but not equal (equal rows
    plus 1e-5 noise, a constant embedding with jitter, one of rank 1) sat in the widening rounds without a word, the
    cap's warning coming only after them (8,068 rows of 128 numbers: 11-25 s; 50,000 of 64: 200 s, 2 shared cores),
    then 3-5 million pairs went on to be compared: :func:`winnow.crowd_warning.warn_of_equal_rows` groups rows by their
    bytes, and missed them. No time is said: the first rounds' pace told half the time the later ones took."""
    cap = max(wider, min(n - 1, MAX_NEIGHBOURS // crowd))
    print(f"warning: {name or 'cosine search'}: {crowd:,} of {n:,} embeddings have all of their {k} nearest within "
          f"cosine distance {radius:g}, so the search widens for them to as many as {cap:,} nearest each "
          f"({crowd * cap:,} pairs at most, a number growing with the square of theirs): an embedding that puts so "
          "many images within the radius of one another tells them apart by little"
          + (f"; use another represent.source or a smaller {name}" if name else ""), flush=True)


def unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """int ``(P, 2)`` ``pairs`` of indices below ``n`` as sorted ``(min, max)`` rows, each once, in order."""
    keys = np.unique(pairs.min(axis=1) * n + pairs.max(axis=1))
    return np.stack([keys // n, keys % n], axis=1)


def backend_of(params: dict) -> str:
    """params.yaml's ``compute.knn`` (validated), ``numpy`` when left out."""
    return (params.get("compute") or {}).get("knn", "numpy")


def resolve(backend: str) -> str:
    """The backend :func:`cosine_pairs` and :func:`winnow.neighbours.nearest` use for ``backend``:
    ``auto`` becomes ``faiss`` when faiss imports, else ``numpy``.

    Raises:
        WinnowError: an unknown backend, or faiss asked for but not installed.
    """
    if backend not in BACKENDS:
        raise WinnowError(f"compute.knn: {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "faiss" if _faiss() is not None else "numpy"
    if backend.startswith("faiss") and _faiss() is None:
        raise WinnowError(f"compute.knn: {backend} asked for but faiss is not installed: pip install faiss-cpu "
                          "(make setup installs it), or set compute.knn: numpy")
    return backend


# a float32 row norm below this (squares under about 1e-38, float32's smallest normal number) has lost its digits
TINY_NORM = 1e-18


def unit_rows(features: np.ndarray) -> np.ndarray:
    """float32 ``(N, D)`` rows scaled to length 1 (an all-zero row stays zero)."""
    unit = np.array(features, dtype=np.float32, copy=True)
    with np.errstate(over="ignore", under="ignore"):  # such rows are normalised again below
        norms = np.linalg.norm(unit, axis=1, keepdims=True)
    out = np.divide(unit, norms, out=np.zeros_like(unit), where=norms > 0)
    # a norm summed in float32 overflows for entries past about 1e19 and underflows below about 1e-19: such a row
    # became all zeros or kept its length, and its exact copies were found by no radius. Those rows alone are
    # normalised in float64, so every other row keeps its bits
    odd = ~np.isfinite(norms[:, 0]) | ((norms[:, 0] < TINY_NORM) & unit.any(axis=1))
    if odd.any():
        wide = unit[odd].astype(np.float64)
        out[odd] = (wide / np.linalg.norm(wide, axis=1, keepdims=True)).astype(np.float32)
    return out


def _numpy_neighbours(unit: np.ndarray, *, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(similarity float32 ``(Q, k)``, index int64 ``(Q, k)``) of the ``k`` nearest other rows of each of the
    int ``(Q,)`` ``rows`` of float32 ``(N, D)`` ``unit``, in no order."""
    n = len(unit)
    block = max(1, _BLOCK_BYTES // (4 * n))
    similarity = np.empty((len(rows), k), np.float32)
    index = np.empty((len(rows), k), np.int64)
    for start in range(0, len(rows), block):
        stop = min(start + block, len(rows))
        sims = unit[rows[start:stop]] @ unit.T
        sims[np.arange(stop - start), rows[start:stop]] = -np.inf  # never its own neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        similarity[start:stop] = np.take_along_axis(sims, top, axis=1)
        index[start:stop] = top
    return similarity, index


def faiss_tables(reference: np.ndarray, *, ivf: bool = False, nprobe: int | None = None) -> tuple:
    """faiss's exact table of float32 ``(R, D)`` unit ``reference`` rows and, with ``ivf`` (and more than one cell),
    its inverted-file table searching ``nprobe`` cells (:func:`faiss_nearest`), else None: built once, searched by
    every :func:`faiss_nearest` given them."""
    faiss = _faiss()
    reference = np.ascontiguousarray(reference, np.float32)
    flat = faiss.IndexFlatIP(reference.shape[1])
    flat.add(reference)
    nlist = max(1, min(round(4 * math.sqrt(len(reference))), len(reference) // 39))
    if not ivf or nlist == 1:  # one cell is the exact search, and faiss's k-means then printed a raw WARNING line
        return flat, None
    # its own quantizer: training empties the one it is given for the nlist centres, and the exact table was that one,
    # so a query whose cells held fewer than k rows was searched among the centres: (0, 1) of 2 cells were its
    # "neighbours" (a crowd of 90 copies in 2 cells: 177 of its 4,005 pairs, each with image 0 or 1, an unrelated one)
    table = faiss.IndexIVFFlat(faiss.IndexFlatIP(reference.shape[1]), reference.shape[1], nlist,
                               faiss.METRIC_INNER_PRODUCT)
    table.train(reference)
    table.add(reference)
    table.nprobe = nprobe or max(1, nlist // 16)
    return flat, table


def faiss_nearest(query: np.ndarray, reference: np.ndarray, *, k: int, exclude: np.ndarray | None = None,
                  ivf: bool = False, nprobe: int | None = None, tables: tuple | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each query row's ``k`` most similar reference rows by inner product, most similar first, with faiss.

    Args:
        query: float32 ``(Q, D)`` and reference float32 ``(R, D)``, rows of length 1 (or 0).
        k: neighbours per query, at most ``R``.
        exclude: int ``(Q,)`` the reference row a query may not take (itself), -1 for none. Such a row is
            given similarity ``-inf`` and put last, as the numpy backend masks it; it is only returned
            when fewer than ``k`` other rows exist.
        ivf: approximate inverted-file search (module docstring); ``nprobe`` cells searched per query
            (default ``nlist / 16``; ``nlist`` searches them all, exactly).
        tables: :func:`faiss_tables` of ``reference`` (then ``ivf`` and ``nprobe`` are theirs), built here if None.

    Returns:
        (similarity float32 ``(Q, k)``, reference row int64 ``(Q, k)``).
    """
    query = np.ascontiguousarray(query, np.float32)
    wanted = min(k + (exclude is not None), len(reference))  # one more: the query itself may be among them
    flat, table = tables or faiss_tables(reference, ivf=ivf, nprobe=nprobe)
    if table is not None:
        similarity, index = table.search(query, wanted)
        short = (index < 0).any(axis=1)  # the cells searched held fewer than k rows: search those exactly
        if short.any():
            similarity[short], index[short] = flat.search(query[short], wanted)
    else:
        similarity, index = flat.search(query, wanted)
    index = index.astype(np.int64)
    if exclude is not None:
        own = index == np.asarray(exclude, np.int64)[:, None]
        similarity[own] = -np.inf
        order = np.argsort(own, axis=1, kind="stable")  # the query itself last, the rest in faiss's order
        similarity, index = np.take_along_axis(similarity, order, 1), np.take_along_axis(index, order, 1)
    return similarity[:, :k], index[:, :k]


def _faiss():
    """The faiss module, or None when it is not installed (an optional extra)."""
    from winnow.stops import import_optional

    return import_optional("faiss")  # None: numpy's search instead
