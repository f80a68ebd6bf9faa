"""Hostile cases of the 76th stop's probe of training, seeds and the model files:

- budget's model check of a models/represent.pt whose weights are NaN (edited by hand), where the represent judge
  stands in for none's training: the line evaluate, balance and gan-synthesize give of such a model, naming it and the
  represent stage; before, argmax read its NaN rows as class 0, none was right only on the judge images of class 0,
  and the winner was measured better than that, exit 0.

Each checks the whole line a user reads, and nothing partial left behind.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_budget import budget_stage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _in_process(main, monkeypatch, capsys, *argv: str) -> subprocess.CompletedProcess:
    """``main`` run as a stage script's ``run(main)`` runs it, its exit status and output as a finished process's."""
    from winnow.stage import run

    monkeypatch.setattr(sys, "argv", ["stage.py", *argv])
    try:
        run(main, reads_arguments=bool(argv))
        status = 0
    except SystemExit as stop:
        status = stop.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["stage"], status, out.out, out.err)


@pytest.mark.hostile("training")
def test_budget_refuses_a_represent_judge_of_nan_weights_standing_in_for_none(tmp_path, monkeypatch, capsys):
    # before: exit 0; the judge's NaN probabilities argmaxed to class 0 for all 900 val images, so none's model got the
    # 300 of class 0 right and any cleaning whose model did better was measured better than none
    from winnow.training import TrainConfig, Trained

    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"budget": {"check": True}})
    params = yaml.safe_load((project / "params.yaml").read_text())
    # the judge as its checkpoint loads, trained as the train section and seed say (so it stands in for none), on the
    # project's 1x1 grey images, its weights NaN
    net = nn.Sequential(nn.Flatten(), nn.Linear(1, 3))
    with torch.no_grad():
        net[1].weight.fill_(float("nan"))
    judge = Trained(net.eval(), torch.zeros(1), torch.ones(1), [], 1, TrainConfig.from_params(params["train"]),
                    params["seed"])
    stage = budget_stage()
    monkeypatch.setattr(stage, "load", lambda *_, **__: (judge, ["left", "middle", "right"]))
    monkeypatch.setattr(stage, "fit", lambda *_, **__: pytest.fail("the winner was trained beside a NaN none"))
    monkeypatch.chdir(project)
    before = files_under(project)
    done = _in_process(stage.main, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/represent.pt: gives non-finite probabilities (NaN or infinity) for 900 of 900 val images, first "
        "'val-0000', so its predictions mean nothing; rerun the represent stage (dvc repro represent)")
    assert_nothing_left(project, before)
