"""Hostile inputs of augment-search, balance and gan-synthesize, sixth pass: balance.policy's own ops in another order
entered as a candidate of the search (or flip and invert at another magnitude or kind), and edge cases counted where no
copy was made of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_augment import FIXED, _project, _stage
from winnow.augment import augment
from winnow.augment_search import candidates, same_policy
from winnow.configs import Policy
from winnow.variants import read_rows

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


@pytest.mark.hostile("intermediates")
def test_the_balance_line_counts_the_copies_made_of_edge_cases(tmp_path, monkeypatch, capsys):
    # classes a, b, c of 12, 5 and 2 train images, each image's feature its place on a line: each class's last image
    # sits 5 from the rest, its edge case (c's two tie at 2.5 from their centre: the first). a, the largest, gets no
    # copy. Before: "added 17 copies (3 edge cases)", the edge cases of all three classes, a's too, as if 3 copies
    _project(tmp_path, monkeypatch, balance={"edge_fraction": 0.1, "edge_extra": 2.0, "device": "cpu"})
    stage = _stage("balance")
    features = np.r_[[0.0] * 11, 5, [100.0] * 4, 105, 200, 205][:, None]
    monkeypatch.setattr(stage, "load", lambda *a, **k: (None, None))  # no models/baseline.pt: its features are given
    monkeypatch.setattr(stage, "run_as", lambda trained, config: trained)  # no model to run as params.yaml says
    monkeypatch.setattr(stage, "embed", lambda classifier, images: features)
    # the examples plot and balanced's contract, seconds of this test, are not what it is about
    monkeypatch.setattr(stage, "_examples", lambda *a, **k: None)
    monkeypatch.setattr(stage.VariantContract, "check", lambda *a, **k: None)
    stage.main()
    added = read_rows("balanced").loc[lambda rows: rows["action"] == "add"]
    of_edges = added["reason"].str.startswith("balance(edge)")
    # b's 7 copies over weights 3 (its edge case) and 1, 1, 1, 1: 3 of them of the edge case
    assert len(added) == 17 and of_edges[added["label"] == 1].sum() == 3
    out = capsys.readouterr().out.splitlines()
    assert (f"balance: added 17 copies ({of_edges.sum()} of them of edge cases), left out 0 for max_images; per class "
            "now a 12, b 12, c 12") in out
    # c's warning says its edge case beside its 2 sources. Before: "(10 augmented copies, 1 of them an edge case)",
    # as if one copy, where c's 10 copies over weights 3 and 1 (7.5 and 2.5) are 8 of its edge case
    assert of_edges[added["label"] == 2].sum() == 8
    assert ("warning: balance: class c ends with 12 train images from 2 source images, 1 of them an edge case (10 "
            "augmented copies); so few sources add little variety: give the class more train images") in out
    # metrics (and the report, which shows them) say the line's figure beside the edge cases found, one a class.
    # Before, only the 3 edge cases: the line's copies of them were in no metric
    edge = json.loads(Path("metrics/balance.json").read_text())["edge"]
    assert (edge["images"], edge["copies"]) == (3, of_edges.sum())


@pytest.mark.hostile("params")
def test_flip_and_invert_at_another_magnitude_kind_or_fill_are_one_candidate():
    # flip and invert have no strength and uncover nothing: at any magnitude, kind and fill their copies are, for one
    # seed, the same pixels. Before: op set [flip, invert] with kinds trivial and rand, ns 1 and 2 and magnitudes 0.3
    # and 0.6 gave 6 candidates of 2 policies, each trained, each a challenger of balance.policy raising the bar
    found = candidates(op_sets=[["flip", "invert"], ["rotate"]], kinds=["trivial", "rand"], ns=[1, 2],
                       magnitudes=[0.3, 0.6])
    assert [(p.ops, p.kind, p.n, p.magnitude) for p in found] == [
        (("flip", "invert"), "trivial", 1, 0.3), (("flip", "invert"), "rand", 2, 0.3),
        (("rotate",), "trivial", 1, 0.3), (("rotate",), "trivial", 1, 0.6), (("rotate",), "rand", 1, 0.3),
        (("rotate",), "rand", 1, 0.6)]
    # balance.policy [invert, flip] is not challenged by the search's [flip, invert] at another magnitude, kind or fill
    # (the ops' order changes only which draws each op gets: the same pixels where it is kept)
    fixed = Policy(ops=("invert", "flip"), n=1, magnitude=0.3, kind="rand", fill="edge")
    alike = Policy(ops=("invert", "flip"), n=1, magnitude=0.9, kind="trivial", fill="border")
    images = np.random.default_rng(0).integers(0, 256, (8, 6, 5, 1), dtype=np.uint8)
    np.testing.assert_array_equal(augment(images, policy=fixed, seed=1)[0], augment(images, policy=alike, seed=1)[0])
    assert same_policy(fixed, Policy(ops=("flip", "invert"), n=1, magnitude=0.9, kind="trivial", fill="border"))
    # rotate's fill is what the rotation uncovers: another policy
    assert not same_policy(Policy(ops=("rotate", "flip"), fill="edge", n=1), Policy(ops=("flip", "rotate"), n=1))
