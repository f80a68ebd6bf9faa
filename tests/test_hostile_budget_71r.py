"""Hostile inputs found reviewing stop 71's budget mends (the label cleaners' score columns must hold numbers):

- the same score columns reaching the report, which reads them without the budget's reader: confident-learn's
  label_quality, data-valuation's harm or embedding-clean's rounds' agreement as true/false or as text is refused in
  one line naming the file, its column and its stage, nothing written (before, label_quality as true/false captioned
  every label-issue tile "quality 0.00" or "quality 1.00", exit 0, and as text ended the report in a TypeError
  traceback; harm as true/false ordered the valuation's grids by it, exit 0; agreement as text ended it in a ValueError);
- label_quality as pandas' nullable Float64 holding a NA (numbers, which the check passes): the report shows that
  tile's quality as "–", as it does a NaN (before, a TypeError traceback: "must be real number, not NAType"); the
  budget and review export read the column as float64 with NaN too (read_table's numbers).
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from hostile_harness import log_nothing_planted, refused_line, run_stage, write_judged
from test_hostile_report_66 import LABEL_ISSUES, dotted_project

IDS = [f"img-{i}" for i in range(16)]
TABLES = {  # per file the report reads scores from: its stage and the table's columns other than the score's
    "data/confident-learn/label_issues.parquet": ("confident-learn", {
        "is_issue": [True] * 2 + [False] * 14, "decision": ["drop"] * 2 + ["keep"] * 14, "given_label": 0,
        "suggested_label": 1, "reason": ["label_issue"] * 2 + ["consistent"] * 14}),
    "data/data-valuation/decisions.parquet": ("data-valuation", {
        "decision": ["drop"] * 2 + ["keep"] * 14, "given_label": 0, "knn_shapley": 0.01, "tracin": 0.02}),
    "data/embedding-clean/rounds.parquet": ("embedding-clean", {
        "round": 0, "decision": ["relabel"] * 2 + ["keep"] * 14, "reason": "", "given_label": 0,
        "suggested_label": 1}),
}


@pytest.mark.hostile("budget")
@pytest.mark.parametrize(("path", "column", "values", "kind"), [
    ("data/confident-learn/label_issues.parquet", "label_quality", [True, False] * 8, "bool"),
    ("data/confident-learn/label_issues.parquet", "label_quality", ["0.500"] * 16, "str"),
    ("data/data-valuation/decisions.parquet", "harm", [True, False] * 8, "bool"),
    ("data/embedding-clean/rounds.parquet", "agreement", ["0.900"] * 16, "str"),
])
def test_a_score_column_the_report_reads_that_holds_no_numbers_stops_it(tmp_path, path, column, values, kind):
    # a label cleaner's score rewritten by another tool as true/false or as text, read by the report (which shows the
    # label issues by label_quality, the valuation's grids by harm, the neighbour rounds by agreement). Before: exit 0
    # with every label-issue tile captioned "quality 0.00" or "quality 1.00" for true/false, and a TypeError traceback
    # for label_quality as text ("must be real number, not str")
    root, stage = _scores_project(tmp_path, path, column, values), TABLES[path][0]
    assert refused_line(root, "report") == (
        f"error: {path}: {column} holds {kind} values, not numbers; rerun the {stage} stage (dvc repro {stage})")


def _scores_project(root, path: str, column: str, values):
    """dotted_project's data/ingest, the same as data/degrade, and confident-learn's counts, with ``path``'s table (of
    :data:`TABLES`) holding ``values`` in ``column``."""
    dotted_project(root)
    shutil.copytree(root / "data/ingest", root / "data/degrade")
    log_nothing_planted(root)
    (root / "metrics").mkdir()
    (root / "metrics/confident_learn.json").write_text(json.dumps(LABEL_ISSUES))
    (root / path).parent.mkdir(parents=True)
    write_judged(root, path, pd.DataFrame({"id": IDS, **TABLES[path][1], column: values}))
    return root


@pytest.mark.hostile("budget")
def test_a_nullable_label_quality_with_a_null_is_shown_as_none_by_the_report(tmp_path):
    # label_quality written as pandas' Float64 (a nullable column) by another tool, one issue's quality missing. Before:
    # numbers, so the check passed it, and the report's tile caption ended in "TypeError: must be real number, not
    # NAType"; a float64 NaN there was already shown as "–"
    path = "data/confident-learn/label_issues.parquet"
    root = _scores_project(tmp_path, path, "label_quality", pd.array([0.25, None] + [0.5] * 14, dtype="Float64"))
    done = run_stage(root, "report")
    assert (done.returncode, done.stderr) == (0, "")
    page = (root / "reports/index.html").read_text()
    assert [caption for caption in re.findall(r"<figcaption>(.*?)</figcaption>", page) if "quality" in caption] == ["st.bernard → pug<br>quality 0.25 · drop", "st.bernard → pug<br>quality – · drop"]
