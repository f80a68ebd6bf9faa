"""Hostile inputs around data-valuation and embedding-clean, probe 71:

- data_valuation.knn_k above the train images valued: the refusal offered a range whose top, knn_k = N, the stage
  then refused in turn.

Each runs its stage in this process (threshold_64's helper) on budget_project's two clean clouds of 30 train images."""

from __future__ import annotations

import shutil

import pytest
import yaml

from budget_project import clean_clouds_state
from hostile_harness import assert_error_line, assert_nothing_left, files_under, make_project
from test_hostile_threshold_64 import _stage_in_process


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """What the stages before data-valuation wrote: two clouds of 30 train images each, 20 val images, clean labels."""
    return clean_clouds_state(tmp_path_factory.mktemp("state") / "p")


@pytest.fixture
def project(state, tmp_path):
    return shutil.copytree(state, tmp_path / "project")


def with_section(project, name: str, values: dict):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[name] = {**(params.get(name) or {}), **values}
    return make_project(project, params)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("knn_k", [61, 100])
def test_a_knn_k_above_the_train_images_offers_only_values_the_stage_takes(project, monkeypatch, capsys, knn_k):
    # before: "choose an integer in [1, 60]"; knn_k 60, the top of that range, was then refused as "every one of the
    # 60 train images ... choose an integer in [1, 59]"
    with_section(project, "data_valuation", {"knn_k": knn_k})
    before = files_under(project)
    line = assert_error_line(_stage_in_process(project, "data_valuation", monkeypatch, capsys))
    assert line == (f"error: data_valuation.knn_k: {knn_k} neighbours asked but only 60 train images; choose an "
                    "integer in [1, 59]")
    assert_nothing_left(project, before)
