"""Hostile flags, review of probe 72 (tests/test_hostile_flags_72.py): the mends that hold threshold's flags to the
settings they were cut under, and dedup's groups to the flags they kept copies by, tried next to the cases they handle.

- an issue's option written out at its default (auto's alpha 0.01, ght's kappa 0.0 and omega 0.5, li's tolerance
  null) cuts as it did left out: before, every reader of the flags refused them as cut under another issue setting;
  an option moved from its default is still refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under, make_project, tiny_degraded, undamaged_params
from test_hostile_flags_72 import FLAGS, RERUN, _edited
from test_hostile_threshold_64 import _stage_in_process
from winnow.judged_rows import read_judged


def _thresholded_with(root: Path, monkeypatch, capsys, issues: dict) -> tuple[Path, dict]:
    """:func:`test_hostile_flags_72._thresholded`'s project, its flags cut by the real threshold stage under
    threshold.issues ``issues``; returns it and its params."""
    params = _edited(undamaged_params(), "threshold.issues", issues)
    project = make_project(root, params)
    tiny_degraded(project, score=params["score"], clean_tables=True)
    assert _stage_in_process(project, "threshold", monkeypatch, capsys).returncode == 0
    return project, params


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("cut", "written_out"), [
    ({"method": "auto"}, {"method": "auto", "alpha": 0.01}),
    ({}, {"method": "auto", "alpha": 0.01, "tail_share": 0.1, "isolated_max": 10}),
    ({"method": "ght"}, {"method": "ght", "kappa": 0.0, "omega": 0.5, "nu": None}),
    ({"method": "li", "tolerance": None}, {"method": "li"}),
], ids=["auto-alpha", "auto-all", "ght", "li-tolerance"])
def test_an_option_written_out_at_its_default_leaves_the_flags_current(tmp_path, monkeypatch, capsys, cut,
                                                                       written_out):
    # before: "cut with threshold.issues.dark {"method": "auto"}, but params.yaml gives {"method": "auto", "alpha":
    # 0.01} now" from every reader (a label cleaner, dedup, the budget...), though the cut is the same one
    project, params = _thresholded_with(tmp_path / "p", monkeypatch, capsys, {"dark": cut})
    edited = _edited(params, "threshold.issues.dark", written_out)
    make_project(project, edited)
    read_judged(cleaners=["threshold", "dedup"], params=edited)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0


@pytest.mark.hostile("intermediates")
def test_an_option_moved_from_its_default_is_still_refused(tmp_path, monkeypatch, capsys):
    # the defaults filled in must not hide a real change: alpha 0.05 cuts otherwise than auto's 0.01
    project, params = _thresholded_with(tmp_path / "p", monkeypatch, capsys, {"dark": {"method": "auto"}})
    make_project(project, _edited(params, "threshold.issues.dark", {"method": "auto", "alpha": 0.05}))
    before = files_under(project)
    done = _stage_in_process(project, "dedup", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {FLAGS}: cut with threshold.issues.dark {{\"method\": \"auto\"}}, but params.yaml gives "
        f"{{\"method\": \"auto\", \"alpha\": 0.05}} now{RERUN}"])
    assert_nothing_left(project, before)
