"""Hostile inputs of the data contracts, seventh pass: a suite file's own bound name, which params.yaml cannot take."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hostile_harness import files_under
from test_contracts import _run_stage, project  # noqa: F401 - project: the contracts stage's fixture


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
