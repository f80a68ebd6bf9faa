"""Hostile inputs around the degrade study, probe 73: runs of two settings drawn as one point, a rerun counted as a
seed, and a benchmark resumed with other settings.

- `study collect`: two contamination shares that agree in their first 6 digits (0.1234567 and 0.12345671) named one
  strength curve ("brightness at 0.123457"), so runs of the two at one strength were drawn as one point, their mean;
- `study collect`: a class_removal of [1, 2] rerun at its seed as [2, 1] (the same images removed, the same run) was
  averaged with it as a second seed, and the note asked for "the missing seeds" of the other points;
- `benchmarks/degrade_study.py --seed 1` over results of seed 0 kept every run of seed 0 (the training config alone
  was compared) and wrote them under seed 1;
- the same benchmark kept a stored run whose damage its condition no longer takes (a condition edited since);
- its tables said "seed 0" whatever seed the data sets ran at;
- `study collect --metrics ./metrics/evaluate/baseline.json`: refused as a file no run holds, naming that very file
  as the one they hold, and `--metrics ""` (an unset variable) read as a file of no name;
- `study collect`: a pair flip's mapping written in another key order drew a curve of its own, its replicate at
  another seed never averaged with the run it repeats;
- `study queue --dry-run` after part of the study had run: it printed every command, the done ones too, where the queue
  leaves them out.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pandas as pd
import pytest

from hostile_harness import ROOT, assert_nothing_left, files_under
from test_hostile_study_67 import _run
from test_study import degrade_counts, ingested_project, record, show  # noqa: F401 (a fixture)
from winnow import cli, study_sweeps


@pytest.mark.hostile("study")
def test_two_shares_alike_in_six_digits_draw_two_strength_curves(tmp_path, capsys):
    # brightness factor 2 on 0.1234567 and on 0.12345671 of the train split, one run each at seed 0: two settings.
    # Before: both named "brightness at 0.123457" (":g"), so the strength curve drew one point at factor 2, the mean
    # 0.7 of two runs of other damage, as if they were seeds of one
    runs = show(record("clean", [], 0.95),
                record("b1", [{"kind": "brightness", "fraction": 0.1234567, "factor": 2.0}], 0.6),
                record("b2", [{"kind": "brightness", "fraction": 0.12345671, "factor": 2.0}], 0.8))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: 3 of 4 experiments on 2 sweeps"]
    table = pd.read_csv(out / "study.csv")
    strength = table[table["sweep"] == "strength"]
    assert strength[["damage", "level", "experiment", "accuracy"]].values.tolist() == [
        ["brightness at 0.1234567", 2.0, "b1", 0.6], ["brightness at 0.12345671", 2.0, "b2", 0.8]]


@pytest.mark.hostile("study")
def test_a_class_removal_rerun_in_another_order_is_not_a_second_seed(tmp_path, capsys):
    # classes 1 and 2 removed at seed 0, then queued by hand again as [2, 1] at seed 0: class_removal drops every image
    # of each class whatever the order, so it is the same run. Before: kept as a second run of the point, drawn as "the
    # mean of 1 to 2 runs (seeds)", and the note asked to "run the missing seeds" ("1 at 0, 2 at 2")
    removed = degrade_counts(30, 10, class_removal=20)
    runs = show(_run("clean", [], 0.95, "c.dir", degrade_counts(30, 30)),
                _run("drop12", [{"kind": "class_removal", "classes": ["1", "2"]}], 0.6, "r.dir", removed),
                _run("drop21", [{"kind": "class_removal", "classes": ["2", "1"]}], 0.6, "s.dir", removed))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: left out 1 run(s) that repeat an earlier run's params and seed (one point each; runs at other seeds are "
        "averaged): drop21 (as drop12)",
        "study: 2 of 4 experiments on 1 sweeps"]
    table = pd.read_csv(out / "study.csv")
    assert table.loc[table["sweep"] == "class_deletion", ["level", "experiment"]].values.tolist() == [
        [0.0, "clean"], [2.0, "drop12"]]


def _degrade_study(tmp_path, monkeypatch):
    """benchmarks/degrade_study.py as a module writing into ``tmp_path``, on 4 grey 2x2 images, its runs made up:
    each run's accuracy is (its seed + 1) / 10 and the list of runs made is returned too."""
    spec = importlib.util.spec_from_file_location("degrade_study_benchmark", ROOT / "benchmarks" / "degrade_study.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    made = []
    imageset = type("Loaded", (), {"images": np.zeros((4, 2, 2, 1), np.uint8),
                                   "manifest": pd.DataFrame({"split": ["train", "train", "val", "test"]})})

    def run_one(_imageset, condition, *, config, seed):
        made.append(f"{condition.damage}@{condition.level}")
        return {"damage": condition.damage, "level": condition.level, "perturbations": condition.perturbations,
                "train_images": 2, "accuracy": (seed + 1) / 10, "macro_f1": (seed + 1) / 10, "per_class_f1": {},
                "epochs": config.epochs, "best_epoch": 1, "seconds": 0.0}

    monkeypatch.setattr(module, "RESULTS", tmp_path)
    monkeypatch.setattr(module, "load_dataset", lambda name, **_: imageset)
    monkeypatch.setattr(module, "run_one", run_one)
    monkeypatch.setattr(module, "machine", lambda: "test machine")
    return module, made


@pytest.mark.hostile("study")
def test_the_degrade_study_benchmark_reruns_every_run_at_another_seed(tmp_path, monkeypatch):
    # a run of seed 0 ended, then `--seed 1` for a second replicate. Before: every run of seed 0 was kept (only the
    # training config was compared), none ran, and degrade_study.json said seed 1 of accuracies measured at seed 0
    module, made = _degrade_study(tmp_path, monkeypatch)
    conditions = [f"{c.damage}@{c.level}" for c in module.conditions(colour=False)]
    for seed in ("0", "1"):
        monkeypatch.setattr(sys, "argv", ["degrade_study.py", "--datasets", "mnist5k", "--seed", seed])
        module.main()
    assert made == conditions + conditions
    stored = json.loads((tmp_path / "degrade_study.json").read_text())["datasets"]["mnist5k"]
    assert (stored["seed"], {run["accuracy"] for run in stored["runs"]}) == (1, {0.2})
    # the tables name the seed the runs were made at (before: "seed 0", above runs of seed 1)
    assert "### mnist5k: 2 train / 1 test images, 3 epochs, seed 1\n" in (tmp_path / "degrade_study.md").read_text()


@pytest.mark.hostile("study")
def test_the_degrade_study_benchmark_reruns_a_run_whose_damage_changed(tmp_path, monkeypatch):
    # a stored run of "box blur 11" made when its condition took another damage (kernel 9, an earlier version of the
    # script, say): before, kept by its name and level alone, and tabled as kernel 11's
    module, made = _degrade_study(tmp_path, monkeypatch)
    monkeypatch.setattr(sys, "argv", ["degrade_study.py", "--datasets", "mnist5k"])
    module.main()
    path = tmp_path / "degrade_study.json"
    stored = json.loads(path.read_text())
    for run in stored["datasets"]["mnist5k"]["runs"]:
        if run["damage"] == "box blur 11":
            run["perturbations"][0]["kernel"] = 9
    path.write_text(json.dumps(stored))
    made.clear()
    module.main()
    assert made == ["box blur 11@1.0", "box blur 11@0.25"]
    runs = json.loads(path.read_text())["datasets"]["mnist5k"]["runs"]
    assert {run["perturbations"][0]["kernel"] for run in runs if run["damage"] == "box blur 11"} == {11}


@pytest.mark.hostile("study")
def test_metrics_given_from_the_current_folder_is_the_file_dvc_names(tmp_path, capsys):
    # `--metrics ./metrics/evaluate/baseline.json` (a shell's completion of ./m): before, "error: study: no experiment
    # holds ./metrics/evaluate/baseline.json (files they hold: metrics/evaluate/baseline.json); give --metrics the
    # evaluate metrics file of a variant they ran", the very file given
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(record("clean", [], 0.95),
                                     record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8))))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out), "--metrics",
                     "./metrics//evaluate/baseline.json"]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: 2 of 3 experiments on 1 sweeps"]
    table = pd.read_csv(out / "study.csv")
    assert table[["experiment", "accuracy", "metrics"]].drop_duplicates().values.tolist() == [
        ["clean", 0.95, "metrics/evaluate/baseline.json"], ["noise20", 0.8, "metrics/evaluate/baseline.json"]]


@pytest.mark.hostile("study")
def test_a_blank_metrics_file_is_a_usage_mistake(tmp_path, capsys):
    # `--metrics "$METRICS"` with the variable unset: before, "error: study: no experiment holds  (files they hold:
    # ...)", read as a file of no name
    before = files_under(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["study", "collect", "--from-json", str(tmp_path / "exps.json"), "--out", str(tmp_path / "study"),
                  "--metrics", ""])
    assert stopped.value.code == 2
    assert capsys.readouterr() == ("", "error: winnow study collect: argument --metrics: '' is no file; give its path "
                                       "from the project's root, as `dvc exp show` names it (see winnow study collect "
                                       "--help)\n")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("study")
def test_a_pair_flip_mapping_in_another_key_order_is_one_curve(tmp_path, capsys):
    # pf2 repeats pf1's damage at seed 1 with its mapping written {1: 0, 0: 1} (degrade reads each label's new class
    # from it: the order means nothing). Before: two curves, "pair_flip mapping={'0': '1', '1': '0'}" and "...{'1': '0',
    # '0': '1'}", and pf2 was not averaged with pf1 at 0.2
    def at_seed(run, seed):
        run["data"]["params"]["params.yaml"]["data"]["seed"] = seed
        return run

    runs = show(record("clean", [], 0.95),
                record("pf1", [{"kind": "pair_flip", "fraction": 0.2, "mapping": {"0": "1", "1": "0"}}], 0.8),
                at_seed(record("pf2", [{"kind": "pair_flip", "fraction": 0.2, "mapping": {"1": "0", "0": "1"}}], 0.7),
                        1))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert [line.split(" ->")[0] for line in capsys.readouterr().out.splitlines()] == [
        "study: the points of 1 curve(s) average different numbers of runs (seeds): label_noise pair_flip mapping={'0': "
        "'1', '1': '0'} (1 at 0, 2 at 0.2); run the missing seeds to draw each point over as many runs",
        "study: 3 of 4 experiments on 1 sweeps"]
    table = pd.read_csv(out / "study.csv")
    assert table.loc[table["sweep"] == "label_noise", ["damage", "level", "experiment"]].values.tolist() == [
        ["pair_flip mapping={'0': '1', '1': '0'}", 0.0, "clean"], ["pair_flip mapping={'0': '1', '1': '0'}", 0.2, "pf1"],
        ["pair_flip mapping={'0': '1', '1': '0'}", 0.2, "pf2"]]


@pytest.mark.hostile("study")
def test_a_dry_run_prints_only_the_experiments_the_queue_would_add(ingested_project, monkeypatch, capsys):  # noqa: F811
    # the clean run and keep 0.1 have run to the end (a study queued before, half of it since run): `study queue`
    # queues the other 8 of clean and size. Before: `--dry-run` printed all 10 commands, the two done ones too, and said
    # nothing of them, so the cost it showed was not the queue's
    import yaml

    params = yaml.safe_load((ingested_project / "params.yaml").read_text())

    def finished(name, perturbations):
        run = {**params, "degrade": {**params["degrade"], "enabled": True, "perturbations": perturbations}}
        shown = {"rev": name * 8, "name": name, "error": None,
                 "data": {"params": {"params.yaml": {"data": run}}, "metrics": {}}}
        return {"revs": [shown], "executor": None, "name": name}

    baseline = {"rev": "b" * 40, "name": "main", "error": None, "data": {"params": {}, "metrics": {}},
                "experiments": [finished("clean", []), finished("k01", [{"kind": "subsample", "keep": 0.1}])]}
    monkeypatch.setattr(study_sweeps, "shown_experiments", lambda **_: [baseline])
    before = files_under(ingested_project)
    assert cli.main(["study", "queue", "--sweeps", "clean", "size", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2 of the 10 experiments are queued, running or done already (`dvc exp show`); the commands of the rest"] + [
        f"dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{{kind: subsample, keep: {keep}}}]'"
        for keep in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    assert_nothing_left(ingested_project, before)
