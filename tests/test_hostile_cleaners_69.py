"""Hostile cases for the label cleaners, stop 69: a val split that repeats its pictures.

Each case writes a tiny data/degrade whose represent embedding puts every class in a cluster of its own
(:func:`test_hostile_cleaners_more._project`) and calls the stage's ``main`` in-process.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import planted_log, regroup, with_group_sizes
from test_contracts import _stage_module
from test_hostile_cleaners_more import _project
from winnow.stage import write_table

FLIPS = {"train-0-0": 1, "train-1-0": 0}  # two train labels a judge should relabel


def _repeating_val(root, *, copies: int, labels=None):
    """Two classes of 30 train images (FLIPS among them) and val of 3 pictures a class, each ``copies`` times: the
    copies of a picture share its point in the embedding and dedup's group; ``labels``: the val labels instead."""
    pictures = 4 * np.eye(2, 8)[[0, 0, 0, 1, 1, 1]] + np.random.default_rng(1).normal(0, 0.3, (6, 8))
    same = {f"val-{c}-{i}": pictures[3 * c + i // copies] for c in range(2) for i in range(3 * copies)}
    project = _project(root, [30, 30], val=3 * copies, flips=FLIPS, same=same)
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    for c in range(2):
        for i in range(3 * copies):
            groups.loc[groups["id"] == f"val-{c}-{i}", "group"] = 10_000 + 3 * c + i // copies
    write_table(project / "data/dedup/groups.parquet", with_group_sizes(groups))
    if labels is not None:
        from winnow.imageset import read_imageset, write_imageset
        data = read_imageset(project / "data/degrade")
        manifest = data.manifest.copy()
        manifest.loc[manifest["split"] == "val", "label"] = labels
        write_imageset(project / "data/degrade", data.images, manifest, data.classes,
                       tables=planted_log(project / "data/degrade"))
        regroup(project)  # dedup's groups carry the val labels data/degrade holds now, as a dedup rerun writes them
    return project


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage, section", [("confident_learn", {"action": "both"}), ("embedding_clean", {})])
def test_val_pictures_repeated_twenty_times_measure_the_judge_once(tmp_path, monkeypatch, capsys, stage, section):
    # 6 val pictures 20 times over are 6 draws of the val split: 20% of them is 1 planted flip, short of the 10 measured
    # relabels a precision needs, so the 2 train relabels are drops. Before, the 120 copies took 24 planted flips,
    # cleared the 10, and both cleaners relabelled the 2 train images ("relabels_allowed": true, "val_images": 120)
    project = _repeating_val(tmp_path / "p", copies=20)
    values = yaml.safe_load((project / "params.yaml").read_text())
    values[stage].update(section)
    (project / "params.yaml").write_text(yaml.safe_dump(values))
    monkeypatch.chdir(project)

    _stage_module(stage).main()

    name = stage.replace("_", "-")
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{name}: 114 val image(s) repeat a picture of the val split (dedup's groups, first 'val-0-1'): each picture "
        "measures the judge once")
    judge = json.loads(open(f"metrics/{stage}.json").read())["judge"]
    assert (judge["val_images"], judge["planted_flips"], judge["relabels_allowed"]) == (6, 1, False)
    decisions = pd.read_parquet("data/confident-learn/label_issues.parquet" if stage == "confident_learn"
                                else "data/embedding-clean/decisions.parquet")
    assert decisions.loc[decisions["id"].isin(FLIPS), "decision"].tolist() == ["drop", "drop"]


@pytest.mark.hostile("intermediates")
def test_val_whose_every_picture_is_labelled_two_ways_is_one_line(tmp_path, monkeypatch):
    # each of the 6 val pictures twice, once labelled a and once b: no val label can be trusted to measure the judge.
    # The line names why; "the val split is empty ... (set ingest.val_fraction above 0)" would send the user astray
    from hostile_harness import assert_nothing_left, files_under
    from winnow.errors import WinnowError

    project = _repeating_val(tmp_path / "p", copies=2, labels=[0, 1] * 6)
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("confident_learn").main()
    assert str(refused.value) == (
        "confident_learn: all 12 val image(s) of the judged classes are copies of pictures carrying different labels "
        "(dedup's groups, first 'val-0-0'), and a judge is measured on val labels it can trust: give each picture "
        "one label")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["confident_learn", "embedding_clean"])
def test_val_copies_of_judged_train_images_do_not_measure_the_judge(tmp_path, monkeypatch, capsys, stage):
    # dedup.drop_leaks false keeps train-c-0 .. train-c-4 in train, each a copy of val-c-0 .. val-c-4: a judge that
    # learned those pictures is measured on the 10 val pictures it never saw. Before, on all 20 ("val_images": 20),
    # and 60 such copies read an embedding-clean judge 0.883 accurate where it was 0.817 on pictures it never saw
    same = {f"val-{c}-{i}": 4 * np.eye(2, 8)[c] + i / 10 for c in range(2) for i in range(5)}
    project = _project(tmp_path / "p", [30, 30], val=10, same={**same, **{k.replace("val", "train"): v
                                                                         for k, v in same.items()}})
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    for c in range(2):
        for i in range(5):
            groups.loc[groups["id"].isin([f"val-{c}-{i}", f"train-{c}-{i}"]), "group"] = 10_000 + 10 * c + i
    write_table(project / "data/dedup/groups.parquet", with_group_sizes(groups))
    monkeypatch.chdir(project)

    _stage_module(stage).main()

    assert capsys.readouterr().out.splitlines()[0] == (
        f"warning: {stage.replace('_', '-')}: 10 val image(s) copy a train image the judge learns from (dedup's "
        "groups, first 'val-0-0': dedup.drop_leaks false keeps such copies in train): left out of measuring the "
        "judge, which they would flatter")
    assert json.loads(open(f"metrics/{stage}.json").read())["judge"]["val_images"] == 10


@pytest.mark.hostile("intermediates")
def test_val_made_only_of_copies_of_judged_train_images_is_one_line(tmp_path, monkeypatch):
    # every val picture a copy of a judged train image: nothing is left to measure the judge on, and measuring it on
    # what it learned would read a strength it may not have
    from hostile_harness import assert_nothing_left, files_under
    from winnow.errors import WinnowError

    project = _project(tmp_path / "p", [30, 30], val=2)
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    for c in range(2):
        for i in range(2):
            groups.loc[groups["id"].isin([f"val-{c}-{i}", f"train-{c}-{i}"]), "group"] = 10_000 + 10 * c + i
    write_table(project / "data/dedup/groups.parquet", with_group_sizes(groups))
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("embedding_clean").main()
    assert str(refused.value) == (
        "embedding_clean: all 4 val image(s) of the judged classes copy a train image the judge learns from (dedup's "
        "groups, first 'val-0-0': dedup.drop_leaks false keeps such copies in train), and a judge is measured on "
        "pictures it never learned from: set dedup.drop_leaks: true, or give val images of their own")
    assert_nothing_left(project, before)
