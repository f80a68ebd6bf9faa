"""Hostile embedding near-duplicates, probe 78b: :func:`winnow.cosine_index.cosine_pairs` is a radius search.

- 12 train images and 12 test images, each set within ~1e-10 of one another (distinct pixels, so the first-of-equal-
  pixels rule of probe 78 does not apply), the two sets 0.0002 apart at embedding_radius 0.01: each image's 10 nearest
  were all of its own set, so the sets never joined: two groups, the 12 train images kept beside their test
  look-alikes (a leak kept, exit 0, no warning). A row whose ``k`` nearest all lie within the radius is now searched
  again with twice the neighbours, on every backend.
- a crowd too dense to search out (more than ``MAX_NEIGHBOURS`` neighbours a round) is cut with a ``warning:`` line.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from conftest import knn_backend, require_faiss
from winnow import cosine_index
from winnow.cosine_index import cosine_pairs
from winnow.dedup import dedup_table
from winnow.groundtruth import QUALITY_ISSUES

BACKENDS = ["numpy", "faiss"]


def _two_crowds(m: int, *, seed: int = 0) -> np.ndarray:
    """float32 ``(2 m, 4)``: ``m`` rows ~1e-10 apart in cosine distance, then ``m`` more 0.0002 from them."""
    rng = np.random.default_rng(seed)
    a, b = np.array([1, 0, 0, 0], np.float32), np.array([1, 0.02, 0, 0], np.float32)
    return np.concatenate([a + rng.normal(size=(m, 4)) * 1e-5, b + rng.normal(size=(m, 4)) * 1e-5]).astype(np.float32)


def _radius_pairs(features: np.ndarray, radius: float) -> list[list[int]]:
    """Every pair within ``radius``, in float64, all rows against all: the answer a radius search must give."""
    unit = features / np.linalg.norm(features.astype(np.float64), axis=1, keepdims=True)
    distance = 1 - unit @ unit.T
    return [[i, j] for i, j in itertools.combinations(range(len(features)), 2) if distance[i, j] <= radius]


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_crowds_within_the_radius_of_each_other_are_one_group_and_the_train_crowd_goes_as_leaks(backend):
    m = 12
    ids = [f"train-{i:02d}" for i in range(m)] + [f"test-{i:02d}" for i in range(m)]
    manifest = pd.DataFrame({"id": ids, "split": ["train"] * m + ["test"] * m, "label": 0, "digest": ids})
    scores = pd.DataFrame({"id": ids, "phash": np.arange(2 * m, dtype=np.uint64) << np.uint64(20)})
    for issue in QUALITY_ISSUES:
        scores[issue] = 0.0
    table = dedup_table(manifest, scores, radius=None, keep="first", embedding=_two_crowds(m),
                        embedding_radius=0.01, embedding_confirm=False, knn=knn_backend(backend))
    # before: 2 groups, {'eval_copy': 12, 'embedding_duplicate': 11, 'kept': 1}: train-00 kept beside its leak
    assert table["group"].nunique() == 1
    train = table[table["split"] == "train"]
    assert train["reason"].tolist() == ["leak"] * m
    assert not train["kept"].any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_pair_within_the_radius_is_found_however_many_share_it(backend):
    # crowds of 12 and 30 (more than k + 1 = 11, the 30 more than 2k + 1) among 40 scattered rows
    rng = np.random.default_rng(3)
    features = np.concatenate([_two_crowds(12), _two_crowds(15, seed=1)[:, ::-1],
                               rng.normal(size=(40, 4)).astype(np.float32)])
    # before: 318 of the 712 pairs (each row's 10 nearest alone), the two crowds of 24 and 30 rows never whole
    assert cosine_pairs(features, radius=0.01, k=10, backend=knn_backend(backend)).tolist() == _radius_pairs(features, 0.01)


def test_numpy_and_faiss_find_the_same_pairs_in_crowds():
    require_faiss()
    features = np.concatenate([_two_crowds(20, seed=4), _two_crowds(7, seed=5)[:, [1, 0, 3, 2]]])
    np.testing.assert_array_equal(cosine_pairs(features, radius=0.01, backend="faiss"),
                                  cosine_pairs(features, radius=0.01, backend="numpy"))


def test_rows_with_a_neighbour_beyond_the_radius_are_searched_once(monkeypatch, rng):
    # the default path's cost: no row's 10 nearest all within the radius, so one search of every row, k = 10
    searched = []
    real = cosine_index._numpy_neighbours
    monkeypatch.setattr(cosine_index, "_numpy_neighbours",
                        lambda unit, *, k, rows: searched.append((k, len(rows))) or real(unit, k=k, rows=rows))
    cosine_pairs(rng.normal(size=(200, 8)), radius=0.05, k=10)
    assert searched == [(10, 200)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_crowd_past_the_cap_is_cut_with_a_warning_naming_it(monkeypatch, capsys, backend):
    backend = knn_backend(backend)
    monkeypatch.setattr(cosine_index, "MAX_NEIGHBOURS", 600)  # 30 rows x 20 neighbours: no round of 40
    features = _two_crowds(15)
    pairs = cosine_pairs(features, radius=0.01, k=10, backend=backend, name="dedup.embedding_radius")
    assert capsys.readouterr().out == (
        "warning: dedup.embedding_radius: 30 embedding(s) have all of their 20 nearest within cosine distance 0.01, "
        "and more are not searched (at most 600 neighbours a search): a copy beyond their 20 nearest is missed "
        "unless a chain of copies joins it; a smaller dedup.embedding_radius pairs fewer\n")
    partners = np.bincount(pairs.ravel(), minlength=30)
    assert set(map(tuple, pairs.tolist())) <= set(map(tuple, _radius_pairs(features, 0.01)))
    assert partners.min() >= 20  # each row's 20 nearest, not its first 10
