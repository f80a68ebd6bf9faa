"""Hostile cases of the 71st stop's probe of augmentation and synthesis:

- a searched policy (data/augment-search/policy.json) edited by hand into an invalid one, its ``policy`` or its
  ``fixed``: the line names the file's key, not params.yaml's balance.policy, which is valid;
- ingest.size that is no multiple of 4 with the augmented variant requested: refused by the params check, before
  ingest, not by gan-synthesize after every cleaner and the baseline's training.

Each names what a user relies on: the one line, and nothing partial left behind."""

from __future__ import annotations

import json

import pytest

from hostile_harness import assert_nothing_left, default_params, files_under
from test_augment import _project
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.params import validate

POLICY = "data/augment-search/policy.json"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _searched(tmp_path, monkeypatch, capsys) -> dict:
    """The search run in this process (every candidate ties, so balance.policy is kept); what it wrote."""
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["trivial"], "magnitudes": [0.3],
                                                    "op_sets": [["rotate"]]})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer", lambda *a, **k: lambda p: 0.5)
    assert _stage_in_process(tmp_path, "augment_search", monkeypatch, capsys).returncode == 0
    return json.loads((tmp_path / POLICY).read_text())


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("key", "edit", "why"), [
    ("policy", {"probability": 0.5}, "holds no valid policy (policy: unknown parameter(s) probability; known: ops, n, "
                                     "magnitude, kind, fill)"),
    ("policy", {"ops": ["rotate", "rotate"]}, "holds no valid policy (policy.ops: must name each op once, at least "
                                              "one; known ops: flip, crop, shear, rotate, translate, brightness, "
                                              "contrast, cutout, invert, noise)"),
    ("fixed", {"magnitude": 5}, "records no valid incumbent it was chosen against (fixed.magnitude: must be in (0, "
                                "1], got 5)"),
])
def test_a_searched_policy_edited_invalid_names_the_files_key_not_balance_policy(tmp_path, monkeypatch, capsys, key,
                                                                                 edit, why):
    # before: "holds no valid policy (balance.policy: unknown parameter(s) probability; ...)", "(balance.policy.ops:
    # ...)" and "(balance.policy.magnitude: must be in (0, 1], got 5)": the key of params.yaml, whose balance.policy is
    # valid (its magnitude 0.3), for what the policy file holds
    written = _searched(tmp_path, monkeypatch, capsys)
    (tmp_path / POLICY).write_text(json.dumps({**written, key: {**written[key], **edit}}))
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {POLICY}: {why}; rerun the augment-search stage (dvc repro augment-search)"])
    assert_nothing_left(tmp_path, before)
