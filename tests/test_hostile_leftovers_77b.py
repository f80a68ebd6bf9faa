"""Leftovers of stop 76 mended at stop 77 (copies of one image deciding things):

- the isolation forest was fitted on every copy: 19 copies of an image unlike any class filled its samples, and none of
  the six such images, all flagged without the copies, was flagged (winnow.outliers);
- in folds mode an image's copy dealt to another fold is one of its fold model's references: LOF and kNN counted it a
  neighbour at distance 0 of the held-out image, which made it look more normal than the image alone (a copy could
  hide it), where the queries' own copies are none of their neighbours in one model's space;
- a budget's ``top`` cut whose edge fell among images of equal confidence took those first in id order, and neither
  the metrics nor the stage's lines said so (winnow.budget_ties);
- train's (and the augmentation search's) check of a policy sampled rows, not pictures: 300 copies of one
  mirror-symmetric image among 100 others made flip, which changes every other picture, look too weak to augment
  (winnow.balance_checks.sample_rows).

The outlier cases call :func:`winnow.outliers.find_outliers` on generated embeddings in this process; the budget case
runs the stage in this process on tests/budget_project.py's clouds; the policy case calls
:func:`winnow.balance_checks.check_policy_changes`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from budget_project import case, issues_table, train_ids, write_state
from test_hostile_leftovers_76b import _clusters, _self_space
from test_hostile_threshold_64 import _stage_in_process
from winnow.balance_checks import check_policy_changes, leave_out_refused
from winnow.configs import Policy
from winnow.errors import WinnowError
from winnow.neighbours import Space
from winnow.outliers import find_outliers


def _odd_ones(copies: int) -> np.ndarray:
    """300 images in three classes, 6 far from all of them, then ``copies`` more of the first of these."""
    _, features = _clusters(np.random.default_rng(0), 3, 100)
    far = (np.random.default_rng(1).normal(size=(6, 16)) * 6).astype(np.float32)
    return np.concatenate([features, far, np.tile(far[0], (copies, 1))])


@pytest.mark.hostile("outliers")
def test_copies_of_an_image_unlike_any_class_are_outliers_to_the_isolation_forest():
    # the six odd images are flagged alone. before: with 19 more copies of the first, the forest, fitted on every
    # copy, scored them 0.54 (above the ordinary images' 0.45) and its cut flagged none of the 25. Copies are one
    # point now: the 25 are flagged, at the cut of the images without the copies, each copy scored as its original
    once, once_cuts = find_outliers([_self_space(_odd_ones(0))], methods=("isolation_forest",), k=10, bins=32)
    table, cuts = find_outliers([_self_space(_odd_ones(19))], methods=("isolation_forest",), k=10, bins=32)
    assert once.loc[once["isolation_forest_outlier"], "position"].tolist() == list(range(300, 306))
    assert table.loc[table["isolation_forest_outlier"], "position"].tolist() == list(range(300, 325))
    assert cuts == pytest.approx(once_cuts, rel=1e-7)
    np.testing.assert_allclose(table["isolation_forest"].to_numpy()[306:], np.full(19, once["isolation_forest"][300]),
                               rtol=1e-7)


def _folds(features: np.ndarray, folds: int = 4) -> list[Space]:
    """Spaces as folds mode makes them, one features model for all: row i held out in fold ``i % folds``, judged
    against the other folds' rows."""
    fold = np.arange(len(features)) % folds
    spaces = []
    for f in range(folds):
        held_out, kept = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        spaces.append(Space(held_out, features[held_out], kept, features[kept], np.zeros(len(kept), np.int64)))
    return spaces


@pytest.mark.hostile("outliers")
def test_a_copy_in_another_folds_references_is_no_neighbour_of_the_held_out_image():
    # image 300, unlike any class, held out in fold 0; its one copy (306) is held out in fold 2, so it is a reference
    # of fold 0's space and 300 one of fold 2's. before: each was the other's neighbour at distance 0, and kNN scored
    # 300 0.662 against 0.623 without the copy (LOF 0.335 against 0.311). A copy is no neighbour of its original now,
    # as in one model's space: image 300 and every other image score as without the copy (far from every class, it
    # is a neighbour of the odd images alone, and one point with 300 where both are references), and the cuts stand
    once, once_cuts = find_outliers(_folds(_odd_ones(0)), methods=("lof", "knn"), k=10, bins=32)
    table, cuts = find_outliers(_folds(_odd_ones(1)), methods=("lof", "knn"), k=10, bins=32)
    once, table = once.set_index("position").sort_index(), table.set_index("position").sort_index()
    np.testing.assert_allclose(table.loc[:305, ["lof", "knn"]].to_numpy(), once[["lof", "knn"]].to_numpy(), rtol=1e-7)
    assert cuts == pytest.approx(once_cuts, rel=1e-7)
    assert [table.index[table[f"{m}_outlier"]].tolist() for m in ("lof", "knn")] == [list(range(300, 307))] * 2


@pytest.mark.hostile("budget")
def test_a_cut_whose_edge_falls_among_images_of_equal_confidence_says_so(tmp_path, monkeypatch, capsys):
    # 110 fixes at confidence 0.9 to 1, then 20 images at 0.85 exactly (10 fixes, 10 mistakes), then 230 mistakes
    # below: the 10% cut of the 1,200 train images takes 120, so 10 of the 20 tied images, chosen by id order. before:
    # nothing in metrics/budget.json or the stage's lines told the cut fell among ties
    c = case()
    rng = np.random.default_rng(0)
    ids = train_ids(len(c.given))
    wrong = rng.choice(np.flatnonzero(c.true == 0), 240, replace=False)
    fixed = np.concatenate([rng.uniform(0.9, 1.0, 110), np.full(10, 0.85)])
    mistaken = np.concatenate([np.full(10, 0.85), rng.uniform(0.3, 0.7, 230)])
    issues = pd.concat([issues_table(ids[c.planted], relabel_to=c.true[c.planted], confidence=fixed),
                        issues_table(ids[wrong], relabel_to=np.ones(240), confidence=mistaken)], ignore_index=True)
    project = write_state(tmp_path / "p", c, issues=issues, trusted=False)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    candidates = json.loads((project / "metrics/budget.json").read_text())["candidates"]
    assert {name: row["tied_at_edge"] for name, row in candidates.items()} == {
        "none": {"taken": 0, "left_out": 0},  # threshold and dedup drop nothing: no filters candidate
        "top2%": {"taken": 0, "left_out": 0}, "top10%": {"taken": 10, "left_out": 10},
        "all": {"taken": 0, "left_out": 0}}
    assert [line for line in done.stdout.splitlines() if "equal confidence" in line] == [
        "budget: top10% cuts among 20 label-decided images of equal confidence: it takes the 10 first in id order"]


def _symmetric_many() -> np.ndarray:
    """100 noise images and 300 copies of one mirror-symmetric noise image, shuffled: uint8 (400, 16, 16, 1)."""
    rng = np.random.default_rng(0)
    distinct = rng.integers(0, 256, size=(100, 16, 16, 1), dtype=np.uint8)
    half = rng.integers(0, 256, size=(16, 8, 1), dtype=np.uint8)
    symmetric = np.concatenate([half, half[:, ::-1]], axis=1)
    images = np.concatenate([distinct, np.tile(symmetric, (300, 1, 1, 1))])
    return images[np.random.default_rng(1).permutation(len(images))]


FLIP = {"ops": ["flip"], "n": 1, "magnitude": 0.3, "kind": "rand"}


@pytest.mark.hostile("balance")
def test_copies_of_one_symmetric_picture_do_not_make_flip_too_weak_for_train(tmp_path):
    # flip changes each of the 100 noise pictures and leaves the symmetric one as it is. before: train refused it,
    # "augment_search: 300 of 400 copies made with flip equal their source pixel for pixel: flip has no strength, ...",
    # the sample's 400 rows being 300 copies of that one picture. Each picture counts once now: 1 of 101
    check_policy_changes(_symmetric_many(), Policy.from_params(FLIP), fixed=False, seed=0)


@pytest.mark.hostile("balance")
def test_the_search_keeps_flip_where_copies_of_one_symmetric_picture_fill_the_train_split():
    # before: left out, reason "300 of 400 copies made with flip equal their source ...", and with no incumbent the
    # search refused to run (every candidate left out)
    flip = Policy.from_params(FLIP)
    assert leave_out_refused([flip], _symmetric_many(), seed=0) == ([flip], [])


@pytest.mark.hostile("balance")
def test_copies_of_one_picture_flip_changes_do_not_hide_that_it_leaves_most_pictures_as_they_are():
    # 100 noise pictures, 80 of them mirror-symmetric (flip leaves them as they are), and 300 more copies of one that
    # flip changes. before: the 400 rows sampled held 80 unchanged, 20%, and flip passed, a training whose augmentation
    # moves 4 of 5 pictures not at all. Each picture counts once now: 80 of 100
    rng = np.random.default_rng(2)
    pictures = rng.integers(0, 256, size=(100, 16, 16, 1), dtype=np.uint8)
    pictures[:80, :, 8:] = pictures[:80, :, 7::-1]
    images = np.concatenate([pictures, np.tile(pictures[99], (300, 1, 1, 1))])
    with pytest.raises(WinnowError) as refused:
        check_policy_changes(images, Policy.from_params(FLIP), fixed=False, seed=0)
    assert str(refused.value).startswith("augment_search: 80 of 100 copies made with flip equal their source pixel "
                                         "for pixel: flip has no strength")
