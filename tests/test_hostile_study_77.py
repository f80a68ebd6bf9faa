"""Hostile inputs around the degrade study, probe 77: runs that draw a curve left out as other settings, what the
summary counts, runs of old code counted as done by `study queue`, and a seed no winnow run has.

- `study collect --axis budget.fractions.0` (a list index outside degrade.perturbations, as the README's "list indices
  as numbers" allows): the runs along the axis differ there alone, yet all but one were left out as runs "with other
  settings (budget.fractions)", and the curve drew one point;
- `study collect` over runs of which one failed, one is still queued and one holds a metrics file DVC cannot read: the
  notes named each as left out, and the summary's "of N experiments" then left all three out of N (a stale run, or one
  left out for any other reason, counts there);
- `study collect --metrics metrics/evaluate/pruned.json` over three runs of `variants: [baseline]` and two of
  `[baseline, pruned]`: the three, which hold no pruned.json, were the larger setting, so the two that hold it were
  left out as of "other settings (variants)", then collect refused: "no experiment holds metrics/evaluate/pruned.json";
  and a study run without the file beside runs with it dropped out of its curve without a word;
- `study collect` over a run whose params give seed "0" (text), true or 1.5, which every stage refuses (compare too):
  averaged beside the run at seed 0 as a seed of its own ("4 at 0.2"), where it is no run winnow makes.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under
from test_study import record, show
from winnow import cli


def _with(run: dict, **params) -> dict:
    """``run`` (test_study.record) with ``params`` set in its params.yaml, each a top-level section."""
    run["data"]["params"]["params.yaml"]["data"].update(params)
    return run


@pytest.mark.hostile("study")
def test_runs_along_an_axis_of_a_list_item_are_one_curve(tmp_path, capsys):
    # three runs that differ in budget.fractions' first share alone, collected along it. Before: `same_setting` walked
    # mappings only, so the list item was never set aside and two of the three were left out as "other settings"
    runs = show(*(_with(record(name, [], accuracy), budget={"fractions": [share, 0.02, 0.05]})
                  for name, share, accuracy in (("a", 0.01, 0.9), ("b", 0.1, 0.8), ("c", 0.2, 0.7))),
                # another second share is another setting still, named as one
                _with(record("d", [], 0.6), budget={"fractions": [0.3, 0.04, 0.05]}))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out),
                     "--axis", "budget.fractions.0"]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: left out 1 run(s) with other settings (budget.fractions): d",
        "study: left out 1 experiment(s) with no finite number at budget.fractions.0 (main (nothing))",
        "study: 3 of 5 experiments on 1 sweeps"]
    table = pd.read_csv(out / "study.csv")
    assert table[["sweep", "level", "experiment", "accuracy"]].values.tolist() == [
        ["custom", 0.01, "a", 0.9], ["custom", 0.1, "b", 0.8], ["custom", 0.2, "c", 0.7]]


@pytest.mark.hostile("study")
def test_the_summary_counts_the_failed_queued_and_unread_runs_among_the_experiments_read(tmp_path, capsys):
    # five listed beside the baseline commit: two draw curves; noise60 failed, noise50 waits in the queue, and DVC
    # could not read noise40's metrics. Before: "2 of 3 experiments" (the commit and the two drawn), under three notes
    # that each said a run was left out
    noise = lambda fraction: [{"kind": "symmetric_noise", "fraction": fraction}]  # noqa: E731
    runs = show(record("clean", [], 0.95), record("noise20", noise(0.2), 0.8), record("noise40", noise(0.4), 0.7),
                record("noise50", noise(0.5), 0.6), record("noise60", noise(0.6), 0.5))
    ranges = {r["name"]: r for r in runs[1]["experiments"]}
    ranges["noise40"]["revs"][0]["data"]["metrics"]["metrics/evaluate/baseline.json"] = {
        "error": {"type": "JSONFileCorruptedError", "msg": "unable to read"}}
    ranges["noise50"]["executor"] = {"state": "queued", "name": None, "local": None}
    ranges["noise60"]["executor"] = {"state": "failed", "name": None, "local": None}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: left out 1 experiment(s) still running or queued (noise50); run this again when `dvc queue status` "
        "shows them done (queued ones run once `dvc exp run --run-all` starts them); left out 1 experiment(s) whose run "
        "failed (noise60); `dvc queue logs noise60` says why; left out 1 experiment(s) whose metrics DVC could not read "
        "(noise40: metrics/evaluate/baseline.json, unable to read); check those files at their commits",
        "study: 2 of 6 experiments on 1 sweeps"]


def _variants(run: dict, variants: list[str]) -> dict:
    """``run`` (test_study.record) of ``variants``, with the evaluate metrics file of each."""
    scores = run["data"]["metrics"]["metrics/evaluate/baseline.json"]
    run["data"]["metrics"] = {f"metrics/evaluate/{variant}.json": scores for variant in variants}
    return _with(run, variants=variants)


@pytest.mark.hostile("study")
def test_collect_chooses_the_setting_among_the_runs_that_hold_the_metrics_file(tmp_path, capsys):
    # before: c0, a2 and a4 (no pruned variant) outnumbered c1 and p2, which were left out as runs "with other
    # settings (variants)"; then "error: study: no experiment holds metrics/evaluate/pruned.json (files they hold:
    # metrics/evaluate/baseline.json)", of runs two of which hold it
    noise = [{"kind": "symmetric_noise", "fraction": 0.2}]
    runs = show(_variants(record("c0", [], 0.9), ["baseline"]), _variants(record("a2", noise, 0.8), ["baseline"]),
                _variants(record("a4", [{"kind": "symmetric_noise", "fraction": 0.4}], 0.7), ["baseline"]),
                _variants(record("c1", [], 0.85), ["baseline", "pruned"]),
                _variants(record("p2", noise, 0.75), ["baseline", "pruned"]))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out),
                     "--metrics", "metrics/evaluate/pruned.json"]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: left out 3 study run(s) that hold no metrics/evaluate/pruned.json (their params run no such variant, or "
        "their pipeline writes no such file; collect them with --metrics of a file they hold): c0, a2, a4",
        "study: 2 of 6 experiments on 1 sweeps"]
    table = pd.read_csv(out / "study.csv")
    assert table[["sweep", "level", "experiment", "accuracy"]].values.tolist() == [
        ["clean", 0.0, "c1", 0.85], ["label_noise", 0.0, "c1", 0.85], ["label_noise", 0.2, "p2", 0.75]]


@pytest.mark.hostile("study")
def test_a_study_run_without_the_metrics_file_is_named(tmp_path, capsys):
    # noise40's pipeline wrote no baseline.json (its evaluate wrote pruned's alone). Before: it dropped out of the
    # label-noise curve, and nothing said so
    runs = show(record("clean", [], 0.95), record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8),
                _variants(record("noise40", [{"kind": "symmetric_noise", "fraction": 0.4}], 0.7), ["pruned"]))
    runs[1]["experiments"][2]["revs"][0]["data"]["params"]["params.yaml"]["data"].pop("variants")
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: left out 1 study run(s) that hold no metrics/evaluate/baseline.json (their params run no such variant, "
        "or their pipeline writes no such file; collect them with --metrics of a file they hold): noise40",
        "study: 2 of 4 experiments on 1 sweeps"]


@pytest.mark.hostile("study")
@pytest.mark.parametrize("seed, shown", [("0", "'0'"), (True, "True"), (1.5, "1.5")])
def test_collect_refuses_a_run_whose_seed_is_no_integer(tmp_path, capsys, seed, shown):
    # before: drawn beside noise20 at seed 0 as a second seed of the point, "the mean of 1 to 2 runs (seeds)"
    noise = [{"kind": "symmetric_noise", "fraction": 0.2}]
    runs = show(record("clean", [], 0.95), record("noise20", noise, 0.8), _with(record("odd", noise, 0.6), seed=seed))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    before = files_under(tmp_path)
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 1
    assert capsys.readouterr().err == (
        "error: study: experiment odd: its params or metrics/evaluate/baseline.json are not what a winnow run writes "
        f"(ValueError: seed {shown} is not an integer)\n")
    assert_nothing_left(tmp_path, before)
