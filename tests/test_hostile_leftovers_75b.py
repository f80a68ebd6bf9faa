"""Hostile leftovers of probe 74, mended in 75b:

- a contract verdict checked under ``threshold.issues.dark: {}`` trained by hand once params.yaml wrote the same
  setting with its default filled in (``dark: {method: auto}``), and the reverse: refused as "another
  threshold.issues", where the threshold stage cuts both alike (a real change still refuses);
"""

import json
from pathlib import Path

import pytest

from hostile_harness import default_params
from winnow.contract_verdict import bounds_of, refuse_failed
from winnow.errors import WinnowError
from winnow.file_ops import file_digests

RERUN = "run the contracts stage first (dvc repro contracts)"


def enforced_params(**issues) -> dict:
    """The harness's params under contracts.mode enforce for baseline, threshold.issues' settings replaced by
    ``issues``."""
    params = default_params()
    threshold = params["threshold"] | {"issues": params["threshold"]["issues"] | issues}
    contracts = {"mode": "enforce", "enforce_variants": ["baseline"], "bounds": {"min_images_per_class": 3}}
    return params | {"threshold": threshold, "contracts": contracts}


def write_passes(root: Path, params: dict) -> None:
    """Passing verdicts of the ingest and scores contracts and of baseline's, checked under ``params`` (as the
    contracts stage records them: metrics/contracts.json, metrics/contracts/baseline.json), of one suite file and
    one data file there."""
    (root / "contracts").mkdir()
    (root / "contracts/variant.yaml").write_text("expectations: []\n")
    (root / "data").mkdir()
    (root / "data/flags.parquet").write_bytes(b"flags")
    recorded = {"bounds": bounds_of(params["contracts"]),
                "suite_files": file_digests([Path("contracts/variant.yaml")]),
                "data_files": file_digests([Path("data/flags.parquet")])}
    passed = {"passed": 5, "failed": 0}
    (root / "metrics/contracts").mkdir(parents=True)
    (root / "metrics/contracts.json").write_text(json.dumps(recorded | {
        "mode": "enforce", "settings": {"ingest.size": params["ingest"]["size"]},
        "suites": {"ingest": passed, "scores": passed}}))
    (root / "metrics/contracts/baseline.json").write_text(json.dumps(recorded | passed | {
        "variant": "baseline", "enforced": True,
        "settings": {"threshold.issues": params["threshold"]["issues"]}}))


@pytest.mark.hostile("contracts")
@pytest.mark.parametrize(("checked", "now"), [({}, {"method": "auto"}), ({"method": "auto"}, {}),
                                              ({}, {"method": "auto", "alpha": 0.01})],
                         ids=["filled-in", "left-out", "default-written-out"])
def test_a_pass_trains_under_the_same_threshold_issues_written_otherwise(tmp_path, monkeypatch, checked, now):
    # before: "metrics/contracts/baseline.json holds a verdict checked under another threshold.issues than
    # params.yaml's", though {}, {method: auto} and auto's alpha written out at its default cut alike
    monkeypatch.chdir(tmp_path)
    write_passes(tmp_path, enforced_params(dark=checked))
    assert refuse_failed("baseline", params=enforced_params(dark=now)) is None  # trains


@pytest.mark.hostile("contracts")
def test_a_pass_checked_under_other_threshold_issues_still_trains_nothing(tmp_path, monkeypatch):
    # the same check, of a real change (dark cut at a fixed value): refused before the mend and after it
    monkeypatch.chdir(tmp_path)
    write_passes(tmp_path, enforced_params(dark={}))
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=enforced_params(dark={"method": "fixed", "value": 0.5}))
    assert str(refused.value) == ("metrics/contracts/baseline.json holds a verdict checked under another "
                                  f"threshold.issues than params.yaml's: {RERUN}")
