"""Hostile inputs around embedding-clean's outliers and data-valuation (probe 73):

- ``embedding_clean.drop_outliers: true`` with ``outliers: []``: accepted, and the stage scored no outlier and dropped
  none without a word (winnow.param_checks.outliers_dropped).
"""

from __future__ import annotations

import pytest

from hostile_harness import assert_nothing_left, files_under, make_project, params_with
from winnow import params
from winnow.errors import WinnowError


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
