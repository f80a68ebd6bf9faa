"""Hostile cases for the label cleaners and dedup, probe 71:

- dedup's groups (data/dedup/groups.parquet) of the splits before ingest drew them anew, or of the labels before
  degrade's label noise was drawn anew: ids and pixels are the same, so the pixel check passed them, and dedup's
  leaks (chosen by split) and kept copies and label conflicts (chosen by label) were read as current. Every reader
  of the groups refuses them (:func:`winnow.judged_rows.check_grouped`): the label cleaners (confident-learn here) and
  the budget (its own read of the leaks, dedup not among pruned.cleaners);
- a judge right on 39 of 49 val images (79.6%): the weak-judge warning said "right on only 80%", the bound it fell
  short of, beside the stage's own 79.6% (:func:`winnow.judges.weak_judge_warning`, called in-process).

Each case builds tiny_degraded's state (3 classes of random 8x8 images, threshold's flags, dedup's groups, a random
embedding), rewrites data/degrade as a rerun would leave it, calls the stage's ``main`` in-process and asserts its one
line and that nothing was left behind; the refusal comes before anything is judged or trained.
"""

import pytest

from hostile_harness import assert_nothing_left, files_under, make_project, tiny_degraded, undamaged_params
from test_contracts import _stage_module
from winnow import judges
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset


def _project(root, *, cleaners):
    params = undamaged_params("baseline", "pruned")
    params["pruned"]["cleaners"] = list(cleaners)
    project = make_project(root, params)
    tiny_degraded(project, score=params["score"], clean_tables=True)
    return project


def _degrade_again(root, changes: dict[str, dict]) -> None:
    """data/degrade rewritten as a rerun after ingest drew the splits anew (or degrade drew its label noise anew) leaves
    it: each id of ``changes`` with the ``split`` or ``label`` given, its pixels unchanged."""
    degraded = read_imageset(root / "data/degrade")
    manifest = degraded.manifest.copy()
    for image, change in changes.items():
        for column, value in change.items():
            manifest.loc[manifest["id"] == image, column] = value
    write_imageset(root / "data/degrade", degraded.images, manifest.drop(columns="digest"), degraded.classes)


# one val and one train image of class b trade splits; train-1-0 is the groups' first row of the two
NEW_SPLITS = {"train-1-0": {"split": "val"}, "val-1-0": {"split": "train"}}
SPLIT_LINE = ("data/dedup/groups.parquet: grouped other splits than data/degrade's now for 2 image(s) (first: id "
              "'train-1-0', split 'train' then, 'val' now): made before degrade changed the data; rerun the dedup stage "
              "(dvc repro dedup)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("changes", "line"), [
    (NEW_SPLITS, SPLIT_LINE),
    # degrade's label noise drawn anew: train-2-3 a 'b' now, its pixels unchanged
    ({"train-2-3": {"label": 1}}, "data/dedup/groups.parquet: grouped other labels than data/degrade's now for 1 "
                                  "image(s) (first: id 'train-2-3', label 2 then, 1 now): made before degrade changed "
                                  "the data; rerun the dedup stage (dvc repro dedup)"),
], ids=["splits", "labels"])
def test_confident_learn_refuses_dedup_groups_of_other_splits_or_labels(tmp_path, monkeypatch, changes, line):
    # before: exit 0; the groups of the old splits named no leak of an image that now copies a test image, so it was
    # judged and pruned kept it, and their label conflicts were of labels the images no longer carry
    project = _project(tmp_path / "p", cleaners=("threshold", "dedup", "confident_learn"))
    _degrade_again(project, changes)
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("confident_learn").main()
    assert str(refused.value) == line
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_budget_refuses_dedup_groups_of_other_splits_for_its_leak_drops(tmp_path, monkeypatch):
    # dedup not among pruned.cleaners: the budget reads the groups itself, for the leaks pruned drops whatever its
    # cleaners. before: the pixel check alone passed them, and the leak drops were those of the old splits
    project = _project(tmp_path / "p", cleaners=("threshold",))
    _degrade_again(project, NEW_SPLITS)
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("budget").main()
    assert str(refused.value) == SPLIT_LINE
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_weak_judge_warning_never_rounds_its_accuracy_onto_the_bound_it_fell_short_of():
    # before: "right on only 80% of the val images" for 39 of 49 (79.59%), under a bound of 80%, while the stage's own
    # line said 79.6%; a whole percent still where it stays below the bound (15 of 20: 75%)
    tail = ("of the val images; judges this weak flag clean images about as often as mislabelled ones. Compare pruned "
            "with baseline (reports/compare.md) before shipping it, or leave confident_learn out of pruned.cleaners.")
    assert judges.weak_judge_warning("confident-learn", 39 / 49, cleaner="confident_learn") == (
        f"warning: confident-learn: a judge is right on only 79.6% {tail}")
    assert judges.weak_judge_warning("confident-learn", 15 / 20, cleaner="confident_learn") == (
        f"warning: confident-learn: a judge is right on only 75% {tail}")
