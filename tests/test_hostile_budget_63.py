"""Hostile inputs around the cleaning budget, third pass: a label cleaner's decisions written under other
pruned.cleaners, read by the budget rerun alone (or by `winnow review export`) after pruned.cleaners was edited; a
trusted set that copies every train image of a class, whose train copies pruned drops as leaks."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from budget_project import as_confident_learn_judges, case, planted_fixes_then_mistakes, train_ids, write_state
from hostile_harness import (
    assert_error_line, assert_nothing_left, files_under, make_project, run_stage, run_winnow, with_group_sizes,
    write_judged,
)
from review_project import write_project


@pytest.mark.hostile("intermediates")
def test_a_label_cleaners_table_judged_under_other_cleaners_is_refused_by_a_budget_rerun_alone(tmp_path):
    c = case()
    issues = planted_fixes_then_mistakes(c)
    project = write_state(tmp_path / "p", c, issues=issues, trusted=False)
    # threshold flagged 5 left-class images, which confident-learn left out: threshold is among pruned.cleaners
    flags = pd.read_parquet(project / "data/threshold/flags.parquet")
    flagged = [i for i in flags["id"][:400] if i not in set(issues["id"])][:5]
    flags.loc[flags["id"].isin(flagged), ["dark", "any"]] = True
    write_judged(project, "data/threshold/flags.parquet", flags)
    as_confident_learn_judges(project)
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


def _copies_of_trusted(project, n: int) -> None:
    """dedup's groups with the first ``n`` train images of class 'left' copies of trusted 'left' images (leaks),
    and confident-learn's decisions without them, as it writes them."""
    groups = pd.read_parquet(project / "data/dedup/groups.parquet")
    copies = groups.index[(groups["split"] == "train") & (groups["label"] == 0)][:n]
    trusted = groups.index[(groups["split"] == "trusted") & (groups["label"] == 0)]
    groups.loc[copies, "group"] = groups.loc[trusted, "group"].to_numpy()[[i % len(trusted) for i in range(n)]]
    groups.loc[copies, ["kept", "reason"]] = [False, "leak"]
    write_judged(project, "data/dedup/groups.parquet", with_group_sizes(groups))
    as_confident_learn_judges(project)


@pytest.mark.hostile("intermediates")
def test_a_trusted_set_copying_every_train_image_of_a_class_is_refused_by_the_budget(tmp_path):
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=True)
    _copies_of_trusted(project, 400)  # all 400 'left' train images (of 1,200)
    before = files_under(project)
    # before: exit 0, pruned (none plus the leak drops) without a 'left' image, and the variants stage said "check
    # those decisions or leave the stage out of pruned.cleaners", which changes nothing: leaks drop whatever it says
    line = assert_error_line(run_stage(project, "budget"))
    assert line == ("error: budget: every train image of class 'left' copies a val, test or trusted image (first "
                    "'train-0000', a copy of trusted image 'trusted-0000'), and pruned drops such copies (dedup's "
                    "leaks), leaving the class no train image; take them out of ingest.trusted_path, whose images "
                    "must be held out from the data set")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_trusted_set_copying_all_but_one_train_image_of_a_class_is_no_refusal_and_its_copies_drop(tmp_path):
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=True)
    _copies_of_trusted(project, 399)
    for stage in ("budget", "variants"):
        done = run_stage(project, stage)
        assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(project / "data/variants/pruned/rows.parquet").set_index("id")
    copies = [f"train-{i:04d}" for i in range(399)]
    assert rows.loc[copies, "action"].eq("drop").all() and rows.loc[copies, "reason"].eq("leak").all()


@pytest.mark.hostile("intermediates")
def test_a_label_cleaners_table_judging_images_the_cleaners_now_filter_is_refused_by_a_budget_rerun_alone(tmp_path):
    c = case()
    issues = planted_fixes_then_mistakes(c)
    project = write_state(tmp_path / "p", c, issues=issues, trusted=False)
    # confident-learn judged under pruned.cleaners [dedup, confident_learn], threshold left out: its table holds 5
    # images threshold flags, which pruned.cleaners [threshold, dedup, confident_learn] (the project's now) leave
    # out of its judging (as confident-learn's read_judged does)
    flags = pd.read_parquet(project / "data/threshold/flags.parquet")
    flagged = sorted(issues["id"])[:5]
    flags.loc[flags["id"].isin(flagged), ["dark", "any"]] = True
    write_judged(project, "data/threshold/flags.parquet", flags)
    before = files_under(project)
    # before: exit 0, its decisions of those 5 images ranked (and cut) beside the current ones
    line = assert_error_line(run_stage(project, "budget"))
    assert line == (f"error: data/confident-learn/label_issues.parquet: holds 5 train image(s) that pruned.cleaners "
                    f"leaves out of its judging (first {flagged[0]!r}, which threshold flagged or dedup removed): it "
                    "was written under other pruned.cleaners; rerun the confident-learn stage (dvc repro "
                    "confident-learn)")
    assert_nothing_left(project, before)


def _leaks_and_one_flagged(root, c):
    """A budget project of case ``c`` under pruned.cleaners [threshold, confident_learn] where dedup's leaks (copies
    of trusted images, dropped whatever pruned.cleaners says) take 399 of class 'left''s 400 train images and
    threshold flags the last, confident-learn's table judging what the filters leave."""
    project = write_state(root, c, issues=planted_fixes_then_mistakes(c),
                          params={"pruned": {"cleaners": ["threshold", "confident_learn"]}})
    _copies_of_trusted(project, 399)
    flags = pd.read_parquet(project / "data/threshold/flags.parquet")
    flags.loc[flags["id"] == "train-0399", ["dark", "any"]] = True
    write_judged(project, "data/threshold/flags.parquet", flags)
    as_confident_learn_judges(project)
    return project


@pytest.mark.hostile("intermediates")
def test_filters_that_with_the_leaks_empty_a_class_do_not_ship_unjudged(tmp_path):
    c = case()
    few = np.concatenate([np.flatnonzero(c.trusted_y == k)[:33] for k in range(3)])  # 99: too few to judge
    project = _leaks_and_one_flagged(tmp_path / "p", dataclasses.replace(c, trusted_x=c.trusted_x[few],
                                                                          trusted_y=c.trusted_y[few]))
    # before: the filters were called eligible without the leaks and shipped, and the variants stage refused pruned
    # ("the decisions leave class 'left' no train image (all 400 dropped or relabelled: dedup 399, threshold 1)")
    done = run_stage(project, "budget")
    assert done.returncode == 0, done.stderr
    assert ("warning: budget: filters is not eligible: variant pruned: the decisions leave class 'left' no train "
            "image (all 400 dropped or relabelled: dedup 399, threshold 1); check those decisions or leave the stage "
            "out of pruned.cleaners") in done.stdout.splitlines()
    assert json.loads((project / "metrics/budget.json").read_text())["winner"] == "none"
    done = run_stage(project, "variants")
    assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(project / "data/variants/pruned/rows.parquet").set_index("id")
    assert rows.loc["train-0399", "action"] == "keep"
    assert rows.loc[[f"train-{i:04d}" for i in range(399)], "reason"].eq("leak").all()


@pytest.mark.hostile("intermediates")
def test_a_label_cleaners_table_written_when_a_filter_took_a_whole_class_is_refused_by_a_budget_rerun_alone(tmp_path):
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False)
    # threshold flagged all 400 'left' train images, so confident-learn (threshold among pruned.cleaners) judged no
    # 'left' image and wrote no 'left' row: its metrics name no class it left unjudged as too small
    flags = pd.read_parquet(project / "data/threshold/flags.parquet")
    flags.loc[flags["id"].isin(train_ids(1200)[c.given == 0]), ["dark", "any"]] = True
    write_judged(project, "data/threshold/flags.parquet", flags)
    as_confident_learn_judges(project)
    (project / "metrics").mkdir(exist_ok=True)
    (project / "metrics/confident_learn.json").write_text(json.dumps(
        {"considered": 800, "left_out": 400, "unjudged": {"classes": {}, "images": 0}}))
    # pruned.cleaners edited to leave threshold out (as the budget's "not eligible" warning advises), the budget
    # rerun alone: before, exit 0, and pruned kept the 400 'left' images, which no label cleaner had judged
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings["pruned"]["cleaners"] = ["dedup", "confident_learn"]
    make_project(project, settings)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "budget"))
    assert line == ("error: data/confident-learn/label_issues.parquet: lacks 400 train image(s) that pruned.cleaners "
                    "leaves to it (first 'train-0000', which threshold flagged or dedup removed): it was written "
                    "under other pruned.cleaners; rerun the confident-learn stage (dvc repro confident-learn)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_class_a_label_cleaner_left_unjudged_as_too_small_is_no_refusal(tmp_path):
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"pruned": {"cleaners": ["confident_learn"]}})
    # threshold (not among pruned.cleaners) flagged 3 'left' images; confident-learn left class 'left' unjudged as
    # too small for its folds (as its metrics say), so its table has no 'left' row and pruned keeps them unjudged
    flags = pd.read_parquet(project / "data/threshold/flags.parquet")
    flags.loc[flags["id"].isin(train_ids(3)), ["dark", "any"]] = True
    write_judged(project, "data/threshold/flags.parquet", flags)
    issues = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    write_judged(project, "data/confident-learn/label_issues.parquet", issues[issues["given_label"] != 0])
    (project / "metrics").mkdir(exist_ok=True)
    (project / "metrics/confident_learn.json").write_text(json.dumps(
        {"considered": 800, "left_out": 0, "unjudged": {"classes": {"left": 400}, "images": 400}}))
    done = run_stage(project, "budget")
    assert done.returncode == 0, done.stderr


@pytest.mark.hostile("review")
def test_a_label_cleaners_table_judged_under_other_cleaners_is_refused_by_review_export(tmp_path):
    project = write_project(tmp_path / "p")  # threshold flags train-00 (cat), which the label cleaners left out
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings["pruned"]["cleaners"] = ["dedup", "confident_learn", "embedding_clean"]
    make_project(project, settings)
    before = files_under(project)
    # before: a queue exported from the stale tables, no label cleaner's suggestion for train-00
    line = assert_error_line(run_winnow(project, "review", "export"))
    assert line == ("error: data/confident-learn/label_issues.parquet: lacks 1 train image(s) that pruned.cleaners "
                    "leaves to it (first 'train-00', which threshold flagged or dedup removed): it was written under "
                    "other pruned.cleaners; rerun the confident-learn stage (dvc repro confident-learn)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_candidates_that_with_the_leaks_empty_a_class_are_not_judged(tmp_path):
    project = _leaks_and_one_flagged(tmp_path / "p", case())
    # before: each candidate beyond none was judged as eligible (its decisions alone left 'left' 400 images), though
    # with the leaks pruned drops beside it the variants stage would refuse it
    done = run_stage(project, "budget")
    assert done.returncode == 0, done.stderr
    candidates = json.loads((project / "metrics/budget.json").read_text())["candidates"]
    assert list(candidates) == ["none", "filters", "top2%", "all"]
    assert candidates["none"]["correct"] is not None
    for name in ("filters", "top2%", "all"):
        assert candidates[name]["correct"] is None
        assert candidates[name]["note"] == (
            "not eligible: variant pruned: the decisions leave class 'left' no train image (all 400 dropped or "
            "relabelled: dedup 399, threshold 1); check those decisions or leave the stage out of pruned.cleaners")
