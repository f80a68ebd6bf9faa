"""Hostile inputs to compare found at probe 72:

- ``winnow compare`` (F1) over a run whose ``summary.json`` at its commit is there but broken (truncated, no per-class
  table, not UTF-8): read as missing without a word, so a class without test images was averaged in, exit 0, where
  ``--metrics accuracy`` refused the same file; now a note names each such file and what reading it so means;
- runs whose params differ only in a key one holds as null and the other lacks (``train.threads: null``, a line
  deleted): ``winnow compare`` named "the classes evaluated" as what set them apart, and the compare stage, whose
  dvc.lock recorded the line, stopped on an IndexError traceback;
- ``winnow compare --num 3`` over a commit DVC cannot read (its params.yaml corrupted, fixed in the next commit):
  named as an experiment "whose run failed", with `dvc queue logs <commit>` (which knows no such experiment) as where
  to read why;
- ``winnow compare``'s notes of the runs left out as repeating a seed or as lacking a variant's metrics gave a count
  alone, where every other note names its runs (the README: compare "says which runs it left out").
"""

import hashlib
import importlib.util
import json

import pytest
import yaml
from gate_repo import git, init
from hostile_harness import ROOT, assert_nothing_left, default_params, files_under, make_project

from winnow.cli import main as winnow
from winnow.compare_runs import select_runs
from winnow.errors import WinnowError
from winnow.metrics import metrics_path, summary_path


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_stage", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


F1 = {"baseline": {"a": 0.5, "z": 0.0}, "pruned": {"a": 0.6, "z": 0.0}}


def _shown(rev: str, name: str, seed: int, f1: dict, **params) -> dict:
    """One commit or experiment as `dvc exp show --json` writes it: params.yaml's ``seed`` and ``params``, and each
    variant's per-class F1 (variant -> class -> F1)."""
    return {"rev": rev, "name": name, "error": None, "data": {
        "params": {"params.yaml": {"data": {"seed": seed, **params}}},
        "metrics": {metrics_path(v): {"data": {"per_class": {c: {"f1": x} for c, x in per_class.items()}}}
                    for v, per_class in f1.items()}}}


@pytest.mark.hostile("compare")
def test_compare_names_a_key_one_run_holds_as_null_and_another_lacks(tmp_path, capsys):
    # two seeds at train.threads null, and one from before that line was written (the same classes). Before: the note
    # said "left out 1 run(s) with other settings (the classes evaluated): old", a cause that was not it
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([_shown("a" * 40, "main", 0, F1, train={"threads": None}),
                                 _shown("b" * 40, "seed1", 1, F1, train={"threads": None}),
                                 _shown("c" * 40, "old", 2, F1, train={})]))
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Variants over 2 run(s) (seeds 0, 1)\n\n"
                          "_left out 1 run(s) with other settings (train.threads): old_\n")


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("text", "why"), [
    ('{"per_class": ', "not valid JSON (Expecting value: line 1 column 15 (char 14))"),
    ('{"per_class": [0.5]}', "no per-class table"),
    (b'{"per_class": {"a": {"f1": 0.5, "support": 5}}}\xff', "not UTF-8 text")])
def test_compare_f1_names_a_runs_broken_summary_it_reads_as_missing(tmp_path, capsys, text, why):
    # the run's summaries are there at its commit but broken (a merge's conflict cut them short), so F1 is read as DVC
    # shows it, without each class's support, and z, which has no test image, is averaged in (as of a commit this
    # clone lacks, the README says). Before: without a word, exit 0, where `--metrics accuracy` refuses the same file
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    for variant in F1:
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_bytes(text if isinstance(text, bytes) else text.encode())
    init(project)
    rev = git(project, "rev-parse", "HEAD").strip()
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([_shown(rev, "main", 0, F1)]))
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Variants over 1 run(s) (seeds 0)\n\n"
                          "_read 2 summary file(s) as missing, being broken (main: "
                          f"metrics/evaluate/baseline/summary.json, {why}; main: metrics/evaluate/pruned/summary.json, "
                          f"{why}): F1 there is as DVC shows it, "
                          "without each class's count of test images, so a class of none is averaged in unless another "
                          "variant's summary of the run says so; rerun evaluate there_\n")


def _lock_entry(*, params: dict | None = None, deps: dict | None = None, outs: dict) -> dict:
    """A dvc.lock stage entry (paths -> md5)."""
    entry = {"cmd": "true", "deps": [{"path": p, "hash": "md5", "md5": m} for p, m in (deps or {}).items()],
             "outs": [{"path": p, "hash": "md5", "md5": m} for p, m in outs.items()]}
    return entry | ({"params": {"params.yaml": params}} if params else {})


@pytest.mark.hostile("compare")
def test_the_compare_stage_names_a_null_param_deleted_since_training(tmp_path, monkeypatch):
    # train@<v> ran with train.threads: null, the section dvc.lock records whole; the line was deleted since
    # (params.yaml reads a missing threads as null, dvc status as a change). Before: IndexError traceback from
    # lock_entries.first_difference under `dvc repro -s compare`
    params = default_params() | {"variants": ["baseline", "pruned"]}
    params["train"]["threads"] = None
    ran_with = json.loads(json.dumps(params["train"]))
    del params["train"]["threads"]
    project = make_project(tmp_path / "project", params)
    stages = {}
    for variant in params["variants"]:
        summary = project / summary_path(variant)
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"per_class": {c: {m: 0.5 for m in ("precision", "recall", "f1", "accuracy")}
                                                     | {"support": 5} for c in "ab"}}))
        model = f"models/{variant}.pt"
        stages[f"train@{variant}"] = _lock_entry(params={"seed": 0, "train": ran_with}, outs={model: "1" * 32})
        stages[f"evaluate@{variant}"] = _lock_entry(deps={model: "1" * 32}, outs={
            summary_path(variant): hashlib.md5(summary.read_bytes()).hexdigest()})
    (project / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("compare").main()
    assert str(refused.value) == ("metrics/evaluate/baseline/summary.json: train@baseline ran under train.threads = "
                                  "null, params.yaml now says absent: not from this run; run `dvc repro compare`, "
                                  "which brings every variant up to date")
    assert_nothing_left(project, before)


def _record(name: str, seed: int, variants=("baseline", "pruned")) -> dict:
    """A run as winnow.experiments reads it from dvc exp show: its params, the F1 of ``variants``, its inputs."""
    return {"experiment": name, "rev": name, "params": {"seed": seed}, "inputs": {"stages/train.py": "1"},
            "metrics": {metrics_path(v): {"per_class": {"a": {"f1": 0.5}}} for v in variants}}


@pytest.mark.hostile("compare")
def test_compare_names_the_runs_it_leaves_out_as_repeating_a_seed_or_lacking_a_variant():
    # before: "left out 1 run(s) repeating a seed; left out 1 run(s) without metrics for all of baseline, pruned",
    # naming neither, where the other notes (other settings, other code, stale) name theirs
    records = [_record("main", 0), _record("seed1", 1), _record("again", 1), _record("no-pruned", 2, ["baseline"])]
    runs, note = select_runs(records, variants=["baseline", "pruned"])
    assert [r["experiment"] for r in runs] == ["main", "seed1"]
    assert note == ("left out 1 run(s) repeating a seed: again; left out 1 run(s) without metrics for all of baseline, "
                    "pruned: no-pruned")


@pytest.mark.hostile("compare")
def test_compare_says_a_commit_dvc_cannot_read_is_unread_not_a_failed_run(tmp_path, capsys):
    # `dvc exp show --json --num 3` where the middle commit's params.yaml is corrupted: DVC lists that commit with
    # "data": null and its error (as dvc 3 writes it). Before: "_left out 1 experiment(s) whose run failed (36e9f83);
    # `dvc queue logs 36e9f83` says why_", though no run failed and the queue knows no such experiment
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    unreadable = {"rev": "36e9f83be25b10b42488586051c55515f66f9152", "name": None, "data": None, "experiments": None,
                  "error": {"msg": "unable to read: 'params.yaml', YAML file structure is corrupted",
                            "type": "YAMLFileCorruptedError"}}
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([_shown("a" * 40, "main", 1, F1), unreadable, _shown("c" * 40, None, 0, F1)]))
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    assert capsys.readouterr().out.startswith(
        "# Variants over 2 run(s) (seeds 1, 0)\n\n_left out 1 experiment(s) whose metrics DVC could not read (36e9f83: "
        "the whole commit, unable to read: 'params.yaml', YAML file structure is corrupted); check those files at "
        "their commits_\n")
