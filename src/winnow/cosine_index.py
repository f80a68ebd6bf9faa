"""Pairs of feature vectors within a cosine distance, by exact nearest-neighbour search in blocks.

Each row's ``k`` nearest other rows (cosine similarity of L2-normalised rows) are found, and the pairs
at most ``radius`` apart in cosine distance (``1 - similarity``) are kept. Limiting the search to ``k``
neighbours bounds the output at ``N * k`` pairs whatever the radius; a group of more than ``k + 1``
copies is still joined, through chains, when its pairs become connected components.

Two backends, with the same answer up to float rounding at the radius:

- ``faiss`` (optional, ``pip install faiss-cpu``): ``IndexFlatIP``, an exact inner-product search over
  every row, multi-threaded; used when it can be imported;
- ``numpy``: a block of query rows times all rows at a time, so memory stays at ``block x N`` floats,
  never ``N x N``; the work is still ``N**2 * D`` multiply-adds (about a minute for 100,000 rows of 128
  numbers on two cores).
"""

from __future__ import annotations

import numpy as np

BACKENDS = ("auto", "numpy", "faiss")
_BLOCK_BYTES = 64 << 20  # similarities held at once by the numpy backend


def cosine_pairs(features: np.ndarray, *, radius: float, k: int = 10, backend: str = "auto") -> np.ndarray:
    """Every pair of rows whose cosine distance is at most ``radius`` among each row's ``k`` nearest.

    Args:
        features: float ``(N, D)``; an all-zero row is at distance 1 from every row.
        radius: largest cosine distance ``1 - cos`` that makes a pair, in ``[0, 2]``.
        k: nearest other rows examined per row (fewer when ``N - 1`` is smaller).
        backend: ``auto`` (faiss when it imports, else numpy), ``numpy`` or ``faiss``.

    Returns:
        int64 ``(P, 2)`` row numbers ``(i, j)`` with ``i < j``, each pair once, sorted.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    unit = _unit_rows(features)
    n = len(unit)
    k = min(k, n - 1)
    if k < 1:
        return np.empty((0, 2), dtype=np.int64)
    if backend == "auto":
        backend = "faiss" if _faiss() is not None else "numpy"
    search = _faiss_neighbours if backend == "faiss" else _numpy_neighbours
    similarity, index = search(unit, k=k)
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    close = (1.0 - similarity.ravel()) <= radius
    return unique_pairs(np.stack([rows[close], index.ravel()[close]], axis=1), n)


def unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """int ``(P, 2)`` ``pairs`` of indices below ``n`` as sorted ``(min, max)`` rows, each once, in order."""
    keys = np.unique(pairs.min(axis=1) * n + pairs.max(axis=1))
    return np.stack([keys // n, keys % n], axis=1)


def _unit_rows(features: np.ndarray) -> np.ndarray:
    """float32 ``(N, D)`` rows scaled to length 1 (an all-zero row stays zero)."""
    unit = np.array(features, dtype=np.float32, copy=True)
    norms = np.linalg.norm(unit, axis=1, keepdims=True)
    return np.divide(unit, norms, out=np.zeros_like(unit), where=norms > 0)


def _numpy_neighbours(unit: np.ndarray, *, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(similarity float32 ``(N, k)``, index int64 ``(N, k)``) of each row's ``k`` nearest other rows."""
    n = len(unit)
    block = max(1, _BLOCK_BYTES // (4 * n))
    similarity = np.empty((n, k), np.float32)
    index = np.empty((n, k), np.int64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        sims = unit[start:stop] @ unit.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never its own neighbour
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        similarity[start:stop] = np.take_along_axis(sims, top, axis=1)
        index[start:stop] = top
    return similarity, index


def _faiss_neighbours(unit: np.ndarray, *, k: int) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_numpy_neighbours`, with faiss's exact inner-product index."""
    faiss = _faiss()
    if faiss is None:
        raise ValueError("backend faiss asked for but faiss is not installed (pip install faiss-cpu)")
    table = faiss.IndexFlatIP(unit.shape[1])
    table.add(unit)
    similarity, index = table.search(unit, k + 1)
    # drop each row itself: first where the search returned it, else the (k+1)-th, which a tie displaced
    own = index == np.arange(len(unit))[:, None]
    drop = np.where(own.any(axis=1), own.argmax(axis=1), k)
    keep = np.ones_like(own)
    keep[np.arange(len(unit)), drop] = False
    return similarity[keep].reshape(-1, k), index[keep].reshape(-1, k).astype(np.int64)


def _faiss():
    """The faiss module, or None when it is not installed (an optional extra)."""
    try:
        import faiss
    except ImportError:
        return None
    return faiss
