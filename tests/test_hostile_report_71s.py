"""Hostile inputs to the report, review of stop 71's report mends (a score column read as numbers, handed on as float64
with NaN for a null by read_table's numbers=, then shown on the image tiles):

- embedding-clean's rounds.parquet with agreement as pandas' nullable Float64 holding a NA on an image it relabelled:
  the neighbour tile read "nan% agree" (read_table now hands the NA on as NaN; a float64 NaN read so before too);
  it reads "– agree", as a missing label quality reads "quality –";
- data-valuation's decisions.parquet with knn_shapley or tracin null on an image: its tile read "kNN +nan"; it reads
  "kNN –";
- (an untested half of f4c28dd0's mend) data-valuation's knn_shapley as text or tracin as true/false, which the
  report reads with numbers= since then: refused in one line, nothing written (without that mend, exit 0 here; where the
  valuation's grids are drawn, text ends their caption in a ValueError and true/false reads "TracIn +1.00e+00");
- metrics/budget.json whose winner has no figures (its correct, accuracy and log_loss deleted, or all three null, as
  the budget writes a candidate it did not judge): 7d31e05b says a candidate judged in part is missing a figure, but
  one with none read as not judged, the winner too: "pruned applies top5%, ... judged by its log-loss" beside "–" in
  each of its figures, exit 0. The budget chooses among the candidates judged; it is refused.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from hostile_harness import refused_line, run_stage, write_judged
from test_hostile_budget_71r import _scores_project
from test_hostile_report_71 import _report  # the report stage in-process: its one error line, assert_nothing_left
from test_report_versions import BASELINE_ERRORS, wrong_on, write_project
from test_hostile_report_more import tiny_imageset
from winnow.report_valuation import valuation_section
from winnow.stage_reads import read_table


@pytest.mark.hostile("report")
def test_a_missing_agreement_of_a_neighbour_decision_reads_as_none(tmp_path):
    # agreement written as pandas' Float64 by another tool, the second relabel's agreement missing. Before: exit 0 with
    # the tile captioned "st.bernard → pug<br>nan% agree · "
    path = "data/embedding-clean/rounds.parquet"
    root = _scores_project(tmp_path, path, "agreement", pd.array([0.9, None] + [0.5] * 14, dtype="Float64"))
    done = run_stage(root, "report")
    assert (done.returncode, done.stderr) == (0, "")
    page = (root / "reports/index.html").read_text()
    assert [caption for caption in re.findall(r"<figcaption>(.*?)</figcaption>", page) if "agree" in caption] == [
        "st.bernard → pug<br>90% agree · ", "st.bernard → pug<br>– agree · "]


@pytest.mark.hostile("report")
def test_a_missing_estimator_value_of_a_valued_image_reads_as_none(tmp_path):
    # t1's kNN-Shapley and t2's TracIn null (Float64 NA), read as the report reads the file. Before: "kNN +nan" and
    # "TracIn +nan" on their tiles
    path = tmp_path / "decisions.parquet"
    pd.DataFrame({
        "id": ["t0", "t1", "t2", "t3"], "given_label": [0, 1, 0, 1], "decision": ["drop", "drop", "keep", "keep"],
        "knn_shapley": pd.array([-0.1, None, 0.3, 0.4], dtype="Float64"),
        "tracin": pd.array([-0.1, -0.2, None, 0.4], dtype="Float64"), "harm": [0.9, 0.8, 0.2, 0.1]}).to_parquet(path)
    decisions = read_table(path, written_by="data-valuation", columns=("decision", "given_label", "knn_shapley",
                                                                      "tracin", "harm"),
                           numbers=("knn_shapley", "tracin", "harm"))
    page = valuation_section(decisions=decisions, summary={"considered": 4, "flagged": 2},
                             imageset=tiny_imageset(tmp_path), count=2, cleaning=True, applied=2)
    assert re.findall(r"<figcaption>(.*?)</figcaption>", page) == [
        "a<br>kNN -1.00e-01 · TracIn -1.00e-01", "b<br>kNN – · TracIn -2.00e-01",
        "b<br>kNN +4.00e-01 · TracIn +4.00e-01", "a<br>kNN +3.00e-01 · TracIn –"]


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("column", "values", "kind"), [("knn_shapley", ["0.010"] * 16, "str"),
                                                         ("tracin", [True, False] * 8, "bool")])
def test_an_estimator_column_of_the_valuation_that_holds_no_numbers_stops_the_report(tmp_path, column, values, kind):
    # the estimators' values the valuation's tiles are captioned with, rewritten as text or true/false. Before
    # f4c28dd0 read them unchecked (its test covers harm, by which the grids are ordered, not these two)
    path = "data/data-valuation/decisions.parquet"
    root = _scores_project(tmp_path, path, "harm", [0.5] * 16)
    table = pd.read_parquet(root / path).drop(columns="digest")
    write_judged(root, path, table.assign(**{column: values}))
    assert refused_line(root, "report") == (
        f"error: {path}: {column} holds {kind} values, not numbers; rerun the data-valuation stage (dvc repro "
        "data-valuation)")


@pytest.mark.hostile("report")
@pytest.mark.parametrize("unjudged", ["deleted", "null"])
def test_a_budget_winner_without_figures_stops_the_report(tmp_path, monkeypatch, capsys, unjudged):
    # top5% chosen, its three figures deleted or null. Before: exit 0, "pruned applies top5%, chosen by a linear probe
    # on the embedding ... judged by its log-loss" beside "–" as its judge images right, accuracy and log-loss
    none = {"fraction": None, "label_images": 0, "dropped": 0, "relabelled": 0, "train_images": 3255, "correct": 477,
            "accuracy": 0.954, "log_loss": 0.31, "note": ""}
    top5 = none | {"fraction": 0.05, "label_images": 163, "dropped": 492, "relabelled": 163, "train_images": 2763}
    for key in ("correct", "accuracy", "log_loss"):
        if unjudged == "deleted":
            del top5[key]
        else:
            top5[key] = None
    budget = {"enabled": True, "train_images": 3255, "leak_drops": 0, "judge": {"split": "val", "images": 500},
              "score": "log_loss", "l2": 0.01, "l2_chosen_on": "val", "tie_se": 1.0, "winner": "top5%",
              "model_check": None, "candidates": {"none": none, "top5%": top5}}
    root = write_project(tmp_path / "project", {v: wrong_on(BASELINE_ERRORS) for v in ("baseline", "pruned")})
    (root / "metrics/budget.json").write_text(json.dumps(budget))
    assert _report(root, monkeypatch, capsys) == (
        'error: metrics/budget.json: winner is "top5%", but candidates.top5% was not judged (no correct, accuracy or '
        "log_loss): the budget chooses among those judged; rerun the budget stage (dvc repro budget)\n")
