"""Hostile cases of the score and threshold stages (a probe's findings, second pass): each asserts the line, or the
numbers, a user gets, in a throwaway project of a few 8x8 images."""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import assert_error_line, assert_nothing_left, files_under, make_project, tiny_degraded, \
    undamaged_params
from test_contracts import _stage_module
from winnow.stage import run

LOG = "data/degrade/perturbations.parquet"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """data/degrade of 30 random 8x8 images (3 classes) and their scores, as the score stage writes them."""
    root = make_project(tmp_path_factory.mktemp("template"), undamaged_params())
    tiny_degraded(root, score=undamaged_params()["score"])
    return root


def _stage_in_process(project: Path, stage: str, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """``stages/<stage>.py`` run in this process as dvc.yaml's command would, its exit status and output as a
    finished process's (a forked run costs a second a case)."""
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", [f"{stage}.py"])
    try:
        run(_stage_module(stage).main)
        status = 0
    except SystemExit as stop:
        status = stop.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess([stage], status, out.out, out.err)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("kind", "params", "problem"), [
    ("brightness", "{bad", "brightness params '{bad' are not a JSON object of its options"),
    ("brightness", '{"factor": "x0.2"}', "brightness params '{\"factor\": \"x0.2\"}' are not a JSON object of its options"),
    # before: exit 0, the dark image's damage counted as planted nowhere (no precision or recall for dark)
    ("brighten", '{"factor": 0.2}', "kind 'brighten' is none of those degrade writes"),
])
def test_a_degrade_log_whose_row_threshold_cannot_read_is_one_line_naming_it(template, tmp_path, monkeypatch, capsys,
                                                                              kind, params, problem):
    # before: a traceback (JSONDecodeError, AttributeError: 'list' object has no attribute 'get', ValueError: could
    # not convert string to float) from the threshold stage, which reads each row's options to know what was planted
    project = Path(shutil.copytree(template, tmp_path / "project"))
    pd.DataFrame({"id": ["train-0-1"], "kind": [kind], "params": [params], "source_id": [None],
                  "original_label": [-1]}).to_parquet(project / LOG, index=False)
    before = files_under(project)
    line = assert_error_line(_stage_in_process(project, "threshold", monkeypatch, capsys))
    assert line == f"error: {LOG}: image 'train-0-1': {problem}; rerun the degrade stage (dvc repro degrade)"
    assert_nothing_left(project, before)
    assert not (project / "metrics").exists() and not (project / "data/threshold").exists()
