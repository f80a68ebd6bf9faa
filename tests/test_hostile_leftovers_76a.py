"""Leftovers of stop 75 (augmentation policy and the cleaning budget's check), mended at stop 76:

- a searched policy.json without its ``chosen_on`` record (an earlier winnow's, or written by hand), read by train@<v>
  under train.augment: searched or by balance after pruned changed: refused in one line naming augment-search, as a
  file without ``fixed``, ``searched_with`` or ``trained_with`` is (before: read unchecked, the old pick applied);
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RERUN = "rerun the augment-search stage (dvc repro augment-search)"


@pytest.mark.hostile("training")
@pytest.mark.parametrize("record", ["left out", None, 7], ids=["absent", "null", "a number"])
def test_a_searched_policy_without_its_images_record_is_refused_by_balance(tmp_path, monkeypatch, capsys, record):
    # before: a policy.json without chosen_on was read unchecked (one of null or a number: "chosen on other train or
    # val images", blaming pruned), so after a verdict dropped i3 and balance ran alone, balanced was made with the
    # policy the trainings on the old pruned chose, exit 0
    from test_hostile_augment_73 import _searched
    from test_hostile_threshold_64 import _stage_in_process
    from test_hostile_variants_74 import _pruned_drops
    from winnow.augment_search import SEARCHED

    _searched(tmp_path, monkeypatch)
    written = json.loads((tmp_path / SEARCHED).read_text())
    if record == "left out":
        del written["chosen_on"]
    else:
        written["chosen_on"] = record
    (tmp_path / SEARCHED).write_text(json.dumps(written))
    _pruned_drops("i3")
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: data/augment-search/policy.json: records no images it was chosen on (chosen_on): made by an earlier "
        f"winnow or by hand; {RERUN}"])
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("training")
def test_train_refuses_a_searched_policy_without_its_images_record(tmp_path, monkeypatch):
    # before: policy_for(params, "searched") returned the policy, unchecked against pruned
    from test_hostile_augment_73 import _searched
    from winnow.augment_search import SEARCHED, policy_for
    from winnow.errors import WinnowError

    params = _searched(tmp_path, monkeypatch)
    written = json.loads((tmp_path / SEARCHED).read_text())
    del written["chosen_on"]
    (tmp_path / SEARCHED).write_text(json.dumps(written))
    with pytest.raises(WinnowError) as refused:
        policy_for(params, "searched")
    assert str(refused.value) == ("data/augment-search/policy.json: records no images it was chosen on (chosen_on): "
                                  f"made by an earlier winnow or by hand; {RERUN}")
