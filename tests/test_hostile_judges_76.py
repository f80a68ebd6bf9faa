"""Hostile inputs to the judges, the cleaning budget and embedding-clean, probe 76:

- ``embedding_clean.margin`` at 2 or above (a distance in Euclidean units, say 2.5): the rule compares two cosine
  distances, each in [0, 2], so no image is ever that much nearer another class's centroid; the value was accepted and
  silently turned inside_class off. Refused in one line by params.yaml's check, before anything is read;
- embedding-clean at ``margin: 0`` beside all-zero embedding rows (a ReLU model's, for an image none of its units
  answers: represent keeps them): such a row lies at distance 1 from every centroid, and "closer to another class's
  centroid by at least 0" held for it, so it was dropped as ``inside_class`` of the lowest other class index, a class the
  names chose, with that class as the reviewer's hint. The rule now takes closer by more than 0, never as close;
- ``confident_learn.frac_noise`` small enough that cleanlab keeps none of the label issues it finds (it keeps that
  share of each class's estimated issues, rounded: below 1, none of one issue a class): 0 issues, as on a clean set, and
  nothing said. Now a ``warning:`` line names the share and the issues found at 1.0.

The stage cases write the tiny data/degrade of :func:`test_hostile_cleaners_more._project` (three classes in clusters
of their own, two planted flips) and run the stage in this process.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_hostile_cleaners_more import _project
from test_hostile_threshold_64 import _stage_in_process

FLIPS = {"train-0-0": 1, "train-1-1": 2}  # two train labels a judge should find wrong, one in each of two classes


def _with(project, section: str, **values) -> None:
    """``project``'s params.yaml with ``values`` set in ``section``."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[section] = {**(params.get(section) or {}), **values}
    (project / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.mark.hostile("cleaners")
@pytest.mark.parametrize("margin", [2, 2.5])
def test_an_embedding_clean_margin_no_cosine_distance_reaches_is_refused(tmp_path, monkeypatch, capsys, margin):
    # before: accepted; the centroid margin is a difference of two cosine distances (each in [0, 2]), so at 2 or more
    # inside_class dropped no image whatever the embedding, exit 0, as if the rule had been left on
    project = _project(tmp_path / "p", [30, 30, 30], flips=FLIPS)
    _with(project, "embedding_clean", margin=margin)
    before = files_under(project)
    done = _stage_in_process(project, "embedding_clean", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (
        1, [f"error: params.yaml: embedding_clean.margin: {margin} is not below 2"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("cleaners")
@pytest.mark.parametrize("share", [0.2, 0.001])
def test_a_frac_noise_that_keeps_none_of_the_issues_found_is_said(tmp_path, monkeypatch, capsys, share):
    # each of two classes holds one of the two flips, and cleanlab keeps none of one at any share below 1. Before: "0 issues
    # among 90 train images", every label judged right, and no line said that frac_noise had left out the 2 found
    project = _project(tmp_path / "p", [30, 30, 30], flips=FLIPS)
    _with(project, "confident_learn", frac_noise=share)
    done = _stage_in_process(project, "confident_learn", monkeypatch, capsys)
    assert done.returncode == 0
    assert [line for line in done.stdout.splitlines() if line.startswith("warning:")] == [
        f"warning: confident-learn: confident_learn.frac_noise {share:g} keeps none of the 2 label issue(s) cleanlab "
        "finds at 1.0 (it keeps that share of each class's issues, rounded), so no label is judged wrong; raise it, or "
        "set 1.0 to keep every issue found"]
    metrics = json.loads((project / "metrics/confident_learn.json").read_text())
    assert (metrics["issues"], metrics["truth"]["fn"]) == (0, 2)
    decisions = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    assert set(decisions["decision"]) == {"keep"}


@pytest.mark.hostile("cleaners")
def test_a_frac_noise_that_keeps_some_issues_says_nothing(tmp_path, monkeypatch, capsys):
    # ten of a's images labelled b: at 0.6 cleanlab keeps some of them, and the line is for a share that keeps none
    project = _project(tmp_path / "p", [30, 30, 30], flips={f"train-0-{i}": 1 for i in range(10)})
    _with(project, "confident_learn", frac_noise=0.6)
    done = _stage_in_process(project, "confident_learn", monkeypatch, capsys)
    assert done.returncode == 0
    assert [line for line in done.stdout.splitlines() if line.startswith("warning:")] == []
    assert json.loads((project / "metrics/confident_learn.json").read_text())["issues"] > 0


@pytest.mark.hostile("cleaners")
def test_all_zero_embedding_rows_are_not_dropped_as_inside_another_class_at_margin_0(tmp_path, monkeypatch, capsys):
    # two train images of b and c whose embedding rows are all zeros, in three clean clusters. Before: both dropped,
    # reason inside_class:0 and suggested label a (the lowest other class index: equally far from every centroid, the
    # zero rows' margin was exactly 0, which margin 0 took as closer)
    zero = np.zeros(8, np.float32)
    project = _project(tmp_path / "p", [30, 30, 30], same={"train-1-3": zero, "train-2-4": zero})
    _with(project, "embedding_clean", margin=0)
    done = _stage_in_process(project, "embedding_clean", monkeypatch, capsys)
    assert done.returncode == 0
    decisions = pd.read_parquet(project / "data/embedding-clean/decisions.parquet").set_index("id")
    assert decisions.loc[["train-1-3", "train-2-4"], ["decision", "reason", "suggested_label"]].to_dict("list") == {
        "decision": ["keep", "keep"], "reason": ["", ""], "suggested_label": [1, 2]}
    assert json.loads((project / "metrics/embedding_clean.json").read_text())["decisions"] == {
        "keep": 90, "drop": 0, "relabel": 0}
