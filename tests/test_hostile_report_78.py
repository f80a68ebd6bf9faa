"""Hostile inputs to the report, compare, study and gate found at stop 78:

- ``winnow gate`` where neither the base's nor the target's params.yaml holds a gate section: refused as
  "params.yaml gate: missing; winnow gate needs files, tolerances, alpha and correction", naming neither revision nor
  where a section would be read from;
- the report under dvc.lock, with a predictions.csv that is not the file evaluate wrote (edited, or an earlier run's)
  beside this run's summary.json: the check of this run's files hashed summary.json alone, and the page paired the
  other predictions image by image as measured;
- the compare stage run by hand (no dvc.lock) over summaries of another test split than data/ingest's now (an earlier
  ingest), or of two: its check that they are this run's needed dvc.lock, so they were compared as one test set.
  evaluate now records the test split it measured in each summary (``test_split_digest``);
- ``winnow study collect`` over a run whose test split held no image of a class: the per-class figure drew the F1 0
  evaluate writes for such a class by convention as measured.
"""

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_manifest
from gate_repo import commit, git, init
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_compare_70 import _stage
from test_hostile_compare_72 import _lock_entry
from test_hostile_metrics_more import _evaluate_project
from test_hostile_training_66 import _evaluate_in_process
from test_study import record, show

from winnow import study_plots
from winnow.cli import main as winnow
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.metrics import PER_CLASS_METRICS, TEST_SPLIT_KEY, digest_of_test_split, predictions_path, summary_path


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


def _ingested(root, labels) -> pd.DataFrame:
    """data/ingest at ``root``: 4 train images, then a test image of each of ``labels`` (classes a, b); its manifest."""
    splits = ["train"] * 4 + ["test"] * len(labels)
    manifest = make_manifest(len(splits), labels=np.array([0, 1, 0, 1, *labels])).assign(split=splits)
    images = np.random.default_rng(0).integers(0, 256, (len(splits), 8, 8, 1), dtype=np.uint8)
    write_imageset(root / "data/ingest", images, manifest, ["a", "b"])
    return read_imageset(root / "data/ingest").manifest


def _summaries_of(project, tested: dict[str, pd.DataFrame]) -> None:
    """evaluate's summary of each variant (variant -> the manifest it was measured on), every metric 0.5."""
    for variant, manifest in tested.items():
        summary = {"per_class": {c: {m: 0.5 for m in PER_CLASS_METRICS} | {"support": 2} for c in "ab"},
                   TEST_SPLIT_KEY: digest_of_test_split(manifest)}
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(json.dumps(summary))


@pytest.mark.hostile("compare")
def test_the_compare_stage_without_dvc_lock_refuses_a_summary_of_another_test_split(tmp_path, monkeypatch):
    # run by hand (no dvc.lock): baseline was evaluated on data/ingest as it is, pruned before a re-ingest that
    # relabelled one test image. Before: the check of this run's summaries needed dvc.lock, and compare tested
    # the two against each other as measured on one test set, exit 0
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    earlier = _ingested(project, [0, 0, 1, 1])
    shutil.rmtree(project / "data/ingest")
    now = _ingested(project, [0, 1, 1, 1])
    _summaries_of(project, {"baseline": now, "pruned": earlier})
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("compare").main()
    assert str(refused.value) == (
        f"metrics/evaluate/pruned/summary.json: measured on another test split than data/ingest's now "
        f"(test_split_digest {digest_of_test_split(earlier)[:12]}, against {digest_of_test_split(now)[:12]}); "
        "rerun evaluate@pruned and the stages before it on data/ingest now (`dvc repro compare` runs each)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_the_compare_stage_without_dvc_lock_compares_summaries_of_data_ingests_test_split(tmp_path, monkeypatch):
    # the same, both evaluated on data/ingest as it is: compared (the check refuses no summary of this test split)
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    _summaries_of(project, dict.fromkeys(["baseline", "pruned"], _ingested(project, [0, 1, 1, 1])))
    monkeypatch.chdir(project)
    _stage("compare").main()
    assert (project / "reports/compare.md").is_file()


@pytest.mark.hostile("compare")
def test_the_compare_stage_without_dvc_lock_or_data_ingest_refuses_summaries_of_two_test_splits(tmp_path,
                                                                                                monkeypatch):
    # neither dvc.lock nor data/ingest (summaries copied into a folder): the two summaries record two test splits
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    one, other = _ingested(project, [0, 0, 1, 1]), _ingested(tmp_path, [1, 0, 1, 1])
    shutil.rmtree(project / "data/ingest")
    _summaries_of(project, {"baseline": one, "pruned": other})
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage("compare").main()
    assert str(refused.value) == (
        f"metrics/evaluate/pruned/summary.json: measured on another test split than "
        f"metrics/evaluate/baseline/summary.json's (test_split_digest {digest_of_test_split(other)[:12]}, against "
        f"{digest_of_test_split(one)[:12]}); rerun evaluate@pruned and the stages before it on data/ingest (one for "
        "every variant) (`dvc repro compare` runs each)")


@pytest.mark.hostile("compare")
def test_a_summary_evaluate_wrote_is_compared_until_data_ingest_relabels_a_test_image(tmp_path, monkeypatch, capsys):
    # evaluate records the test split it measured: compare, by hand (no dvc.lock), accepts its summary while data/ingest
    # is as evaluate read it, and refuses it once a re-ingest labels a test image otherwise (the summary unchanged)
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    params = default_params() | {"variants": ["baseline"]}
    params["contracts"]["enforce_variants"] = ["baseline"]
    make_project(project, params)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    _stage("compare").main()
    ingest = read_imageset(project / "data/ingest")
    relabelled = ingest.manifest.assign(label=np.where(ingest.manifest["id"] == "test-0-0", 1, ingest.manifest["label"]))
    write_imageset(project / "data/ingest", np.array(ingest.images), relabelled.drop(columns="digest"), ingest.classes)
    with pytest.raises(WinnowError) as refused:
        _stage("compare").main()
    assert str(refused.value).startswith("metrics/evaluate/baseline/summary.json: measured on another test split than "
                                         "data/ingest's now (test_split_digest ")


@pytest.mark.hostile("study")
def test_study_leaves_a_class_a_run_did_not_test_out_of_its_per_class_figure(tmp_path, capsys, monkeypatch):
    # three runs of one label-noise curve, each commit holding its summary.json; noise40's test split held no image of
    # class 2 (support 0), so evaluate wrote its F1 as 0 by convention. Before: the per-class panel drew class 2 at F1 0
    # at 0.4, as if the noise had wiped it out
    repo = make_project(tmp_path / "repo", default_params())
    init(repo)
    noise = lambda fraction: [{"kind": "symmetric_noise", "fraction": fraction}]  # noqa: E731
    runs = []
    for name, damage, f1, support in (("clean", [], (0.96, 0.95, 0.94), 5), ("noise20", noise(0.2), (0.9, 0.8, 0.7), 5),
                                      ("noise40", noise(0.4), (0.9, 0.8, 0.0), 0)):
        summary = {"per_class": {c: {"f1": v, "support": 5 if c != "2" else support} for c, v in zip("012", f1)}}
        (repo / summary_path("baseline")).parent.mkdir(parents=True, exist_ok=True)
        (repo / summary_path("baseline")).write_text(json.dumps(summary))
        commit(repo, name)
        runs.append({**record(name, damage, 0.8, f1=f1), "rev": git(repo, "rev-parse", "HEAD").strip()})
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*runs)))
    figures = {}
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: figures.setdefault(path.name, fig) and path)
    assert winnow(["study", "collect", "--from-json", str(saved), "--repo", str(repo),
                     "--out", str(tmp_path / "study")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "study: 1 run(s) had no test image of some class (noise40: class(es) 2): its F1 there is left out of the per-class "
        "figures and study.csv, not drawn as 0")
    panel = figures["per_class_f1_label_noise.png"].axes[0]
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in panel.get_lines()}
    assert lines["2"][0] == [0.0, 0.2, 0.4]
    assert lines["2"][1][:2] == [0.94, 0.7] and np.isnan(lines["2"][1][2])  # unmeasured: no point
    assert lines["1"] == ([0.0, 0.2, 0.4], [0.95, 0.8, 0.8])  # the tested classes as measured
    table = pd.read_csv(tmp_path / "study" / "study.csv")
    assert table.loc[table["experiment"] == "noise40", "f1_2"].isna().all()
