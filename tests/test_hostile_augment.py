"""Hostile inputs of augmentation (issue 19): bad augmentation params stop the stages that read them, and a
missing or damaged searched policy (data/augment-search/policy.json) stops balance and train with the one
line that names the file and the stage to rerun, before any work and leaving nothing behind."""

import json

import pytest

from hostile_harness import (
    assert_error_line, assert_nothing_left, default_params, files_under, make_project, params_with, run_stage,
)

POLICY = "data/augment-search/policy.json"
RERUN = "rerun the augment-search stage (dvc repro augment-search)"
WRITTEN = {"ops": ["rotate", "shear"], "n": 1, "magnitude": 0.3, "kind": "trivial", "fill": "border"}  # as the stage writes


def _searched() -> dict:
    """Params with the search on and train.augment: searched."""
    params = default_params()
    params["augment_search"]["enabled"] = True
    params["train"]["augment"] = "searched"
    return params


@pytest.mark.hostile("params")
@pytest.mark.parametrize("stage, params, parameter, fix", [
    (("augment_search",), params_with("augment_search.op_sets", [["rotate", "twirl"]]),
     "augment_search.op_sets[0][1]", "is not one of flip, crop"),
    (("augment_search",), params_with("augment_search.magnitudes", [1.5]), "augment_search.magnitudes[0]",
     "1.5 is above 1"),
    (("balance",), params_with("balance.max_images", -10), "balance.max_images", "-10 is below 1"),
    (("balance",), params_with("balance.policy.fill", "black"), "balance.policy.fill", "is not one of border, edge"),
    (("train", "baseline"), params_with("train.augment", "searched"), "train.augment",
     "searched needs augment_search.enabled: true"),
    (("train", "baseline"), params_with("train.augment", True), "train.augment", "is not one of none, fixed, searched"),
])
def test_bad_augmentation_params_are_one_line(tmp_path, stage, params, parameter, fix):
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    done = run_stage(project, *stage)
    assert_error_line(done, f"params.yaml: {parameter}:", fix)
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage, content, problem", [
    (("balance",), None, "not found"),
    (("train", "baseline"), '{"policy": {"ops": [', "not a readable JSON file"),
    (("train", "baseline"), "[1, 2]", "holds a JSON list, not an object"),
    (("train", "baseline"), json.dumps({"val_accuracy": 0.9}), "lacks key(s) policy"),
    (("train", "pruned"), json.dumps({"policy": {**WRITTEN, "ops": ["rotate", "twirl"]}}),
     "holds no valid policy (policy.ops: unknown ['twirl']"),
    (("balance",), json.dumps({"policy": {**WRITTEN, "n": "two"}}),
     'holds no valid policy (policy.n is "two", not a whole number)'),
    # before: {} was read as Policy() (not even balance.policy) and metrics said policy_from: searched
    (("balance",), json.dumps({"policy": {}}), "holds no valid policy (policy lacks field(s) ops, n, magnitude, kind, fill)"),
    (("balance",), json.dumps({"policy": {"ops": ["rotate", "shear"], "n": True, "magnitude": True}}),
     "holds no valid policy (policy lacks field(s) kind, fill)"),
    # before: a boolean passed for a number: n true ran as one op an image and metrics recorded n: true
    (("balance",), json.dumps({"policy": {**WRITTEN, "n": True}}), "holds no valid policy (policy.n is true, not a whole number)"),
    (("train", "baseline"), json.dumps({"policy": {**WRITTEN, "magnitude": True}}),
     "holds no valid policy (policy.magnitude is true, not a number)"),
    (("balance",), json.dumps({"policy": "trivial"}), "holds no valid policy (policy is str, not a mapping)"),
])
def test_a_missing_or_damaged_searched_policy_names_its_stage(tmp_path, stage, content, problem):
    project = make_project(tmp_path / "project", _searched())
    if content is not None:
        (project / POLICY).parent.mkdir(parents=True)
        (project / POLICY).write_text(content)
    before = files_under(project)
    done = run_stage(project, *stage)
    assert_error_line(done, f"{POLICY}: {problem}", RERUN)
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_search_before_the_pipeline_ran_names_what_is_missing(tmp_path):
    project = make_project(tmp_path / "project", _searched())
    before = files_under(project)
    done = run_stage(project, "augment_search")
    assert_error_line(done, "data/ingest", "images.npy is missing (run the stage that writes it)")
    assert_nothing_left(project, before)
