"""Hostile inputs of augment-search, balance and gan-synthesize, sixth pass: balance.policy's own ops in another order
entered as a candidate of the search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_augment import FIXED, _project, _stage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("intermediates")
def test_balance_policys_ops_in_another_order_are_balance_policy_not_a_challenger(tmp_path, monkeypatch, capsys):
    # the first default op set with noise added: balance.policy's five ops in another order, at its n, magnitude and
    # kind, so its copies are drawn alike. Before: a challenger of its own, whose short training scored by chance 0.9
    # against balance.policy's 0.5 and "replaced" it (chosen_is_fixed false, against_fixed naming it), the bar raised
    # for one challenger more
    reordered = ["shear", "translate", "rotate", "crop", "noise"]
    _project(tmp_path, monkeypatch, augment_search={
        "enabled": True, "kinds": ["rand"], "ns": [FIXED.n], "magnitudes": [FIXED.magnitude, 0.6],
        "op_sets": [reordered]})
    from winnow import augment_search

    # no augmentation, balance.policy and magnitude 0.6 score 0.5; the reordered ops at balance.policy's magnitude 0.9
    scores = {(tuple(reordered), FIXED.magnitude): 0.9}
    monkeypatch.setattr(augment_search, "short_training_scorer",
                        lambda *a, **k: lambda p: 0.5 if p is None else scores.get((p.ops, p.magnitude), 0.5))
    _stage("augment_search").main()
    metrics = json.loads(Path("metrics/augment_search.json").read_text())
    assert metrics["candidates"] == 2  # balance.policy and magnitude 0.6
    assert [row["policy"] for row in metrics["table"][1:]] == [
        FIXED.to_params(), {**FIXED.to_params(), "ops": reordered, "magnitude": 0.6}]
    assert metrics["chosen"] == FIXED.to_params() and metrics["chosen_is_fixed"]
    assert metrics["against_fixed"]["challenger"] is None  # magnitude 0.6 scored no higher
    assert json.loads(Path("data/augment-search/policy.json").read_text())["policy"] == FIXED.to_params()
    assert "chose balance.policy, " in capsys.readouterr().out
