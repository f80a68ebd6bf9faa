"""Hostile cases of the contracts, score and threshold stages (a probe's findings, second pass): each asserts the
line, or the numbers, a user gets."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from hostile_harness import ROOT
from test_contracts import _stage_module


@pytest.mark.hostile("params")
def test_a_suite_file_written_as_great_expectations_writes_it_json_is_named_as_not_checked(
        tmp_path, monkeypatch, capsys):
    # before: a suite exported by Great Expectations (JSON, its own format) dropped into contracts/ was never run,
    # and the stage passed every contract without a word about its rules; a .yaml or .yml there was named
    shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
    (tmp_path / "contracts/labels.json").write_text(json.dumps({"name": "labels", "expectations": [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "label", "value_set": [0]}}]}))
    monkeypatch.chdir(tmp_path)
    _stage_module("contracts").warn_unchecked_suites()  # as the stage's main calls it, before any check
    assert capsys.readouterr().out.splitlines() == [
        "warning: contracts: contracts/labels.json is not checked: only contracts/ingest.yaml, contracts/scores.yaml, "
        "contracts/variant.yaml are run; move its expectations into one of them"]


@pytest.mark.hostile("params")
@pytest.mark.parametrize("name", ["expectations/labels.json", "labels.JSON", "ingest.YAML"])
def test_a_suite_file_in_a_folder_or_with_its_suffix_in_capitals_is_named_as_not_checked(tmp_path, monkeypatch, capsys,
                                                                                       name):
    # before: only contracts/*.yaml, *.yml and *.json were looked at, so a suite in Great Expectations' own
    # expectations/ folder, or saved as labels.JSON (ingest.YAML is another file than the ingest.yaml run), passed
    # without a word
    shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
    (tmp_path / "contracts" / name).parent.mkdir(exist_ok=True)
    (tmp_path / "contracts" / name).write_text(json.dumps({"name": "labels", "expectations": []}))
    monkeypatch.chdir(tmp_path)
    _stage_module("contracts").warn_unchecked_suites()
    assert capsys.readouterr().out.splitlines() == [
        f"warning: contracts: contracts/{name} is not checked: only contracts/ingest.yaml, contracts/scores.yaml, "
        "contracts/variant.yaml are run; move its expectations into one of them"]


@pytest.mark.hostile("params")
def test_a_suite_file_added_to_contracts_is_a_change_dvc_repro_runs_the_stage_for():
    # before: the stage's deps were its three suites, so after contracts/labels.json was added, `dvc repro` skipped
    # the stage as unchanged and the warning naming the file as not checked was never printed
    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["contracts"]["deps"]
    for added in ("contracts/labels.json", "contracts/expectations/labels.json"):
        assert any(Path(added).is_relative_to(dep) for dep in deps), added
