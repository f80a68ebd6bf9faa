"""Hostile inputs around data-valuation, stop 69: a val split that repeats its pictures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from budget_project import Case, planted_fixes_then_mistakes, case, write_state
from winnow.stage import write_table

STAGE = Path(__file__).resolve().parents[1] / "stages/data_valuation.py"


def _stage():
    spec = importlib.util.spec_from_file_location("data_valuation_stage", STAGE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _project(root, *, copies: int, labels_of_copies=None):
    """Two clouds of 30 train images (3 labels flipped) and a val split of 3 pictures a class, each ``copies``
    times, dedup grouping the copies (``labels_of_copies``: the labels of the val images, default the pictures')."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(30, 2)) - 2, rng.normal(size=(30, 2)) + 2]).astype(np.float32)
    y = np.repeat([0, 1], 30)
    given = y.copy()
    given[[2, 7, 40]] = 1 - given[[2, 7, 40]]
    pictures = np.concatenate([rng.normal(size=(3, 2)) - 2, rng.normal(size=(3, 2)) + 2]).astype(np.float32)
    val_x, val_y = np.repeat(pictures, copies, axis=0), np.repeat([0, 0, 0, 1, 1, 1], copies)
    if labels_of_copies is not None:
        val_y = np.asarray(labels_of_copies)
    c = Case(train_x=x, true=y, given=given, planted=np.array([2, 7, 40]), val_x=val_x, val_y=val_y, noisy_val_y=val_y,
             trusted_x=x[:0], trusted_y=y[:0], test_x=x[:4], test_y=y[:4])
    project = write_state(root, c, issues=planted_fixes_then_mistakes(case())[:0], trusted=False,
                          params={"pruned": {"cleaners": ["threshold", "dedup", "data_valuation"]}})
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    val = (groups["split"] == "val").to_numpy()
    groups.loc[val, "group"] = 10_000 + np.arange(val.sum()) // copies  # val-0000 .. val-{copies-1}: one picture
    groups.loc[val, "group_size"] = copies
    if copies > 1:
        groups.loc[val, "reason"] = "eval_copy"
    write_table(project / "data/dedup/groups.parquet", groups)
    return project


@pytest.mark.hostile("intermediates")
def test_a_val_split_repeating_its_pictures_values_each_picture_once(tmp_path, monkeypatch, capsys):
    # 6 val pictures 20 times over are 6 draws of the val split, not 120: before, the standard errors were those of
    # 120 independent val images (about 4.5 times too small), train-0007 and train-0040 were "valued reliably below
    # zero" at bound 1 where the same 6 pictures once value none so, and the stage said it valued "on 120 val images"
    once, repeated = _project(tmp_path / "once", copies=1), _project(tmp_path / "repeated", copies=20)
    stage = _stage()
    monkeypatch.chdir(once)
    stage.main()
    capsys.readouterr()
    monkeypatch.chdir(repeated)
    stage.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("data-valuation: 114 val image(s) repeat a picture of the val split (dedup's groups, first "
                        "'val-0001'): each picture values the train images once")
    assert "by both estimators (bound 1.0 SE) on 6 val images" in lines[1]
    values = ["id", "decision", "knn_shapley", "tracin", "harm"]
    pd.testing.assert_frame_equal(pd.read_parquet(repeated / "data/data-valuation/decisions.parquet")[values],
                                  pd.read_parquet(once / "data/data-valuation/decisions.parquet")[values])
    metrics = json.loads((repeated / "metrics/data_valuation.json").read_text())
    assert (metrics["flagged"], metrics["val_repeats_left_out"], metrics["val_conflicts_left_out"]) == (0, 114, 0)


@pytest.mark.hostile("intermediates")
def test_val_copies_labelled_two_ways_value_nothing_and_repeats_count_once():
    # which copy of a picture labelled 'left' and 'right' is right cannot be told: keeping the first in id order would
    # value every train image against whichever label sorted first, unsaid
    from winnow.imageset import ImageSet
    from winnow.judge_val import once_per_picture

    ids = ["val-a1", "val-a2", "val-b1", "val-b2", "val-c"]
    manifest = pd.DataFrame({"id": ids, "split": "val", "label": [0, 0, 0, 1, 1]})
    val = ImageSet(images=np.zeros((5, 1, 1, 1), np.uint8), manifest=manifest, classes=["left", "right"])
    groups = pd.DataFrame({"id": ids, "group": [1, 1, 2, 2, 3]})
    kept, repeats, conflicts = once_per_picture(val, groups)
    assert kept.manifest["id"].tolist() == ["val-a1", "val-c"]
    assert (repeats.tolist(), conflicts.tolist()) == (["val-a2"], ["val-b1", "val-b2"])


@pytest.mark.hostile("intermediates")
def test_a_class_whose_val_images_are_one_picture_is_said_thin_by_its_pictures(tmp_path, monkeypatch, capsys):
    # class 1's 60 val images ('middle') are one picture (one dedup group), class 0's three pictures 20 times: class 1
    # values against one val image, and its 31 train images (30, one flipped out, two flipped in) are left undecided.
    # Before: "class(es) 'middle' (1 val image(s)) have fewer than 2 val images ... give the val split at least 2
    # images of each class" of a class of 60 val images, the advice read as met already
    project = _project(tmp_path, copies=20)
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    middle = (groups["split"] == "val").to_numpy() & (groups["label"] == 1).to_numpy()
    groups.loc[middle, ["group", "group_size"]] = [20_000, int(middle.sum())]  # a group's size is its images' count
    write_table(project / "data/dedup/groups.parquet", groups)
    monkeypatch.chdir(project)
    _stage().main()
    thin = [line for line in capsys.readouterr().out.splitlines() if "have fewer than" in line]
    assert thin == ["warning: data-valuation: class(es) 'middle' (1 val image(s), 59 more left out as copies of a "
                    "picture (dedup's groups)) have fewer than 2 val images, so their 31 train image(s) are left "
                    "undecided and kept (a value is measured against val images of the image's class); give the val "
                    "split at least 2 images of each class"]
