"""Hostile inputs around `winnow study collect` and the report's study figure, stop 69: what the figures draw and say
(many curves on one panel, a class "_background", how many seeds a point averages, which metrics file)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from test_study import record, show
from winnow import cli, study_plots
from winnow.experiments import experiments_from_show
from winnow.report import evaluation_section, study_section
from winnow.report_figures import study_panels
from winnow.study import tidy
from winnow.study_sweeps import SWEEPS, sweep_perturbations


@pytest.fixture(scope="module")
def default_study():
    """study.csv's rows for one run of each setting `winnow study queue` queues on grey data of classes 0, 1, 2."""
    settings = {repr(p): p for sweep in SWEEPS for p in sweep_perturbations(sweep, classes=["0", "1", "2"],
                                                                             colour=False)}
    runs = [record(f"e{i}", p, 0.5 + i / 1000) for i, p in enumerate(settings.values())]
    return tidy(experiments_from_show(show(*runs)))


def _looks(ax) -> dict[str, tuple]:
    """Each labelled line of a panel: its legend name -> (colour, marker), what a reader tells it apart by."""
    return {line.get_label(): (line.get_color(), line.get_marker()) for line in ax.get_lines()
            if not line.get_label().startswith("_")}


@pytest.mark.hostile("report")
def test_the_report_draws_each_damage_of_the_default_study_apart(default_study):
    # the default strength sweep draws 46 damages on one panel: before, colour "C{i % 10}" and marker "o" for all, so
    # "blur method=box at 1" (the 1st) and "blur method=gaussian at 1" (the 11th) looked alike in line and legend
    strength = default_study[default_study["sweep"] == "strength"]["damage"].nunique()
    panels = {ax.get_title(): _looks(ax) for ax in study_panels(default_study).axes}
    assert strength == 46 and len(panels["strength"]) == 46
    assert len(set(panels["strength"].values())) == 46
    assert len(set(panels["proportion"].values())) == len(panels["proportion"]) == 52


def _curves(damages: int, classes: int) -> pd.DataFrame:
    """study.csv's rows of ``damages`` symmetric-noise curves of two levels each, scored on ``classes`` classes."""
    return pd.DataFrame([{"sweep": "label_noise", "damage": f"d{d:02}", "level": level, "accuracy": 0.5,
                          "macro_f1": 0.5, **{f"f1_c{c:02}": 0.5 for c in range(classes)}}
                         for d in range(damages) for level in (0.1, 0.2)])


@pytest.mark.hostile("study")
@pytest.mark.parametrize("damages, classes", [(11, 1), (1, 11)])
def test_study_collect_draws_each_of_eleven_damages_or_classes_apart(damages, classes, tmp_path, monkeypatch):
    # accuracy.png draws one line per damage (the default study's strength panel: 46), per_class_f1_<sweep>.png one
    # per class: before, matplotlib's 10 colours and one marker, so the 11th damage or class was drawn as the 1st
    figures = {}
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: figures.__setitem__(path.name, fig) or path)
    study_plots.plot(_curves(damages, classes), out_dir=tmp_path)
    accuracy = _looks(figures["accuracy.png"].axes[0])
    per_class = _looks(figures["per_class_f1_label_noise.png"].axes[0])
    assert (len(accuracy), len(per_class)) == (damages, classes)
    assert len(set(accuracy.values())) == damages and len(set(per_class.values())) == classes


@pytest.mark.hostile("report")
def test_the_study_figures_say_how_many_seeds_each_point_averages(tmp_path, monkeypatch):
    # level 0.1 run at three seeds (3 rows of study.csv), level 0.2 at one: before, accuracy.png,
    # per_class_f1_<sweep>.png and the report's note drew and described the means as if each point were one run
    table = _curves(1, 2)
    table = pd.concat([table, table[table["level"] == 0.1], table[table["level"] == 0.1]], ignore_index=True)
    figures = {}
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: figures.__setitem__(path.name, fig) or path)
    study_plots.plot(table, out_dir=tmp_path)
    assert {name: fig.get_suptitle() for name, fig in figures.items()} == {
        "accuracy.png": "each point: the mean of 1 to 3 runs (seeds)",
        "per_class_f1_label_noise.png": "each point: the mean of 1 to 3 runs (seeds)"}
    note = study_section(study=table.assign(experiment=[f"e{i}" for i in range(len(table))]))
    assert "one colour and marker per kind of damage; each point is the mean of 1 to 3 runs (seeds).</p>" in note


@pytest.mark.hostile("study")
def test_a_class_whose_name_starts_with_an_underscore_is_named_in_the_per_class_legend(tmp_path, monkeypatch):
    # ingest takes a class "_background"; matplotlib leaves any label starting with "_" out of a legend drawn from the
    # lines, so per_class_f1_<sweep>.png drew its line unnamed beside the named "cat"
    table = _curves(1, 0).assign(f1__background=0.4, f1_cat=0.6)
    figures = {}
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: figures.__setitem__(path.name, fig) or path)
    study_plots.plot(table, out_dir=tmp_path)
    legend = figures["per_class_f1_label_noise.png"].axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["_background", "cat"]


@pytest.mark.hostile("study")
def test_study_collect_names_the_metrics_file_its_figures_draw(tmp_path, monkeypatch, capsys):
    # `study collect --metrics metrics/evaluate/oracle.json`: before, accuracy.png said "test accuracy" alone, and the
    # oracle's curves read as the baseline's, which study collect draws by default
    runs = [record("clean", [], 0.95), record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8)]
    for run in runs:
        held = run["data"]["metrics"]
        held["metrics/evaluate/oracle.json"] = held.pop("metrics/evaluate/baseline.json")
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*runs)))
    figures = {}
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: figures.__setitem__(path.name, fig) or path)
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study"),
                     "--metrics", "metrics/evaluate/oracle.json"]) == 0
    assert figures["accuracy.png"].get_suptitle() == "metrics/evaluate/oracle.json: each point: one run (seed)"


@pytest.mark.hostile("study")
def test_study_csv_keeps_levels_below_a_ten_thousandth(tmp_path, capsys):
    # `study collect --axis train.weight_decay` over 1e-6 (params.yaml's), 1e-5 and 1e-4: before, study.csv rounded
    # every column to 4 digits, levels 0.0, 0.0 and 0.0001, and the report, reading study.csv, averaged the first two
    # runs' accuracies (0.9, 0.8) into one point 0.85 at 0
    runs = []
    for decay, accuracy in ((1e-6, 0.9), (1e-5, 0.8), (1e-4, 0.7)):
        runs.append(record(f"wd{decay:g}", [], accuracy))
        runs[-1]["data"]["params"]["params.yaml"]["data"]["train"] = {"weight_decay": decay}
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(show(*runs)))
    out = tmp_path / "study"
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(out),
                     "--axis", "train.weight_decay"]) == 0
    table = pd.read_csv(out / "study.csv")
    assert table[["level", "accuracy"]].values.tolist() == [[1e-6, 0.9], [1e-5, 0.8], [1e-4, 0.7]]


def _summary(f1: dict[str, float], *, untested: str) -> dict:
    """An evaluate summary of one variant: ``f1`` per class (every per-class metric alike), ``untested`` with no test
    image (support 0, metrics 0)."""
    per_class = {c: {"precision": v, "recall": v, "f1": v, "accuracy": v, "support": 0 if c == untested else 10}
                 for c, v in f1.items()}
    return {"accuracy": 0.9, "macro": {"precision": 0.9, "recall": 0.9, "f1": 0.9}, "per_class_std": {"f1": 0.0},
            "per_class": per_class}


@pytest.mark.hostile("report")
def test_a_report_of_one_variant_says_its_average_row_leaves_out_an_untested_class():
    # one trained variant, classes a and b at F1 0.9 and c with no test image (0): the average row reads 0.900, not
    # the column's 0.600. Before, the note naming c came only with two variants, and one variant's page said nothing
    page = evaluation_section(metrics={"baseline": _summary({"a": 0.9, "b": 0.9, "c": 0.0}, untested="c")},
                              confusions={})
    assert '<tr class="summary"><td class="text">average</td><td>0.900</td></tr>' in page
    assert ('<p class="note">Left out of the average and std rows: <b>c</b> (no test image: its 0s are not measured), '
            "as evaluate's macro figures leave it out.</p>") in page
