"""Review of probe 73's outlier and decided-at mends (tests/test_hostile_outliers_73.py), hostile inputs next to theirs:

- confident-learn's decisions had the stale-settings gap winnow.decided_at closed for embedding-clean and
  data-valuation: ``confident_learn.action``, ``folds`` or ``filter_by`` edited, then the budget run alone weighed the
  decisions of the old settings as current. They record theirs now; an edit that moves no decision (the relabels' bar
  while the action prunes, the train section while a probe judges) is not refused, and decisions written before the
  record still read;
- the variants stage run alone after such an edit applied the budget's decisions, chosen among the cleaner's decisions
  of the old settings (the budget's record of the cleaner files holds their bytes, unchanged): it refuses them now;
- the report showed the decisions of the old settings as today's: it refuses them now, as it does threshold's flags cut
  under other settings;
- false alarms of decided_at: ``embedding_clean.outliers`` named in another order (the same outliers) refused the
  decisions; so did, for a judge trained by embedding-clean, an edit of train.threads or device (which move no
  decision; the budget's model check records none of them), ``balance.policy`` written out at its defaults, and
  ``augment_between_rounds`` edited where one round augments nothing;
- wording: a balance.policy edit was named ``embedding_clean.balance.policy``, a setting params.yaml has no place for;
- the variant contracts measured each variant's label-issue rate on confident-learn's issues found under settings since
  edited (``filter_by``); they refuse them now, but for an edit of what moves its decisions and not its issues (the
  action, the relabels' bar).

The stage cases use the clusters' project of tests/test_hostile_outliers_73.py (:func:`_decided`), run the stage's
``main`` in this process, and read the decisions as the budget does (:func:`_read_as_the_budget`).
"""

from __future__ import annotations

import copy
import shutil

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, budget_stamped, default_params, edit_table, files_under
from test_contracts import ROOT, _stage_module
from test_hostile_outliers_73 import _decided, _edit, _read_as_the_budget
from winnow import params
from winnow.decided_at import DECIDED_AT, check_decided_at, decided_at
from winnow.errors import WinnowError
from winnow.stage import write_table
from winnow.variant_contract import VariantContract

ISSUES = "data/confident-learn/label_issues.parquet"
NEIGHBOURS = "data/embedding-clean/decisions.parquet"


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("edit, line", [
    ({"action": "relabel"},
     f"{ISSUES}: decided with confident_learn.action \"prune\", but params.yaml gives \"relabel\" now; rerun the "
     "confident-learn stage (dvc repro confident-learn)"),
    ({"folds": 3},
     f"{ISSUES}: decided with confident_learn.folds 4, but params.yaml gives 3 now; rerun the confident-learn stage "
     "(dvc repro confident-learn)"),
    ({"filter_by": "prune_by_class"},
     f"{ISSUES}: decided with confident_learn.filter_by \"both\", but params.yaml gives \"prune_by_class\" now; rerun "
     "the confident-learn stage (dvc repro confident-learn)"),
], ids=["action", "folds", "filter_by"])
def test_confident_learns_decisions_of_settings_since_edited_are_refused(tmp_path, monkeypatch, edit, line):
    # before: read as current, so `dvc repro -s budget` after action prune -> relabel weighed the drops of prune, and
    # pruned applied them
    project = _decided(tmp_path / "p", monkeypatch, "confident_learn")
    assert len(_read_as_the_budget(project)["label_issues"]) == 60  # read as they were decided
    _edit(project, "confident_learn", edit)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _read_as_the_budget(project)
    assert str(refused.value) == line
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("section, edit", [
    ("confident_learn", {"relabel_threshold": 0.5}),  # action prune relabels nothing: its bar moves no decision
    ("confident_learn", {"relabel_min_precision": 0.99, "relabel_judged_on": "planted_flips"}),  # nor where measured
    ("confident_learn", {"train": {"epochs": 3}}),  # the probe judges on the represent embedding: nothing is trained
    ("train", {"epochs": 3}),  # likewise the train section it would override
], ids=["relabel_threshold_pruning", "relabel_gate_pruning", "probe_training", "train_section"])
def test_an_edit_of_confident_learn_that_moves_no_decision_leaves_its_decisions_readable(tmp_path, monkeypatch,
                                                                                         section, edit):
    # a refusal here would send the user to rerun a stage that writes the same decisions again
    project = _decided(tmp_path / "p", monkeypatch, "confident_learn")
    _edit(project, section, edit)
    assert len(_read_as_the_budget(project)["label_issues"]) == 60


@pytest.mark.hostile("intermediates")
def test_confident_learn_decisions_written_before_the_record_still_read(tmp_path, monkeypatch):
    # an earlier winnow's file records no settings: it reads as it did, whatever params.yaml says now
    project = _decided(tmp_path / "p", monkeypatch, "confident_learn")

    def unrecorded(table):
        table.attrs = {key: value for key, value in table.attrs.items() if key != DECIDED_AT}
        return table

    edit_table(project / ISSUES, unrecorded)
    assert DECIDED_AT not in pd.read_parquet(project / ISSUES).attrs
    _edit(project, "confident_learn", {"action": "relabel"})
    assert len(_read_as_the_budget(project)["label_issues"]) == 60


def _budgeted(project) -> None:
    """The budget's decisions (none: every image kept) stamped as the budget stamps them, data/degrade's images as
    data/ingest's too: what the variants stage reads."""
    shutil.copytree(project / "data/degrade", project / "data/ingest")
    (project / "data/budget").mkdir()
    none = pd.DataFrame({"id": pd.Series([], dtype=object), "action": pd.Series([], dtype=object),
                         "label": pd.Series([], dtype="int64"), "reason": pd.Series([], dtype=object),
                         "stage": pd.Series([], dtype=object)})
    write_table(project / "data/budget/decisions.parquet", budget_stamped(project, none))


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage, section, edit, line", [
    ("data_valuation", "data_valuation", {"bound": 50.0},
     "data/data-valuation/decisions.parquet: decided with data_valuation.bound 1.0, but params.yaml gives 50.0 now; "
     "rerun the data-valuation stage (dvc repro data-valuation)"),
    ("embedding_clean", "embedding_clean", {"agree": 1.0},
     f"{NEIGHBOURS}: decided with embedding_clean.agree 0.8, but params.yaml gives 1.0 now; rerun the embedding-clean "
     "stage (dvc repro embedding-clean)"),
    ("confident_learn", "confident_learn", {"action": "both"},
     f"{ISSUES}: decided with confident_learn.action \"prune\", but params.yaml gives \"both\" now; rerun the "
     "confident-learn stage (dvc repro confident-learn)"),
], ids=["data_valuation", "embedding_clean", "confident_learn"])
def test_variants_refuse_budget_decisions_chosen_among_decisions_of_settings_since_edited(tmp_path, monkeypatch, stage,
                                                                                         section, edit, line):
    # before: `dvc repro -s variants` after the edit applied the budget's decisions, chosen among the cleaner's
    # decisions of the old settings (their bytes unchanged, so the budget's record of the cleaner files passed), exit 0
    project = _decided(tmp_path / "p", monkeypatch, stage)
    _budgeted(project)
    _stage_module("variants").main()  # the fixture is one the variants stage applies
    _edit(project, section, edit)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("variants").main()
    assert str(refused.value) == line
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_report_refuses_decisions_of_settings_since_edited(tmp_path, monkeypatch):
    # before: the report showed data-valuation's drops of bound 1.0 as those of params.yaml's bound 50, as it once
    # showed threshold's flags cut under other settings
    project = _decided(tmp_path / "p", monkeypatch, "data_valuation")
    shutil.copytree(project / "data/degrade", project / "data/ingest")
    _edit(project, "data_valuation", {"bound": 50.0})
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("report").main()
    assert str(refused.value) == (
        "data/data-valuation/decisions.parquet: decided with data_valuation.bound 1.0, but params.yaml gives 50.0 now; "
        "rerun the data-valuation stage (dvc repro data-valuation)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_outlier_methods_named_in_another_order_leave_the_decisions_readable(tmp_path, monkeypatch):
    # before: refused ("decided with embedding_clean.outliers [...], but params.yaml gives [...] now"): an outlier is
    # one any method flags, so the order names the same decisions, and the rerun wrote them again
    project = _decided(tmp_path / "p", monkeypatch, "embedding_clean")
    _edit(project, "embedding_clean", {"outliers": ["knn", "lof", "isolation_forest"]})
    assert len(_read_as_the_budget(project)["neighbour_decisions"]) == 60


@pytest.mark.hostile("intermediates")
def test_outlier_methods_dropped_from_the_list_still_refuse_the_decisions(tmp_path, monkeypatch):
    # the order is free, the methods are not: one left out flags other outliers
    project = _decided(tmp_path / "p", monkeypatch, "embedding_clean")
    _edit(project, "embedding_clean", {"outliers": ["knn", "lof"]})
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _read_as_the_budget(project)
    assert str(refused.value) == (
        f"{NEIGHBOURS}: decided with embedding_clean.outliers [\"isolation_forest\", \"lof\", \"knn\"], but "
        "params.yaml gives [\"knn\", \"lof\"] now; rerun the embedding-clean stage (dvc repro embedding-clean)")
    assert_nothing_left(project, before)


def _judged(**section) -> dict:
    """params.yaml whose embedding-clean judge is trained (``embedding: judge``), its section updated by ``section``."""
    params = default_params()
    params["embedding_clean"] |= {"embedding": "judge", **section}
    return params


def _recorded(cleaner: str, params: dict) -> pd.DataFrame:
    """Decisions as ``cleaner``'s stage writes them under ``params``: the settings they were decided under recorded."""
    table = pd.DataFrame({"id": pd.Series([], dtype=object)})
    table.attrs = {DECIDED_AT: decided_at(cleaner, params)}
    return table


def _check(table: pd.DataFrame, params: dict, cleaner: str = "embedding_clean") -> None:
    path, stage = {"embedding_clean": (NEIGHBOURS, "embedding-clean"),
                   "confident_learn": (ISSUES, "confident-learn")}[cleaner]
    check_decided_at(table, cleaner=cleaner, params=params, path=path, written_by=stage)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner, section", [
    ("embedding_clean", {"embedding": "judge"}), ("confident_learn", {"judge": "cnn"})], ids=["embedding", "cnn"])
@pytest.mark.parametrize("setting, value", [("threads", 4), ("device", "cpu"), ("eval_batch_size", 16)])
def test_a_judges_threads_or_device_move_no_decision(cleaner, section, setting, value):
    # before (embedding-clean): the train section was recorded as written, so train.threads 1 -> 4 on a bigger machine
    # refused the decisions, though the budget's model check, which trains as the judge does, records no thread count
    params = default_params()
    params[cleaner] |= section
    table = _recorded(cleaner, params)
    edited = copy.deepcopy(params)
    edited["train"][setting] = value
    _check(table, edited, cleaner)


@pytest.mark.hostile("intermediates")
def test_balance_policy_written_out_at_its_defaults_is_the_same_policy():
    # before: balance.policy recorded as written: between rounds, a policy left out and one written out at its defaults
    # (the same copies) refused the decisions
    written = _judged(rounds=2)  # the project's policy: balance's defaults, written out
    left_out = copy.deepcopy(written)
    left_out["balance"].pop("policy")
    _check(_recorded("embedding_clean", left_out), written)


@pytest.mark.hostile("intermediates")
def test_augment_between_rounds_with_one_round_moves_no_decision():
    # before: refused; one round is never augmented between
    table = _recorded("embedding_clean", _judged(rounds=1, augment_between_rounds=True))
    _check(table, _judged(rounds=1, augment_between_rounds=False))


@pytest.mark.hostile("intermediates")
def test_a_judges_training_edited_is_named_by_its_setting():
    # still refused, one setting named (before: the whole train section, every option, in one line)
    table = _recorded("embedding_clean", _judged())
    with pytest.raises(WinnowError) as refused:
        _check(table, _judged(train={"epochs": 3}))
    assert str(refused.value) == (
        f"{NEIGHBOURS}: decided with embedding_clean.train.epochs 20, but params.yaml gives 3 now; rerun the "
        "embedding-clean stage (dvc repro embedding-clean)")


@pytest.mark.hostile("intermediates")
def test_a_balance_policy_edit_is_named_as_balance_policy():
    # before: "decided with embedding_clean.balance.policy ...": no such setting in params.yaml
    table = _recorded("embedding_clean", _judged(rounds=2))
    edited = _judged(rounds=2)
    edited["balance"]["policy"] = {**edited["balance"]["policy"], "n": 1}
    with pytest.raises(WinnowError) as refused:
        _check(table, edited)
    assert str(refused.value) == (
        f"{NEIGHBOURS}: decided with balance.policy {{\"ops\": [\"shear\", \"translate\", \"rotate\", \"noise\", "
        "\"crop\"], \"n\": 2, \"magnitude\": 0.3, \"kind\": \"rand\", \"fill\": \"border\"}, but params.yaml gives "
        "{\"ops\": [\"shear\", \"translate\", \"rotate\", \"noise\", \"crop\"], \"n\": 1, \"magnitude\": 0.3, "
        "\"kind\": \"rand\", \"fill\": \"border\"} now; rerun the embedding-clean stage (dvc repro embedding-clean)")


def _contracted(root, monkeypatch):
    """The clusters' project with confident-learn run, data/ingest and the suites in place: what the variant
    contracts read (:meth:`winnow.variant_contract.VariantContract.read`)."""
    project = _decided(root, monkeypatch, "confident_learn")
    shutil.copytree(project / "data/degrade", project / "data/ingest")
    shutil.copytree(ROOT / "contracts", project / "contracts")
    return project


@pytest.mark.hostile("intermediates")
def test_the_variant_contracts_refuse_label_issues_found_under_settings_since_edited(tmp_path, monkeypatch):
    # before: the label-issue rate of each variant was measured on the issues filter_by both found, where params.yaml
    # says prune_by_class now, and the contract passed or failed on them (it refuses threshold's flags cut so)
    project = _contracted(tmp_path / "p", monkeypatch)
    _edit(project, "confident_learn", {"filter_by": "prune_by_class"})
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        VariantContract.read(params.load(project / "params.yaml"))
    assert str(refused.value) == (
        f"{ISSUES}: decided with confident_learn.filter_by \"both\", but params.yaml gives \"prune_by_class\" now; "
        "rerun the confident-learn stage (dvc repro confident-learn)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_variant_contracts_read_label_issues_whose_action_alone_was_edited(tmp_path, monkeypatch):
    # the action moves confident-learn's decisions, not the images it finds at issue, which are all the rate reads
    project = _contracted(tmp_path / "p", monkeypatch)
    _edit(project, "confident_learn", {"action": "relabel", "relabel_threshold": 0.5})
    contract = VariantContract.read(params.load(project / "params.yaml"))
    assert int(contract.measured["is_issue"].sum()) == 2  # the two flips planted in the clusters
