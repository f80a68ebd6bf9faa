"""Hostile augmentation search, stop 71: a searched policy read after the search's own settings changed.

- augment-search's policy.json records the ``augment_search`` settings it searched under (``searched_with``); balance
  and train@<v> (train.augment: searched) refuse it once params.yaml gives other ones: with_fixed switched either way,
  op_sets or epochs edited, then balance run alone (``dvc repro -s balance``). Before, the old search's pick was
  applied without a word (only a balance.policy edit was caught: its ``fixed`` record);
- a policy.json without the record (an earlier winnow's, or written by hand) is refused, as one without ``fixed`` is.
"""

from __future__ import annotations

import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_augment import _project
from test_hostile_threshold_64 import _stage_in_process

RERUN = "rerun the augment-search stage (dvc repro augment-search)"
WEAK = {"ops": ["translate", "noise"], "n": 1, "magnitude": 0.5, "kind": "rand", "fill": "border"}


def _searched(tmp_path, monkeypatch, **search):
    """A project whose policy.json is what the search wrote under ``search`` (the fields the stage writes)."""
    from winnow.augment_search import SEARCHED, pruned_record, search_settings, search_training
    from winnow.stage import write_json

    _project(tmp_path, monkeypatch, balance={"policy": WEAK}, augment_search={"enabled": True, **search})
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    write_json(SEARCHED, {"policy": WEAK, "val_accuracy": 0.5, "no_augmentation_val_accuracy": 0.5,
                          "fixed": WEAK if search_settings(params)["with_fixed"] else None,
                          "searched_with": search_settings(params), "trained_with": search_training(params),
                          "chosen_on": pruned_record()})
    return params


def _edit(tmp_path, params, **search) -> None:
    params["augment_search"] |= search
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("then", "now", "named"), [
    ({"with_fixed": True}, {"with_fixed": False}, "with_fixed true, but params.yaml gives false"),
    ({"with_fixed": False}, {"with_fixed": True}, "with_fixed false, but params.yaml gives true"),
    ({"epochs": 6}, {"epochs": 3}, "epochs 6, but params.yaml gives 3"),
    ({}, {"op_sets": [["rotate"]]}, 'op_sets [["shear", "translate", "rotate", "crop"], ["shear", "translate", '
                                    '"rotate", "crop", "noise", "brightness", "contrast", "cutout"]], but params.yaml '
                                    'gives [["rotate"]]'),
], ids=["with_fixed-off", "with_fixed-on", "epochs", "op_sets"])
def test_balance_refuses_a_policy_searched_under_other_search_settings(tmp_path, monkeypatch, capsys, then, now,
                                                                        named):
    # before: exit 0, the balanced variant made with the policy the old settings' search chose
    params = _searched(tmp_path, monkeypatch, **then)
    _edit(tmp_path, params, **now)
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: data/augment-search/policy.json: searched under augment_search.{named} now; {RERUN}"])
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("training")
def test_train_refuses_a_searched_policy_that_records_no_search_settings(tmp_path, monkeypatch):
    # an earlier winnow's file (policy and fixed, no searched_with), read for train.augment: searched. Before: applied
    import json

    from winnow.augment_search import SEARCHED, policy_for
    from winnow.errors import WinnowError

    params = _searched(tmp_path, monkeypatch)
    written = json.loads((tmp_path / SEARCHED).read_text())
    del written["searched_with"]
    (tmp_path / SEARCHED).write_text(json.dumps(written))
    with pytest.raises(WinnowError) as refused:
        policy_for(params, "searched")
    assert str(refused.value) == (
        "data/augment-search/policy.json: records no search settings it was chosen under (searched_with): made by an "
        f"earlier winnow or by hand; {RERUN}")


@pytest.mark.hostile("training")
def test_a_policy_searched_under_todays_settings_is_read(tmp_path, monkeypatch):
    # the record matches when nothing changed, and when a default is written out as params.yaml's own value
    from winnow.augment_search import policy_for
    from winnow.configs import Policy

    params = _searched(tmp_path, monkeypatch)
    assert policy_for(params, "searched") == Policy.from_params(WEAK)
    _edit(tmp_path, params, tie_se=1.0, fill="border")
    assert policy_for(params, "searched") == Policy.from_params(WEAK)
