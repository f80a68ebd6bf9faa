"""Hostile inputs of the data contracts, seventh pass: a suite file's own bound name, which params.yaml cannot take, and
a contract's output in the way of the stage that checks a variant it makes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from hostile_harness import files_under
from test_augment import _project, _stage
from test_contracts import _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from winnow.stage import run


@pytest.mark.hostile("params")
def test_a_bound_name_params_yaml_does_not_know_says_what_to_write_instead(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # a user's own rule, at least 90% of a variant's kept images measured, under a bound name of their own. Before:
    # "unknown parameter 'min_measured_share'; add it to params.yaml contracts.bounds", and params.yaml then refused
    # it ("contracts.bounds.min_measured_share: unknown parameter"): each error sent the user to the other
    root = Path(shutil.copytree(project, tmp_path / "copy"))
    suite = root / "contracts/variant.yaml"
    suite.write_text(suite.read_text() + "  - type: expect_column_min_to_be_between\n    description: measured share\n"
                     "    kwargs: {column: measured_share, min_value: {$PARAMETER: min_measured_share}}\n")
    before = files_under(root)
    with pytest.raises(SystemExit) as stopped:
        _run_stage(root, monkeypatch, mode="warn")
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: contracts/variant.yaml: expectation 6: unknown parameter 'min_measured_share'; use one of "
        "max_duplicate_rate, max_flagged_rate, max_label_issue_rate, min_class_balance, min_completeness, "
        "min_images_per_class (params.yaml contracts.bounds takes no other name), or write the bound itself as a number"]
    assert files_under(root) == before | {"params.yaml"}  # nothing written but the test's own params.yaml


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "variant"), [("balance", "balanced"), ("gan_synthesize", "augmented")])
def test_a_contract_output_in_the_way_stops_the_stage_that_checks_it_before_its_work(
        tmp_path, monkeypatch, capsys, stage, variant):
    # metrics/contracts/<variant>.json a folder (a path in the way). Before: balance made every copy, then
    # "error: stages/balance.py: metrics/contracts/balanced.json: already there as a folder [EEXIST]; free space, or
    # fix the path or its permissions, then rerun", and gan-synthesize said so after training its GAN
    _project(tmp_path, monkeypatch)
    params = yaml.safe_load(Path("params.yaml").read_text())
    Path("params.yaml").write_text(yaml.safe_dump(params | {"variants": ["baseline", "pruned", variant]}))
    Path(f"metrics/contracts/{variant}.json").mkdir(parents=True)
    before = files_under(tmp_path)
    monkeypatch.setattr(sys, "argv", [f"{stage}.py"])
    with pytest.raises(SystemExit) as stopped:
        run(_stage(stage).main)
    assert stopped.value.code == 1
    shown = stage.replace("_", "-")
    assert capsys.readouterr().err.splitlines() == [
        f"error: {shown}: metrics/contracts/{variant}.json is a folder, where the stage writes a file; move it away, "
        "then rerun"]
    assert files_under(tmp_path) == before
