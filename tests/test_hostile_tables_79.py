"""Hostile class structure through the per-class tables (probe 79):

- a class named ``all (accuracy)``: its recall row in the merge gate's table, and the FAIL line naming it, read as the
  variant's overall accuracy row ("baseline all (accuracy) -1.0000" for the class alone, beside the variant's own
  "baseline all (accuracy) -0.3333"), without a word; a warning now names it, as one for a class named as another's
  false-positive row, and the class row is shown only where it moved, as any class's;
- ``winnow compare`` over runs whose summary.json is not there (a saved exp show of commits this clone lacks): the F1
  of a class of no test image, 0 by convention, was averaged into the average and std rows and tested without a word,
  while a broken summary got a note; now, where a run's own macro F1 shows evaluate left a class out, a note names the
  classes that read 0 and the runs;
- ``winnow study collect`` (and the report's study figure) drew a panel's 121st line as its 1st: a data set of 200
  classes drew class 120's per-class F1 curve, and named it in the legend, as class 0's; the second 120 lines now have
  hollow markers.
"""

import json

import numpy as np
import pandas as pd
import pytest
from gate_repo import gated, init, labels_of, notes_of, write_variant
from hostile_harness import default_params, make_project

from winnow.cli import main as winnow
from winnow.metrics import headline, metrics_path, summarise


def _gated_with_one_class_lost(tmp_path, capsys, *, lost: str):
    """The gate's exit code and output where baseline's images of class ``lost`` are all predicted b at head, of
    classes 'all (accuracy)' (named as the overall row), b and c."""
    names = ["all (accuracy)", "b", "c"]
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of(50, names)
    write_variant(project, "baseline", labels, labels, classes=names)
    init(project)
    head = labels.copy()
    head[labels == lost] = "b"
    write_variant(project, "baseline", labels, head, classes=names)
    return gated(project, capsys, "--variants", "baseline")


@pytest.mark.hostile("tables")
def test_a_class_named_as_the_overall_row_is_named_in_a_warning(tmp_path, capsys):
    # the class alone lost: accuracy 1 -> 2/3, the class's recall 1 -> 0
    code, out = _gated_with_one_class_lost(tmp_path, capsys, lost="all (accuracy)")
    assert code == 1
    rows = [line.split(" | ")[1:3] for line in out.splitlines() if line.startswith("| baseline |")]
    assert rows[:2] == [["all (accuracy)", "150"], ["all (accuracy)", "50"]]  # the variant's row first, the class's
    assert ("- warning: baseline: the recall row of class all (accuracy) reads as the variant's overall accuracy row "
            "(that one comes first, the class's after it); rename the class to tell them apart") in notes_of(out)


@pytest.mark.hostile("tables")
def test_a_class_named_as_the_overall_row_is_not_shown_where_nothing_moved(tmp_path, capsys):
    code, out = _gated_with_one_class_lost(tmp_path, capsys, lost="c")
    # before: the class's row stood in every table as if it were the overall row, which is always shown
    rows = [line.split(" | ")[1:3] for line in out.splitlines() if line.startswith("| baseline |")]
    assert (code, rows) == (1, [["all (accuracy)", "150"], ["b (false positives)", "100"], ["c", "50"]])


def _exp_show(tmp_path, labels, predicted: dict) -> str:
    """A saved `dvc exp show --json` of two seeds, each variant's metrics file as evaluate writes it for ``labels``
    and ``predicted`` (variant -> class indices of classes a, b, z), its commits absent from any clone."""
    records = [{"rev": str(seed) * 40, "name": f"e{seed}", "error": None, "data": {
        "params": {"params.yaml": {"data": {"seed": seed}}},
        "metrics": {metrics_path(v): {"data": headline(summarise(labels, p, classes=["a", "b", "z"]))}
                    for v, p in predicted.items()}}} for seed in (0, 1)]
    path = tmp_path / "show.json"
    path.write_text(json.dumps(records))
    return str(path)


@pytest.mark.hostile("tables")
def test_compare_over_runs_without_summaries_names_a_zero_evaluate_left_out_of_its_macro_f1(tmp_path, capsys):
    labels = np.array([0, 0, 1, 1])  # no test image of z: evaluate's macro F1 is over a and b alone
    saved = _exp_show(tmp_path, labels, {"baseline": np.array([0, 1, 1, 1]), "pruned": labels})
    assert winnow(["compare", "--from-json", saved, "--variants", "baseline", "pruned",
                   "--repo", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # the rows still count z (nothing here says which class has no test image): baseline (2/3 + 4/5 + 0) / 3, pruned
    # (1 + 1 + 0) / 3 beside its macro F1 of 1.0; before, without a word
    assert "| average | 0.4889 ± 0.0000 | 0.6667 ± 0.0000 |" in out.splitlines()
    assert out.splitlines()[2] == (
        "_F1 of class(es) z reads 0 in run(s) e0, e1, whose summary.json (each class's count of test images) is not "
        "there, and their macro F1 is not the mean of every class's: evaluate left out a class of no test image, whose "
        "unmeasured 0 the average and std rows and the tests here count; run compare in the repository that holds "
        "those runs' commits_")


@pytest.mark.hostile("tables")
def test_compare_over_runs_without_summaries_says_nothing_of_a_zero_its_macro_f1_counts(tmp_path, capsys):
    labels = np.array([0, 0, 1, 1, 2, 2])  # z tested, and never right: its 0 is measured, in evaluate's macro F1 too
    saved = _exp_show(tmp_path, labels, {"baseline": np.array([0, 0, 1, 1, 0, 1]), "pruned": np.array([0, 0, 1, 1, 1, 1])})
    assert winnow(["compare", "--from-json", saved, "--variants", "baseline", "pruned",
                   "--repo", str(tmp_path)]) == 0
    assert "reads 0 in run(s)" not in capsys.readouterr().out


@pytest.mark.hostile("tables")
def test_the_study_draws_each_of_200_classes_its_own_way(tmp_path, monkeypatch):
    from winnow import study_plots

    drawn = []
    monkeypatch.setattr(study_plots, "_save", lambda fig, path: drawn.append(fig) or path)
    classes = [f"c{i}" for i in range(200)]  # a data set of 200 classes (CUB-200, Tiny ImageNet)
    table = pd.DataFrame([{"sweep": sweep, "damage": "label_noise", "level": level, "experiment": f"e{level}",
                           "rev": "r", "accuracy": 0.5, "macro_f1": 0.5, **{f"f1_{c}": 0.5 for c in classes}}
                          for sweep, level in (("clean", 0.0), ("label_noise", 0.2))])
    study_plots.plot(table, out_dir=tmp_path)
    lines = drawn[1].axes[0].get_lines()  # per_class_f1_label_noise.png: one line per class, in class order
    looks = [(line.get_color(), line.get_marker(), str(line.get_markerfacecolor())) for line in lines]
    # before: class c120 was drawn (and named in the legend) as c0, c121 as c1, and so on: 80 pairs alike
    assert len(lines) == 200 and len(set(looks)) == 200
