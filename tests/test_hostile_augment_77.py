"""Hostile augmentation and balance, probe 77:

- balance.policy of kind trivial with noise at magnitude 1 (the largest): trivial draws each copy's strength from
  [0, 1], so a few noise copies come out within 2 grey levels of their source; the warning told the user to "raise
  balance.policy.magnitude", which the params check refuses above 1; now it names kind rand, whose strengths start at
  half the magnitude (and the searched policy's warning augment_search.kinds), and under kind rand the warning is gone;
- data/augment-search/policy.json's ``policy`` edited by hand into another valid policy (trivial [invert] at 0.5, or
  the search's pick at another magnitude), its records left as the search wrote them: balance (and train@<v> under
  train.augment: searched) applied it as the search's pick, exit 0; now refused in one line naming the file and the
  stage to rerun, before any work; the pick with its ops listed in another order (the same copies) is still read.

Each checks the whole line a user reads, and nothing partial left behind where a stage refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_augment import _project, _stage
from winnow.augment_search import policy_for
from winnow.balance import balanced_augment
from winnow.balance_checks import checked_copies
from winnow.configs import Policy
from winnow.errors import WinnowError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _noise_copies(kind: str):
    """290 copies of random 12x12 grey images (classes of 300 and 10) by noise alone at magnitude 1, and how many of
    them lie within 2 grey levels of their source at every pixel, counted here from the pixels."""
    labels = np.repeat([0, 1], [300, 10])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 12, 12, 1), dtype=np.uint8)
    policy = Policy(ops=("noise",), n=1, magnitude=1.0, kind=kind)
    made = balanced_augment(images, labels, policy=policy, seed=0, num_classes=2)
    moved = np.abs(made.images.astype(np.int64) - images[made.source]).max(axis=(1, 2, 3))
    return made, images, policy, int((moved <= 2).sum())


@pytest.mark.hostile("augment")
def test_weak_noise_copies_at_magnitude_1_are_told_to_use_kind_rand_not_to_raise_the_magnitude():
    # before: "...: they add weight, not variety; raise balance.policy.magnitude" at magnitude 1, a value the params
    # check refuses to raise (magnitude is in (0, 1]), and "raise augment_search.magnitudes" for the searched policy
    made, images, policy, close = _noise_copies("trivial")
    assert 0 < close < len(made.images) / 2  # a few, not most: a warning, not a refusal
    for fixed, setting in ((True, "balance.policy.kind: rand"), (False, "augment_search.kinds: [rand]")):
        _, warnings = checked_copies(made, images, policy, fixed=fixed)
        assert warnings == [
            f"warning: balance: {close} of 290 augmented copies are within 2 grey levels of their source at every "
            f"pixel ({close} of the 290 made with noise): they add weight, not variety; set {setting}, whose strengths "
            "start at half the magnitude, not at 0"]
    # the advice taken: kind rand at magnitude 1 makes no copy so close, and no warning
    made, images, policy, close = _noise_copies("rand")
    assert close == 0
    assert checked_copies(made, images, policy, fixed=True)[1] == []


@pytest.mark.hostile("search")
def test_a_searched_policy_edited_by_hand_into_one_the_search_never_scored_is_refused(tmp_path, monkeypatch):
    # the search over trivial [rotate] and [shear, cutout] at 0.2 and 0.7, and balance.policy, picks [shear, cutout] at
    # 0.7, the one scored above the others
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["trivial"], "magnitudes": [0.2, 0.7],
                                                    "op_sets": [["rotate"], ["shear", "cutout"]]})
    from winnow import augment_search

    pick = {"ops": ["shear", "cutout"], "n": 1, "magnitude": 0.7, "kind": "trivial", "fill": "border"}
    best = (tuple(pick["ops"]), pick["magnitude"])
    monkeypatch.setattr(augment_search, "short_training_scorer",
                        lambda *a, **k: lambda p: 0.5 if p is None else 0.9 if (p.ops, p.magnitude) == best else 0.6)
    _stage("augment_search").main()
    path = Path("data/augment-search/policy.json")
    written = json.loads(path.read_text())
    assert written["policy"] == pick
    params = yaml.safe_load(Path("params.yaml").read_text())
    # before: each edit below was read as the search's pick: [invert] then refused for its copies, told to add an op to
    # augment_search.op_sets, which never offered it; the pick at 0.5 made balance's copies, exit 0
    for edited, named in (({"ops": ["invert"], "n": 1, "magnitude": 0.5, "kind": "trivial", "fill": "border"},
                           "trivial [invert] at magnitude 0.5"),
                          ({**pick, "magnitude": 0.5}, "trivial [shear, cutout] at magnitude 0.5")):
        path.write_text(json.dumps({**written, "policy": edited}))
        before = files_under(tmp_path)
        with pytest.raises(WinnowError) as refused:
            _stage("balance").main()
        assert str(refused.value) == (
            f"data/augment-search/policy.json: holds a policy the search never scored ({named}: not balance.policy, "
            "nor one of the candidates augment_search gives): edited by hand or by another tool; rerun the "
            "augment-search stage (dvc repro augment-search)")
        assert_nothing_left(tmp_path, before)
    # the pick with its ops in another order makes the same copies: still the search's
    path.write_text(json.dumps({**written, "policy": {**pick, "ops": ["cutout", "shear"]}}))
    assert policy_for(params, "searched") == Policy.from_params({**pick, "ops": ["cutout", "shear"]})
