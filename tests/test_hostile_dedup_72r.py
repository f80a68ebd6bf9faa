"""Hostile dedup, review of probe 72's mends (the dedup settings recorded with the groups, the group numbers checked).

- a dedup setting that moves no link under the others, edited after dedup ran: embedding_confirm without the
  embedding's search (embedding_radius null, the default run), min_correlation with exact copies alone (radius and
  embedding_radius null). Before, every reader run alone refused the groups they leave as they are ("grouped with
  dedup.embedding_confirm true, but params.yaml gives false now"); now they are read. The same edit with the search
  that reads it on is still refused, in one line;
- groups without a group column, read by the budget: before, a KeyError traceback (the new group-number check read
  the column before any reader required it); now the budget's one line that the column is missing;
- group numbers of another tool (each moved up by 10**15, members and sizes unchanged): before, the report ended in
  "out of memory; free memory or lower the batch or data size" (its leak counts kept one count a group number); now
  the page is that of dedup's own numbering, each group shown under its number.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, budget_stamped, edit_table, files_under, make_project
from review_project import write_project
from test_hostile_flags_72 import _deduplicated, _edited
from test_hostile_threshold_64 import _stage_in_process
from winnow.flag_cuts import GROUPED_AT, grouped_at
from winnow.judged_rows import read_judged

GROUPS = "data/dedup/groups.parquet"
RERUN = "; rerun the dedup stage (dvc repro dedup)"


def _recorded(root, params: dict) -> None:
    """review_project's groups with the record the dedup stage writes under ``params``, and the budget's decisions
    stamped after them, as a budget rerun on those groups would."""
    def change(groups):
        groups.attrs = {**groups.attrs, GROUPED_AT: grouped_at(params)}
        return groups
    edit_table(root / GROUPS, change)
    edit_table(root / "data/budget/decisions.parquet", lambda table: budget_stamped(root, table))


@pytest.mark.hostile("intermediates")
def test_embedding_confirm_edited_without_an_embedding_search_leaves_the_real_groups_read(tmp_path, monkeypatch,
                                                                                          capsys):
    # the default run's groups, written by the real dedup stage (embedding_radius null), then embedding_confirm edited
    # to false. Before: refused, "grouped with dedup.embedding_confirm true, but params.yaml gives false now", though
    # no embedding pair was searched for it to confirm
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())
    monkeypatch.chdir(project)
    data, _, _, _ = read_judged(cleaners=["threshold", "dedup"], params=_edited(params, "dedup.embedding_confirm", False))
    assert len(data.manifest) == len(pd.read_parquet(GROUPS))


def _grouped_then_edited(root, then: dict, now: dict):
    """review_project at ``root``, its groups recording the dedup settings of params.yaml with ``then``'s edits, and
    params.yaml edited by ``now``'s instead (each ``{dedup key: value}``)."""
    project = write_project(root)
    params = yaml.safe_load((project / "params.yaml").read_text())
    made = params
    for key, value in then.items():
        made = _edited(made, f"dedup.{key}", value)
    edited = params
    for key, value in now.items():
        edited = _edited(edited, f"dedup.{key}", value)
    _recorded(project, made)
    make_project(project, edited)
    return project


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("then", "now"), [
    ({}, {"embedding_confirm": False}),  # the default run: no embedding search
    # exact copies alone: the thumbnails confirm nothing
    ({"radius": None, "flip": False, "crop": None}, {"radius": None, "flip": False, "crop": None, "min_correlation": None}),
], ids=["embedding-confirm", "min-correlation-exact-only"])
def test_a_setting_that_moves_no_link_edited_is_no_refusal(tmp_path, monkeypatch, capsys, then, now):
    # before: the budget, the variants stage and the report each exit 1 on groups the edit leaves as they are
    project = _grouped_then_edited(tmp_path / "p", then, now)
    for stage in ("budget", "variants", "report"):
        done = _stage_in_process(project, stage, monkeypatch, capsys)
        assert (done.returncode, [line for line in done.stderr.splitlines() if line.startswith("error:")]) == (0, []), \
            stage


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("then", "now", "problem"), [
    # the embedding's search on: its pairs confirmed or not
    ({"embedding_radius": 0.1}, {"embedding_radius": 0.1, "embedding_confirm": False},
     "grouped with dedup.embedding_confirm true, but params.yaml gives false now"),
    # the pHash searches on (review_project's radius 6): the thumbnails confirm their pairs
    ({}, {"min_correlation": 0.9}, "grouped with dedup.min_correlation 0.98, but params.yaml gives 0.9 now"),
    # the embedding's search turned off together with the edit: refused by the search's own setting
    ({"embedding_radius": 0.1, "embedding_confirm": False}, {},
     "grouped with dedup.embedding_radius 0.1, but params.yaml gives null now"),
], ids=["embedding-confirm-searched", "min-correlation-searched", "search-turned-off"])
def test_a_setting_that_moves_links_edited_is_still_one_line(tmp_path, monkeypatch, capsys, then, now, problem):
    project = _grouped_then_edited(tmp_path / "p", then, now)
    before = files_under(project)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [f"error: {GROUPS}: {problem}{RERUN}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_groups_without_a_group_column_are_the_budgets_one_line(tmp_path, monkeypatch, capsys):
    # before: KeyError: 'group', a traceback from the group-number check of the label cleaners' tables, read before
    # the budget's own read that requires the column
    project = write_project(tmp_path / "p")
    edit_table(project / GROUPS, lambda groups: groups.drop(columns=["group"]))
    before = files_under(project)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [f"error: {GROUPS}: lacks column(s) group{RERUN}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_group_numbers_of_another_tool_give_the_report_of_dedups_numbering(tmp_path, monkeypatch, capsys):
    # every group number moved up by 10**15 (another tool's group ids; sizes and members unchanged). Before: "error:
    # stages/report.py: out of memory (MemoryError); free memory or lower the batch or data size", exit 1, the leak
    # counts counting one group a number; now the page of dedup's own numbering, each group shown under its number
    shift = 10**15
    pages = []
    for name, by in (("dedup", 0), ("another", shift)):
        project = write_project(tmp_path / name)
        edit_table(project / GROUPS, lambda groups: groups.assign(group=groups["group"] + by))
        done = _stage_in_process(project, "report", monkeypatch, capsys)
        assert (done.returncode, [line for line in done.stderr.splitlines() if line.startswith("error:")]) == (0, [])
        pages.append((project / "reports/index.html").read_text())
    shown = re.sub(r"group (\d+): ", lambda found: f"group {int(found[1]) + shift}: ", pages[0])
    assert shown != pages[0] and pages[1] == shown
