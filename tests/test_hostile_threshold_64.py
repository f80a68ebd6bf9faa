"""Hostile cases of the score and threshold stages (a probe's findings, second pass): each asserts the line, or the
numbers, a user gets, in a throwaway project of a few 8x8 images."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_error_line, assert_nothing_left, files_under, make_project, tiny_degraded, \
    undamaged_params
from test_contracts import _stage_module
from winnow.quality import SCORES, quality_flags, score_images
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
    ("brightness", 3, "brightness params 3 are not a JSON object of its options"),  # a column of numbers, not text
    ("brightness", '{"factor": "x0.2"}', "brightness params '{\"factor\": \"x0.2\"}' hold no factor degrade writes (a "
                                         "finite number, 0 or more)"),
    # before: these two read as factor 1, exit 0, the image's damage planted nowhere (dark had no precision or recall)
    ("brightness", '{"fraction": 0.03}', "brightness params '{\"fraction\": 0.03}' hold no factor degrade writes (a "
                                         "finite number, 0 or more)"),
    ("brightness", '{"factor": NaN}', "brightness params '{\"factor\": NaN}' hold no factor degrade writes (a finite "
                                      "number, 0 or more)"),
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


@pytest.mark.hostile("imagefolder")
def test_frames_of_one_dim_scene_under_sensor_noise_are_not_cut_in_two():
    # before: 300 frames of one dim picture, a tenth of each frame's pixels one grey level off, had dark scores
    # spanning 1.3 grey levels, and auto's mode rule took their spikes for two modes and flagged 34 of them dark;
    # ten frames at half the brightness are still the ones flagged
    rng = np.random.default_rng(0)
    scene = rng.integers(5, 100, (1, 8, 8, 3)).astype(np.float64)
    frames = np.clip(np.rint(scene + rng.normal(0, 0.3, (300, 8, 8, 3))), 0, 255).astype(np.uint8)
    ids = [f"f{k:03d}" for k in range(300)]
    settings = {issue: {"method": "auto"} for issue in SCORES}
    flags, _, rules = quality_flags(pd.DataFrame({"id": ids, **score_images(frames)}), settings)
    assert (rules["dark"], int(flags["any"].sum())) == ("none", 0)
    frames[:10] //= 2
    flags, _, rules = quality_flags(pd.DataFrame({"id": ids, **score_images(frames)}), settings)
    assert (rules["dark"], flags.loc[flags["any"], "id"].tolist()) == ("mode", ids[:10])
