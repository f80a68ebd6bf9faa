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
