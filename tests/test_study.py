"""winnow study: experiment records -> tidy table -> PNGs, on fabricated `dvc exp show --json` records."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import _env
from winnow import cli
from winnow.errors import WinnowError
from winnow.experiments import experiments_from_show
from winnow.study import tidy
from winnow.study_damage import describe
from winnow.study_plots import plot
from winnow.study_sweeps import SWEEPS, hydra_value, queue_commands, sweep_perturbations

CLASSES = ("0", "1", "2")
ROOT = Path(__file__).resolve().parents[1]


def record(name, perturbations, accuracy, *, f1=(0.9, 0.8, 0.7)):
    """One experiment as `dvc exp show --json` writes it."""
    per_class = {c: {"f1": v, "precision": v} for c, v in zip(CLASSES, f1)}
    metrics = {"accuracy": accuracy, "macro": {"f1": sum(f1) / 3}, "per_class": per_class}
    return {
        "rev": hashlib.sha1(name.encode()).hexdigest(), "name": name, "error": None, "experiments": None,
        "data": {
            "params": {"params.yaml": {"data": {"seed": 0, "degrade": {"perturbations": perturbations}}}},
            "metrics": {"metrics/evaluate/baseline.json": {"data": metrics}},
        },
    }


def show(*experiments):
    """A baseline commit with the experiments under it, plus the workspace row exp show always lists."""
    base = record("main", [{"kind": "blur", "fraction": 0.04, "kernel": 5},
                           {"kind": "symmetric_noise", "fraction": 0.15}], 0.8)
    base["experiments"] = [{"revs": [e], "executor": None, "name": e["name"]} for e in experiments]
    workspace = {**record("ws", [], 0.99), "rev": "workspace", "name": None}
    return [workspace, base]


@pytest.fixture()
def study_show():
    return show(
        record("clean", [], 0.95, f1=(0.96, 0.95, 0.94)),
        record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.85),
        record("noise40", [{"kind": "symmetric_noise", "fraction": 0.4}], 0.70),
        record("size25", [{"kind": "subsample", "keep": 0.25}], 0.88),
        record("blur-k11-25", [{"kind": "blur", "fraction": 0.25, "method": "box", "kernel": 11}], 0.9),
        record("blur-k5-100", [{"kind": "blur", "fraction": 1.0, "method": "box", "kernel": 5}], 0.6),
        record("blur-k11-100", [{"kind": "blur", "fraction": 1.0, "method": "box", "kernel": 11}], 0.3),
        record("drop1", [{"kind": "class_removal", "classes": ["1"]}], 0.64, f1=(0.8, 0.0, 0.7)),
        {**record("queued", [{"kind": "subsample", "keep": 0.5}], 0.0), "data": None},
    )


def test_flatten_skips_workspace_and_records_without_data(study_show):
    experiments = experiments_from_show(study_show)
    names = [e["experiment"] for e in experiments]
    assert names[0] == "main" and "queued" not in names and len(names) == 9
    assert experiments[1]["params"]["degrade"]["perturbations"] == []
    assert "workspace" in [e["experiment"] for e in experiments_from_show(study_show, include_workspace=True)]


@pytest.mark.parametrize("perturbations, expected", [
    ([], [("clean", "clean", 0.0)]),
    ([{"kind": "symmetric_noise", "fraction": 0.4}], [("label_noise", "symmetric_noise", 0.4)]),
    ([{"kind": "pair_flip", "fraction": 0.1}], [("label_noise", "pair_flip", 0.1)]),
    ([{"kind": "subsample", "keep": 0.1}], [("size", "subsample", 0.1)]),
    ([{"kind": "class_removal", "classes": ["3", "7"]}], [("class_deletion", "class_removal 3,7", 2.0)]),
    # the classes a removal or a subsample names are a set: written in another order, one curve
    ([{"kind": "class_removal", "classes": ["7", "3"]}], [("class_deletion", "class_removal 3,7", 2.0)]),
    ([{"kind": "class_subsample", "classes": [7, 2], "keep": 0.3}], [("imbalance", "class_subsample 2,7", 0.3)]),
    # an index and the name it reads as are one class to degrade: before, indices sorted before names and
    # ["3", 7] beside [3, "7"] (classes "0".."9") drew "7,3" and "3,7"; numbers go by value, 9 before 10
    ([{"kind": "class_removal", "classes": ["3", 7]}], [("class_deletion", "class_removal 3,7", 2.0)]),
    ([{"kind": "class_removal", "classes": [10, "9"]}], [("class_deletion", "class_removal 9,10", 2.0)]),
    ([{"kind": "class_subsample", "imbalance_ratio": 10}], [("imbalance", "long_tail", 10.0)]),
    # the tail's order is its own curve: before, [1, 0] and the default order shared one point and were averaged
    ([{"kind": "class_subsample", "classes": ["1", "0"], "imbalance_ratio": 10}],
     [("imbalance", "long_tail 1,0", 10.0)]),
    ([{"kind": "class_subsample", "classes": [7], "keep": 0.3}], [("imbalance", "class_subsample 7", 0.3)]),
    ([{"kind": "brightness", "fraction": 0.25, "factor": 0.05}],
     [("proportion", "brightness factor=0.05", 0.25), ("strength", "brightness at 0.25", 0.05)]),
    ([{"kind": "blur", "fraction": 1.0, "method": "median", "kernel": 7}],
     [("proportion", "blur method=median kernel=7", 1.0), ("strength", "blur method=median at 1", 7.0)]),
    ([{"kind": "downscale", "fraction": 1.0, "size": 4}],
     [("proportion", "downscale size=4", 1.0), ("strength", "downscale at 1", 4.0)]),
    ([{"kind": "grayscale", "fraction": 0.5}], [("proportion", "grayscale", 0.5)]),
    ([{"kind": "exact_duplicate", "fraction": 0.5, "mode": "overwrite"}],
     [("proportion", "exact_duplicate mode=overwrite", 0.5)]),
    ([{"kind": "symmetric_noise", "fraction": 0.1}, {"kind": "blur", "fraction": 0.1, "kernel": 5}], []),
    ([{"kind": "symmetric_noise", "rates": {"3": 0.5}}], []),
])
def test_describe_names_the_damage_and_level_of_each_sweep_kind(perturbations, expected):
    assert describe({"degrade": {"enabled": True, "perturbations": perturbations}}) == expected


def test_describe_disabled_degrade_is_clean():
    assert describe({"degrade": {"enabled": False, "perturbations": [{"kind": "subsample", "keep": 0.5}]}}) == [
        ("clean", "clean", 0.0)]


def test_describe_axis_reads_the_level_from_a_params_path():
    params = {"degrade": {"perturbations": [{"kind": "symmetric_noise", "fraction": 0.15},
                                            {"kind": "blur", "fraction": 0.3, "kernel": 5}]}}
    assert describe(params, axis="degrade.perturbations.1.fraction") == [
        ("custom", "symmetric_noise fraction=0.15 + blur method=box kernel=5", 0.3)]  # box: blur's default
    assert describe(params, axis="degrade.perturbations.5.fraction") == []
    assert describe({"train": {"epochs": 3}, "degrade": {}}, axis="train.epochs") == [("custom", "clean", 3.0)]


def test_every_standard_sweep_is_read_back_by_describe():
    for sweep in SWEEPS:
        for perturbations in sweep_perturbations(sweep, classes=["0", "7"], colour=True):
            sweeps = [s for s, _, _ in describe({"degrade": {"enabled": True, "perturbations": perturbations}})]
            # grayscale and exact copies have no strength option: on 100% they are points of their proportion curve
            no_strength = bool(perturbations) and perturbations[0]["kind"] in ("grayscale", "exact_duplicate")
            expected = "proportion" if no_strength and sweep == "strength" else sweep
            assert expected in sweeps, (sweep, perturbations)


def test_tidy_columns_levels_and_clean_origins(study_show):
    table = tidy(experiments_from_show(study_show))
    assert list(table.columns[:7]) == ["sweep", "damage", "level", "experiment", "commit", "accuracy", "macro_f1"]
    assert [c for c in table.columns if c.startswith("f1_")] == ["f1_0", "f1_1", "f1_2"]
    assert "main" not in set(table["experiment"])  # several perturbations: not a study run
    noise = table[table["sweep"] == "label_noise"]
    assert noise["level"].tolist() == [0.0, 0.2, 0.4] and noise["accuracy"].tolist() == [0.95, 0.85, 0.70]
    size = table[table["sweep"] == "size"]
    assert size["level"].tolist() == [0.25, 1.0]  # the clean run is size 100%
    strength = table[table["sweep"] == "strength"]
    assert strength["level"].tolist() == [11.0, 5.0, 11.0]  # no clean origin on a strength axis
    assert set(strength["damage"]) == {"blur method=box at 0.25", "blur method=box at 1"}
    deleted = table[(table["sweep"] == "class_deletion") & (table["level"] == 1.0)]
    assert deleted["f1_1"].tolist() == [0.0]


def test_tidy_other_metrics_file_and_empty_input(study_show):
    # before: an empty table, then "no experiment is a study run" when a --metrics file no run holds was named
    with pytest.raises(WinnowError) as refused:
        tidy(experiments_from_show(study_show), metrics_file="metrics/evaluate/pruned.json")
    assert str(refused.value) == ("study: no experiment holds metrics/evaluate/pruned.json (files they hold: "
                                  "metrics/evaluate/baseline.json); give --metrics the evaluate metrics file of a "
                                  "variant they ran")
    assert tidy([]).empty


@pytest.mark.hostile("study")
def test_collect_given_a_metrics_file_that_is_no_evaluate_one_says_so(tmp_path, study_show, capsys):
    # before: "no experiment is a study run ... queue some with winnow study queue", to runs that were study runs
    for exp in study_show[1]["experiments"]:
        for record in (r for r in exp["revs"] if r["data"]):  # the queued one has none
            record["data"]["metrics"]["metrics/ingest.json"] = {"data": {"images": {"train": 3255}}}
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps(study_show))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--metrics", "metrics/ingest.json",
                     "--out", str(tmp_path / "s")]) == 1
    assert capsys.readouterr().err == ("error: study: metrics/ingest.json holds no accuracy in any experiment (not an "
                                       "evaluate metrics file); give --metrics the evaluate metrics file of a variant "
                                       "they ran\n")
    assert not (tmp_path / "s").exists()


@pytest.mark.hostile("study")
def test_collect_where_the_table_cannot_go_writes_no_plot(tmp_path, study_show, capsys):
    # before: one error line, but new accuracy.png and per_class_f1_*.png written beside the old study.csv (and the
    # old per_class_f1_* plots deleted first)
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(study_show))
    out = tmp_path / "study"
    (out / "study.csv").mkdir(parents=True)
    (out / "per_class_f1_old.png").write_bytes(b"old")
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 1
    assert capsys.readouterr().err == f"error: --out {out / 'study.csv'}: is a folder; give a file path\n"
    assert sorted(p.name for p in out.iterdir()) == ["per_class_f1_old.png", "study.csv"]


def test_plot_without_study_runs_says_what_to_do(tmp_path):
    with pytest.raises(WinnowError, match="winnow study queue"):
        plot(tidy(experiments_from_show(show())), out_dir=tmp_path)


def test_collect_command_writes_csv_and_pngs(tmp_path, study_show, capsys):
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(study_show))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert (out / "study.csv").read_text().startswith("sweep,damage,level,experiment,commit,accuracy,macro_f1,f1_0")
    assert "8 of 9 experiments on 5 sweeps" in capsys.readouterr().out
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["accuracy.png", "per_class_f1_class_deletion.png", "per_class_f1_label_noise.png",
                    "per_class_f1_proportion.png", "per_class_f1_size.png", "per_class_f1_strength.png"]
    assert all((out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)
    assert cli.main(["study", "collect", "--from-json", str(tmp_path / "missing.json")]) == 1
    # collected again with the label-noise sweep alone: the other sweeps' plots go (they showed stale curves)
    noise20 = record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.85)
    saved.write_text(json.dumps(show(record("clean", [], 0.95), noise20)))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["accuracy.png", "per_class_f1_label_noise.png"]


def test_hydra_values_keep_types():
    assert hydra_value([{"kind": "blur", "fraction": 1.0, "method": "box", "kernel": 11}]) == \
        "[{kind: blur, fraction: 1.0, method: box, kernel: 11}]"
    assert hydra_value({"classes": ["7", "cat", "true"], "on": False}) == '{classes: ["7", cat, "true"], on: false}'
    assert hydra_value([]) == "[]"


def test_queue_commands_and_dry_run(capsys):
    commands = queue_commands(["clean", "class_deletion"], classes=["3"], colour=False)
    assert commands[0][-1] == "degrade.perturbations=[]"
    assert commands[1][:4] == ["dvc", "exp", "run", "--queue"]
    assert commands[1][-1] == 'degrade.perturbations=[{kind: class_removal, classes: ["3"]}]'
    grayscale = [c for c in queue_commands(["strength"], classes=[], colour=True) if "grayscale" in c[-1]]
    gray_data = queue_commands(["strength"], classes=[], colour=False)
    assert len(grayscale) == 1 and not any("grayscale" in c[-1] for c in gray_data)
    assert cli.main(["study", "queue", "--sweeps", "label_noise", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[0].endswith("'degrade.perturbations=[{kind: symmetric_noise, fraction: 0.1}]'")


@pytest.fixture
def ingested_project(tmp_path, monkeypatch):
    """A project folder whose ingest wrote the classes a, b and c."""
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (tmp_path / "data/ingest").mkdir(parents=True)
    (tmp_path / "data/ingest/classes.json").write_text('["a", "b", "c"]')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_queue_refuses_a_class_the_data_lacks_before_queueing_anything(ingested_project, capsys):
    assert cli.main(["study", "queue", "--sweeps", "clean", "class_deletion", "--classes", "a", "bogus"]) == 1
    out, err = capsys.readouterr()
    assert err == ("error: study queue --classes: 'bogus' not among the 3 classes of data/ingest/classes.json "
                   "(a, b, c)\n")
    assert out == ""  # not one experiment queued: the clean run's command would have been printed first


def test_queue_deletes_every_ingested_class_by_default(ingested_project, capsys):
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{{kind: class_removal, "
                     f"classes: [{name}]}}]'" for name in "abc"]


@pytest.mark.parametrize("written, shown", [
    ('{"a": 1}', '{"a": 1}'),  # before: queued the deletion of class a
    ("[]", "[]"),  # before: queued nothing, exit 0, without a word
    ('["0", "0"]', '["0", "0"]'),  # before: the same experiment twice
    ("[1, null]", "[1, null]"),  # before: queued classes: [None]
])
def test_queue_refuses_ingested_class_names_ingest_cannot_have_written(ingested_project, capsys, written, shown):
    (ingested_project / "data/ingest/classes.json").write_text(written)
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--dry-run"]) == 1
    assert capsys.readouterr().err == (f"error: data/ingest/classes.json: not a JSON list of distinct class names "
                                       f"(it holds {shown}); run `dvc repro ingest`\n")


@pytest.mark.parametrize("args, expected", [
    (["--sweeps", "clean", "clean"], "--sweeps: clean given twice; each queues its experiments once"),
    (["--sweeps", "class_deletion", "--classes", "a", "a"], "--classes: a given twice; each queues its experiments once"),
    # before: --classes was read by nothing, and the queue went ahead without a word
    (["--sweeps", "label_noise", "--classes", "a"], "--classes: only class_deletion reads it, and --sweeps leaves it "
                                                    "out; add class_deletion to --sweeps or drop --classes"),
])
def test_queue_refuses_arguments_that_would_queue_twice_or_say_nothing(ingested_project, capsys, args, expected):
    assert cli.main(["study", "queue", *args, "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"error: study queue {expected}\n")


def test_queue_refuses_grayscale_conversion_of_one_channel_data(ingested_project, capsys):
    np.save(ingested_project / "data/ingest/images.npy", np.zeros((3, 4, 4, 1), np.uint8))
    assert cli.main(["study", "queue", "--sweeps", "strength", "--grayscale", "--dry-run"]) == 1
    # before: queued an experiment whose degrade refuses it ("images have 1 channel")
    assert capsys.readouterr().err == ("error: study queue --grayscale: data/ingest/images.npy holds 1-channel "
                                       "images, which are grayscale already (degrade refuses the conversion); drop "
                                       "--grayscale\n")


def grey_train_images(project, *, off: int) -> None:
    """data/ingest of 2 train images of equal RGB channels, the second's red ``off`` levels up, and 1 colour test image
    (RGB files of black-and-white photos, one colour photo making the set RGB)."""
    images = np.repeat(np.arange(48, dtype=np.uint8).reshape(3, 4, 4, 1), 3, axis=3)
    images[1, ..., 0] += off
    images[2, ..., 2] += 9
    np.save(project / "data/ingest/images.npy", images)
    pd.DataFrame({"split": ["train", "train", "test"]}).to_parquet(project / "data/ingest/manifest.parquet")


@pytest.mark.hostile("study")
def test_queue_refuses_grayscale_conversion_of_colour_files_whose_train_images_are_grey(ingested_project, capsys):
    # one grey level off grey at every pixel is grey to the grayscale score's own cut too. Before: queued, and the
    # experiment's degrade refused the conversion ("the 2 images it picked are grey already")
    grey_train_images(ingested_project, off=1)
    assert cli.main(["study", "queue", "--sweeps", "strength", "--grayscale", "--dry-run"]) == 1
    assert capsys.readouterr().err == ("error: study queue --grayscale: the train images of data/ingest/images.npy are "
                                       "all grey already (channels at most a grey level apart; degrade refuses the "
                                       "conversion); drop --grayscale\n")


def test_queue_queues_grayscale_conversion_where_one_train_image_is_in_colour(ingested_project, capsys):
    grey_train_images(ingested_project, off=2)  # two levels apart: colour to the score, which degrade converts
    assert cli.main(["study", "queue", "--sweeps", "strength", "--grayscale", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("dvc exp run --queue -S degrade.enabled=true -S "
                                                        "'degrade.perturbations=[{kind: grayscale, fraction: 1.0}]'")


@pytest.mark.parametrize("num", ["0", "-2"])
def test_collect_refuses_a_number_of_commits_below_one_but_all(tmp_path, capsys, num):
    assert cli.main(["study", "collect", "--num", num, "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (f"error: study collect --num {num}: give the number of commits back from HEAD "
                                       "whose experiments count (at least 1), or -1 for all\n")


def test_queue_without_ingest_asks_for_the_class_names(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--dry-run"]) == 1
    assert capsys.readouterr().err == (
        "error: study queue: class_deletion needs the class names and data/ingest/classes.json does not exist; run "
        "`dvc repro ingest`, give --classes, or leave class_deletion out of --sweeps\n")


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("edit", "expected"), [
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"].update(accuracy="high"),
     "error: study: experiment noisy: its params or metrics/evaluate/baseline.json are not what a winnow run writes "
     "(ValueError: 'high' is not a number in [0, 1])"),
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"].update(accuracy=float("nan")),
     "error: study: experiment noisy: its params or metrics/evaluate/baseline.json are not what a winnow run writes "
     "(ValueError: nan is not a number in [0, 1])"),
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"].update(per_class={"a": 0.7}),
     "error: study: experiment noisy: its params or metrics/evaluate/baseline.json are not what a winnow run writes "
     "(AttributeError: 'float' object has no attribute 'get')"),
    (lambda r: r["data"]["params"]["params.yaml"]["data"]["degrade"].update(perturbations=[{"kind": "subsample"}]),
     "error: study: experiment noisy: degrade.perturbations[0] (subsample): keep is required (a number in "
     "[0.0, 1.0])"),
    # before: each of these became a point of a curve, exit 0
    (lambda r: r["data"]["params"]["params.yaml"]["data"]["degrade"]["perturbations"][0].update(fraction="0.4"),
     "error: study: experiment noisy: degrade.perturbations[0] (symmetric_noise): fraction must be a number in "
     "[0.0, 1.0], got '0.4'"),
    (lambda r: r["data"]["params"]["params.yaml"]["data"]["degrade"]["perturbations"][0].update(fraction=True),
     "error: study: experiment noisy: degrade.perturbations[0] (symmetric_noise): fraction must be a number in "
     "[0.0, 1.0], got True"),
    (lambda r: r["data"]["params"]["params.yaml"]["data"]["degrade"]["perturbations"][0].update(fraction=-5),
     "error: study: experiment noisy: degrade.perturbations[0] (symmetric_noise): fraction must be a number in "
     "[0.0, 1.0], got -5"),
    (lambda r: r["data"]["params"]["params.yaml"]["data"]["degrade"].update(
        perturbations=[{"kind": "class_removal", "classes": "abc"}]),
     "error: study: experiment noisy: degrade.perturbations[0] (class_removal): classes must be a non-empty list of "
     "classes, got 'abc'"),
    # before: NaN in study.csv and a gap in the class's curve, exit 0 without a word
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"]["per_class"]["0"].pop("f1"),
     "error: study: experiment noisy: its params or metrics/evaluate/baseline.json are not what a winnow run writes "
     "(ValueError: None is not a number in [0, 1])"),
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"].pop("macro"),
     "error: study: experiment noisy: its params or metrics/evaluate/baseline.json are not what a winnow run writes "
     "(ValueError: None is not a number in [0, 1])"),
    # before: the experiment was left out without a word
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"].update(data=[0.7]),
     "error: study: experiment noisy: metrics/evaluate/baseline.json holds a list, not the mapping evaluate writes"),
    (lambda r: r["data"]["params"]["params.yaml"].update(data=["seed", 0]),
     "error: study: experiment noisy: its params are not what a winnow run writes (a list, not a mapping)"),
    # before: left out without a word
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"].pop("accuracy"),
     "error: study: experiment noisy: metrics/evaluate/baseline.json holds no accuracy (evaluate writes one); rerun "
     "its evaluate stage, or leave it out of the collection"),
    (lambda r: r["data"]["metrics"]["metrics/evaluate/baseline.json"].update(data={}),
     "error: study: experiment noisy: metrics/evaluate/baseline.json holds no accuracy (evaluate writes one); rerun "
     "its evaluate stage, or leave it out of the collection"),
], ids=["text-accuracy", "nan-accuracy", "per-class-number", "subsample-without-keep", "text-fraction",
        "bool-fraction", "negative-fraction", "text-classes", "class-f1-missing", "macro-missing", "metrics-list",
        "params-list", "accuracy-missing", "metrics-empty"])
def test_collect_refuses_a_record_no_winnow_run_writes(tmp_path, capsys, edit, expected):
    # before: a ValueError, AttributeError or KeyError traceback, or a NaN accuracy in study.csv with exit 0
    noisy = record("noisy", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.7)
    edit(noisy)
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(noisy)))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 1
    assert capsys.readouterr().err == expected + "\n"
    assert not (tmp_path / "study").exists()


@pytest.mark.hostile("compare")
def test_collect_refuses_runs_of_two_data_sets(tmp_path, capsys):
    # before: the CIFAR run's classes became columns beside the digits' and its accuracy a point of the digits'
    # noise curve, exit 0
    cifar = record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.5)
    cifar["data"]["metrics"]["metrics/evaluate/baseline.json"]["data"]["per_class"] = {
        name: {"f1": 0.5} for name in ("airplane", "automobile", "bird")}
    saved = tmp_path / "exps.json"
    # a digits run of the same name on another revision once hid the CIFAR run's classes
    digits = {**record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8), "rev": "f" * 40}
    saved.write_text(json.dumps(show(record("clean", [], 0.95), cifar, digits)))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 1
    assert capsys.readouterr().err == (
        # the CIFAR noise20 named by its commit too: the digits run shares its name (stop 73)
        f"error: study: experiments main and noise20 ({cifar['rev'][:7]}) were scored on different classes (0, 1, 2 "
        "against airplane, automobile, bird): collect the runs of one data set (--rev, or a --from-json of those "
        "runs)\n")
    assert not (tmp_path / "study").exists()


def test_collect_leaves_out_runs_with_other_settings_and_says_so(tmp_path, capsys):
    # before: a run trained for 2 epochs became the 0.3 point of the label-noise curve without a word
    odd = record("noise30-short", [{"kind": "symmetric_noise", "fraction": 0.3}], 0.5)
    odd["data"]["params"]["params.yaml"]["data"]["train"] = {"epochs": 2}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(record("clean", [], 0.95), record("noise20", [{"kind": "symmetric_noise",
                                                                                   "fraction": 0.2}], 0.85), odd)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "study: left out 1 run(s) with other settings (train): noise30-short")
    assert "noise30-short" not in (out / "study.csv").read_text()


@pytest.mark.hostile("compare")
def test_collect_from_json_given_a_folder_says_so(tmp_path, capsys):
    # before: "not found", for a folder that is there
    (tmp_path / "exps").mkdir()
    assert cli.main(["study", "collect", "--from-json", str(tmp_path / "exps"), "--out", str(tmp_path / "s")]) == 1
    assert capsys.readouterr().err == (f"error: --from-json: {tmp_path / 'exps'} is a folder, not a file (write it "
                                       f"with `dvc exp show --json > {tmp_path / 'exps'}`)\n")


@pytest.mark.parametrize("name", ["café", "日本", "a\\b", "a\\", 'a"b', '\\"', "x,y", "it's", "${x}", "true", "7"])
def test_a_class_name_reaches_degrade_as_it_is_written(name, tmp_path):
    # before: "café" went bare and Hydra's lexer refused it after three experiments were queued; "a\b" was
    # JSON-escaped and Hydra kept the escape, so the experiment deleted a class 'a\\b' the data lacks. Read as
    # dvc exp run -S applies it to params.yaml (Hydra's parser, then OmegaConf, which resolves "${x}": Hydra's parse
    # alone read it as written while dvc stopped on "Interpolation key 'x' not found")
    from dvc.utils.hydra import apply_overrides

    from winnow.yaml_text import load_yaml

    override = queue_commands(["class_deletion"], classes=[name], colour=False)[0][-1]
    (tmp_path / "params.yaml").write_text("degrade:\n  perturbations: []\n")
    apply_overrides(str(tmp_path / "params.yaml"), [override])
    parsed = load_yaml((tmp_path / "params.yaml").read_text(), name="params.yaml")["degrade"]["perturbations"]
    assert parsed == [{"kind": "class_removal", "classes": [name]}]


def test_the_default_queue_runs_each_experiment_once():
    # before: strength and proportion both queued brightness 3.0, blur 5 … at fraction 1, with their keys in another
    # order: 142 commands for 133 settings, 9 full runs twice
    from hydra.core.override_parser.overrides_parser import OverridesParser  # how dvc exp run -S reads it

    commands = queue_commands(list(SWEEPS), classes=["a", "b"], colour=True)
    parser = OverridesParser.create()
    settings = [json.dumps(parser.parse_override(command[-1]).value(), sort_keys=True) for command in commands]
    every = {json.dumps(p, sort_keys=True) for sweep in SWEEPS
             for p in sweep_perturbations(sweep, classes=["a", "b"], colour=True)}
    assert (len(settings), set(settings)) == (len(every), every)


def test_a_queue_that_fails_midway_removes_what_it_queued(ingested_project, monkeypatch, capsys):
    # before: the experiments queued before the failing one stayed queued, a partial study
    bin_dir = ingested_project / "bin"
    bin_dir.mkdir()
    log = ingested_project / "dvc.log"
    (bin_dir / "dvc").write_text(f"""#!/bin/sh
echo "$@" >> {log}
if [ "$2" = "run" ]; then
  n=$(grep -c "exp run" {log})
  if [ "$n" -ge 3 ]; then echo "ERROR: lexer" >&2; exit 255; fi
  echo "Queued experiment 'exp-$n' for future execution."
fi
""")
    (bin_dir / "dvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    assert cli.main(["study", "queue", "--sweeps", "class_deletion"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: study queue: `dvc exp run --queue")
    assert err.endswith("failed with status 255; the 2 queued before it were removed\n")
    assert log.read_text().splitlines()[-1] == "queue remove exp-1 exp-2"


# `winnow study queue --sweeps class_deletion`, the stop study queue takes between two experiments (its handler for
# SIGINT and SIGTERM) noted in the file STOPPED once taken, for the stand-in dvc to wait on
_STOP_NOTED = """
import signal, sys, types
from pathlib import Path
import winnow.study_sweeps as sweeps
from winnow import cli

put_back = []  # the handlers the queue's replace, which it puts back as they were


def noting(number, handler):
    if any(handler is back for back in put_back):
        return signal.signal(number, handler)

    def noted(number, frame):
        handler(number, frame)
        Path(STOPPED).touch()

    put_back.append(signal.signal(number, noted))
    return put_back[-1]


sweeps.signal = types.SimpleNamespace(signal=noting, Signals=signal.Signals, SIGINT=signal.SIGINT,
                                      SIGTERM=signal.SIGTERM)
sys.argv = ["winnow", "study", "queue", "--sweeps", "class_deletion"]
sys.exit(cli.main())
"""


@pytest.mark.hostile("study")
@pytest.mark.parametrize("number, busy_at", [(signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGINT, 3)],
                         ids=["SIGINT", "SIGTERM", "SIGINT-during-the-last"])
def test_a_queue_interrupted_midway_removes_what_it_queued(ingested_project, number, busy_at):
    # before: "interrupted; outputs not yet complete were left unwritten", with part of the study left queued. The
    # stand-in dvc queueing experiment busy_at ends once the stop has reached the queue: before, it slept 2 s, and a
    # test held back that long between seeing it busy and sending the stop (forced: 2.5 s) stopped a queue already
    # done, status 130 or 143 in all three cases
    bin_dir, log, busy = ingested_project / "bin", ingested_project / "dvc.log", ingested_project / "busy"
    stopped = ingested_project / "stopped"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(f"""#!/bin/sh
echo "$@" >> {log}
if [ "$2" = "run" ]; then
  n=$(grep -c "exp run" {log})
  if [ "$n" -eq {busy_at} ]; then
    touch {busy}
    i=0
    while [ ! -e {stopped} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done  # a stop that never comes: 60 s
  fi
  echo "Queued experiment 'exp-$n' for future execution."
fi
""")
    (bin_dir / "dvc").chmod(0o755)
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    study = subprocess.Popen([sys.executable, "-c", _STOP_NOTED.replace("STOPPED", repr(str(stopped)))],
                             cwd=ingested_project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not busy.exists() and study.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    study.send_signal(number)  # while experiment busy_at is being queued: the stop comes once it is
    _, err = study.communicate(timeout=60)
    assert study.returncode == 128 + number  # an interrupt's status, 130 or 143 (before: 1, a failure's)
    assert err == (f"error: study queue: interrupted ({number.name}) after {busy_at} of 3 experiments; the "
                   f"{busy_at} queued were removed\n")
    assert log.read_text().splitlines()[-1] == "queue remove " + " ".join(f"exp-{i}" for i in range(1, busy_at + 1))


@pytest.mark.hostile("study")
@pytest.mark.parametrize("rev", ["", "  "])
def test_collect_refuses_an_empty_revision(tmp_path, capsys, rev):
    # before: DVC read it as HEAD and the study was collected from a revision nobody named, exit 0
    assert cli.main(["study", "collect", "--rev", rev, "--out", str(tmp_path / "s")]) == 1
    assert capsys.readouterr().err == ("error: study collect --rev: an empty revision; give a commit, branch or tag "
                                       "(default HEAD)\n")
    assert not (tmp_path / "s").exists()


def test_a_saved_show_whose_experiment_name_is_no_text_is_one_line(tmp_path, capsys):
    # before: a pandas traceback (unhashable type: 'dict') when the table was sorted
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([{"rev": "c" * 40, "name": {"a": 1},
                                  "data": {"params": {"params.yaml": {"data": {"seed": 0}}}, "metrics": {}}}]))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (f"error: --from-json: {saved}: a record is not what `dvc exp show --json` writes "
                                       "(TypeError: name \"{'a': 1}\" is not text)\n")


def degrade_counts(before=3500, after=3500, **rows):
    """metrics/degrade.json as the degrade stage writes it, as exp show carries it."""
    kinds = dict.fromkeys(("symmetric_noise", "subsample", "brightness", "blur"), 0) | rows
    return {"data": {"train": {"before": before, "after": after}, "perturbed_images": sum(rows.values()),
                     "kind": kinds}}


def _collected(tmp_path, capsys, runs: dict) -> tuple[str, list[str]]:
    """``study collect`` over ``runs`` ({name: (perturbations, metrics/degrade.json counts, accuracy)}) saved as
    ``dvc exp show --json``: the first line it printed and the experiments study.csv draws, sorted."""
    records = []
    for name, (perturbations, counts, accuracy) in runs.items():
        records.append(record(name, perturbations, accuracy))
        records[-1]["data"]["metrics"]["metrics/degrade.json"] = counts
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*records)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    return capsys.readouterr().out.splitlines()[0], sorted(set(pd.read_csv(out / "study.csv")["experiment"]))


@pytest.mark.hostile("study")
def test_collect_leaves_out_runs_whose_degrade_counts_contradict_their_params(tmp_path, capsys):
    # before: `dvc exp save` of noise 0.6 over the default run's outputs, and `dvc commit -f` of subsample 0.2 over
    # the clean run's, were drawn at 0.6 and 0.2 with the accuracy of outputs made without them, exit 0
    runs = {"clean": ([], degrade_counts(), 0.95),
            "noise20": ([{"kind": "symmetric_noise", "fraction": 0.2}], degrade_counts(symmetric_noise=700), 0.85),
            "noise60": ([{"kind": "symmetric_noise", "fraction": 0.6}],
                        degrade_counts(symmetric_noise=488, brightness=196, blur=130), 0.959),
            "size20": ([{"kind": "subsample", "keep": 0.2}], degrade_counts(), 0.95)}
    first_line, drawn = _collected(tmp_path, capsys, runs)
    assert first_line == (
        "study: left out 2 run(s) whose metrics/degrade.json is not what their degrade.perturbations make (saved "
        "with `dvc exp save` or `dvc commit` over another run's outputs; run them with `dvc exp run`): noise60 (196 "
        "rows of brightness, which its params do not list); size20 (no rows of subsample, which its params list)")
    assert drawn == ["clean", "noise20"]


@pytest.mark.hostile("study")
def test_collect_leaves_out_runs_whose_share_took_other_rows_than_their_params_say(tmp_path, capsys):
    # before: `dvc exp save` of noise 0.6 over a noise 0.3 run's outputs (that run removed, so no other run shared
    # its data/degrade) listed the kind it ran, and was drawn at 0.6 with the 0.3 run's accuracy, exit 0
    runs = {"clean": ([], degrade_counts(), 0.95),
            "noise60": ([{"kind": "symmetric_noise", "fraction": 0.6}], degrade_counts(symmetric_noise=1050), 0.85),
            "blur30": ([{"kind": "blur", "fraction": 0.3, "kernel": 5}], degrade_counts(blur=2100), 0.9),
            # a blur that left 3 of its 1050 images as they were records 1047, and is drawn
            "blur30s": ([{"kind": "blur", "fraction": 0.3, "kernel": 3}], degrade_counts(blur=1047), 0.91)}
    first_line, drawn = _collected(tmp_path, capsys, runs)
    assert first_line == (
        "study: left out 2 run(s) whose metrics/degrade.json is not what their degrade.perturbations make (saved "
        "with `dvc exp save` or `dvc commit` over another run's outputs; run them with `dvc exp run`): noise60 (1050 "
        "rows of symmetric_noise, where its params take 2100); blur30 (2100 rows of blur, where its params take 1050)")
    assert drawn == ["blur30s", "clean"]


@pytest.mark.hostile("study")
def test_collect_draws_a_setting_run_twice_at_one_seed_once(tmp_path, capsys):
    # before: brightness 3.0 queued as {factor, fraction} and {fraction, factor} ran twice; both runs became points of
    # the proportion and the strength curve, and the summary counted them as two experiments
    a = record("bA", [{"kind": "brightness", "factor": 3.0, "fraction": 1.0}], 0.615)
    b = record("bB", [{"kind": "brightness", "fraction": 1.0, "factor": 3.0}], 0.615)
    spelt = record("blur5", [{"kind": "blur", "fraction": 1.0, "kernel": 5}], 0.6)
    box = record("box5", [{"kind": "blur", "fraction": 1.0, "kernel": 5, "method": "box"}], 0.6)
    replicate = record("bC", [{"kind": "brightness", "fraction": 1.0, "factor": 3.0}], 0.605)
    replicate["data"]["params"]["params.yaml"]["data"]["seed"] = 1
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(record("clean", [], 0.95), a, b, replicate, spelt, box)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("study: left out 2 run(s) that repeat an earlier run's params and seed (one point each; runs "
                        "at other seeds are averaged): bB (as bA), box5 (as blur5)")
    table = pd.read_csv(out / "study.csv")
    assert table.loc[table["level"] == 3.0, "experiment"].tolist() == ["bA", "bC"]
    brightness = table[(table["sweep"] == "proportion") & table["damage"].str.startswith("brightness")]
    assert brightness.loc[brightness["level"] == 1.0, "experiment"].tolist() == ["bA", "bC"]
    # bC, brightness 3.0 at seed 1, is averaged with bA: the proportion curve's origin is the clean run alone
    assert lines[1] == ("study: the points of 1 curve(s) average different numbers of runs (seeds): proportion "
                        "brightness factor=3 (1 at 0, 2 at 1); run the missing seeds to draw each point over as many runs")
    assert lines[2].startswith("study: 4 of 7 experiments on 2 sweeps")


@pytest.mark.hostile("study")
def test_collect_takes_the_setting_that_draws_the_most_points_not_the_most_runs(tmp_path, capsys):
    # found by review (stop 66), as compare's 6f85cae: `dvc exp run -S train.lr=0.01` repeated 4 times at one seed (one
    # point) outweighed the commit's sweep of 3 levels; the study drew that one point and left the sweep out as other
    # settings
    sweep = [record("clean", [], 0.95), *(record(f"noise{n}", [{"kind": "symmetric_noise", "fraction": n / 100}],
                                                 1 - n / 100) for n in (20, 30))]
    repeats = [record(f"lr{i}", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.7) for i in range(4)]
    for run in repeats:
        run["data"]["params"]["params.yaml"]["data"]["train"] = {"lr": 0.01}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*sweep, *repeats)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "study: left out 4 run(s) with other settings (train): lr0, lr1, lr2, lr3")
    assert sorted(set(pd.read_csv(out / "study.csv")["experiment"])) == ["clean", "noise20", "noise30"]


@pytest.mark.hostile("study")
def test_queue_counts_as_done_only_runs_of_these_whole_params(ingested_project, monkeypatch, capsys):
    # before: keep 0.1 queued at seed 5 counted as queued for a study at seed 0 ("1 of the 10 experiments are queued
    # or running already"), so it was never run; and the clean run that had run to the end was queued again
    import yaml

    from winnow import study_sweeps

    params = yaml.safe_load((ingested_project / "params.yaml").read_text())
    other_seed = {**params, "seed": params["seed"] + 5,
                  "degrade": {**params["degrade"], "enabled": True,
                              "perturbations": [{"kind": "subsample", "keep": 0.1}]}}
    finished = {**params, "degrade": {**params["degrade"], "enabled": True, "perturbations": []}}

    def experiment(name, run_params, state):
        shown = {"rev": name * 8, "name": name, "error": None,
                 "data": {"params": {"params.yaml": {"data": run_params}}, "metrics": {}}}
        return {"revs": [shown], "executor": state and {"state": state}, "name": name}

    baseline = {"rev": "b" * 40, "name": "main", "error": None, "data": {"params": {}, "metrics": {}},
                "experiments": [experiment("q01", other_seed, "queued"), experiment("clean", finished, None)]}
    monkeypatch.setattr(study_sweeps, "shown_experiments", lambda **_: [baseline])
    bin_dir, log = ingested_project / "bin", ingested_project / "dvc.log"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "Queued experiment \'exp\' for future '
                                 'execution."\n')
    (bin_dir / "dvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert cli.main(["study", "queue", "--sweeps", "clean", "size"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "1 of the 10 experiments are queued, running or done already (`dvc exp show`); queueing the rest")
    assert [line.split("-S ")[-1] for line in log.read_text().splitlines()] == [
        f"degrade.perturbations=[{{kind: subsample, keep: {keep}}}]" for keep in study_sweeps.SIZE_KEEPS]


@pytest.mark.hostile("study")
def test_collect_reads_a_run_listed_twice_once(tmp_path, capsys):
    # before: `--rev HEAD --rev noise30` listed noise30 under HEAD and as a baseline of its own: two rows of one run,
    # named noise30 and by its commit
    noise30 = record("noise30", [{"kind": "symmetric_noise", "fraction": 0.3}], 0.8)
    listed_again = {**noise30, "name": None}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps([*show(record("clean", [], 0.95), noise30), listed_again]))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (len(lines), lines[0].split(" ->")[0]) == (1, "study: 2 of 3 experiments on 1 sweeps")
    table = pd.read_csv(out / "study.csv")
    assert table.loc[table["sweep"] == "label_noise", "experiment"].tolist() == ["clean", "noise30"]


@pytest.mark.hostile("study")
def test_a_damage_given_with_default_options_is_one_curve(tmp_path):
    # before: blur without method (box, its default) beside method: box, and near_duplicate without mode, low and high
    # beside the defaults written out, each drew two one-point curves
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(
        record("clean", [], 0.95),
        record("blur5", [{"kind": "blur", "fraction": 1.0, "kernel": 5}], 0.6),
        record("blur7", [{"kind": "blur", "fraction": 1.0, "method": "box", "kernel": 7}], 0.5),
        record("near25", [{"kind": "near_duplicate", "fraction": 0.25}], 0.9),
        record("near50", [{"kind": "near_duplicate", "fraction": 0.5, "mode": "overwrite", "low": 0.8, "high": 1.2}],
               0.85))))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    table = pd.read_csv(out / "study.csv")
    strength = table[(table["sweep"] == "strength") & table["damage"].str.startswith("blur")]
    assert strength[["damage", "level", "experiment"]].values.tolist() == [
        ["blur method=box at 1", 5.0, "blur5"], ["blur method=box at 1", 7.0, "blur7"]]
    near = table[(table["sweep"] == "proportion") & table["damage"].str.startswith("near_duplicate")]
    assert near[["damage", "level", "experiment"]].values.tolist() == [
        ["near_duplicate mode=overwrite low=0.8 high=1.2 hue=0", 0.0, "clean"],
        ["near_duplicate mode=overwrite low=0.8 high=1.2 hue=0", 0.25, "near25"],
        ["near_duplicate mode=overwrite low=0.8 high=1.2 hue=0", 0.5, "near50"]]


@pytest.mark.hostile("study")
def test_collect_along_an_axis_draws_finite_levels_and_names_the_rest(tmp_path, capsys):
    # before: NaN and inf at the axis path became levels in study.csv, 10**400 raised an OverflowError traceback, and
    # the runs with no number there (the clean run) were dropped without a word
    runs = []
    for name, level in (("lr1", 1), ("lr2", 2), ("lrnan", float("nan")), ("lrinf", float("inf")), ("huge", 10**400),
                        ("word", "high")):
        runs.append(record(name, [], 0.9))
        runs[-1]["data"]["params"]["params.yaml"]["data"]["sweep"] = {"x": level}
    clean = record("clean", [], 0.95)
    shown = show(clean, *runs)
    for unswept in (clean, shown[1]):  # the same settings, no x
        unswept["data"]["params"]["params.yaml"]["data"]["sweep"] = {}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--axis", "sweep.x", "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "study: left out 6 experiment(s) with no finite number at sweep.x (main (nothing), clean (nothing), lrnan "
        "(nan), lrinf (inf), huge (10000000000000000000), word (high))")
    table = pd.read_csv(out / "study.csv")
    assert table[["damage", "level", "experiment"]].values.tolist() == [["clean", 1.0, "lr1"], ["clean", 2.0, "lr2"]]


def test_an_axis_deep_in_a_perturbation_is_one_curve():
    # before: only <index>.<option> was blanked from the label, so each run of a rates axis was a curve of its own
    def rates(rate):
        return {"degrade": {"perturbations": [{"kind": "symmetric_noise", "rates": {"1": rate, "2": 0.1}}]}}

    axis = "degrade.perturbations.0.rates.1"
    assert describe(rates(0.2), axis=axis) + describe(rates(0.4), axis=axis) == [
        ("custom", "symmetric_noise rates={'2': 0.1}", 0.2), ("custom", "symmetric_noise rates={'2': 0.1}", 0.4)]


@pytest.mark.hostile("study")
def test_collect_at_a_commit_after_the_runs_points_to_the_earlier_commit(tmp_path, monkeypatch, capsys):
    # before: a commit made after the experiments (study.csv itself) gave "no experiment is a study run ...; queue
    # some with `winnow study queue`", though `--num 3` found them all
    from winnow import study

    repo = tmp_path / "repo"
    repo.mkdir()
    for command in (["init", "-q"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m",
                                     "runs"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True, capture_output=True)
    baseline = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    subprocess.run(["git", "-C", str(repo), "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/noise30", baseline],
                   check=True)
    for message in ("study.csv", "docs"):
        subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q",
                        "--allow-empty", "-m", message], check=True)
    monkeypatch.setattr(study, "load_experiments", lambda **_: [])  # HEAD has none
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--repo", str(repo), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        "error: study: no experiment of HEAD is a study run, but 1 earlier commit(s) hold experiments (the nearest 2 "
        "commit(s) back); collect them with --num 3, or name their commit with --rev\n")
    assert not out.exists()


def test_the_strength_sweep_of_near_duplicates_is_one_curve():
    # before: low moves with high in the sweep, so its two settings were two one-point curves named by their low
    points = [point for perturbations in sweep_perturbations("strength", classes=[], colour=False)
              if perturbations[0]["kind"] == "near_duplicate"
              for point in describe({"degrade": {"perturbations": perturbations}}) if point[0] == "strength"]
    assert points == [("strength", "near_duplicate mode=overwrite hue=0 at 0.5", 1.2),
                      ("strength", "near_duplicate mode=overwrite hue=0 at 0.5", 1.5)]


@pytest.mark.hostile("study")
def test_collect_from_an_empty_list_says_the_file_holds_no_runs(tmp_path, capsys):
    # before: "no experiment is a study run ...; queue some with `winnow study queue`", about a file that held nothing
    saved = tmp_path / "exps.json"
    saved.write_text("[]")
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 1
    assert capsys.readouterr().err == (f"error: --from-json: {saved} lists no revisions (an empty list); write it with "
                                       f"`dvc exp show --json > {saved}`\n")
    assert not (tmp_path / "study").exists()


@pytest.mark.hostile("study")
def test_collect_leaves_out_runs_that_share_their_degraded_data_with_another_damage(tmp_path, capsys):
    # before: `dvc exp save` of noise 0.6 over a noise 0.3 run kept its dvc.lock hashes and its kinds, and was drawn
    # at 0.6 with the 0.3 run's accuracy, exit 0
    def run(name, perturbations, accuracy, degraded, seed=0):
        made = record(name, perturbations, accuracy)
        made["data"]["outs"] = {"data/degrade": {"hash": degraded, "size": 10, "nfiles": 3}}
        made["data"]["params"]["params.yaml"]["data"]["seed"] = seed
        return made

    shown = show(run("clean", [], 0.95, "c.dir"), run("clean1", [], 0.95, "c.dir", seed=1),
                 run("noise30", [{"kind": "symmetric_noise", "fraction": 0.3}], 0.8, "n.dir"),
                 run("noise60", [{"kind": "symmetric_noise", "fraction": 0.6}], 0.8, "n.dir"),
                 run("blur", [{"kind": "blur", "fraction": 1.0, "kernel": 5}], 0.6, "b.dir"),
                 run("blurbox", [{"kind": "blur", "fraction": 1.0, "method": "box", "kernel": 5}], 0.6, "b.dir"))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "study: left out 2 run(s) whose data/degrade is another's with other perturbations (one of them was saved with "
        "`dvc exp save` or `dvc commit` over the other's outputs; run it with `dvc exp run`): noise30, noise60")
    table = pd.read_csv(out / "study.csv")
    assert sorted(set(table["experiment"])) == ["blur", "clean", "clean1"]  # blurbox: blur's twin, one point


@pytest.mark.hostile("study")
def test_collect_keeps_runs_that_make_one_degraded_data_legitimately(tmp_path, capsys):
    # before: all four were left out as "saved with `dvc exp save` or `dvc commit` over the other's outputs":
    # class_removal drops every train image of its class whatever the seed, so seeds 0 and 1 make one data/degrade;
    # and a share that rounds to no image leaves the input, the clean run's data/degrade, so the clean run (every
    # curve's origin) went too
    def run(name, perturbations, accuracy, degraded, counts, seed=0):
        made = record(name, perturbations, accuracy)
        made["data"]["outs"] = {"data/degrade": {"hash": degraded, "size": 10, "nfiles": 3}}
        made["data"]["metrics"]["metrics/degrade.json"] = counts
        made["data"]["params"]["params.yaml"]["data"]["seed"] = seed
        return made

    removed = [{"kind": "class_removal", "classes": ["2"]}]
    shown = show(run("clean", [], 0.95, "c.dir", degrade_counts(30, 30)),
                 run("noise1", [{"kind": "gaussian_noise", "fraction": 0.01, "sigma": 8.0}], 0.95, "c.dir",
                     degrade_counts(30, 30)),
                 run("drop2", removed, 0.6, "r.dir", degrade_counts(30, 20, class_removal=10)),
                 run("drop2s1", removed, 0.61, "r.dir", degrade_counts(30, 20, class_removal=10), seed=1))
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("study: the points of 1 curve(s) average different numbers of runs (seeds): class_deletion "
                        "class_removal 2 (1 at 0, 2 at 1); run the missing seeds to draw each point over as many runs")
    assert (len(lines), lines[1].split(" ->")[0]) == (2, "study: 4 of 5 experiments on 3 sweeps")
    table = pd.read_csv(out / "study.csv")
    assert sorted(set(table["experiment"])) == ["clean", "drop2", "drop2s1", "noise1"]


@pytest.mark.hostile("study")
@pytest.mark.parametrize("axis, runs", [
    # 3 copies added: the 30 rows degrade draws gaussian_noise's share from became 33, and round(0.016 * 33) is 1
    ("degrade.perturbations.1.fraction", {
        "took0": ([{"kind": "exact_duplicate", "fraction": 0.1, "mode": "add"},
                   {"kind": "gaussian_noise", "fraction": 0.016, "sigma": 8.0}],
                  degrade_counts(30, 33, exact_duplicate=3, gaussian_noise=0)),
        "took3": ([{"kind": "exact_duplicate", "fraction": 0.1, "mode": "add"},
                   {"kind": "gaussian_noise", "fraction": 0.1, "sigma": 8.0}],
                  degrade_counts(30, 33, exact_duplicate=3, gaussian_noise=3))}),
    # class 2 removed first: subsample kept round(0.98 * 20) = 20 of the 20 left, though 0.98 of 30 drops one
    ("degrade.perturbations.1.keep", {
        "kept98": ([{"kind": "class_removal", "classes": ["2"]}, {"kind": "subsample", "keep": 0.98}],
                   degrade_counts(30, 20, class_removal=10)),
        "kept50": ([{"kind": "class_removal", "classes": ["2"]}, {"kind": "subsample", "keep": 0.5}],
                   degrade_counts(30, 10, class_removal=10, subsample=10))}),
    # 6 copies added and 3 written over others, all exact_duplicate rows: the shares were of 30 rows, not 36 - 9
    ("degrade.perturbations.2.fraction", {
        "took3": ([{"kind": "exact_duplicate", "fraction": 0.2, "mode": "add"},
                   {"kind": "exact_duplicate", "fraction": 0.1, "mode": "overwrite"},
                   {"kind": "gaussian_noise", "fraction": 0.1, "sigma": 8.0}],
                  degrade_counts(30, 36, exact_duplicate=9, gaussian_noise=3)),
        "took6": ([{"kind": "exact_duplicate", "fraction": 0.2, "mode": "add"},
                   {"kind": "exact_duplicate", "fraction": 0.1, "mode": "overwrite"},
                   {"kind": "gaussian_noise", "fraction": 0.2, "sigma": 8.0}],
                  degrade_counts(30, 36, exact_duplicate=9, gaussian_noise=6))}),
], ids=["copies-added", "removed-first", "copies-added-and-written-over"])
def test_collect_reads_a_share_of_the_rows_degrade_drew_it_from(tmp_path, capsys, axis, runs):
    # before: the share was taken of metrics/degrade.json's train after (copies added) or before (removed rows
    # counted), so a run that rightly took none was left out as saved over another run's outputs
    records = []
    for name, (perturbations, counts) in runs.items():
        records.append(record(name, perturbations, 0.8))
        records[-1]["data"]["metrics"]["metrics/degrade.json"] = counts
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*records)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--axis", axis, "--out", str(out)]) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if "metrics/degrade.json" in line] == []
    table = pd.read_csv(out / "study.csv")
    assert set(runs) <= set(table["experiment"])


def _params_everywhere(shown, degrade):
    for exp in [*shown, *[e["revs"][0] for e in shown[1]["experiments"]]]:
        exp["data"]["params"]["params.yaml"]["data"]["degrade"] = degrade
        exp["data"]["metrics"]["metrics/degrade.json"] = degrade_counts()


@pytest.mark.hostile("study")
@pytest.mark.parametrize("degrade, expected", [
    ("x", "error: study: experiment main: its params or metrics/evaluate/baseline.json are not what a winnow run "
          "writes (AttributeError: 'str' object has no attribute 'get')"),
    ({"perturbations": [{"kind": ["a"], "fraction": 0.2}]},
     "error: study: experiment main: degrade.perturbations[0]: unknown kind ['a']; allowed: symmetric_noise, "
     "pair_flip, class_removal, class_subsample, subsample, gaussian_noise, salt_pepper, brightness, gamma, blur, "
     "downscale, odd_size, odd_aspect_ratio, grayscale, low_information, exact_duplicate, near_duplicate"),
], ids=["degrade-text", "kind-a-list"])
def test_collect_names_a_degrade_no_run_writes_beside_its_degrade_counts(tmp_path, capsys, degrade, expected):
    # before: ran_as_listed and one_run_each read such params before tidy could name them: "AttributeError: 'str'
    # object has no attribute 'get'", "TypeError: unhashable type: 'list'" or "TypeError: 'str' object is not a
    # mapping" tracebacks
    shown = show(record("odd", [], 0.9))
    _params_everywhere(shown, degrade)
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 1
    assert capsys.readouterr().err == expected + "\n"
    assert not (tmp_path / "study").exists()


def test_near_duplicates_of_two_lows_at_one_high_are_two_curves():
    # before: low was left out of every strength curve's name, so low 0.5 and low 0.8 at high 1.2 were one point,
    # averaged as if replicates of one setting
    def strength(low):
        spec = {"kind": "near_duplicate", "fraction": 0.5, "low": low, "high": 1.2}
        return [point for point in describe({"degrade": {"perturbations": [spec]}}) if point[0] == "strength"]

    assert strength(0.5) + strength(0.8) == [("strength", "near_duplicate mode=overwrite low=0.5 hue=0 at 0.5", 1.2),
                                             ("strength", "near_duplicate mode=overwrite hue=0 at 0.5", 1.2)]


@pytest.mark.hostile("study")
def test_collect_chooses_the_setting_among_study_runs_only(tmp_path, capsys):
    # before: the baseline commit (several perturbations, no study run) tied with a lone run of 2 epochs and won, so
    # the run was left out "with other settings", then "no experiment is a study run ...; queue some with winnow study
    # queue"
    lone = record("lone", [{"kind": "symmetric_noise", "fraction": 0.4}], 0.7)
    lone["data"]["params"]["params.yaml"]["data"]["train"] = {"epochs": 2}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(lone)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (len(lines), lines[0].split(" ->")[0]) == (1, "study: 1 of 2 experiments on 1 sweeps")
    table = pd.read_csv(out / "study.csv")
    assert table[["sweep", "damage", "level", "experiment"]].values.tolist() == [
        ["label_noise", "symmetric_noise", 0.4, "lone"]]


@pytest.mark.hostile("study")
def test_collect_says_when_every_study_run_with_a_curve_was_left_out(tmp_path, capsys):
    # before: the noise run, left out beside the clean run for its other settings, was followed by "no experiment is a
    # study run ...; queue some with `winnow study queue`", which the line above it contradicted
    short = record("noise30-short", [{"kind": "symmetric_noise", "fraction": 0.3}], 0.5)
    short["data"]["params"]["params.yaml"]["data"]["train"] = {"epochs": 2}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(record("clean", [], 0.95), short)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "study: left out 1 run(s) with other settings (train): noise30-short\n"
    assert captured.err == ("error: study: no run is left that draws a curve: 1 study run(s) were left out above (each "
                            "line says why and what to do)\n")
    assert not out.exists()


@pytest.mark.hostile("compare")
def test_collect_says_when_the_runs_that_would_draw_a_curve_are_still_queued(tmp_path, capsys):
    # before: the queued runs' line was followed by "no experiment is a study run ...; queue some with `winnow study
    # queue`", beside a clean run that is one, to a user whose damaged runs were queued already
    noise = record("noise30", [{"kind": "symmetric_noise", "fraction": 0.3}], 0.5)
    shown = show(record("clean", [], 0.95), noise)
    shown[1]["experiments"][1]["executor"] = {"state": "queued"}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ("study: left out 1 experiment(s) still running or queued (noise30); run this again when "
                            "`dvc queue status` shows them done (queued ones run once `dvc exp run --run-all` starts "
                            "them)\n")
    assert captured.err == ("error: study: no run is left that draws a curve: 1 experiment(s) still running or queued, "
                            "failed or unreadable were left out above (each line says why and what to do)\n")
    assert not out.exists()


def ingest_random_images(*, side: int, classes: list[str]) -> None:
    """data/ingest here: 4 random ``side`` x ``side`` grey images a class, 2 train, 1 val, 1 test."""
    from winnow.imageset import pixel_digest, write_imageset

    n = 4 * len(classes)
    images = np.random.default_rng(0).integers(1, 256, (n, side, side, 1), dtype=np.uint8)
    split = ["train"] * (2 * len(classes)) + ["val"] * len(classes) + ["test"] * len(classes)
    manifest = pd.DataFrame({"id": [f"i{i}" for i in range(n)], "split": split, "label": np.arange(n) % len(classes),
                             "source": "t", "orig_h": side, "orig_w": side, "orig_mode": "L",
                             "digest": pixel_digest(images)})
    write_imageset("data/ingest", images, manifest, classes)


@pytest.mark.hostile("study")
def test_queue_leaves_out_the_sizes_degrade_refuses_on_the_ingested_images(ingested_project, capsys):
    # found by probing: on 8x8 images the strength sweep queued downscales to 27, 22, 17 and 12 px and thumbnails of
    # 20, 16, 12 and 8 px, which degrade refuses (a size is at most the side less 1: 7): 8 of its 52 experiments, each
    # a `dvc exp run` that failed. They are named and left out; the 44 others are queued
    ingest_random_images(side=8, classes=["a", "b", "c"])
    assert cli.main(["study", "queue", "--sweeps", "strength", "--dry-run"]) == 0
    first, *commands = capsys.readouterr().out.splitlines()
    assert first == ("left out 8 of the 52 experiments, which degrade refuses on the 8x8 images of data/ingest "
                     "(downscale size=27, downscale size=22, downscale size=17, downscale size=12, low_information "
                     "size=20, low_information size=16, low_information size=12, low_information size=8; first: "
                     "degrade.perturbations[0] (downscale): size must be an integer in [2, 7], got 27)")
    assert len(commands) == 44 and all(command.startswith("dvc exp run --queue") for command in commands)
    assert sum("downscale" in command for command in commands) == 4  # 7, 6, 5 and 4 px


@pytest.mark.hostile("study")
def test_queue_leaves_out_class_deletion_of_a_two_class_set(ingested_project, capsys):
    # found by probing: on cats against dogs each class_removal leaves one class, which the degrade stage refuses
    # ("a classifier needs at least 2 classes"): both experiments were queued and failed
    ingest_random_images(side=8, classes=["cat", "dog"])
    assert cli.main(["study", "queue", "--sweeps", "clean", "class_deletion", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "left out 2 of the 3 experiments, which degrade refuses on the 8x8 images of data/ingest (class_removal "
        "classes=['cat'], class_removal classes=['dog']; first: degrade.perturbations: only class 'dog' keeps train "
        "images after the damage; a classifier needs at least 2 classes, so remove or subsample fewer)",
        "dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[]'"]


INGEST_STAGE = """stages:
  ingest:
    cmd: python ingest.py
    deps: [ingest.py]
    params: [ingest.size]
    outs: [data/ingest]
"""
INGEST_SCRIPT = """import sys
sys.path.insert(0, {src!r})
sys.path.insert(0, {tests!r})
import yaml
from test_study import ingest_random_images
ingest_random_images(side=yaml.safe_load(open("params.yaml"))["ingest"]["size"] or 8, classes=["a", "b", "c"])
"""


@pytest.mark.hostile("study")
def test_queue_checks_the_sizes_against_the_images_the_params_make(ingested_project, capsys):
    # found by review: queue checked the sweeps' sizes against data/ingest as it lay, and after ingest.size: 32 in
    # params.yaml (every queued run ingests again, at 32 px) it still left out the downscales to 27-12 px and the
    # 20-8 px thumbnails of the 8x8 images an earlier ingest wrote, which those runs take. data/ingest counts only
    # where DVC says it is what the workspace's params make
    (ingested_project / "dvc.yaml").write_text(INGEST_STAGE)
    (ingested_project / "ingest.py").write_text(INGEST_SCRIPT.format(src=str(ROOT / "src"), tests=str(ROOT / "tests")))
    for command in (["init", "-q", "--no-scm"], ["repro", "-q"]):
        done = subprocess.run([sys.executable, "-m", "dvc", *command], capture_output=True, text=True, env=_env())
        assert done.returncode == 0, done.stdout + done.stderr
    assert cli.main(["study", "queue", "--sweeps", "strength", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("left out 8 of the 52 experiments, which degrade refuses on the 8x8 images")
    assert len(lines) == 45
    params = (ingested_project / "params.yaml").read_text()
    (ingested_project / "params.yaml").write_text(params.replace("  size: null ", "  size: 32 ", 1))
    assert cli.main(["study", "queue", "--sweeps", "strength", "--dry-run"]) == 0
    commands = capsys.readouterr().out.splitlines()
    assert len(commands) == 52 and all(command.startswith("dvc exp run --queue") for command in commands)


@pytest.mark.hostile("study")
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["queue", "dry-run"])
def test_queue_refuses_sweeps_degrade_refuses_whole(ingested_project, capsys, dry_run):
    # found by review: class_deletion alone on cats against dogs left out both experiments and ended with exit 0,
    # "queued 0 experiments; run them with `dvc exp run --run-all`", as if the study had been queued
    ingest_random_images(side=8, classes=["cat", "dog"])
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", *dry_run]) == 1
    out, err = capsys.readouterr()
    assert err == ("error: study queue: left out 2 of the 2 experiments, which degrade refuses on the 8x8 images of "
                   "data/ingest (class_removal classes=['cat'], class_removal classes=['dog']; first: "
                   "degrade.perturbations: only class 'dog' keeps train images after the damage; a classifier needs at "
                   "least 2 classes, so remove or subsample fewer); nothing is left to queue: choose other --sweeps\n")
    assert out == ""
