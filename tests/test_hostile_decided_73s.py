"""Review of the decided-at mends (d247029a, d35af9c6, 21859091, 7f2570a7): what they got wrong.

- a judge's ``train.augment`` and ``balance.policy``: recorded with confident-learn's decisions (``judge: cnn``) and
  embedding-clean's (``embedding: judge``, one round) whenever train.augment was fixed, though a judge trains with no
  policy whatever train.augment says (winnow.training.fit is given none by either cleaner). dvc.yaml does not rerun
  confident-learn for balance.policy, so after an edit of it every `dvc repro` ended in the budget's refusal of
  confident-learn's decisions ("rerun the confident-learn stage"), and that rerun never came;
- ``compute.knn`` edited to ``faiss_ivf`` (an approximate search that misses neighbours), then the budget run alone:
  embedding-clean's decisions of the exact search were weighed as current; it is recorded with them now;
- every setting a cleaner's decisions record is a params dependency of its stage in dvc.yaml, so `dvc repro` reruns
  the writer before a reader holds its decisions to params.yaml (the invariant the case above broke).
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from hostile_harness import ROOT, default_params
from winnow.decided_at import DECIDED_AT, check_decided_at, decided_at
from winnow.errors import WinnowError

ISSUES = "data/confident-learn/label_issues.parquet"
NEIGHBOURS = "data/embedding-clean/decisions.parquet"
WRITERS = {"confident_learn": ("confident-learn", ISSUES), "embedding_clean": ("embedding-clean", NEIGHBOURS),
           "data_valuation": ("data-valuation", "data/data-valuation/decisions.parquet")}


def _params(cleaner: str, augment: str = "fixed", **section) -> dict:
    """The project's params.yaml, ``cleaner``'s section updated by ``section``, train.augment ``augment``."""
    params = default_params()
    params["train"]["augment"] = augment
    params[cleaner] = {**(params.get(cleaner) or {}), **section}
    return params


def _recorded(cleaner: str, params: dict) -> pd.DataFrame:
    """Decisions as ``cleaner``'s stage writes them under ``params``: the settings they were decided under recorded."""
    table = pd.DataFrame({"id": pd.Series([], dtype=object)})
    table.attrs = {DECIDED_AT: decided_at(cleaner, params)}
    return table


def _check(table: pd.DataFrame, params: dict, cleaner: str) -> None:
    stage, path = WRITERS[cleaner]
    check_decided_at(table, cleaner=cleaner, params=params, path=path, written_by=stage)


def _policy_edited(params: dict) -> dict:
    edited = copy.deepcopy(params)
    edited["balance"]["policy"] = {**edited["balance"]["policy"], "n": 1, "magnitude": 0.6}
    return edited


JUDGES = [("confident_learn", {"judge": "cnn"}), ("embedding_clean", {"embedding": "judge", "rounds": 1})]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner, section", JUDGES, ids=["cnn", "embedding-judge"])
def test_a_balance_policy_edit_leaves_a_judges_decisions_readable(cleaner, section):
    # before: under train.augment fixed, refused: "decided with balance.policy {...}, but params.yaml gives {...} now;
    # rerun the confident-learn stage", which dvc repro never reran (balance.policy is no param of it), and which would
    # have written the same decisions (its CNN folds train with no policy)
    params = _params(cleaner, **section)
    _check(_recorded(cleaner, params), _policy_edited(params), cleaner)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner, section", JUDGES, ids=["cnn", "embedding-judge"])
def test_a_train_augment_edit_leaves_a_judges_decisions_readable(cleaner, section):
    # before: refused, "decided with <cleaner>.train.augment \"none\", but params.yaml gives \"fixed\" now": the judge
    # trains alike under both
    params = _params(cleaner, augment="none", **section)
    _check(_recorded(cleaner, params), _params(cleaner, augment="fixed", **section), cleaner)


@pytest.mark.hostile("intermediates")
def test_a_balance_policy_edit_still_refuses_rounds_augmented_between():
    # the policy makes the balanced copies between embedding-clean's rounds: an edit moves its decisions
    params = _params("embedding_clean", embedding="judge", rounds=2)
    with pytest.raises(WinnowError) as refused:
        _check(_recorded("embedding_clean", params), _policy_edited(params), "embedding_clean")
    assert str(refused.value) == (
        f"{NEIGHBOURS}: decided with balance.policy {{\"ops\": [\"shear\", \"translate\", \"rotate\", \"noise\", "
        "\"crop\"], \"n\": 2, \"magnitude\": 0.3, \"kind\": \"rand\", \"fill\": \"border\"}, but params.yaml gives "
        "{\"ops\": [\"shear\", \"translate\", \"rotate\", \"noise\", \"crop\"], \"n\": 1, \"magnitude\": 0.6, "
        "\"kind\": \"rand\", \"fill\": \"border\"} now; rerun the embedding-clean stage (dvc repro embedding-clean)")


def _declared(stage: str) -> list[str]:
    """The params.yaml settings ``stage`` of dvc.yaml depends on (dotted)."""
    entries = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["params"]
    return [entry for entry in entries if isinstance(entry, str)]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner, augment, section", [
    ("confident_learn", "none", {}), ("confident_learn", "fixed", {"judge": "cnn"}),
    ("confident_learn", "fixed", {"judge": "cnn", "action": "both"}),
    ("embedding_clean", "none", {}), ("embedding_clean", "fixed", {"embedding": "judge"}),
    ("embedding_clean", "fixed", {"embedding": "judge", "rounds": 2, "mode": "folds"}),
    ("data_valuation", "none", {}),
], ids=["probe", "cnn", "cnn-both", "represent", "judge", "judge-rounds", "valuation"])
def test_every_recorded_setting_reruns_its_writer_under_dvc_repro(cleaner, augment, section):
    # a recorded setting dvc.yaml does not rerun the writer for is refused by the budget after every `dvc repro` that
    # edits it (before: balance.policy, recorded for confident-learn's CNN judge under train.augment fixed)
    stage, _ = WRITERS[cleaner]
    declared = _declared(stage)
    recorded = decided_at(cleaner, _params(cleaner, augment=augment, **section))
    undeclared = [key for key in recorded if not any(key == p or key.startswith(f"{p}.") for p in declared)]
    assert undeclared == []


@pytest.mark.hostile("intermediates")
def test_embedding_cleans_decisions_of_another_knn_search_are_refused():
    # before: compute.knn was not recorded, so after numpy -> faiss_ivf the budget and review export run alone read the
    # neighbours of the exact search as those of the approximate one, which misses some
    params = default_params()
    edited = copy.deepcopy(params)
    edited["compute"]["knn"] = "faiss_ivf"
    with pytest.raises(WinnowError) as refused:
        _check(_recorded("embedding_clean", params), edited, "embedding_clean")
    assert str(refused.value) == (
        f"{NEIGHBOURS}: decided with compute.knn \"numpy\", but params.yaml gives \"faiss_ivf\" now; rerun the "
        "embedding-clean stage (dvc repro embedding-clean)")


@pytest.mark.hostile("intermediates")
def test_compute_knn_left_out_is_the_numpy_search_it_means():
    # a left-out compute section searches with numpy, as the stage reads it (winnow.cosine_index.backend_of)
    params = default_params()
    left_out = copy.deepcopy(params)
    del left_out["compute"]
    _check(_recorded("embedding_clean", params), left_out, "embedding_clean")
