"""Hostile inputs around the cleaning budget, stop 70 review:

- budget.enabled false, the budget run, then budget.fractions (or tie_se, score, check, min_judge_images) edited while
  it stays off, and variants run alone: the decisions are every decision, unjudged, whatever those say;
- a decisions file whose recorded budget settings are no section of settings (its metadata edited by another tool);
- metrics/budget.json's judge counts of images left out (which choose the fix the report gives) edited to text or
  below zero (and, updated in place in test_hostile_budget_70: a trusted split of 6 pictures 30 times over said to
  hold 6 images right below the line saying it holds 180, now 6 images to judge by);
- the cleaners' tables as the report reads them (dedup's groups, confident-learn's label issues) with a flag as text,
  a null flag or a null group, which every other reader refuses since stop 70 (read_table's booleans and complete);
- dedup's groups with a null group where variants checks a person's verdicts against dedup's copies (read by
  read_cleaner_tables, which checked kept but not group);
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_nothing_left, files_under, make_project, refused_line
from review_project import exported  # noqa: F401  (a fixture)
from test_hostile_dedup_63 import kept_the_other_copy  # noqa: F401  (a fixture)
from test_hostile_report_66 import DEDUP, LABEL_ISSUES, dotted_project
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


def _groups(**columns) -> pd.DataFrame:
    """dedup's groups of dotted_project's 16 train images: one pair, img-1 removed, ``columns`` replaced."""
    return pd.DataFrame({"id": [f"img-{i}" for i in range(16)], "split": "train", "label": 1,
                         "group": [0, 0, *range(1, 15)], "group_size": [2, 2] + [1] * 14,
                         "kept": [True, False] + [True] * 14, "reason": "", "label_conflict": False} | columns)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("groups", "problem"), [
    # before: "metrics/dedup.json: images_removed is 1, but data/dedup/groups.parquet holds 0: the two are from
    # different runs, or edited", text "False" being true to astype(bool): the metrics named as the file to mend
    (_groups(kept=["True", "False"] + ["True"] * 14), "column 'kept' holds str values, not true or false flags"),
    # before: a traceback, "ValueError: cannot convert float NaN to bool"
    (_groups(label_conflict=pd.array([None] + [False] * 15, dtype="boolean")),
     "column 'label_conflict' holds boolean values with nulls, not true or false flags"),
    # before: a traceback, "ValueError: 'list' argument must have no negative elements" (the null's group code -1)
    (_groups(group=[0.0, None, *map(float, range(1, 15))]), "column 'group' is empty in 1 row(s), first id 'img-1'"),
], ids=["kept-as-text", "null-label-conflict", "null-group"])
def test_the_report_refuses_dedup_groups_every_other_reader_refuses(tmp_path, groups, problem):
    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/dedup.json").write_text(json.dumps(DEDUP | {"conflicts": 0, "conflict_images": 0}))
    (root / "data/dedup").mkdir(parents=True)
    groups.to_parquet(root / "data/dedup/groups.parquet", index=False)
    assert refused_line(root, "report") == (f"error: data/dedup/groups.parquet: {problem}; rerun the dedup stage (dvc "
                                            "repro dedup)")


@pytest.mark.hostile("intermediates")
def test_the_report_refuses_label_issues_whose_flag_is_null(tmp_path):
    # before: a traceback, "ValueError: cannot convert float NaN to bool" (the recount's astype(bool))
    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/confident_learn.json").write_text(json.dumps(LABEL_ISSUES))
    (root / "data/confident-learn").mkdir(parents=True)
    pd.DataFrame({"id": [f"img-{i}" for i in range(16)],
                  "is_issue": pd.array([True, None] + [False] * 14, dtype="boolean"),
                  "decision": ["drop"] * 2 + ["keep"] * 14, "given_label": 0, "suggested_label": 1,
                  "label_quality": 0.5, "reason": ["label_issue"] * 2 + ["consistent"] * 14,
                  }).to_parquet(root / "data/confident-learn/label_issues.parquet", index=False)
    assert refused_line(root, "report") == (
        "error: data/confident-learn/label_issues.parquet: column 'is_issue' holds boolean values with nulls, not true "
        "or false flags; rerun the confident-learn stage (dvc repro confident-learn)")


@pytest.mark.hostile("review")
def test_a_null_group_hides_no_lost_picture_from_the_verdicts_check(kept_the_other_copy):
    # test_hostile_dedup_63's refused case (a verdict dropping the copy dedup keeps now, its other copy dropped as its
    # duplicate) with the group of that other copy emptied. Before: exit 0 and pruned held neither copy: the null
    # group was no group of train-02's, so the picture seemed kept
    groups = pd.read_parquet(kept_the_other_copy / "data/dedup/groups.parquet")
    groups["group"] = groups["group"].astype("float64")
    groups.loc[groups["id"] == "train-03", "group"] = None
    groups.to_parquet(kept_the_other_copy / "data/dedup/groups.parquet", index=False)
    assert refused_line(kept_the_other_copy, "variants") == (
        "error: data/dedup/groups.parquet: column 'group' is empty in 1 row(s), first id 'train-03'; rerun the dedup "
        "stage (dvc repro dedup)")
