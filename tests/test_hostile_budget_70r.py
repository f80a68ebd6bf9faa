"""Hostile inputs around the cleaning budget, stop 70 review:

- budget.enabled false, the budget run, then budget.fractions (or tie_se, score, check, min_judge_images) edited while
  it stays off, and variants run alone: the decisions are every decision, unjudged, whatever those say;
- a decisions file whose recorded budget settings are no section of settings (its metadata edited by another tool);
- metrics/budget.json's judge counts of images left out (which choose the fix the report gives) edited to text or
  below zero (and, updated in place in test_hostile_budget_70: a trusted split of 6 pictures 30 times over said to
  hold 6 images right below the line saying it holds 180, now 6 images to judge by);
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_nothing_left, files_under, make_project
from test_hostile_report_more import report_stage
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError


def _budget_then_edit(tmp_path, monkeypatch, capsys, *, before: dict, after: dict):
    """A budget project run with the budget section ``before`` merged in, then that section edited to ``after``."""
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False)
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings["budget"].update(before)
    make_project(project, settings)
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    settings["budget"].update(after)
    make_project(project, settings)
    return project


@pytest.mark.hostile("budget")
@pytest.mark.parametrize("after", [{"fractions": [0.05]}, {"tie_se": 2.0}, {"score": "accuracy"}, {"check": True},
                                   {"min_judge_images": 5}])
def test_settings_a_budget_turned_off_never_reads_are_no_other_settings_to_variants(tmp_path, monkeypatch, capsys,
                                                                                    after):
    # before: with budget.enabled false (every decision, unjudged, whatever the other settings say), an edit of
    # fractions, tie_se, score, check or min_judge_images refused the decisions: "chosen by budget.fractions [0.02,
    # 0.1, 0.3], but params.yaml gives [0.05] now; rerun the budget stage", which wrote the same decisions again
    project = _budget_then_edit(tmp_path, monkeypatch, capsys, before={"enabled": False}, after=after)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.hostile("budget")
def test_turning_a_budget_that_was_off_back_on_is_still_refused_by_variants(tmp_path, monkeypatch, capsys):
    # the other way round stays a refusal: the file holds every decision, unjudged, and the budget would now judge them
    project = _budget_then_edit(tmp_path, monkeypatch, capsys, before={"enabled": False},
                                after={"enabled": True, "fractions": [0.05]})
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/budget/decisions.parquet: chosen by budget.enabled false, but params.yaml gives true now; rerun "
        "the budget stage (dvc repro budget)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("recorded", "shown"), [("log_loss", '"log_loss"'), (["enabled", True], '["enabled", true]'),
                                               (3, "3")])
def test_decisions_recording_budget_settings_that_are_no_section_are_refused_in_one_line(tmp_path, monkeypatch,
                                                                                        capsys, recorded, shown):
    # the file's metadata rewritten by another tool: before, "AttributeError: 'str' object has no attribute 'get'",
    # a traceback from variants
    project = _budget_then_edit(tmp_path, monkeypatch, capsys, before={}, after={})
    path = project / "data/budget/decisions.parquet"
    decisions = pd.read_parquet(path)
    decisions.attrs["budget"] = recorded
    decisions.to_parquet(path)
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: data/budget/decisions.parquet: records budget settings {shown}, not a section of settings; rerun "
        "the budget stage (dvc repro budget)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("key", "value", "shown"), [("repeats_left_out", "0", '"0"'),
                                                     ("conflicts_left_out", -3, "-3"),
                                                     ("untrained_left_out", True, "true")])
def test_a_judge_count_left_out_that_is_no_count_is_refused_by_the_report(key, value, shown):
    # before: read as truthy, the page told a split that left nothing out to give pictures "to judge by (each picture
    # once, labelled one way, of a class train has)"
    judge = {"split": "val", "images": 4, "repeats_left_out": 0, "conflicts_left_out": 0, "untrained_left_out": 0,
             "classes_without_images": [], "min_images": 50, "too_few_images": True, key: value}
    summary = {"enabled": True, "judge": judge, "score": "log_loss", "l2": None, "l2_chosen_on": None, "tie_se": 1.0,
               "winner": "filters", "model_check": None, "candidates": {}}
    with pytest.raises(WinnowError) as raised:
        report_stage().budget_numbers(summary)
    assert str(raised.value) == (f"metrics/budget.json: judge.{key} is {shown}, not a count; rerun the budget stage "
                                 "(dvc repro budget)")
