"""Hostile leftovers of stop 75, mended at stop 75 (j):

- threshold's auto ``tail_share`` as tiny as 1e-9: accepted by the params check, and the tail and isolated rules
  silently tested nothing (too few scores below that share), so a black image among 20,000 clean ones was flagged at
  the default 0.1 and not at 1e-9. Now refused before any stage below 0.001, in one line saying why;
- a stage script read from standard input (``python - x < stages/report.py``) or run by ``-c``: its lines named
  ``stages/-`` (``stages/-c``), and the refusal of its arguments told the user to run ``python stages/-``. Now
  ``stages/<stdin>`` (``<-c>``), and the command to run names the stage's script as dvc.yaml does;
- next to it, the same script read from standard input under an ASCII locale (``LC_ALL=C PYTHONUTF8=0``): the stage
  ran itself again in Python's UTF-8 mode, whose standard input was already read to its end, so it ran nothing and
  said nothing, exit 0. Now one line saying why, and what to run;

Stage cases run the real scripts in this process on throwaway projects of a few small images; the others call the
library the stages call."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, files_under, make_project, params_with
from test_hostile_quality_70 import _refused
from winnow.params import validate
from winnow.stage import run
from winnow.thresholds import threshold_rule


@pytest.mark.hostile("score")
def test_a_tail_share_too_small_for_any_tail_is_refused_before_any_stage(tmp_path, monkeypatch, capsys):
    # before: accepted, and the threshold stage ran with the tail and isolated rules testing nothing (exit 0)
    make_project(tmp_path, params_with("threshold.issues.dark", {"method": "auto", "tail_share": 1e-9}))
    assert _refused(tmp_path, "threshold", monkeypatch, capsys) == (
        "error: params.yaml: threshold.issues.dark.tail_share: 1e-09 is below 0.001: auto's isolated rule needs 20 "
        "scores under that share of them and its tail rule 10, so the isolated rule would fire on no set of fewer "
        "than 19,000,000,000 images; give 0.001 or more (0.1 by default), or null to turn both rules off")


@pytest.mark.hostile("score")
def test_the_tiny_share_flagged_nothing_and_the_bound_still_flags():
    # the reason for the refusal above, measured: one black image among 20,000 clean scores (20 of them below the lowest thousandth)
    rng = np.random.default_rng(0)
    scores = np.r_[np.clip(rng.normal(0.8, 0.05, 20000), 0, 1), 0.05]
    assert threshold_rule(scores, method="auto", tail_share=1e-9)[1] == "none"
    assert threshold_rule(scores, method="auto", tail_share=0.001) == (0.05, "isolated")
    validate(params_with("threshold.issues.dark", {"method": "auto", "tail_share": 0.001}))
    validate(params_with("threshold.issues.dark", {"method": "auto", "tail_share": None}))


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("argv0", "named"), [("-", "stages/<stdin>"), ("", "stages/<stdin>"), ("-c", "stages/<-c>")])
def test_a_stage_read_without_a_file_is_never_named_by_a_wrong_path(tmp_path, monkeypatch, capsys, argv0, named):
    # before: "error: stages/- takes no arguments (got x); run it as dvc.yaml does: python stages/-", a path that is
    # none, given as the command to run
    monkeypatch.chdir(make_project(tmp_path))
    before = files_under(tmp_path)
    monkeypatch.setattr(sys, "argv", [argv0, "x"])
    with pytest.raises(SystemExit) as ended:
        run(lambda: pytest.fail("the stage ran"))
    assert ended.value.code == 1
    assert capsys.readouterr().err == (f"error: {named} takes no arguments (got x); run it as dvc.yaml does: python "
                                       "stages/<stage>.py\n")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("interrupted")
def test_a_stage_read_from_standard_input_under_an_ascii_locale_is_one_line(tmp_path):
    # before: the stage ran itself again in Python's UTF-8 mode, which found standard input read to its end: nothing
    # ran, nothing was said, exit 0
    project = make_project(tmp_path)
    before = files_under(project)
    with open(ROOT / "stages/ingest.py", encoding="utf-8") as script:
        done = subprocess.run([sys.executable, "-"], stdin=script, cwd=project, capture_output=True, text=True,
                              env={**_env(), "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
                              timeout=300)
    assert assert_error_line(done) == (
        "error: stages/<stdin>: this locale's encoding (ANSI_X3.4-1968, ascii) needs the stage started again in "
        "Python's UTF-8 mode, but a script read from standard input cannot be read again; run it as dvc.yaml does: "
        "python stages/<stage>.py, or set PYTHONUTF8=1")
    assert done.stdout == ""
    assert_nothing_left(project, before)
