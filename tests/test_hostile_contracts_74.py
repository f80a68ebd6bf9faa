"""Hostile contracts, probe 74:

- a passing verdict trained by hand after params.yaml changed a setting the check read besides contracts.bounds:
  ``ingest.size`` (the ingest suite's image_size: "image height is ingest.size") or ``threshold.issues`` (none listed:
  the flagged-image rate is not measured, and fails). Both are dvc.yaml params of the stages that check, and the
  verdicts recorded neither, so train@<variant> run by hand trained on the old pass; a verdict of a run before they
  were recorded is no pass either;
- the report beside a contract verdict computed from other data files than those there now (``dvc repro -s score``
  wrote other scores, NaN among them; threshold flagged anew under pruned's unchanged rows): the page showed the earlier
  files' passes and rates as today's. train@<variant> refused such a verdict already; the report read it as current;
- a suite file missing: its line named no fix, where a folder or a dangling link in its place is told to restore it;
- data/degrade's manifest rewritten while the contracts stage ran, after it read the imageset and before the variants'
  contract took the digests of its data files: the verdict recorded the new file as the one its rates were measured
  on, and train@<variant> passed on it.
"""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under
from test_contracts import _params, _run_stage, _stage_module, project  # noqa: F401 - project: the contracts fixture
from winnow.contract_verdict import refuse_failed
from winnow.errors import WinnowError
from winnow import imageset
from winnow.file_ops import file_digests

RERUN = "run the contracts stage first (dvc repro contracts)"


@pytest.mark.hostile("training")
def test_a_pass_checked_under_another_ingest_size_or_threshold_issues_trains_nothing(
        project, tmp_path, monkeypatch):  # noqa: F811
    # before: both trained on the old pass. Under ingest.size 16 the ingest contract fails on data/ingest's 8x8 images
    # (its rule "image height is ingest.size"), and under threshold.issues {} (none) the flagged-image rate is not
    # measured, which fails its rule
    root = Path(shutil.copytree(project, tmp_path / "copy"))
    _run_stage(root, monkeypatch, mode="enforce", enforce_variants=["baseline"])
    enforced = _params(mode="enforce", enforce_variants=["baseline"])
    refuse_failed("baseline", params=enforced)  # as checked: trains
    resized = enforced | {"ingest": enforced["ingest"] | {"size": 16}}
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=resized)
    assert str(refused.value) == ("metrics/contracts.json holds a verdict checked under another ingest.size than "
                                  f"params.yaml's: {RERUN}")
    unexamined = enforced | {"threshold": enforced["threshold"] | {"issues": {}}}
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=unexamined)
    assert str(refused.value) == ("metrics/contracts/baseline.json holds a verdict checked under another "
                                  f"threshold.issues than params.yaml's: {RERUN}")


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("verdict", "settings"), [("metrics/contracts.json", "ingest.size"),
                                                    ("metrics/contracts/baseline.json", "threshold.issues")])
def test_a_pass_that_does_not_record_the_settings_it_was_checked_under_trains_nothing(
        project, tmp_path, monkeypatch, verdict, settings):  # noqa: F811
    # a verdict of a run before the settings were recorded: before the mend no verdict recorded them, and each passed
    root = Path(shutil.copytree(project, tmp_path / "copy"))
    _run_stage(root, monkeypatch, mode="enforce", enforce_variants=["baseline"])
    written = json.loads((root / verdict).read_text())
    del written["settings"]
    (root / verdict).write_text(json.dumps(written))
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=_params(mode="enforce", enforce_variants=["baseline"]))
    assert str(refused.value) == (f"{verdict} holds a verdict that does not record the params.yaml settings it was "
                                  f"checked under ({settings}): {RERUN}")


@pytest.mark.hostile("report")
@pytest.mark.parametrize(("verdict", "stage", "data"), [
    ("metrics/contracts.json", "contracts", "data/score/scores.parquet"),
    ("metrics/contracts/balanced.json", "balance", "data/threshold/flags.parquet"),
], ids=["inputs", "variant"])
def test_the_report_refuses_a_verdict_computed_from_other_data_files(tmp_path, monkeypatch, verdict, stage, data):
    # before: the page showed the verdict of the earlier file as today's ("scores 14 passed, 0 failed" over scores
    # rewritten since), where train@<variant> refuses it
    monkeypatch.chdir(tmp_path)
    (tmp_path / data).parent.mkdir(parents=True)
    (tmp_path / data).write_bytes(b"as checked")
    counts = {"passed": 5, "failed": 0, "failures": []}
    recorded = {"data_files": file_digests([data, "data/confident-learn/label_issues.parquet"])}  # the second missing
    written = recorded | ({"mode": "warn", "suites": {"ingest": counts, "scores": counts}} if stage == "contracts"
                          else {"variant": "balanced", **counts})
    (tmp_path / verdict).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / verdict).write_text(json.dumps(written))
    contract_of = _stage_module("report").contract_of
    assert contract_of(stage, verdict, suites=stage == "contracts") == written  # the files as checked: shown
    (tmp_path / data).write_bytes(b"written after the check")
    with pytest.raises(WinnowError) as refused:
        contract_of(stage, verdict, suites=stage == "contracts")
    assert str(refused.value) == (f"{verdict}: a verdict computed from another {data} than the one there now (written "
                                  f"after the check); rerun the {stage} stage (dvc repro {stage})")



@pytest.mark.hostile("intermediates")
def test_a_missing_suite_file_stops_the_contracts_stage_naming_its_fix(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # before: "error: contracts/scores.yaml: contract suite not found", no fix named, where a folder or a dangling link
    # in its place was told to restore it from git
    root = Path(shutil.copytree(project, tmp_path / "project"))
    (root / "contracts/scores.yaml").unlink()
    before = files_under(root)
    with pytest.raises(SystemExit) as stopped:
        _run_stage(root, monkeypatch, variants=("baseline", "pruned"))
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: contracts/scores.yaml: contract suite not found; restore it (git checkout -- contracts/scores.yaml)"]
    assert_nothing_left(root, before, allowed={"params.yaml"})  # the one _run_stage writes


@pytest.mark.hostile("intermediates")
def test_a_manifest_rewritten_while_the_contracts_stage_reads_is_not_recorded_as_measured(
        project, tmp_path, monkeypatch):  # noqa: F811
    # before: the variants' data files were digested after the stage had read data/degrade, so the manifest degrade
    # wrote in between (one label drawn anew) was recorded as the one measured, and the pass trained by hand
    root = Path(shutil.copytree(project, tmp_path / "copy"))
    read = imageset.read_imageset

    def read_then_degrade_rewrites(path, *args, **kwargs):
        found = read(path, *args, **kwargs)
        if Path(path) == Path("data/degrade"):  # the stage's own read, then degrade's write, done before it returns
            manifest = pd.read_parquet("data/degrade/manifest.parquet")
            manifest.loc[0, "label"] = 1 - manifest.loc[0, "label"]
            manifest.to_parquet("data/degrade/manifest.parquet")
        return found

    monkeypatch.setattr(imageset, "read_imageset", read_then_degrade_rewrites)  # as the stage module imports it
    _run_stage(root, monkeypatch, mode="enforce", enforce_variants=["baseline"])
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=_params(mode="enforce", enforce_variants=["baseline"]))
    assert str(refused.value) == ("metrics/contracts/baseline.json holds a verdict computed from another "
                                  "data/degrade/manifest.parquet than the one there now (written after the check): "
                                  f"{RERUN}")
