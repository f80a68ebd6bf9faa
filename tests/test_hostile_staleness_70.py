"""Hostile staleness, probe 70: an intermediate file of an earlier run read as current by a stage run alone
(``dvc repro -s <stage>``, or by hand).

- the score stage's table without its ``digest`` column (an earlier winnow's, or made by hand), read by threshold and
  dedup (:func:`winnow.quality.read_scores`): refused in one line naming the score stage, as every reader of the
  cleaners' tables and the contracts stage refuse such a table, not read unchecked;
- the score stage's table scored with other options of params.yaml's ``score`` section than it gives now (an edit
  followed by threshold alone), or recording none: refused by threshold, which reads the scores by those options
  (dark's floor, light's ceiling), not read as of the new ones (:func:`winnow.quality.read_scores` ``settings``);
- threshold's flags cut by other ``threshold.issues`` than params.yaml lists now (every issue left out: all false),
  read by the variants' contracts run alone: refused in one line naming the issue and the threshold stage
  (:func:`winnow.judged_rows.check_cut_by`), not measured as a flagged-image rate of 0.0;
- augment-search's policy chosen against another balance.policy than params.yaml gives now (the incumbent it
  scored, kept or beaten), read by balance run alone: refused in one line naming the option and the augment-search
  stage (:func:`winnow.augment_search.read_policy`), not applied as if chosen against the new one;
- the pruned variant's rows made of the decisions of other pruned.cleaners than params.yaml lists now, read by the
  report run alone: refused in one line naming both lists and the variants stage
  (:func:`winnow.variants.check_made_among`), not described as made of the cleaners listed now;
- the budget's decisions chosen by a model check that trained as the train section or seed said before an edit, read
  by variants run alone: refused in one line naming the option and the budget stage, as decisions of other budget
  settings are (:func:`winnow.decision_files.read_decisions`).

Each case builds the state the stages before the one probed write, makes one file stale as an earlier run or winnow
would leave it, runs the real stage in this process and asserts its one line and that nothing was left behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from budget_project import CLASSES, case, planted_fixes_then_mistakes, write_state
from hostile_harness import (
    assert_nothing_left, default_params, edit_table, files_under, log_nothing_planted, make_project, record_represent,
    tiny_degraded, undamaged_params, write_judged, write_scores,
)
from test_contracts import _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from review_project import write_project
from test_augment import _project
from test_hostile_threshold_64 import _stage_in_process
from winnow.imageset import write_imageset

SCORES = "data/score/scores.parquet"
DECISIONS = "data/budget/decisions.parquet"
FLAGS = "data/threshold/flags.parquet"


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["threshold", "dedup"])
def test_a_scores_table_without_digests_is_refused_naming_the_score_stage(tmp_path, monkeypatch, capsys, stage):
    # before: read_scores skipped the pixel check where the column was missing ("a table made by hand may leave it
    # out"), so scores of an earlier winnow (no digests) were read as current, exit 0, while contracts and the report
    # refused the same table
    params = undamaged_params()
    project = make_project(tmp_path / "p", params)
    tiny_degraded(project, score=params["score"])
    edit_table(project / SCORES, lambda table: table.drop(columns=["digest"]))
    before = files_under(project)
    done = _stage_in_process(project, stage, monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {SCORES}: has no digest column (the pixel digest of each image it judged): made by an earlier winnow "
        "or by hand; rerun the score stage (dvc repro score)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("key", "value", "then", "now"), [
    ("dark_percentile", 90, "99", "90"), ("light_percentile", 95.0, "75", "95"), ("iqr_factor", 1.5, "3", "1.5")])
def test_scores_of_other_score_options_are_refused_by_threshold_run_alone(tmp_path, monkeypatch, capsys, key, value,
                                                                          then, now):
    # the score stage run, then params.yaml's score section edited and threshold run alone (dvc repro -s threshold).
    # Before: exit 0, the scores of the old options read as of the new: at dark_percentile 90, dark's floor was turned
    # off for scores of the 99th percentile (an all-black image no longer flagged by it), and the other way about the
    # floor flagged images whose 90th percentile is black (thin clean digits)
    params = undamaged_params()
    project = make_project(tmp_path / "p", params)
    tiny_degraded(project, score=params["score"])
    params["score"][key] = value
    make_project(project, params)
    before = files_under(project)
    done = _stage_in_process(project, "threshold", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {SCORES}: scored at other settings than params.yaml's score section ({key} {then} then, {now} now): "
        "made before that section changed; rerun the score stage (dvc repro score)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_scores_recording_no_score_options_are_refused_by_threshold(tmp_path, monkeypatch, capsys):
    # a table of an earlier winnow, whose score options nobody can tell: before, read as scored with today's
    params = undamaged_params()
    project = make_project(tmp_path / "p", params)
    tiny_degraded(project, score=params["score"])
    table = pd.read_parquet(project / SCORES)
    table.attrs = {}
    table.to_parquet(project / SCORES, index=False)
    before = files_under(project)
    done = _stage_in_process(project, "threshold", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {SCORES}: records no score settings it was scored at (score.dark_percentile and the rest): made by "
        "an earlier winnow or by hand; rerun the score stage (dvc repro score)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_score_batch_size_edit_leaves_the_scores_current_for_threshold(tmp_path, monkeypatch, capsys):
    # score.batch_size moves no score (each image's scores are its own pixels'): no refusal, as the scores are the same
    params = undamaged_params()
    project = make_project(tmp_path / "p", params)
    tiny_degraded(project, score=params["score"])
    params["score"]["batch_size"] = 7
    make_project(project, params)
    done = _stage_in_process(project, "threshold", monkeypatch, capsys)
    assert done.returncode == 0, done.stderr


@pytest.mark.hostile("intermediates")
def test_flags_of_a_run_that_listed_no_issue_are_refused_by_the_contracts_once_issues_are_listed(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811 - project: the contracts stage's fixture
    # threshold run with threshold.issues {} (every issue left out: nothing examined, every flag false), then the
    # issues listed again and the contracts run alone (dvc repro -s contracts; balance and gan-synthesize read them
    # alike). Before: exit 0, each variant's flagged-image rate measured 0.0 on those all-false flags and passed
    # contracts.bounds.max_flagged_rate, where the contract counts a rate nobody measured as a failure
    root = Path(shutil.copytree(project, tmp_path / "project"))
    params = default_params()
    params["threshold"]["issues"] = {}
    make_project(root, params)
    write_scores(root, pd.read_parquet(root / SCORES))  # as the score stage writes them, options and all
    assert _stage_in_process(root, "threshold", monkeypatch, capsys).returncode == 0
    before = files_under(root)
    with pytest.raises(SystemExit) as stopped:
        _run_stage(root, monkeypatch, variants=("baseline", "pruned"))  # params.yaml: the project's issues
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        # the first issue by name that differs: blurry
        f"error: {FLAGS}: cut with threshold.issues.blurry left out, but params.yaml gives {{\"method\": \"auto\"}} "
        "now; rerun the threshold stage (dvc repro threshold)"]
    assert_nothing_left(root, before, allowed={"params.yaml"})  # the one _run_stage writes
    # threshold rerun with the issues listed: the flags are of them, and the contracts run
    make_project(root, default_params())
    assert _stage_in_process(root, "threshold", monkeypatch, capsys).returncode == 0
    _run_stage(root, monkeypatch, variants=("baseline", "pruned"))
    assert "error" not in capsys.readouterr().err


@pytest.mark.hostile("intermediates")
def test_a_searched_policy_chosen_against_another_balance_policy_is_refused_by_balance_run_alone(
        tmp_path, monkeypatch, capsys):
    # augment-search kept balance.policy (magnitude 0.3: no candidate scored higher), then balance.policy.magnitude set
    # to 0.6 and balance run alone (dvc repro -s balance). Before: exit 0, the copies made by the searched policy,
    # the old balance.policy itself, so the edit was silently not applied (and a policy chosen against an incumbent it
    # never scored would have been applied alike)
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["trivial"], "magnitudes": [0.3],
                                                    "op_sets": [["rotate"]]})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer", lambda *a, **k: lambda p: 0.5)  # all tie: kept
    assert _stage_in_process(tmp_path, "augment_search", monkeypatch, capsys).returncode == 0
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())  # the project's balance.policy: magnitude 0.3
    params["balance"]["policy"]["magnitude"] = 0.6
    make_project(tmp_path, params)
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/augment-search/policy.json: chosen against balance.policy.magnitude 0.3 (the incumbent it "
        "scored), but params.yaml gives 0.6 now; rerun the augment-search stage (dvc repro augment-search)"])
    assert_nothing_left(tmp_path, before)
    # balance.policy's ops in another order are the same policy (winnow.augment_search.same_policy): no refusal
    params["balance"]["policy"] |= {"magnitude": 0.3, "ops": params["balance"]["policy"]["ops"][::-1]}
    make_project(tmp_path, params)
    assert _stage_in_process(tmp_path, "balance", monkeypatch, capsys).returncode == 0


@pytest.mark.hostile("intermediates")
def test_a_pruned_variant_of_other_cleaners_is_refused_by_the_report_run_alone(tmp_path, monkeypatch, capsys):
    # variants run with every label cleaner of review_project's in pruned.cleaners, then embedding_clean taken out of
    # it and the report run alone (dvc repro -s report). Before: the page spoke of the cleaners params.yaml lists now
    # over a pruned made of the old ones (embedding-clean's relabel of train-06 applied, dedup's or data-valuation's
    # drops said to be applied "on another cleaner's decision" where pruned applied them on their own)
    project = write_project(tmp_path / "p")
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"].remove("embedding_clean")
    make_project(project, params)
    before = files_under(project)
    done = _stage_in_process(project, "report", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/variants/pruned/rows.parquet: made of the decisions of pruned.cleaners confident_learn, dedup, "
        "embedding_clean, threshold, but params.yaml lists confident_learn, dedup, threshold now; rerun the variants "
        "stage (dvc repro variants)"])
    assert_nothing_left(project, before)
    # the cleaners it was made of listed again: the report is written
    params["pruned"]["cleaners"].append("embedding_clean")
    make_project(project, params)
    assert _stage_in_process(project, "report", monkeypatch, capsys).returncode == 0


def _checked_project(root):
    """The budget project of budget_project.case (clean val, no trusted split) with 8x8 images, so the model check
    can train (lenet5, one epoch), and budget.check on: the check runs on its winner, top10%."""
    c = case()
    project = write_state(root, c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"budget": {"check": True},
                                  "train": {"model": "lenet5", "epochs": 1, "batch_size": 256}})
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet").drop(columns=["digest"])
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    for name in ("ingest", "degrade"):
        write_imageset(project / "data" / name, images, manifest, CLASSES)
    log_nothing_planted(project)  # degrade's log, as degrade off writes it
    # the tables of the stages before, of these pixels
    for path in ("data/threshold/flags.parquet", "data/dedup/groups.parquet",
                 "data/confident-learn/label_issues.parquet"):
        write_judged(project, path, pd.read_parquet(project / path))
    record_represent(project)
    return project


@pytest.mark.hostile("intermediates")
def test_decisions_a_model_check_chose_under_other_train_settings_are_refused_by_variants(
        tmp_path, monkeypatch, capsys):
    # the budget run with its model check (lenet5, 1 epoch), then train.epochs raised and variants run alone (dvc
    # repro -s variants). Before: exit 0, pruned applied the label decisions a 1-epoch model had let ship, though the
    # model train@pruned trains now was never asked
    project = _checked_project(tmp_path / "p")
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert (done.returncode, done.stdout.splitlines()[0]) == (0, (
        "budget: checking top10% against none by two trainings of lenet5 (1 epochs at most, augmentation none)"))
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings["train"]["epochs"] = 5
    make_project(project, settings)
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {DECISIONS}: chosen by a model check that trained with train.epochs 1, but params.yaml gives 5 now; "
        "rerun the budget stage (dvc repro budget)"])
    assert_nothing_left(project, before)
    # and the seed, which the check's trainings drew by
    settings["train"]["epochs"], settings["seed"] = 1, 7
    make_project(project, settings)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {DECISIONS}: chosen by a model check that trained with seed 0, but params.yaml gives 7 now; rerun the "
        "budget stage (dvc repro budget)"])
    assert_nothing_left(project, before)
    # params.yaml as the budget ran: the same settings, read back from the file's metadata (floats, nulls and all)
    settings["seed"] = 0
    make_project(project, settings)
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0
