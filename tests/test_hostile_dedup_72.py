"""Hostile dedup, probe 72: dedup's groups made with other dedup settings than params.yaml gives now, read as current by
a stage run alone (``dvc repro -s <stage>``, or by hand).

The dedup stage records with its groups the settings they were made with (:func:`winnow.flag_cuts.grouped_at`:
radius, min_correlation, flip, crop, embedding_radius, embedding_confirm, keep, drop_leaks), beside the flags it kept
copies by. Before, it recorded the flags alone: after an edit of a dedup setting, the readers took the old groups as
current. Now every reader refuses them (:func:`winnow.flag_cuts.check_grouped_at`), in one line naming the setting,
then and now, and dedup as the stage to rerun:

- a label cleaner (confident-learn) after an edit of dedup.keep: before, judged the copies the old groups left it;
- the budget, the variants stage, the report and the variants' contracts after an edit of dedup.drop_leaks or
  radius: before, weighed, applied, showed or measured the old groups (the variants stage kept in pruned the train
  copies of val images that groups of drop_leaks false had kept, though params.yaml now says to drop them);
- a record of another kind, or a setting recorded as text, is refused, not read as no record or as the setting;
- groups that record no settings (an earlier winnow's) are read as before.

And a group column that holds no group numbers dedup writes (text, a fraction, -1 for every image without a copy as
another tool marks none), or a group_size that is text or not its group's number of images: before, the report ended
in a ValueError or TypeError traceback, or showed no group for a size of 1, and the budget read a -1 for every
unique image as one picture of all of them; now every reader of the groups refuses them in one line
(:func:`winnow.judged_rows.check_grouped`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, budget_stamped, edit_table, files_under, make_project
from review_project import write_project
from test_contracts import _params, project  # noqa: F401 - project: the contracts stage's fixture
from test_hostile_flags_72 import _deduplicated, _edited
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.flag_cuts import GROUPED_AT, grouped_at
from winnow.judged_rows import read_judged

GROUPS = "data/dedup/groups.parquet"
RERUN = "; rerun the dedup stage (dvc repro dedup)"


@pytest.mark.hostile("intermediates")
def test_the_dedup_stage_records_the_settings_it_grouped_by(tmp_path, monkeypatch, capsys):
    # the record the readers hold to params.yaml: the dedup section as params.yaml gives it, each setting there
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert pd.read_parquet(project / GROUPS).attrs[GROUPED_AT] == params["dedup"]


@pytest.mark.hostile("intermediates")
def test_a_label_cleaner_run_alone_refuses_groups_made_with_another_keep(tmp_path, monkeypatch, capsys):
    # dedup run, then dedup.keep edited (best_quality -> first) and confident-learn run alone. Before: exit 0, the copies
    # the old groups kept and removed judged or left out as if chosen by the keep params.yaml gives now
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())
    make_project(project, _edited(params, "dedup.keep", "first"))
    before = files_under(project)
    done = _stage_in_process(project, "confident_learn", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {GROUPS}: grouped with dedup.keep \"best_quality\", but params.yaml gives \"first\" now{RERUN}"])
    assert_nothing_left(project, before)


def _recorded(root, params: dict) -> None:
    """review_project's groups with the record the dedup stage writes, as made under ``params``, and the budget's
    decisions, where it has them, stamped after them, as a budget rerun on those groups would (they record the cleaner
    files' bytes)."""
    def change(groups):
        groups.attrs = {**groups.attrs, GROUPED_AT: grouped_at(params)}
        return groups
    edit_table(root / GROUPS, change)
    if (root / "data/budget/decisions.parquet").exists():  # the contracts' project has no budget
        edit_table(root / "data/budget/decisions.parquet", lambda table: budget_stamped(root, table))


@pytest.mark.hostile("intermediates")
def test_the_budget_variants_and_report_refuse_groups_made_with_other_settings(tmp_path, monkeypatch, capsys):
    # review_project's state (every cleaner, the budget's decisions), its groups recording the settings they were made
    # with, then one edited and each reader run alone. Before: exit 0 for each: the variants stage applied the budget's
    # choice among the old groups (their bytes unchanged: with drop_leaks edited to true, a train copy of a val image
    # the old groups kept would stay in pruned), the budget weighed them and the report showed them as today's
    project = write_project(tmp_path / "p")
    params = yaml.safe_load((project / "params.yaml").read_text())
    _recorded(project, _edited(params, "dedup.drop_leaks", False))
    cases = [("variants", "drop_leaks", "false", "true"), ("budget", "drop_leaks", "false", "true")]
    for stage, key, then, now in cases:
        before = files_under(project)
        done = _stage_in_process(project, stage, monkeypatch, capsys)
        assert (done.returncode, done.stderr.splitlines()) == (1, [
            f"error: {GROUPS}: grouped with dedup.{key} {then}, but params.yaml gives {now} now{RERUN}"]), stage
        assert_nothing_left(project, before)
    _recorded(project, params)
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0  # as recorded: no refusal
    make_project(project, _edited(params, "dedup.radius", 4))
    before = files_under(project)
    done = _stage_in_process(project, "report", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {GROUPS}: grouped with dedup.radius 6, but params.yaml gives 4 now{RERUN}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("record", "problem"), [
    ("radius 6", "records the dedup settings it was made with as \"radius 6\", not a section of settings"),
    # a boolean written as text by another tool: not the boolean
    ({"drop_leaks": "true"}, "grouped with dedup.drop_leaks \"true\", but params.yaml gives true now"),
    ({"keep": None}, "grouped with dedup.keep null, but params.yaml gives \"best_quality\" now"),
], ids=["text", "bool-as-text", "keep-null"])
def test_a_record_of_another_kind_is_refused_not_read_as_none(tmp_path, monkeypatch, capsys, record, problem):
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())

    def rewrite(groups):
        groups.attrs = {**groups.attrs, GROUPED_AT: record if isinstance(record, str)
                        else {**groups.attrs[GROUPED_AT], **record}}
        return groups
    edit_table(project / GROUPS, rewrite)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        read_judged(cleaners=["threshold", "dedup"], params=params)
    assert str(refused.value) == f"{GROUPS}: {problem}{RERUN}"


@pytest.mark.hostile("intermediates")
def test_groups_of_an_earlier_winnow_are_read_as_before(tmp_path, monkeypatch, capsys):
    # groups recording no settings (written before they were recorded): read after an edit of dedup.keep, not refused
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())

    def earlier(groups):
        groups.attrs = {key: value for key, value in groups.attrs.items() if key != GROUPED_AT}
        return groups
    edit_table(project / GROUPS, earlier)
    monkeypatch.chdir(project)
    read_judged(cleaners=["threshold", "dedup"], params=_edited(params, "dedup.keep", "first"))


@pytest.mark.hostile("intermediates")
def test_the_contracts_refuse_groups_made_with_another_drop_leaks(project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # dedup run, then dedup.drop_leaks edited and the contracts run alone. Before: exit 0, the variants' duplicate and
    # leak rates measured on the groups of the old setting
    root = Path(shutil.copytree(project, tmp_path / "project"))
    params = _params(("baseline", "pruned"))
    _recorded(root, params)  # the record the dedup stage writes, made under the contracts' params
    make_project(root, _edited(params, "dedup.drop_leaks", False))
    before = files_under(root)
    done = _stage_in_process(root, "contracts", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {GROUPS}: grouped with dedup.drop_leaks true, but params.yaml gives false now{RERUN}"])
    assert_nothing_left(root, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("change", "problem"), [
    (lambda g: g.assign(group="g" + g["group"].astype(str)), "group holds str values, not group numbers"),
    (lambda g: g.assign(group=g["group"] + 0.5),
     "group 0.5 of id 'train-00' is no group number (a whole number, 0 or more)"),
    # another tool's mark for "no copy": before, one picture of every unique image to the budget's judge
    (lambda g: g.assign(group=g["group"].where(g["group_size"] > 1, -1)),
     "group -1 of id 'train-00' is no group number (a whole number, 0 or more)"),
    (lambda g: g.assign(group_size=g["group_size"].astype(str)), "group_size holds str values, not numbers of images"),
    # train-02 and train-03 are one group of two (review_project): a size of 1 hid it from the report's groups
    (lambda g: g.assign(group_size=1), "group_size 1 of id 'train-02', but its group 3 holds 2 image(s)"),
], ids=["text", "fraction", "minus-one", "size-text", "size-wrong"])
def test_groups_of_no_group_numbers_or_wrong_sizes_are_one_line_to_the_report_and_the_budget(
        tmp_path, monkeypatch, capsys, change, problem):
    # before: the report ended in a traceback (text, -1, size as text) or showed wrong groups (a fraction, a wrong
    # size), and the budget ran on with exit 0 each time
    project = write_project(tmp_path / "p")
    edit_table(project / GROUPS, change)
    for stage in ("report", "budget"):
        before = files_under(project)
        done = _stage_in_process(project, stage, monkeypatch, capsys)
        assert (done.returncode, done.stderr.splitlines()) == (1, [f"error: {GROUPS}: {problem}{RERUN}"]), stage
        assert_nothing_left(project, before)
