"""Hostile inputs to the report, compare, study and gate found at stop 78:

- ``winnow gate`` where neither the base's nor the target's params.yaml holds a gate section: refused as
  "params.yaml gate: missing; winnow gate needs files, tolerances, alpha and correction", naming neither revision nor
  where a section would be read from;
- the report under dvc.lock, with a predictions.csv that is not the file evaluate wrote (edited, or an earlier run's)
  beside this run's summary.json: the check of this run's files hashed summary.json alone, and the page paired the
  other predictions image by image as measured.
"""

import hashlib
import json

import pytest
import yaml
from gate_repo import commit, init
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_compare_70 import _stage
from test_hostile_compare_72 import _lock_entry

from winnow.cli import main as winnow
from winnow.errors import WinnowError
from winnow.metrics import PER_CLASS_METRICS, predictions_path, summary_path


@pytest.mark.hostile("gate")
def test_the_gate_names_both_revisions_and_where_to_add_a_gate_section_when_neither_has_one(tmp_path, capsys):
    # base (HEAD~1) and target (HEAD) commit a params.yaml without a gate section; the working tree's has one (every
    # command reads it first). Before: "error: params.yaml gate: missing; winnow gate needs files, tolerances, alpha
    # and correction": no revision named, and the working tree's params.yaml, which holds one, read as the one lacking it
    project = make_project(tmp_path / "project", default_params())
    bare = {k: v for k, v in default_params().items() if k != "gate"}
    init(project)
    (project / "params.yaml").write_text(yaml.safe_dump(bare))
    commit(project, "base without a gate section")
    commit(project, "target without one either")
    make_project(project, default_params())
    code = winnow(["gate", "--base", "HEAD~1", "--target", "HEAD", "--repo", str(project)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "error: params.yaml at HEAD~1 and at HEAD: no gate section, so no tolerances to judge by; add one (files, "
        "tolerances, alpha, correction) to HEAD's params.yaml: a base without one takes the target's"]


def _evaluated_project(tmp_path, variants=("baseline", "pruned")):
    """A project whose dvc.lock records train@<v> and evaluate@<v> of each variant (no params), evaluate's outputs
    its summary.json and predictions.csv as written there now."""
    project = make_project(tmp_path / "project", default_params() | {"variants": list(variants)})
    stages = {}
    for variant in variants:
        summary, predictions = project / summary_path(variant), project / predictions_path(variant)
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"per_class": {c: {m: 0.5 for m in PER_CLASS_METRICS} | {"support": 1}
                                                     for c in "ab"}}))
        predictions.write_text("id,label,predicted,probability\ntest-0,a,a,0.9\ntest-1,b,a,0.8\n")
        model = f"models/{variant}.pt"
        stages[f"train@{variant}"] = _lock_entry(outs={model: "1" * 32})
        stages[f"evaluate@{variant}"] = _lock_entry(deps={model: "1" * 32}, outs={
            str(path.relative_to(project)): hashlib.md5(path.read_bytes()).hexdigest()
            for path in (summary, predictions)})
    (project / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    return project


@pytest.mark.hostile("report")
def test_the_report_refuses_predictions_that_are_not_the_file_evaluate_wrote(tmp_path, monkeypatch):
    # pruned's predictions.csv edited after evaluate@pruned wrote it (one test image now right), its summary.json as
    # written. The page pairs each version with baseline image by image from predictions.csv. Before: the check of
    # this run's files hashed summary.json alone, so the page tested the edited predictions as measured
    project = _evaluated_project(tmp_path)
    edited = project / predictions_path("pruned")
    edited.write_text(edited.read_text().replace("test-1,b,a", "test-1,b,b"))
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("report").main()
    assert str(refused.value) == ("metrics/evaluate/pruned/predictions.csv: not the file evaluate@pruned wrote "
                                  "(dvc.lock): not from this run; run `dvc repro report`, which brings every variant "
                                  "up to date")
    assert_nothing_left(project, before)
