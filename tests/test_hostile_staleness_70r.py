"""Hostile staleness, review of probe 70's mends: refusals of an earlier run's file that also refused current ones, a
refusal naming a knob that made nothing, and a reader the mends name left untested.

- the budget's decisions, whose model check recorded every option of the train section: an edit of train.threads,
  device, stream or eval_batch_size (where and how fast a model trains or predicts: no winnow.configs.STEP_SETTINGS)
  had them refused by variants run alone, though evaluate scores a model trained so as current; now read, while an
  edit of a step setting (train.epochs) is still refused (:func:`winnow.configs.model_check_training`);
- the variants stage declared seed, train and balance.policy as its params, so any train edit (train.threads among
  them) reran it for a check whose file, data/budget, already follows them (the budget declares them): now read as a
  check only, as evaluate reads them;
- augment-search's policy, kept over its candidates, read by balance after balance.policy's ops were listed in another
  order (the same policy: read_policy accepts it): balance took it for the search's pick, and a refusal of its copies
  said to raise augment_search.magnitudes, which made none of them; now balance.policy's knob is named, as when the
  ops are listed as the search read them (stages/balance.py, winnow.augment_search.same_policy);
- the score stage's table without its digest column read by ``winnow review export`` (the third reader the mend of
  read_scores names, untested there): refused in the one line threshold and dedup give;
- threshold's flags cut with an issue's method left out (auto), read by the variants' contracts under params.yaml
  giving it as ``{method: auto}``: the same cut, no longer refused as flags of other issues
  (:func:`winnow.judged_rows.check_cut_by`);
- threshold's flags cut by the issues listed then, read by the variants' contracts once params.yaml lists none: the
  contract reads no flags then (the flagged rate counts as not measured), yet they were refused as flags of other
  issues; now the contract runs as it would on threshold's rerun (:class:`winnow.variant_contract.VariantContract`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_harness import (
    assert_nothing_left, default_params, edit_table, files_under, make_project, run_winnow, write_scores,
)
from review_project import write_project
from test_augment import _project
from test_contracts import _params, _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from test_hostile_staleness_70 import DECISIONS, SCORES, _checked_project
from test_hostile_threshold_64 import _stage_in_process

ROOT = Path(__file__).resolve().parents[1]


def _declared(stage: str) -> list[str]:
    entries = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage].get("params") or []
    return [next(iter(entry)) if isinstance(entry, dict) else entry for entry in entries]


@pytest.mark.hostile("intermediates")
def test_decisions_of_a_model_check_are_read_by_variants_after_an_edit_of_where_it_trains(
        tmp_path, monkeypatch, capsys):
    # the budget run with its model check (lenet5, 1 epoch), then train.threads, device, stream and eval_batch_size
    # edited and variants run alone. Before: "error: data/budget/decisions.parquet: chosen by a model check that
    # trained with train.device "auto", but params.yaml gives "cpu" now; rerun the budget stage", exit 1, for options
    # that change no step (evaluate accepts a model trained under other ones)
    project = _checked_project(tmp_path / "p")
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings["train"] |= {"threads": 1, "device": "cpu", "stream": "always", "eval_batch_size": 7}
    make_project(project, settings)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    assert (project / "data/variants/pruned/rows.parquet").is_file()
    # a step setting edited beside them is still refused, and named
    settings["train"]["epochs"] = 2
    make_project(project, settings)
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {DECISIONS}: chosen by a model check that trained with train.epochs 1, but params.yaml gives 2 now; "
        "rerun the budget stage (dvc repro budget)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_variants_declares_no_train_option_its_decisions_dep_already_follows():
    # before: variants declared seed, train and balance.policy, so `dvc repro` reran it on a train.threads or
    # train.device edit, which changes no decision; the check it reads them for needs no declaration, as the budget,
    # whose decisions are its dep, declares each
    declared = _declared("variants")
    assert [key for key in declared if key in ("seed", "train", "balance", "balance.policy")
            or key.startswith("train.")] == []
    assert {"seed", "train", "balance.policy"} <= set(_declared("budget"))


@pytest.mark.hostile("intermediates")
def test_copies_of_a_kept_balance_policy_listed_in_another_order_name_balance_policy(tmp_path, monkeypatch, capsys):
    # the search kept balance.policy ([translate, noise] at magnitude 1e-4, too weak: its copies equal their sources),
    # then its ops listed as [noise, translate] and balance run alone. Before: "error: augment_search: 16 of 16 copies
    # made with translate equal their source pixel for pixel (...); raise augment_search.magnitudes", though the search
    # had kept balance.policy, whose magnitude made them
    weak = {"ops": ["translate", "noise"], "n": 1, "magnitude": 0.0001, "kind": "rand", "fill": "border"}
    _project(tmp_path, monkeypatch, balance={"policy": {**weak, "ops": ["noise", "translate"]}},
             augment_search={"enabled": True, "with_fixed": True})
    from winnow.augment_search import SEARCHED, pruned_record, search_settings, search_training
    from winnow.stage import write_json

    write_json(SEARCHED, {"policy": weak, "val_accuracy": 0.5, "no_augmentation_val_accuracy": 0.5, "fixed": weak,
                          "searched_with": search_settings(yaml.safe_load((tmp_path / "params.yaml").read_text())),
                          "trained_with": search_training(yaml.safe_load((tmp_path / "params.yaml").read_text())),
                          "chosen_on": pruned_record()})
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: balance.policy: 16 of 16 copies made with translate equal their source pixel for pixel (magnitude "
        "0.0001: too close to no change); raise balance.policy.magnitude"])
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("intermediates")
def test_a_scores_table_without_digests_is_refused_by_review_export(tmp_path):
    # before (read_scores skipped the pixel check without the column): the queue was exported, exit 0, its threshold
    # rows showing scores of pixels nobody could tell were the images' now
    project = write_project(tmp_path / "p")
    edit_table(project / "data/score/scores.parquet", lambda table: table.drop(columns=["digest"]))
    before = files_under(project)
    done = run_winnow(project, "review", "export")
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/score/scores.parquet: has no digest column (the pixel digest of each image it judged): made by an "
        "earlier winnow or by hand; rerun the score stage (dvc repro score)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_flags_cut_with_methods_left_out_are_read_by_the_contracts_under_method_auto(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811 - project: the contracts stage's fixture
    # threshold run with each auto issue written {} (a method left out is auto), then params.yaml giving them
    # {method: auto} and the contracts run alone. Before: "error: data/threshold/flags.parquet: cut with
    # threshold.issues.blurry {}, but params.yaml gives {"method": "auto"} now; rerun the threshold stage", exit 1,
    # for the same cuts
    root = Path(shutil.copytree(project, tmp_path / "project"))
    params = default_params()
    issues = params["threshold"]["issues"]
    assert {setting["method"] for setting in issues.values()} == {"auto"}  # the project's: each written so
    params["threshold"]["issues"] = {issue: {key: value for key, value in setting.items() if key != "method"}
                                     for issue, setting in issues.items()}
    make_project(root, params)
    write_scores(root, pd.read_parquet(root / SCORES))
    assert _stage_in_process(root, "threshold", monkeypatch, capsys).returncode == 0
    capsys.readouterr()
    _run_stage(root, monkeypatch, variants=("baseline", "pruned"))  # params.yaml: the project's, {method: auto}
    assert capsys.readouterr().err == ""  # no refusal: the stage ran through


@pytest.mark.hostile("intermediates")
def test_flags_of_listed_issues_are_not_refused_by_the_contracts_once_no_issue_is_listed(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811 - project: the contracts stage's fixture
    # threshold run with the project's issues, then threshold.issues emptied and the contracts run alone. Before:
    # "error: data/threshold/flags.parquet: cut with threshold.issues.blurry {"method": "auto"}, but params.yaml leaves
    # it out now; rerun the threshold stage", exit 1, for flags the contract does not read under no issue
    root = Path(shutil.copytree(project, tmp_path / "project"))
    make_project(root, default_params())
    write_scores(root, pd.read_parquet(root / SCORES))
    assert _stage_in_process(root, "threshold", monkeypatch, capsys).returncode == 0
    params = _params(("baseline", "pruned"))
    params["threshold"]["issues"] = {}
    make_project(root, params)
    done = _stage_in_process(root, "contracts", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    # as over the all-false flags threshold would write now: the flagged rate not measured, its rule failed
    assert lines[0] == ("contracts: threshold.issues lists no issue, so no image was examined for quality; the "
                        "flagged-image rate counts as not measured and fails its rule (set "
                        "contracts.bounds.max_flagged_rate null to leave that rule out)")
    assert ("warning: variant[baseline]: flagged-image rate: observed not measured, bound <= 0.05 "
            "(expect_column_max_to_be_between(flagged_rate))") in lines
