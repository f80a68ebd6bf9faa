"""Hostile inputs around `winnow study collect`, probe 71: what its summary line counts and what its figures hide.

- runs of two baselines that share an experiment name (DVC names experiments per baseline): the summary counted them
  as one experiment;
- the same in the report's study note, which counts study.csv's runs;
- runs `current_runs` leaves out as stale: the summary's "of N experiments" left them out of N, where a run left out
  for any other reason counts;
- many damages on one accuracy panel (the default study's strength panel draws 46) and many classes on a per-class
  figure (CIFAR-100's 100): the legend lay over the curves, and past the panel's height its first and last names were
  cut off, and the panels squeezed under the legend's height ran into the figure's title;
- `study queue` after an edit of ingest's params that `dvc repro` has not run (ingest.source: cifar10 over MNIST's
  data/ingest): --grayscale was refused on the 1-channel images no queued run reads, class_deletion deleted the old
  data set's classes, and --classes named one of the new data set as not among them;
- `study queue --grayscale` with --sweeps that leave out strength, the one sweep that reads it: queued without it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from test_hostile_study_69 import _curves
from hostile_harness import _env
from test_study import ROOT, ingested_project, record, show  # noqa: F401 (a fixture)
from winnow import cli, study, study_plots
from winnow.report import study_section
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

    # the report reads study.csv alone: before, "From 2 experiments" there too
    note = study_section(study=pd.read_csv(out / "study.csv"))
    assert note.startswith('<p class="note">From 3 experiments (experiment refs 1111111, 6a1cec4, b865809) that')


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


def _clashes(fig) -> dict[str, list]:
    """What a reader of ``fig`` cannot read: legends reaching past the figure's edge (names cut off), legends over a
    panel (curves hidden), two legends over each other, and the title over a panel (its title or ticks included)."""
    renderer = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.get_visible()]
    legends = [ax.get_legend().get_window_extent(renderer) for ax in panels if ax.get_legend()]
    title = next(text for text in fig.get_children() if getattr(text, "get_text", None)
                 and text.get_text() == fig.get_suptitle()).get_window_extent(renderer)
    inside = fig.bbox.padded(0.5)  # a pixel's rounding
    return {"cut off": [i for i, box in enumerate(legends) if not (inside.contains(box.x0, box.y0)
                                                                and inside.contains(box.x1, box.y1))],
            "over a panel": [i for i, box in enumerate(legends) if any(box.overlaps(ax.bbox) for ax in panels)],
            "over a legend": [i for i, box in enumerate(legends) if any(box.overlaps(other) for other in legends
                                                                        if other is not box)],
            "title over a panel": [ax.get_title() for ax in panels if title.overlaps(ax.get_tightbbox(renderer))]}


@pytest.mark.hostile("study")
@pytest.mark.parametrize("damages, classes", [(30, 1), (1, 100)], ids=["30-damages", "100-classes"])
def test_the_study_figures_name_every_line_beside_the_curves(damages, classes, tmp_path, monkeypatch):
    # before: accuracy.png drew the legend of 30 damages over the panel's curves and past the figure's foot (the default
    # study's strength panel draws 46), per_class_f1_<sweep>.png drew 100 classes' names in 2 columns over the panel
    # and cut the first 28 off above the figure; and either panel, squeezed to hold the legend, ran into the title
    figures = {}
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: figures.__setitem__(path.name, fig) or path)
    study_plots.plot(_curves(damages, classes), out_dir=tmp_path)
    assert {name: _clashes(fig) for name, fig in figures.items()} == dict.fromkeys(
        ["accuracy.png", "per_class_f1_label_noise.png"],
        {"cut off": [], "over a panel": [], "over a legend": [], "title over a panel": []})
    named = {name: [text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().get_texts()]
             for name, fig in figures.items()}
    assert named == {"accuracy.png": [f"d{d:02}" for d in range(damages)],
                     "per_class_f1_label_noise.png": [f"c{c:02}" for c in range(classes)]}


INGEST_STAGE = """stages:
  ingest:
    cmd: python ingest.py
    deps: [ingest.py]
    params: [ingest.source]
    outs: [data/ingest]
"""
INGEST_SCRIPT = """import sys
sys.path.insert(0, {src!r})
import numpy as np
import pandas as pd
import yaml
from winnow.imageset import pixel_digest, write_imageset
colour = yaml.safe_load(open("params.yaml"))["ingest"]["source"] == "cifar10"
classes = ["cat", "dog", "frog"] if colour else ["0", "1", "2"]
images = np.random.default_rng(0).integers(1, 256, (12, 8, 8, 3 if colour else 1), dtype=np.uint8)
manifest = pd.DataFrame({{"id": [f"i{{i}}" for i in range(12)], "split": ["train"] * 6 + ["val"] * 3 + ["test"] * 3,
                         "label": np.arange(12) % 3, "source": "t", "orig_h": 8, "orig_w": 8,
                         "orig_mode": "RGB" if colour else "L", "digest": pixel_digest(images)}})
write_imageset("data/ingest", images, manifest, classes)
"""


@pytest.fixture()
def stale_ingest(ingested_project):  # noqa: F811 (the fixture it extends)
    """A DVC project whose ingest stage wrote MNIST-like grey images of classes 0, 1, 2, and whose params.yaml then
    turned to cifar10 (colour images of cat, dog, frog) without `dvc repro`."""
    (ingested_project / "dvc.yaml").write_text(INGEST_STAGE)
    (ingested_project / "ingest.py").write_text(INGEST_SCRIPT.format(src=str(ROOT / "src")))
    for command in (["init", "-q", "--no-scm"], ["repro", "-q"]):
        done = subprocess.run([sys.executable, "-m", "dvc", *command], capture_output=True, text=True, env=_env())
        assert done.returncode == 0, done.stdout + done.stderr
    params = (ingested_project / "params.yaml").read_text()
    (ingested_project / "params.yaml").write_text(params.replace("  source: mnist5k ", "  source: cifar10 ", 1)
                                                  .replace("  path: null ", "  path: cifar ", 1))
    return ingested_project


@pytest.mark.hostile("study")
def test_queue_takes_grayscale_where_ingest_will_make_other_images(stale_ingest, capsys):
    # before: "error: study queue --grayscale: data/ingest/images.npy holds 1-channel images, which are grayscale
    # already (degrade refuses the conversion); drop --grayscale", of the MNIST images every queued run ingests again
    assert cli.main(["study", "queue", "--sweeps", "strength", "--grayscale", "--dry-run"]) == 0
    commands = capsys.readouterr().out.splitlines()
    assert commands[-1] == ("dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{kind: grayscale, "
                            "fraction: 1.0}]'")
    assert len(commands) == 53  # the 52 of the strength sweep, none left out on the 8x8 images the runs do not read


@pytest.mark.hostile("study")
def test_queue_deletes_no_class_of_an_ingest_the_runs_will_not_read(stale_ingest, capsys):
    # before: class_deletion queued the removal of classes "0", "1" and "2" from runs that ingest cat, dog and frog
    # (each failed at degrade), and `--classes cat` was refused as "not among the 3 classes of
    # data/ingest/classes.json (0, 1, 2)"
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--dry-run"]) == 1
    assert capsys.readouterr().err == (
        "error: study queue: class_deletion needs the class names and data/ingest/classes.json is not what the "
        "workspace's code, params and data make (or DVC cannot tell: `dvc status ingest`); run `dvc repro ingest`, give "
        "--classes, or leave class_deletion out of --sweeps\n")
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--classes", "cat", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{kind: class_removal, classes: [cat]}]'"]


@pytest.mark.hostile("study")
def test_queue_refuses_grayscale_without_the_strength_sweep(ingested_project, capsys):  # noqa: F811 (a fixture)
    # before: exit 0, the clean and label_noise runs queued, and no grayscale conversion among them, without a word
    assert cli.main(["study", "queue", "--sweeps", "clean", "label_noise", "--grayscale", "--dry-run"]) == 1
    assert capsys.readouterr() == ("", "error: study queue --grayscale: only strength reads it, and --sweeps leaves it "
                                       "out; add strength to --sweeps or drop --grayscale\n")
