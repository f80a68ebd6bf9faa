"""Hostile compute settings: the Ray engine asked to join a cluster that is not there stops the real
score stage with one line naming compute.ray.address, before anything is written."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from conftest import require
from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage
from winnow.imageset import write_imageset


@pytest.mark.hostile("params")
def test_ray_engine_without_a_running_cluster(tmp_path):
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    params = default_params()
    params["compute"] = {"engine": "ray", "ray": {"address": "auto", "num_cpus": None}, "knn": "numpy"}
    project = make_project(tmp_path / "project", params)
    manifest = pd.DataFrame({"id": ["a", "b"], "split": "train", "label": 0, "source": "t", "orig_h": 8,
                             "orig_w": 8, "orig_mode": "L"})
    write_imageset(project / "data/degrade", np.zeros((2, 8, 8, 1), np.uint8), manifest, ["x"])
    before = files_under(project)
    done = run_stage(project, "score")
    line = assert_error_line(done, "compute.ray.address", "no Ray cluster at 'auto'", "ray start --head",
                             "compute.ray.address: null")
    assert line.startswith("error: compute.ray.address: no Ray cluster at 'auto' (Could not find any running Ray")
    assert_nothing_left(project, before)
