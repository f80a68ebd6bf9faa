"""Hostile cases of the 66th stop's probe: faults noted at earlier stops and mended here. Each names what a user
relies on: the one line, the right number, nothing partial left behind."""

import subprocess
import sys

import pytest
import torch
from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_contracts import _stage_module
from test_hostile_metrics_more import _evaluate_project

from winnow.metrics import metrics_path
from winnow.stage import run
from winnow.variants import read_rows, write_variant


def _evaluate_in_process(project, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """``stages/evaluate.py baseline`` run in this process as dvc.yaml's command would (a forked run costs seconds)."""
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", ["evaluate.py", "baseline"])
    try:
        run(_stage_module("evaluate").main, reads_arguments=True)
        status = 0
    except SystemExit as stop:
        status = stop.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["evaluate"], status, out.out, out.err)


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_that_kept_no_record_of_its_labels(tmp_path, monkeypatch, capsys):
    # before: models/baseline.pt saved by an earlier winnow (no `learnt`), an image of the version relabelled since,
    # and evaluate scored the model of the old labels as the new version's, exit 0: only a retrain caught the relabel
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    checkpoint = torch.load(project / "models/baseline.pt", weights_only=True)
    del checkpoint["learnt"]  # as an earlier winnow wrote it
    torch.save(checkpoint, project / "models/baseline.pt")
    rows = read_rows("baseline", root=project / "data/variants")
    rows.loc[rows["id"] == "train-0-1", ["action", "label"]] = ["relabel", 1]
    write_variant("baseline", rows, root=project / "data/variants")
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: trained by an earlier winnow, which kept no record of the labels it learnt "
        "(learnt), so a relabel since it was trained cannot be told; rerun the train@baseline stage (dvc repro "
        "train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()
