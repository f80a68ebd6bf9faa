"""Neighbour ties in the label cleaners: references tied at the k-th similarity (copies, an embedding that puts images
at one point) share the last votes alike, so no decision follows the row order (winnow.neighbours.tied_votes).
Before, torch's topk and faiss took the first tied rows by position: 20 images at one point of classes 0 and 1
(k 3), sorted by class, had 10 relabelled; in another order, none."""

from __future__ import annotations


import numpy as np
import pytest

from conftest import knn_backend
from winnow.embeddings import clean_rounds
from winnow.neighbours import Space, cleanse, evidence, vote

BACKENDS = ["numpy", "faiss"]


def _decisions(features, labels, ids, *, k, knn, **options):
    """{id: (decision, suggested_label)} of one self-judged space in the given row order."""
    everything = np.arange(len(labels))
    space = Space(everything, features, everything, features, labels)
    found = evidence(space, labels, k=k, num_classes=int(labels.max()) + 1, knn=knn)
    table = cleanse(ids, labels, found, warn=False, **options)
    return dict(zip(table["id"], zip(table["decision"], table["suggested_label"])))


@pytest.mark.parametrize("knn", BACKENDS)
def test_images_at_one_point_are_all_kept_in_any_row_order(knn):
    # the probe's case: the embedding tells none of them apart, so it has no word on any label. Each image's 19
    # neighbours are all at distance 0: 10 of the other class and 9 of its own share the 3 votes, 0.53 to 0.47
    knn = knn_backend(knn)
    labels = np.array([0, 1] * 10)
    ids = np.array([f"im{i:02d}" for i in range(20)], dtype=object)
    features = np.ones((20, 4), np.float32)
    for order in (np.arange(20), np.argsort(labels, kind="stable"), np.random.default_rng(0).permutation(20)):
        decided = _decisions(features[order], labels[order], ids[order], k=3, knn=knn)
        assert {d for d, _ in decided.values()} == {"keep"}, order


def test_images_at_one_point_pass_a_fixed_embedding_round_without_a_decision():
    # through clean_rounds, as the embedding-clean stage calls it with the represent embedding: before, 10 relabels
    # (made untrusted drops by the val gate) where the images were sorted by class
    labels = np.repeat([0, 1], 10)
    ids = np.array([f"im{i:02d}" for i in range(20)], dtype=object)
    result = clean_rounds(np.zeros((20, 2, 2, 1), np.uint8), labels, ids, val_images=np.zeros((6, 2, 2, 1), np.uint8),
                          val_labels=np.array([0, 1] * 3), config=None, num_classes=2,
                          features=np.ones((20, 4), np.float32), val_features=np.ones((6, 4), np.float32), k=3)
    assert result.decisions["decision"].tolist() == ["keep"] * 20


@pytest.mark.parametrize("knn", BACKENDS)
def test_a_tie_at_the_kth_neighbour_decides_the_same_per_id_whatever_the_row_order(knn):
    # 12 copies of one picture, 10 labelled 1 and 2 labelled 0, and 12 of another, all labelled 2 (k 3). A 0's 11
    # tied neighbours hold 10 of class 1: agreement 10/11 >= 0.8, relabel to 1 in any order; a 1's hold 9 of its own
    # class: kept. Before, a 0 whose first three tied rows held the other 0 had agreement 2/3 and was kept
    knn = knn_backend(knn)
    labels = np.array([1] * 10 + [0] * 2 + [2] * 12)
    features = np.repeat(np.array([[1, 0, 0], [0, 1, 0]], np.float32), 12, axis=0)
    ids = np.array([f"im{i:02d}" for i in range(24)], dtype=object)
    expected = {i: ("relabel", 1) if label == 0 else ("keep", label) for i, label in zip(ids, labels)}
    # torch's topk does not take tied rows by position: for numpy, the old code passed the first four orders, and
    # seed 3's order is one where it took the other 0 among a 0's three
    for order in (np.arange(24), np.argsort(labels, kind="stable"), np.random.default_rng(1).permutation(24),
                  np.arange(24)[::-1], np.random.default_rng(3).permutation(24)):
        decided = _decisions(features[order], labels[order], ids[order], k=3, knn=knn, isolation=None)
        assert decided == expected, order


@pytest.mark.parametrize("knn", BACKENDS)
def test_a_vote_among_tied_references_follows_the_tie_not_the_first_row(knn):
    # a val image at the point of 3 references of class 0 (first rows) and 5 of class 1, k 1: the nearest is any of
    # the 8 alike, 5 of 8 of class 1. Before, the first row's class 0, and class 1 with the rows reversed
    knn = knn_backend(knn)
    reference = np.ones((8, 2), np.float32)
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    for order in (np.arange(8), np.arange(8)[::-1]):
        space = Space(np.array([100]), np.ones((1, 2), np.float32), np.arange(8), reference[order], labels[order])
        assert vote(space, k=1, num_classes=2, knn=knn).tolist() == [1]
