"""Hostile inputs around `winnow study collect`, stop 67: one damage written two ways that degrade reads alike."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from test_study import degrade_counts, record, show
from winnow import cli


def _run(name, perturbations, accuracy, degraded, counts, seed=0):
    """A study run as `dvc exp show --json` lists it, with its data/degrade hash and metrics/degrade.json."""
    made = record(name, perturbations, accuracy)
    made["data"]["outs"] = {"data/degrade": {"hash": degraded, "size": 10, "nfiles": 3}}
    made["data"]["metrics"]["metrics/degrade.json"] = counts
    made["data"]["params"]["params.yaml"]["data"]["seed"] = seed
    return made


@pytest.mark.hostile("study")
def test_a_class_given_by_its_index_and_by_its_name_is_one_damage(tmp_path, capsys):
    # `study queue` removes class "2" by name; a replicate queued by hand at seed 1 wrote it as the index 2, which degrade
    # reads as the same class (classes "0", "1", "2"), so both runs made one data/degrade (class_removal takes every
    # image of its class at any seed). Before: both were left out as "saved with `dvc exp save` or `dvc commit` over the
    # other's outputs", and the class_deletion curve lost its only point
    removed = degrade_counts(30, 20, class_removal=10)
    shown = show(_run("clean", [], 0.95, "c.dir", degrade_counts(30, 30)),
                 _run("drop2", [{"kind": "class_removal", "classes": ["2"]}], 0.6, "r.dir", removed),
                 _run("drop2i", [{"kind": "class_removal", "classes": [2]}], 0.62, "r.dir", removed, seed=1),
                 _run("drop2twin", [{"kind": "class_removal", "classes": [2]}], 0.6, "r.dir", removed))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the index at drop2's own seed is drop2 run again: one point, not two
    assert lines[0] == ("study: left out 1 run(s) that repeat an earlier run's params and seed (one point each; runs "
                        "at other seeds are averaged): drop2twin (as drop2)")
    table = pd.read_csv(out / "study.csv")
    deletion = table[table["sweep"] == "class_deletion"]
    assert deletion.loc[deletion["level"] == 1.0, ["damage", "experiment", "accuracy"]].values.tolist() == [
        ["class_removal 2", "drop2", 0.6], ["class_removal 2", "drop2i", 0.62]]


@pytest.mark.hostile("study")
def test_a_curve_whose_levels_ran_at_different_numbers_of_seeds_says_so(tmp_path, capsys):
    # noise 0.4 at seeds 0, 1 and 2 (0.7, 0.5, 0.6), noise 0.2 and the clean run at seed 0 alone: the plot draws 0.4 at
    # the mean, 0.6, beside two single runs. Before: drawn alike, exit 0, nothing said
    runs = [record("clean", [], 0.95), record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8)]
    for seed, accuracy in enumerate((0.7, 0.5, 0.6)):
        runs.append(record(f"noise40s{seed}", [{"kind": "symmetric_noise", "fraction": 0.4}], accuracy))
        runs[-1]["data"]["params"]["params.yaml"]["data"]["seed"] = seed
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*runs)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "study: the points of 1 curve(s) average different numbers of runs (seeds): label_noise symmetric_noise (1 at "
        "0, 1 at 0.2, 3 at 0.4); run the missing seeds to draw each point over as many runs")
    table = pd.read_csv(out / "study.csv")
    assert table.loc[table["level"] == 0.4, "accuracy"].tolist() == [0.7, 0.5, 0.6]


@pytest.mark.hostile("study")
def test_a_class_given_by_its_index_is_named_as_the_run_s_classes_name_it(tmp_path, capsys):
    # classes a, b, c: the sweep removes "b" at seed 0, a replicate queued by hand at seed 1 writes it as the index 1,
    # which degrade reads as b, so both made one data/degrade (class_removal takes every image of its class at any
    # seed). Before: both were left out as "saved with `dvc exp save` ... over the other's outputs", and the
    # class_deletion curve lost its only point
    removed = degrade_counts(30, 20, class_removal=10)
    runs = [_run("clean", [], 0.95, "c.dir", degrade_counts(30, 30)),
            _run("dropb", [{"kind": "class_removal", "classes": ["b"]}], 0.6, "r.dir", removed),
            _run("drop1", [{"kind": "class_removal", "classes": [1]}], 0.62, "r.dir", removed, seed=1)]
    shown = show(*runs)
    for run in [*shown, *runs]:  # the workspace, the baseline commit and the runs: classes named a, b, c
        metrics = run["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"]
        metrics["per_class"] = dict(zip("abc", metrics["per_class"].values()))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert not [line for line in capsys.readouterr().out.splitlines() if "left out" in line]
    table = pd.read_csv(out / "study.csv")
    deletion = table[table["sweep"] == "class_deletion"]
    assert deletion[["damage", "level", "experiment"]].values.tolist() == [
        ["class_removal b", 0.0, "clean"], ["class_removal b", 1.0, "drop1"], ["class_removal b", 1.0, "dropb"]]


@pytest.mark.hostile("compare")
def test_compare_reads_a_class_by_its_index_as_the_run_s_classes_name_it(tmp_path, capsys):
    # compare's runs of one damage at seeds 0 and 1, class b removed by name and then by its index 1 (classes a, b, c):
    # one data/degrade. Before: both left out as saved over the other's outputs, and "no experiment holds metrics"
    def run(name, seed, classes, by):
        f1 = {c: round(f + by, 2) for c, f in zip("abc", (0.5, 0.2, 0.7))}
        made = {"rev": name * 40, "name": name, "error": None, "data": {
            "params": {"params.yaml": {"data": {"seed": seed, "degrade": {
                "perturbations": [{"kind": "class_removal", "classes": classes}]}}}},
            "metrics": {f"metrics/evaluate/{v}.json": {"data": {
                "accuracy": 0.6, "macro": {"f1": 0.4}, "per_class": {c: {"f1": f + gain} for c, f in f1.items()}}}
                for v, gain in (("baseline", 0.0), ("pruned", 0.1))},
            "outs": {"data/degrade": {"hash": "r.dir", "size": 10, "nfiles": 3}}}}
        return made

    commit = {**run("a", 2, ["b"], 0.0), "experiments": [
        {"revs": [exp], "name": exp["name"], "executor": None} for exp in (run("b", 0, ["b"], 0.1),
                                                                           run("c", 1, [1], -0.1))]}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps([commit]))
    assert cli.main(["compare", "--from-json", str(saved), "--variants", "baseline", "pruned"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "# Variants over 3 run(s) (seeds 2, 0, 1)"


@pytest.mark.hostile("study")
def test_a_sweep_of_an_ingest_setting_says_each_level_has_its_own_test_split(tmp_path, capsys):
    # ingest carves the test split: runs at ingest.test_fraction 0.1, 0.2 and 0.3 are scored on three test sets. Before:
    # drawn as one curve, exit 0, and nothing said so
    runs = [record(f"test{round(fraction * 100)}", [], accuracy) for fraction, accuracy in ((0.1, 0.9), (0.2, 0.8),
                                                                                            (0.3, 0.85))]
    for run, fraction in zip(runs, (0.1, 0.2, 0.3)):
        run["data"]["params"]["params.yaml"]["data"]["ingest"] = {"test_fraction": fraction}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*runs)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out),
                     "--axis", "ingest.test_fraction"]) == 0
    # the baseline commit (no ingest.test_fraction) is named as left out first
    assert capsys.readouterr().out.splitlines()[1] == (
        "study: --axis ingest.test_fraction is an ingest setting: each of its 3 levels is scored on the test split its "
        "own ingest made, not on one test set, so the curve mixes the setting's effect with other test images'")
    assert pd.read_csv(out / "study.csv")["level"].tolist() == [0.1, 0.2, 0.3]
