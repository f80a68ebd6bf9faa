"""Hostile cases of the 71st stop's probe of augmentation and synthesis:

- a searched policy (data/augment-search/policy.json) edited by hand into an invalid one, its ``policy`` or its
  ``fixed``: the line names the file's key, not params.yaml's balance.policy, which is valid;
- ingest.size that is no multiple of 4 with the augmented variant requested: refused by the params check, before
  ingest, not by gan-synthesize after every cleaner and the baseline's training;
- a search whose every candidate makes copies alike to balance.policy's (with_fixed): refused before any training, not
  balance.policy written "chosen" against no challenger.

Each names what a user relies on: the one line, and nothing partial left behind."""

from __future__ import annotations

import json

import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_augment import _project
from test_hostile_threshold_64 import _stage_in_process
from winnow.configs import Policy
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


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("size", "fix"), [(30, "28 or 32"), (10, "8 or 12")])
def test_an_ingest_size_the_gan_cannot_make_is_refused_before_ingest(tmp_path, monkeypatch, capsys, size, fix):
    # before: ingest.size 30 with augmented among the variants passed the params check; ingest, degrade, every cleaner
    # and train@baseline ran, and gan-synthesize refused only then: "gan: images of 30px do not fit the generator"
    params = default_params() | {"variants": ["baseline", "pruned", "augmented"]}
    params["ingest"]["size"] = size
    params["train"]["crop_padding"] = 2  # a crop that fits every size here
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    done = _stage_in_process(project, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: params.yaml: ingest.size: {size}, but the GAN of the augmented variant (gan-synthesize) makes images "
        f"of a multiple of 4 pixels a side; set ingest.size to {fix}, or leave augmented out of variants"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_an_ingest_size_the_gan_cannot_make_passes_without_the_augmented_variant():
    # the GAN trains only for augmented: without it, any size the models take is a size (the rule binds no other stage)
    params = default_params() | {"variants": ["baseline", "pruned"]}
    params["ingest"]["size"] = 30
    params["train"]["crop_padding"] = 2
    validate(params)  # no refusal


@pytest.mark.hostile("training")
def test_a_search_whose_every_candidate_is_balance_policy_is_refused_before_training(tmp_path, monkeypatch, capsys):
    # balance.policy's five ops in another order at its n and magnitude: the one candidate is balance.policy. Before:
    # balance.policy alone was trained and written "chosen" (chosen_is_fixed true, against_fixed kept, "1 candidates"),
    # as if it had beaten the candidates asked for
    fixed = Policy.from_params(default_params()["balance"]["policy"])
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["rand"], "ns": [fixed.n],
                                                    "magnitudes": [fixed.magnitude],
                                                    "op_sets": [list(fixed.ops[::-1])]})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer", lambda *a, **k: pytest.fail("a training ran"))
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "augment_search", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: params.yaml: augment_search.op_sets: every candidate they give (with kinds, ns and magnitudes) makes "
        "copies alike to balance.policy's, which with_fixed scores as the incumbent, so there is no candidate to "
        "compare it with; add an op set other than balance.policy's ops or a magnitude other than its 0.3, or set "
        "augment_search.enabled: false"])
    assert_nothing_left(tmp_path, before)
