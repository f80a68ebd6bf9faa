"""Hostile inputs around embedding-clean's outliers and data-valuation (probe 73):

- ``embedding_clean.drop_outliers: true`` with ``outliers: []``: accepted, and the stage scored no outlier and dropped
  none without a word (winnow.param_checks.outliers_dropped);
- a setting of embedding-clean or data-valuation edited (``data_valuation.bound`` 1 to 50, ``embedding_clean.agree``,
  ``drop_outliers``), then a reader of their decisions run alone (``dvc repro -s budget``, ``winnow review export``):
  the decisions of the old settings were read as current (winnow.decided_at). An edit that moves no decision
  (``data_valuation.batch_size``, the judge's training while the represent embedding is judged) is not refused;
- a rare class whose images lie further apart than the others' (12 train images among 300): the isolation cut, taken
  over every class at once, dropped 9 of them (the other 3 as relabels too few val flips measured), the class gone from
  pruned without a word, where threshold warns of a cut that takes most of one class (stages/embedding_clean.py).

The stage cases write a tiny data/degrade whose represent embedding puts each class in a cluster of its own
(:func:`test_hostile_cleaners_more._project`), run the stage's ``main`` in this process and read its decisions as the
budget does (:func:`winnow.decision_files.read_cleaner_tables`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under, make_project, params_with
from test_contracts import _stage_module
from test_hostile_cleaners_more import _project
from winnow import params
from winnow.decision_files import read_cleaner_tables
from winnow.errors import WinnowError
from winnow.imageset import read_imageset

FLIPS = {"train-0-0": 1, "train-1-3": 0}  # two labels each cleaner finds wrong in the clusters


def _decided(root, monkeypatch, stage: str):
    """The clusters' project with ``stage`` among pruned.cleaners, run on it in this process."""
    project = _project(root, [30, 30], flips=FLIPS)
    _edit(project, "pruned", {"cleaners": ["threshold", "dedup", stage]})
    monkeypatch.chdir(project)
    _stage_module(stage).main()
    return project


def _edit(project, section: str, values: dict) -> None:
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings[section] = {**(settings.get(section) or {}), **values}
    (project / "params.yaml").write_text(yaml.safe_dump(settings))


def _read_as_the_budget(project):
    data, settings = read_imageset(project / "data/degrade"), params.load(project / "params.yaml")
    return read_cleaner_tables(settings["pruned"]["cleaners"], classes=data.classes, manifest=data.manifest,
                               params=settings)


@pytest.mark.hostile("intermediates")
def test_dropping_outliers_with_no_outlier_method_named_is_refused(tmp_path):
    # before: accepted; embedding-clean scored no outlier, so drop_outliers true dropped none, and its metrics and the
    # report read like a run that had looked for outliers and found none
    settings = params_with("embedding_clean.drop_outliers", True)
    settings["embedding_clean"]["outliers"] = []
    project = make_project(tmp_path / "project", settings)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        params.load(project / "params.yaml")
    assert str(refused.value) == (
        "params.yaml: embedding_clean.drop_outliers: true, but embedding_clean.outliers is [], so no method flags an "
        "outlier to drop; name methods in outliers (isolation_forest, lof, knn), or set drop_outliers: false")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_no_outlier_method_is_accepted_while_drop_outliers_is_false(tmp_path):
    # scoring no outlier is a choice of its own (the scores cost a forest and a LOF): only dropping by none is refused
    settings = params_with("embedding_clean.outliers", [])
    project = make_project(tmp_path / "project", settings)
    assert params.load(project / "params.yaml")["embedding_clean"]["outliers"] == []


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage, section, edit, line", [
    ("data_valuation", "data_valuation", {"bound": 50.0},
     "data/data-valuation/decisions.parquet: decided with data_valuation.bound 1.0, but params.yaml gives 50.0 now; "
     "rerun the data-valuation stage (dvc repro data-valuation)"),
    ("data_valuation", "data_valuation", {"tracin": {"epochs": 3}},
     "data/data-valuation/decisions.parquet: decided with data_valuation.tracin.epochs 10, but params.yaml gives 3 "
     "now; rerun the data-valuation stage (dvc repro data-valuation)"),
    ("embedding_clean", "embedding_clean", {"agree": 1.0},
     "data/embedding-clean/decisions.parquet: decided with embedding_clean.agree 0.8, but params.yaml gives 1.0 now; "
     "rerun the embedding-clean stage (dvc repro embedding-clean)"),
    ("embedding_clean", "embedding_clean", {"drop_outliers": True},
     "data/embedding-clean/decisions.parquet: decided with embedding_clean.drop_outliers false, but params.yaml gives "
     "true now; rerun the embedding-clean stage (dvc repro embedding-clean)"),
], ids=["bound", "tracin_epochs", "agree", "drop_outliers"])
def test_decisions_of_settings_since_edited_are_refused_by_their_readers(tmp_path, monkeypatch, stage, section, edit,
                                                                         line):
    # before: read as current. At bound 50 the stage drops no image, yet the budget weighed (and pruned applied) the
    # drop decided at bound 1; at agree 1.0 its judge relabels too few planted val flips to be trusted and the two
    # relabels become drops, yet the budget weighed them as relabels
    project = _decided(tmp_path / "p", monkeypatch, stage)
    assert _read_as_the_budget(project)  # read as they were decided
    _edit(project, section, edit)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _read_as_the_budget(project)
    assert str(refused.value) == line
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage, section, edit", [
    ("data_valuation", "data_valuation", {"batch_size": 1}),  # values move by about 5e-6: no decision
    ("embedding_clean", "embedding_clean", {"train": {"epochs": 3}}),  # no judge is trained in the represent embedding
    ("data_valuation", "data_valuation", {"bound": 1}),  # 1.0 written as an integer: the same bound
], ids=["batch_size", "idle_judge_training", "same_number"])
def test_an_edit_that_moves_no_decision_leaves_the_decisions_readable(tmp_path, monkeypatch, stage, section, edit):
    # a refusal here would send the user to rerun a stage that writes the same decisions again
    project = _decided(tmp_path / "p", monkeypatch, stage)
    _edit(project, section, edit)
    table = {"data_valuation": "valuation_decisions", "embedding_clean": "neighbour_decisions"}[stage]
    assert len(_read_as_the_budget(project)[table]) == 60


def _rare_and_varied(root):
    """300 train images of a at 4 on axis 0 (noise 0.3), 12 of b at 4 on axis 1 with noise 2: a class of its own,
    wider than a (its val images too), every label right."""
    rng = np.random.default_rng(3)
    same = {f"{split}-1-{i}": 4 * np.eye(8)[1] + rng.normal(0, 2.0, 8) for split, n in (("train", 12), ("val", 10))
            for i in range(n)}
    return _project(root, [300, 12], val=[30, 10], same=same)


@pytest.mark.hostile("intermediates")
def test_an_isolation_cut_that_drops_most_of_a_rare_class_is_warned_of(tmp_path, monkeypatch, capsys):
    # before: the same decisions and no word of the class: the budget could ship a pruned without class b
    monkeypatch.chdir(_rare_and_varied(tmp_path / "p"))

    _stage_module("embedding_clean").main()

    decisions = pd.read_parquet("data/embedding-clean/decisions.parquet")
    of_b = decisions[decisions["given_label"] == 1]
    dropped, isolated = int((of_b["decision"] == "drop").sum()), int((of_b["reason"] == "isolated").sum())
    assert (len(of_b), dropped, isolated) == (12, 12, 9)
    # the one class warned of: a's 300 images, a few of them isolated, are no class set apart
    assert [line for line in capsys.readouterr().out.splitlines() if "lie that far apart" in line] == [
        "warning: embedding-clean: the isolation rule drops 9 of the 12 train images of class 'b' judged: a class "
        "whose images lie that far apart is more likely how that class looks (rare or varied) than a class of "
        "mistakes, so check them (then set embedding_clean.isolation: null); dropping them would leave that class "
        "little or nothing to learn from"]


@pytest.mark.hostile("intermediates")
def test_the_advice_of_the_rare_class_warning_keeps_the_class(tmp_path, monkeypatch, capsys):
    project = _rare_and_varied(tmp_path / "p")
    _edit(project, "embedding_clean", {"isolation": None})
    monkeypatch.chdir(project)

    _stage_module("embedding_clean").main()

    of_b = pd.read_parquet("data/embedding-clean/decisions.parquet").query("given_label == 1")
    assert int((of_b["decision"] == "keep").sum()) == 9
    assert "warning: embedding-clean: the isolation rule" not in capsys.readouterr().out


@pytest.mark.hostile("intermediates")
def test_outlier_and_isolation_drops_of_most_of_a_class_name_both_settings():
    # 4 outlier drops and 2 isolated of b's 10 (6: over half), 2 outlier drops of a's 10 and a relabel: only b named
    stage = _stage_module("embedding_clean")
    reasons = (["outlier:lof+knn"] * 4 + ["isolated"] * 2 + [""] * 4
               + ["outlier:knn"] * 2 + ["neighbours_agree:1"] + [""] * 7)
    decisions = pd.DataFrame({"given_label": [1] * 10 + [0] * 10, "reason": reasons,
                              "decision": ["drop"] * 6 + ["keep"] * 4 + ["drop"] * 2 + ["relabel"] + ["keep"] * 7})
    assert stage._classes_set_apart(decisions, classes=["a", "b"]) == [
        "warning: embedding-clean: the isolation rule and the outlier drops drop 6 of the 10 train images of class 'b' "
        "judged: a class whose images lie that far apart is more likely how that class looks (rare or varied) than a "
        "class of mistakes, so check them (then set embedding_clean.isolation: null or set "
        "embedding_clean.drop_outliers: false); dropping them would leave that class little or nothing to learn from"]
