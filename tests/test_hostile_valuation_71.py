"""Hostile inputs around data-valuation and embedding-clean, probe 71:

- data_valuation.knn_k above the train images valued: the refusal offered a range whose top, knn_k = N, the stage
  then refused in turn;
- an all-zero embedding row (a ReLU model's, which represent keeps for its own models) among embedding-clean's
  train images: its k nearest are a tie among every image, which the search broke by position, and the image was
  relabelled to the class the tie happened to pick.

Each runs its stage in this process (threshold_64's helper) on two clouds of clean train images
(budget_project)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from budget_project import Case, case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_error_line, assert_nothing_left, files_under, make_project
from test_hostile_threshold_64 import _stage_in_process
from test_hostile_valuation import project, state  # noqa: F401 - fixtures: two clouds of 30 train images, 20 val


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


@pytest.mark.hostile("represent")
def test_an_all_zero_embedding_row_is_not_relabelled_by_the_neighbours_a_tie_picked(tmp_path, monkeypatch, capsys):
    # before: train-0005's zero row lies at cosine similarity 0 to every image, torch's topk broke the tie with ten
    # images of class 1 (faiss's search, by index, with ten of class 0), and with relabels trusted (12 planted val
    # flips, all restored) it was relabelled 'middle', reason neighbours_agree:1 at agreement 1.0
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(40, 2)) - 3, rng.normal(size=(40, 2)) + 3]).astype(np.float32)
    x[5] = 0.0
    y = np.repeat([0, 1], 40)
    val_x = np.concatenate([rng.normal(size=(30, 2)) - 3, rng.normal(size=(30, 2)) + 3]).astype(np.float32)
    val_y = np.repeat([0, 1], 30)
    c = Case(train_x=x, true=y, given=y, planted=np.zeros(0, np.int64), val_x=val_x, val_y=val_y, noisy_val_y=val_y,
             trusted_x=x[:0], trusted_y=y[:0], test_x=x[:4], test_y=y[:4])
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(case())[:0], trusted=False)
    done = _stage_in_process(project, "embedding_clean", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    decisions = pd.read_parquet(project / "data/embedding-clean/decisions.parquet").set_index("id")
    zero = decisions.loc["train-0005"]
    assert (zero["decision"], zero["reason"], zero["agreement"], zero["given_agreement"]) == ("keep", "", 0.0, 0.0)
    metrics = json.loads((project / "metrics/embedding_clean.json").read_text())
    assert metrics["decisions"] == {"keep": 80, "drop": 0, "relabel": 0}
    assert metrics["judge"]["relabels_allowed"] is True  # a relabel would have shipped as one
