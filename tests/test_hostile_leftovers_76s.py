"""Leftovers of the stop 76 mends, found by their review (76s):

- train@<v>'s check that train.augment's policy moves pixels (check_policy_changes, 93dd61bf) on large images: 1,024
  of them augmented in one batch, each float32 temporary of the whole sample at once (5.5 GB more at the peak for
  256x256 RGB images, 16 times that at 1024x1024) before the training's first batch of 64; now a sample of at most
  1,024 images of 128x128's pixels (64 images at least), augmented a few at a time, and still refused as before;
- a searched policy.json whose ``chosen_on`` is a string but no sha256 (``""``, ``"x"``: written by hand): balance
  and train@<v> blamed pruned ("chosen on other train or val images of pruned"), as 82886f76 mended for a null or a
  number; now the line says the file records no images it was chosen on (its cases are among
  test_hostile_leftovers_76a's, beside those of a null and a number); a record as the stage writes it still reads.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.mark.hostile("training")
def test_the_policy_check_of_large_images_augments_a_bounded_sample_a_few_at_a_time(monkeypatch):
    # before: apply_policy saw one batch of 1,024 images of 256x256 (the whole sample, each float32 temporary 256 MiB
    # for one channel, 768 MiB for RGB); now 256 images (128x128's pixels each 1,024 times over) in batches of 16
    from winnow import augment
    from winnow.balance_checks import check_policy_changes
    from winnow.configs import Policy
    from winnow.errors import WinnowError

    batches = []
    real = augment.apply_policy

    def counted(x, policy, *, generator):
        batches.append(tuple(x.shape))
        return real(x, policy, generator=generator)

    monkeypatch.setattr(augment, "apply_policy", counted)
    images = np.random.default_rng(0).integers(0, 256, (1100, 256, 256, 1), dtype=np.uint8)
    weak = Policy.from_params({"ops": ["translate"], "n": 1, "magnitude": 0.000001, "kind": "rand"})
    with pytest.raises(WinnowError) as refused:
        check_policy_changes(images, weak, fixed=True, seed=0)
    assert str(refused.value) == ("balance.policy: 256 of 256 copies made with translate equal their source pixel for "
                                  "pixel (magnitude 1e-06: too close to no change); raise balance.policy.magnitude")
    assert batches == [(16, 1, 256, 256)] * 16
    batches.clear()
    check_policy_changes(images, Policy.from_params({"ops": ["translate"], "n": 1, "magnitude": 0.3, "kind": "rand"}),
                         fixed=True, seed=0)
    assert batches == [(16, 1, 256, 256)] * 16


@pytest.mark.hostile("training")
def test_the_policy_check_of_small_images_still_takes_its_whole_sample_at_once(monkeypatch):
    # the bound leaves small images as they were: 1,024 of 28x28 in one batch, the draws the 76a lines were taken on
    from winnow import augment
    from winnow.balance_checks import check_policy_changes
    from winnow.configs import Policy

    batches = []
    real = augment.apply_policy
    monkeypatch.setattr(augment, "apply_policy",
                        lambda x, policy, *, generator: batches.append(tuple(x.shape)) or real(x, policy,
                                                                                              generator=generator))
    images = np.random.default_rng(0).integers(0, 256, (3000, 28, 28, 1), dtype=np.uint8)
    check_policy_changes(images, Policy.from_params({"ops": ["rotate"], "n": 1, "magnitude": 0.3, "kind": "rand"}),
                         fixed=True, seed=0)
    assert batches == [(1024, 1, 28, 28)]


@pytest.mark.hostile("training")
def test_a_searched_policy_with_its_images_record_as_the_stage_wrote_it_is_read(tmp_path, monkeypatch):
    # the record the stage writes (a sha256 of pruned's ids, labels and pixels) still passes: no false alarm
    from test_hostile_augment_73 import _searched
    from winnow.augment_search import SEARCHED, policy_for

    params = _searched(tmp_path, monkeypatch)
    assert len(json.loads((tmp_path / SEARCHED).read_text())["chosen_on"]) == 64
    assert policy_for(params, "searched").to_params() == {"ops": ["rotate"], "n": 1, "magnitude": 0.6,
                                                          "kind": "trivial", "fill": "border"}
