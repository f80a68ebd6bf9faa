"""Hostile inputs around the study and compare over runs, probe 80:

- ``winnow compare`` and ``study collect`` over a run whose params hold no seed, or a seed of -1 or 2**40 (every stage
  refuses each, params.yaml's seed being an integer in [0, 4294967295], so no winnow run has one): counted as a seed
  of its own beside the real ones, "Variants over 5 run(s) (seeds 0, 1, null, -1, 1099511627776)", exit 0.
"""

from __future__ import annotations

import json

import pytest

from hostile_harness import assert_nothing_left, files_under
from test_hostile_exp_79 import _shown
from test_study import record, show
from winnow import cli

F1 = {"baseline": {"a": 0.5, "z": 0.7}, "pruned": {"a": 0.6, "z": 0.8}}


def _without_seed(run: dict) -> dict:
    """``run`` (a `dvc exp show --json` record) with no seed in its params.yaml."""
    del run["data"]["params"]["params.yaml"]["data"]["seed"]
    return run


def _odd_seeds() -> list:
    """(seed, the words the refusal ends with) for each seed no winnow run has (None: no seed at all)."""
    return [(-1, "seed -1 is outside [0, 4294967295], which every stage refuses"),
            (2**40, "seed 1099511627776 is outside [0, 4294967295], which every stage refuses"),
            (None, "seed missing (every stage requires one, so no winnow run lacks it)")]


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("seed, said", _odd_seeds())
def test_compare_refuses_a_run_at_a_seed_no_stage_takes(tmp_path, capsys, seed, said):
    # before: counted as a third seed beside 0 and 1, "Variants over 3 run(s) (seeds 0, 1, -1)", exit 0
    odd = _shown("c" * 40, "odd", 0 if seed is None else seed, F1)
    odd = _without_seed(odd) if seed is None else odd
    runs = [{**_shown("a" * 40, "main", 0, F1),
             "experiments": [{"revs": [run], "executor": None, "name": run["name"]}
                             for run in (_shown("b" * 40, "s1", 1, F1), odd)]}]
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    out = tmp_path / "compare.md"
    before = files_under(tmp_path)
    assert cli.main(["compare", "--from-json", str(saved), "--variants", "baseline", "pruned", "--out", str(out)]) == 1
    assert capsys.readouterr().err == (f"error: experiment odd: params {said}; compare reads the runs' params as "
                                       "`dvc exp show --json` writes them\n")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("study")
@pytest.mark.parametrize("seed, said", _odd_seeds())
def test_collect_refuses_a_run_at_a_seed_no_stage_takes(tmp_path, capsys, seed, said):
    # before: drawn beside noise20 at seed 0 as a second seed of its point
    noise = [{"kind": "symmetric_noise", "fraction": 0.2}]
    odd = record("odd", noise, 0.6)
    if seed is None:
        _without_seed(odd)
    else:
        odd["data"]["params"]["params.yaml"]["data"]["seed"] = seed
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(record("clean", [], 0.95), record("noise20", noise, 0.8), odd)))
    before = files_under(tmp_path)
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 1
    assert capsys.readouterr().err == (
        "error: study: experiment odd: its params or metrics/evaluate/baseline.json are not what a winnow run writes "
        f"(ValueError: {said})\n")
    assert_nothing_left(tmp_path, before)
