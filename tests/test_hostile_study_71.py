"""Hostile inputs around `winnow study collect`, probe 71: what its summary line counts.

- runs of two baselines that share an experiment name (DVC names experiments per baseline): the summary counted them
  as one experiment;
- runs `current_runs` leaves out as stale: the summary's "of N experiments" left them out of N, where a run left out
  for any other reason counts.
"""

from __future__ import annotations

import json

import pytest

from test_study import record, show
from winnow import cli, study
from winnow.experiments import experiments_from_show


def _seed(run: dict, seed: int) -> dict:
    run["data"]["params"]["params.yaml"]["data"]["seed"] = seed
    return run


@pytest.mark.hostile("study")
def test_the_summary_counts_runs_of_two_baselines_that_share_a_name_apart(tmp_path, capsys):
    # `--rev A --rev B` (or a saved show of both): each baseline ran `dvc exp run -n noise20` at its own seed, which
    # DVC allows (names are unique per baseline), and study.csv draws both. Before: "study: 2 of 5 experiments", the
    # two noise20 runs counted as one
    first = show(record("clean", [], 0.95), record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8))
    second = show(_seed({**record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.7), "rev": "1" * 40}, 1))
    second[1]["rev"] = "2" * 40  # the second baseline commit, whose own run repeats the first's
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(first + second[1:]))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].split(" ->")[0] == "study: 3 of 5 experiments on 1 sweeps"


@pytest.mark.hostile("study")
def test_the_summary_counts_the_stale_runs_among_the_experiments_read(tmp_path, monkeypatch, capsys):
    # a run whose commit changed params without `dvc repro` is left out (current_runs): before, the summary then said
    # "2 of 3 experiments", as if it had read 3, where it read 4 and left one out, as the line above it says
    runs = show(record("clean", [], 0.95), record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8),
                record("noise40", [{"kind": "symmetric_noise", "fraction": 0.4}], 0.7))
    monkeypatch.setattr(study, "load_experiments", lambda **_: experiments_from_show(runs))
    monkeypatch.setattr(study, "current_runs", lambda records, **_: (
        [r for r in records if r["experiment"] != "noise40"], "left out 1 run(s) whose metrics their own dvc.lock "
                                                              "contradicts (params.yaml; rerun `dvc repro` there): noise40"))
    assert cli.main(["study", "collect", "--out", str(tmp_path / "study")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ->")[0] for line in lines] == [
        "study: left out 1 run(s) whose metrics their own dvc.lock contradicts (params.yaml; rerun `dvc repro` there): "
        "noise40",
        "study: 2 of 4 experiments on 1 sweeps"]

