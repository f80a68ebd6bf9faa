"""Hostile inputs of balance, seventh pass: copies alike to each other though far from their source, and edge cases
left unsought under a budget when they get no extra copies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_augment import _project, _stage
from winnow.balance import Balanced, balanced_augment
from winnow.balance_checks import checked_copies
from winnow.configs import Policy
from winnow.errors import WinnowError
from winnow.variants import read_rows

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("intermediates")
def test_copies_of_one_image_alike_behind_a_flip_are_refused():
    # b's one image takes 6 copies, each flipped (n 2 of 2 ops) with noise of sigma at most 0.005 x 51 = 0.26 grey
    # levels: each within a level of the image's mirror, so any two within 2, and the 5 after the first alike to it.
    # Before: written without a word (the source check compares with the unflipped image, the repeat check only
    # equal pixels), where [noise] alone at that magnitude is refused. The stage checks before it writes anything
    # (test_hostile_balance_more's refusals leave nothing behind)
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1), dtype=np.uint8)
    policy = Policy(ops=("flip", "noise"), n=2, magnitude=0.005)
    made = balanced_augment(images, np.repeat([0, 1], [7, 1]), policy=policy, seed=0, num_classes=2)
    with pytest.raises(WinnowError) as refused:
        checked_copies(made, images, policy, fixed=True)
    assert str(refused.value) == (
        "balance.policy: 5 of 6 augmented copies are within 2 grey levels, at every pixel, of another copy of the same "
        "image (magnitude 0.005: too close to no change), so balanced would reach balance.target on near duplicates; "
        "raise balance.policy.magnitude, or lower balance.target")


@pytest.mark.hostile("intermediates")
def test_a_few_copies_alike_behind_a_flip_are_written_with_a_warning():
    # b's 3 images take 4 copies, one image two of them, alike as above: 1 of the 4 copies, which no other line reports
    images = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 1), dtype=np.uint8)
    policy = Policy(ops=("flip", "noise"), n=2, magnitude=0.005)
    made = balanced_augment(images, np.repeat([0, 1], [7, 3]), policy=policy, seed=0, num_classes=2)
    assert checked_copies(made, images, policy, fixed=True)[1] == [
        "warning: balance: 1 of 4 augmented copies are within 2 grey levels, at every pixel, of another copy of the "
        "same image, though not of their source: they add weight, not variety; raise balance.policy.magnitude"]


@pytest.mark.hostile("intermediates")
def test_a_class_cut_to_its_budget_keeps_its_edge_case_when_edge_extra_is_0(tmp_path, monkeypatch):
    # classes a, b, c of 12, 5 and 2 train images, each image's feature its place on a line: each class's last image
    # sits 5 from the rest, its edge case (c's two tie at 2.5: the first). max_images 3 gives each class 1, so a keeps
    # its edge case i11, b i16 and c i17 (params.yaml: "a class above its share keeps its edge cases and a random draw
    # of the rest"); edge_extra 0 only stops edge cases getting more copies. Before: with edge_extra 0 no edge case was
    # looked for, each class kept a random draw, and metrics said edge.images 0 under edge_fraction 0.1
    _project(tmp_path, monkeypatch, balance={"edge_fraction": 0.1, "edge_extra": 0.0, "max_images": 3, "device": "cpu"})
    stage = _stage("balance")
    features = np.r_[[0.0] * 11, 5, [100.0] * 4, 105, 200, 205][:, None]
    monkeypatch.setattr(stage, "load", lambda *a, **k: (None, None))  # no models/baseline.pt: its features are given
    monkeypatch.setattr(stage, "run_as", lambda trained, config: trained)  # no model to run as params.yaml says
    monkeypatch.setattr(stage, "embed", lambda classifier, images: features)
    monkeypatch.setattr(stage, "_examples", lambda *a, **k: None)  # the plot and the contract: not this test's
    monkeypatch.setattr(stage.VariantContract, "check", lambda *a, **k: None)
    stage.main()
    rows = read_rows("balanced")
    assert sorted(rows.loc[(rows["origin"] == "ingest") & (rows["action"] != "drop"), "id"]) == ["i11", "i16", "i17"]
    assert json.loads(Path("metrics/balance.json").read_text())["edge"]["images"] == 3


@pytest.mark.hostile("intermediates")
def test_copies_alike_to_each_other_are_refused_when_their_images_first_copy_moved_further():
    # one image's 6 copies, as [flip, noise, shear] at magnitude 0.01 makes them: the first flipped and sheared (here
    # its mirror image 40 levels brighter), the other 5 flipped with noise (its mirror image plus 0 or 1 at each
    # pixel), so those 5 lie within a level of one another: 4 near duplicates of the one kept, more than half of 6.
    # Before: each copy was compared with the first copy of its image alone, 0 were counted, and all 6 were written
    # without a word
    rng = np.random.default_rng(0)
    source = rng.integers(10, 200, (1, 8, 8, 1), dtype=np.uint8)
    mirror = source[0, :, ::-1]
    copies = np.stack([mirror + 40, *(mirror + rng.integers(0, 2, (5, 8, 8, 1), dtype=np.uint8))])
    ops = np.array([[True, False, True]] + [[True, True, False]] * 5)
    made = Balanced(copies, np.zeros(6, np.int64), np.zeros(6, np.int64), ops, np.zeros(1, bool), np.ones(1, bool))
    policy = Policy(ops=("flip", "noise", "shear"), n=2, magnitude=0.01)
    with pytest.raises(WinnowError) as refused:
        checked_copies(made, source, policy, fixed=True)
    assert str(refused.value) == (
        "balance.policy: 4 of 6 augmented copies are within 2 grey levels, at every pixel, of another copy of the same "
        "image (magnitude 0.01: too close to no change), so balanced would reach balance.target on near duplicates; "
        "raise balance.policy.magnitude, or lower balance.target")
