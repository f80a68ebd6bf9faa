"""Hostile inputs found reviewing stop 71's budget mends (the label cleaners' score columns must hold numbers):

- the same score columns reaching the report, which reads them without the budget's reader: confident-learn's
  label_quality, data-valuation's harm or embedding-clean's rounds' agreement as true/false or as text is refused in
  one line naming the file, its column and its stage, nothing written (before, label_quality as true/false captioned
  every label-issue tile "quality 0.00" or "quality 1.00", exit 0, and as text ended the report in a TypeError
  traceback; harm as true/false ordered the valuation's grids by it, exit 0; agreement as text ended it in a ValueError).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from hostile_harness import refused_line, write_judged
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
    root = dotted_project(tmp_path)
    shutil.copytree(root / "data/ingest", root / "data/degrade")
    (root / "metrics").mkdir()
    (root / "metrics/confident_learn.json").write_text(json.dumps(LABEL_ISSUES))
    stage, table = TABLES[path]
    (root / path).parent.mkdir(parents=True)
    write_judged(root, path, pd.DataFrame({"id": IDS, **table, column: values}))
    assert refused_line(root, "report") == (
        f"error: {path}: {column} holds {kind} values, not numbers; rerun the {stage} stage (dvc repro {stage})")
