"""Review of probe 71's mends (study collect and report counts, study figures' legends, study queue's reads of
data/ingest, the imageset and variants label lines, the gate's class order):

- two names of one number ("1" and "01", "1" and Arabic-Indic "١") tie in the gate's class order: it followed the
  order of a set of names, which differs from process to process; now the name itself breaks the tie;
- a class named by over 4,300 digits: the gate's class order (int()) was a ValueError traceback;
- `study queue --sweeps strength class_deletion --grayscale --classes ...` asked `dvc status` once per check that
  reads data/ingest (three times); now once;
- `study queue`'s class_deletion after an edit of ingest's code alone: refused as "not what params.yaml makes";
- the report's study figure, 30 damages on one panel (the default study's strength panel draws 46): its legend lay
  over the curves and off the panel's foot, as study collect's accuracy.png did before its mend; now below the panels;
- a damage name wider than its panel (150 characters) on study collect's accuracy.png: its legend ran off the figure's
  edge and over the next panel's; now the figure is widened to hold it;
- study collect's summary and the report counted runs by two copies of one rule that differed: a clean run that draws
  no curve (a hand-kept study.csv of strength curves, which have no origin) counted in the report's "From N
  experiments", not in the summary's; both now count by study_plots.runs_drawn;
- a saved `dvc exp show --json` whose runs hold a null (or a number, or empty) rev: two null revs were one run listed
  twice, the second dropped without a word;
- a variant's rows.parquet with a gap in its label column: "row 1 has label <NA>" or "label nan", where the imageset
  and decision checks say "no label".
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from hostile_harness import assert_nothing_left, files_under
from test_hostile_evaluate_71 import gated_two_classes
from test_hostile_study_69 import _curves
from test_hostile_study_71 import _clashes, stale_ingest  # noqa: F401 (a fixture)
from test_study import ingested_project, record, show  # noqa: F401 (a fixture)

from winnow import cli, study_plots, study_sweeps
from winnow.errors import WinnowError
from winnow.evaluated import natural_order
from winnow.report import study_section
from winnow.report_figures import study_panels
from winnow.variants import read_rows


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("names", [["1", "01"], ["١", "1"], ["１２", "12", "012"]], ids=["zero", "arabic", "fullwidth"])
def test_names_of_one_number_are_ordered_alike_whatever_order_they_come_in(names):
    # before: they tied, and sorted() kept the order they came in, which for the gate's sorted(set(labels)) is the
    # order of a set of strings: another from one process to the next (PYTHONHASHSEED), so the gate's per-class rows
    # and lines changed order between two runs on the same files
    assert sorted(names, key=natural_order) == sorted(reversed(names), key=natural_order) == sorted(names)


@pytest.mark.hostile("gate")
def test_a_class_named_by_thousands_of_digits_is_ordered_as_a_number():
    # before: "ValueError: Exceeds the limit (4300 digits) for integer string conversion", a traceback from int()
    long = "9" * 4400
    assert sorted([long, "a", "10", "2"], key=natural_order) == ["2", "10", long, "a"]
    assert sorted([f"x{long}", f"x1{long}"], key=natural_order) == [f"x{long}", f"x1{long}"]


@pytest.mark.hostile("gate")
def test_a_class_named_by_thousands_of_digits_is_gated(tmp_path, capsys):
    # before: a ValueError traceback from the sort of the test classes. Classes a and 9...9 (4,400 nines) of 100 test
    # images each; the base is right on every one, the head names 30 of the long class's images a
    long = "9" * 4400
    classes = ["a", long]
    verdict = gated_two_classes(tmp_path, capsys, classes)
    # as the superscript class of test_hostile_evaluate_71: accuracy 1.0 -> 0.85, the long class's recall 1.0 -> 0.7,
    # a takes 0.3 per image of its own; the long class, a number, is ordered before a
    assert verdict == (f"gate: FAIL — 3 regression(s): baseline all (accuracy) -0.1500 (p adj < 0.0001); "
                                    f"baseline {long} -0.3000 (p adj < 0.0001); baseline a (false positives) +0.3000 "
                                    "(p adj < 0.0001)")


@pytest.mark.hostile("study")
def test_queue_asks_dvc_status_once(stale_ingest, monkeypatch, capsys):  # noqa: F811 (the fixture)
    # the three checks that read data/ingest (--grayscale's channels, --classes against classes.json, the sizes degrade
    # refuses on its images) each ran `dvc status ingest` (a read of DVC's index and a walk of the stages): 3 here
    asked = []
    status = study_sweeps.check_workspace_current
    monkeypatch.setattr(study_sweeps, "check_workspace_current", lambda *a: asked.append(a) or status(*a))
    assert cli.main(["study", "queue", "--sweeps", "strength", "class_deletion", "--grayscale", "--classes", "cat",
                     "--dry-run"]) == 0
    commands = capsys.readouterr().out.splitlines()
    assert asked == [(".", ["ingest"])]
    # stale: every setting kept, grayscale among them, and cat's deletion (the classes of the data the runs ingest)
    assert commands[-2:] == [
        "dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{kind: grayscale, fraction: 1.0}]'",
        "dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{kind: class_removal, classes: [cat]}]'"]
    assert len(commands) == 54


@pytest.mark.hostile("study")
def test_queue_names_a_stale_ingest_by_its_code_not_params(stale_ingest, capsys):  # noqa: F811 (the fixture)
    # params.yaml as ingest last ran it, its code edited since: before, "classes.json is not what params.yaml makes",
    # a cause the user would look for in vain
    params = (stale_ingest / "params.yaml").read_text()
    (stale_ingest / "params.yaml").write_text(params.replace("  source: cifar10 ", "  source: mnist5k ", 1)
                                              .replace("  path: cifar ", "  path: null ", 1))
    (stale_ingest / "ingest.py").write_text((stale_ingest / "ingest.py").read_text() + "# edited\n")
    before = files_under(stale_ingest)
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--dry-run"]) == 1
    assert capsys.readouterr() == ("", (
        "error: study queue: class_deletion needs the class names and data/ingest/classes.json is not what the "
        "workspace's code, params and data make (or DVC cannot tell: `dvc status ingest`); run `dvc repro ingest`, give "
        "--classes, or leave class_deletion out of --sweeps\n"))
    assert_nothing_left(stale_ingest, before)


@pytest.mark.hostile("study")
def test_the_report_draws_the_study_legends_below_the_panels():
    # before: the report's study figure drew each panel's legend on it (ax.legend), so 30 damages' names lay over the
    # curves and ran off the panel's foot, the fault study collect's accuracy.png was mended of; and its title, in a
    # constrained layout squeezed by the legend, lay over the panel
    fig = study_panels(_curves(30, 1))
    FigureCanvasAgg(fig)  # measured as the report saves it (before: a bare Figure's canvas, which cannot measure)
    assert _clashes(fig) == {"cut off": [], "over a panel": [], "over a legend": [], "title over a panel": []}
    # the solid (accuracy) line of each damage, by its name; the dashed macro F1 lines are not named again
    legend = fig.axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [f"d{d:02}" for d in range(30)]
    assert [line.get_linestyle() for line in legend.legend_handles] == ["-"] * 30


@pytest.mark.hostile("study")
def test_a_damage_name_wider_than_its_panel_is_drawn_whole(tmp_path, monkeypatch):
    # a 150-character damage (an --axis study names a curve by the rest of its perturbation list) on one of three
    # panels: before, its legend, one column wider than its panel, ran off the figure's left edge and over the next
    # panel's legend; now the figure is widened to hold it
    figures = {}
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: figures.__setitem__(path.name, fig) or path)
    damages = (("label_noise", "x" * 150), ("label_noise", "short"), ("size", "subsample"), ("proportion", "y" * 150))
    table = pd.DataFrame([{"sweep": sweep, "damage": damage, "level": level, "accuracy": 0.5, "macro_f1": 0.5,
                           "f1_a": 0.5} for sweep, damage in damages for level in (0.1, 0.2)])
    study_plots.plot(table, out_dir=tmp_path)
    fig = figures["accuracy.png"]
    assert _clashes(fig) == {"cut off": [], "over a panel": [], "over a legend": [], "title over a panel": []}
    assert [[text.get_text() for text in ax.get_legend().get_texts()] for ax in fig.axes] == [
        ["short", "x" * 150], ["y" * 150], ["subsample"]]  # a panel's damages in groupby's order


@pytest.mark.hostile("study")
def test_the_report_counts_the_runs_that_draw_curves_as_the_summary_does():
    # study.csv's rows of two strength runs and a clean run that draws no curve (strength has no origin; kept by hand:
    # study collect also draws a contamination run on a proportion curve, whose origin the clean run is). study
    # collect's summary counts the runs drawing curves; before, the report counted every row's run, its own copy of
    # the rule: "From 3 experiments (experiment refs aaaaaaa, bbbbbbb, ccccccc)"
    table = pd.DataFrame([{"sweep": sweep, "damage": damage, "level": level, "experiment": name, "commit": rev,
                           "accuracy": 0.8, "macro_f1": 0.8}
                          for sweep, damage, level, name, rev in (("clean", "clean", 0.0, "clean", "a" * 40),
                                                                  ("strength", "brightness at 1", 2.0, "b2", "b" * 40),
                                                                  ("strength", "brightness at 1", 3.0, "b3", "c" * 40))])
    assert study_section(study=table).startswith(
        '<p class="note">From 2 experiments (experiment refs bbbbbbb, ccccccc) that')


@pytest.mark.hostile("study")
@pytest.mark.parametrize(("rev", "shown"), [(None, "null"), (5, "5"), ("", '""')], ids=["null", "number", "empty"])
def test_a_saved_show_whose_runs_have_no_commit_is_refused(tmp_path, capsys, rev, shown):
    # two runs of a saved `dvc exp show --json` without a commit (a run is its name and commit): before, null and null
    # were one run listed twice and noise40 was dropped without a word, "study: 2 of 3 experiments", exit 0
    runs = show(record("clean", [], 0.95), record("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.8),
                record("noise40", [{"kind": "symmetric_noise", "fraction": 0.4}], 0.7))
    for experiment in runs[1]["experiments"][1:]:
        experiment["revs"][0]["rev"] = rev
    saved = tmp_path / "exps.json"
    saved.write_text(json.dumps(runs))
    before = files_under(tmp_path)
    assert cli.main(["study", "collect", "--from-json", str(saved), "--out", str(tmp_path / "study")]) == 1
    assert capsys.readouterr() == ("", f"error: --from-json: {saved}: a record is not what `dvc exp show --json` "
                                       f"writes (TypeError: rev {shown} is not a commit)\n")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("label", [pd.array([0, None], dtype="Int64"), [0.0, float("nan")]], ids=["Int64", "float"])
def test_a_variant_row_without_a_label_is_named_as_no_label(tmp_path, label):
    # before: "row 1 has label <NA>, not a class index" (a nullable column) and "row 1 has label nan" (a float one),
    # where the imageset's check and the decision files' say "no label"
    folder = tmp_path / "variants" / "baseline"
    folder.mkdir(parents=True)
    pd.DataFrame({"id": ["a", "b"], "origin": "degrade", "label": label, "action": "keep", "reason": "",
                  "stage": "variants"}).to_parquet(folder / "rows.parquet")
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        read_rows("baseline", root=tmp_path / "variants", num_classes=2)
    assert str(refused.value) == (f"{folder / 'rows.parquet'}: row 1 has no label, not a class index in [0, 1]; rerun "
                                  "the variants stage (dvc repro variants)")
    assert_nothing_left(tmp_path, before)
