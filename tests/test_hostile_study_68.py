"""Hostile inputs around `winnow study collect`, probe 68: a pair flip's mapping written by class index in one run and
by class name in another, which degrade reads alike. The runs are saved as `dvc exp show --json` writes them (a YAML
key 0 becomes the JSON key "0") and collected in-process."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from test_hostile_study_67 import _run
from test_study import degrade_counts, show
from winnow import cli


def _of_letters(run: dict) -> dict:
    """``run`` evaluated on classes a, b, c (evaluate writes per_class in the order of classes.json)."""
    metrics = run["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"]
    metrics["per_class"] = dict(zip("abc", metrics["per_class"].values()))
    return run


@pytest.mark.hostile("study")
def test_a_pair_flip_mapping_by_index_and_by_name_is_one_damage(tmp_path, capsys):
    # classes a, b, c: `mapping: {0: 1}` (seed 0) and `mapping: {a: b}` (seed 1) flip the same images' class, so they
    # are replicates of one setting. Before: read as two damages, each its own point at fraction 0.2, and the two
    # seeds were never averaged
    flipped = degrade_counts(30, 30, pair_flip=6)
    shown = show(*map(_of_letters, [
        _run("clean", [], 0.95, "c.dir", degrade_counts(30, 30)),
        _run("flip", [{"kind": "pair_flip", "fraction": 0.2, "mapping": {0: 1}}], 0.8, "f0.dir", flipped),
        _run("flipn", [{"kind": "pair_flip", "fraction": 0.2, "mapping": {"a": "b"}}], 0.7, "f1.dir", flipped, seed=1)]))
    shown = [_of_letters(run) for run in shown]  # the workspace and its commit too
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    capsys.readouterr()
    table = pd.read_csv(out / "study.csv")
    flips = table[table["level"] == 0.2]
    assert flips[["sweep", "damage", "experiment", "accuracy"]].values.tolist() == [
        ["label_noise", "pair_flip mapping={'a': 'b'}", "flip", 0.8],
        ["label_noise", "pair_flip mapping={'a': 'b'}", "flipn", 0.7]]
