"""Hostile flags, review of probe 72 (tests/test_hostile_flags_72.py): the mends that hold threshold's flags to the
settings they were cut under, and dedup's groups to the flags they kept copies by, tried next to the cases they handle.

- an issue's option written out at its default (auto's alpha 0.01, ght's kappa 0.0 and omega 0.5, li's tolerance
  null) cuts as it did left out: before, every reader of the flags refused them as cut under another issue setting;
  an option moved from its default is still refused;
- a label cleaner whose pruned.cleaners hold neither threshold nor dedup judges no image the flags or the copies
  dedup keeps move: before, it refused flags cut under another threshold.bins, and groups kept by other flags;
- with dedup among the cleaners and threshold not, flags cut under another bins still move the copies dedup keeps:
  refused as before (the positive side of the case above);
- the budget of pruned.cleaners [dedup] alone (no label cleaner to read the filters) refuses groups that kept copies by
  other flags than threshold's now: before, exit 0, the copies kept by the old flags weighed;
- the report refuses groups that kept copies by other flags than threshold's now: before, exit 0, the page showed the
  copies the old flags kept as dedup's choice;
- each line's advice followed (threshold rerun, dedup rerun) clears it;
- the report, where the groups record their flags, refuses flags without their any column: not a KeyError;
- groups dedup kept by no flags (run before threshold) are current where threshold flags no train image: before,
  refused as kept by other flags.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, edit_table, files_under, make_project, tiny_degraded, undamaged_params
from test_hostile_flags_72 import (
    FLAGS, GROUPS_LINE, RERUN, _deduplicated, _edited, _flag_first_train_image, _thresholded,
)
from review_project import write_project
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.flag_cuts import FLAGGED_BY, flagged_by
from winnow.imageset import read_imageset
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


@pytest.mark.hostile("intermediates")
def test_a_label_cleaner_without_threshold_or_dedup_reads_stale_filters_it_does_not_use(tmp_path, monkeypatch, capsys):
    # pruned.cleaners [confident_learn]: the flags leave no image out of the judging, nor do the copies dedup keeps
    # (only its leaks, dropped whatever the flags). Before: refused, "cut with threshold.bins 256, but params.yaml gives
    # 64 now", then the groups "chose the copies it keeps by threshold's flags as they were": false alarms
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = _edited(yaml.safe_load((project / "params.yaml").read_text()), "threshold.bins", 64)
    make_project(project, params)
    edit_table(project / FLAGS, _flag_first_train_image)
    monkeypatch.chdir(project)
    read_judged(cleaners=["confident_learn"], params=params)


@pytest.mark.hostile("intermediates")
def test_a_label_cleaner_with_dedup_but_not_threshold_refuses_flags_cut_otherwise(tmp_path, monkeypatch, capsys):
    # threshold no cleaner, dedup one: the flags chose the copies dedup keeps, which the cleaner leaves out, so flags cut
    # under another bins are refused as before the mend above
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)
    make_project(project, _edited(_edited(params, "threshold.bins", 64), "pruned.cleaners",
                                  ["dedup", "confident_learn"]))
    before = files_under(project)
    done = _stage_in_process(project, "confident_learn", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {FLAGS}: cut with threshold.bins 256, but params.yaml gives 64 now{RERUN}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_budget_of_dedup_alone_refuses_groups_kept_by_other_flags(tmp_path, monkeypatch, capsys):
    # dedup ran by threshold's flags, then threshold flagged anew and the budget of pruned.cleaners [dedup] run alone.
    # Before: exit 0, the groups' drops weighed as dedup chose them by the old flags (the check ran only with
    # threshold among the cleaners, or a label cleaner reading the filters): a group kept the copy flagged now
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())
    make_project(project, _edited(params, "pruned.cleaners", ["dedup"]))
    edit_table(project / FLAGS, _flag_first_train_image)  # attrs kept: cut under params.yaml's settings
    before = files_under(project)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [GROUPS_LINE])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_label_cleaners_still_refuse_groups_kept_by_other_flags_with_dedup_among_them(tmp_path, monkeypatch,
                                                                                         capsys):
    # the positive side of the gate: dedup among the cleaners, threshold not
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())
    edit_table(project / FLAGS, _flag_first_train_image)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        read_judged(cleaners=["dedup", "confident_learn"], params=params)
    assert f"error: {refused.value}" == GROUPS_LINE


def _groups_recording_their_flags(root):
    """review_project at ``root``, its groups recording the flags they kept copies by, as dedup writes them."""
    project = write_project(root)
    degraded = read_imageset(project / "data/degrade")

    def recorded(groups):
        groups.attrs = {FLAGGED_BY: flagged_by(pd.read_parquet(project / FLAGS), manifest=degraded.manifest)}
        return groups
    edit_table(project / "data/dedup/groups.parquet", recorded)
    return project


@pytest.mark.hostile("intermediates")
def test_the_report_refuses_groups_kept_by_other_flags(tmp_path, monkeypatch, capsys):
    # review_project's state, its groups recording the flags they kept copies by (as dedup writes them), then
    # threshold's flags of train-01 set anew and the report run alone. Before: exit 0, the page showed the copies the
    # old flags kept as dedup's choice now (the report checked the flags' cut, not the groups' by them)
    project = _groups_recording_their_flags(tmp_path / "p")
    assert _stage_in_process(project, "report", monkeypatch, capsys).returncode == 0  # as recorded: no refusal

    def flag_another(flags):
        flags.loc[flags["id"] == "train-01", ["dark", "any"]] = True
        return flags
    edit_table(project / FLAGS, flag_another)
    before = files_under(project)
    done = _stage_in_process(project, "report", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/dedup/groups.parquet: chose the copies it keeps by threshold's flags as they were (1 flagged train "
        "image(s) then, 2 flagged train image(s) now): made before threshold flagged anew; rerun the dedup stage (dvc "
        "repro dedup)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_advice_of_each_line_clears_it(tmp_path, monkeypatch, capsys):
    # each refusal's advice followed, the reader run again: threshold rerun clears flags cut under another bins, and
    # dedup rerun clears groups kept by other flags (the lines say which stage; before the mends nothing was refused)
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)
    edited = _edited(params, "threshold.bins", 64)
    make_project(project, edited)
    done = _stage_in_process(project, "dedup", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {FLAGS}: cut with threshold.bins 256, but params.yaml gives 64 now{RERUN}"])
    assert _stage_in_process(project, "threshold", monkeypatch, capsys).returncode == 0  # dvc repro threshold
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    edit_table(project / FLAGS, _flag_first_train_image)  # threshold flagged anew after dedup ran
    with pytest.raises(WinnowError) as refused:
        read_judged(cleaners=["threshold", "dedup"], params=edited)
    assert f"error: {refused.value}" == GROUPS_LINE
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0  # dvc repro dedup
    read_judged(cleaners=["threshold", "dedup"], params=edited)


@pytest.mark.hostile("intermediates")
def test_the_report_refuses_flags_without_any_where_groups_record_them(tmp_path, monkeypatch, capsys):
    # the report reads the flags without requiring their any column (a hand-made table lacking it meets another check
    # first): where the groups record the flags they kept copies by, a table without it is refused, not a KeyError
    project = _groups_recording_their_flags(tmp_path / "p")
    edit_table(project / FLAGS, lambda flags: flags.drop(columns="any"))
    before = files_under(project)
    done = _stage_in_process(project, "report", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [f"error: {FLAGS}: lacks column(s) any{RERUN}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_groups_kept_by_no_flags_are_current_where_threshold_flags_no_train_image(tmp_path, monkeypatch, capsys):
    # dedup run by hand before threshold (no flags: it recorded none), then threshold's flags, which flag no train
    # image of the tiny project, put back: the copies kept are those flags of no train image keep. Before: refused,
    # "no flags then, 0 flagged train image(s) now"; a train image flagged is still refused
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)
    aside = tmp_path / "flags.parquet"
    (project / FLAGS).rename(aside)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    aside.rename(project / FLAGS)
    read_judged(cleaners=["threshold", "dedup"], params=params)
    edit_table(project / FLAGS, _flag_first_train_image)
    with pytest.raises(WinnowError) as refused:
        read_judged(cleaners=["threshold", "dedup"], params=params)
    assert f"error: {refused.value}" == (
        "error: data/dedup/groups.parquet: chose the copies it keeps by threshold's flags as they were (no flags then, "
        "1 flagged train image(s) now): made before threshold flagged anew; rerun the dedup stage (dvc repro dedup)")
