"""Hostile leftovers, probe 78f (review of d806edcc .. 245903e2).

- ``faiss_ivf``: the inverted-file table was given the exact table as its quantizer, and training left that one holding
  the cells' centres, so a query whose cells held fewer than ``k`` rows, searched "exactly" again, was searched among
  the centres: its neighbours were rows 0, 1, ... (one per cell), unrelated images. d806edcc's radius search asks
  for more neighbours than a cell holds wherever a crowd fills it: 90 copies in 2 cells gave 177 of their 4,005
  pairs, each with image 0 or 1, and the rest none.
- :func:`winnow.cosine_index.cosine_pairs` on ``faiss_ivf`` built faiss's tables, k-means training included, anew each
  round of searching again (100,000 rows of 64 numbers: 8 s a round of 2,000 rows, whose search took 2 s): built once.
"""

from __future__ import annotations


import numpy as np

from conftest import require_faiss
from test_hostile_embdedup_78b import _radius_pairs, _two_crowds
from winnow import cosine_index
from winnow.cosine_index import cosine_pairs, faiss_nearest, unit_rows


def _faiss() -> None:
    require_faiss()


def test_faiss_ivf_finds_every_pair_of_a_crowd_that_fills_its_cells():
    _faiss()
    features = _two_crowds(45)  # 90 rows in 2 cells of 45, each row with 89 within the radius
    # before: 177 pairs, (0, j) and (1, j) alone
    assert cosine_pairs(features, radius=0.01, k=10, backend="faiss_ivf").tolist() == _radius_pairs(features, 0.01)


def test_faiss_ivf_searches_a_short_query_among_the_rows_not_the_cells_centres():
    _faiss()
    unit = unit_rows(_two_crowds(45))
    similarity, index = faiss_nearest(unit[:1], unit, k=60, exclude=np.arange(1), ivf=True)
    # more than its cell's 45 rows: searched exactly, its 60 nearest are 44 of its crowd and 16 of the other, no -1
    assert sorted(index[0].tolist())[:44] == list(range(1, 45))
    assert (index[0] >= 0).all() and (similarity[0] > 0.99).all()


def test_faiss_ivf_builds_its_tables_once_for_every_round_of_a_crowd(monkeypatch):
    _faiss()
    built = []
    real = cosine_index.faiss_tables
    monkeypatch.setattr(cosine_index, "faiss_tables",
                        lambda reference, **options: built.append(len(reference)) or real(reference, **options))
    cosine_pairs(_two_crowds(45), radius=0.01, k=10, backend="faiss_ivf")  # rounds of k = 10, 20, 40, 80, 89
    assert built == [90]
