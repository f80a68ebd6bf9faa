"""Hostile inputs around the cleaning budget, third pass: a label cleaner's decisions written under other
pruned.cleaners, read by the budget rerun alone after pruned.cleaners was edited."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_error_line, assert_nothing_left, files_under, make_project, run_stage
from winnow.stage import write_table


@pytest.mark.hostile("intermediates")
def test_a_label_cleaners_table_judged_under_other_cleaners_is_refused_by_a_budget_rerun_alone(tmp_path):
    c = case()
    issues = planted_fixes_then_mistakes(c)
    project = write_state(tmp_path / "p", c, issues=issues, trusted=False)
    # threshold flagged 5 left-class images, which confident-learn left out: threshold is among pruned.cleaners
    flags = pd.read_parquet(project / "data/threshold/flags.parquet")
    flagged = [i for i in flags["id"][:400] if i not in set(issues["id"])][:5]
    flags.loc[flags["id"].isin(flagged), ["dark", "any"]] = True
    write_table(project / "data/threshold/flags.parquet", flags)
    done = run_stage(project, "budget")
    assert done.returncode == 0, done.stderr
    # pruned.cleaners edited to leave threshold out, and the budget rerun alone (dvc repro -s budget): before, exit 0,
    # and pruned kept the 5 flagged images, which no cleaner had judged
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings["pruned"]["cleaners"] = ["dedup", "confident_learn"]
    make_project(project, settings)
    shutil.rmtree(project / "data/budget")
    before = files_under(project)
    line = assert_error_line(run_stage(project, "budget"))
    assert line == (f"error: data/confident-learn/label_issues.parquet: lacks 5 train image(s) that pruned.cleaners "
                    f"leaves to it (first {flagged[0]!r}, which threshold flagged or dedup removed): it was written "
                    "under other pruned.cleaners; rerun the confident-learn stage (dvc repro confident-learn)")
    assert_nothing_left(project, before)
