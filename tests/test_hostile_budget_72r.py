"""Review of stop 72's budget records (01de00e5): cases next to the ones it handled.

- the previous winnow's decisions file of a budget that was off (budget.enabled false: every decision, unjudged, no
  represent file read), lacking the represent files record (and the train split's) that winnow did not write yet: read,
  as the judge splits' absence already was there (before, refused: "records no represent files it judged by (an
  earlier winnow's file)", though the budget had read none); one of a budget that was on stays refused
  (test_hostile_budget_72).
"""

from __future__ import annotations

import pytest

from test_hostile_budget_72 import _budgeted, _unrecord
from test_hostile_threshold_64 import _stage_in_process


@pytest.mark.hostile("budget")
@pytest.mark.parametrize("lacking", [["represent_files"], ["represent_files", "train_split"]],
                         ids=["represent_files", "represent_files_and_train_split"])
def test_the_previous_winnows_decisions_of_a_budget_that_was_off_are_read(tmp_path, monkeypatch, capsys, lacking):
    # budget.enabled false read no embedding and no judge (its decisions record none: {}), so a file without that
    # record lacks nothing they depend on. Before: refused, "records no represent files it judged by (an earlier
    # winnow's file); rerun the budget stage", a rerun that writes the same decisions
    project = _budgeted(tmp_path, monkeypatch, capsys, enabled=False)
    for key in lacking:
        _unrecord(project, key)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    assert (project / "data/variants/pruned/rows.parquet").is_file()
