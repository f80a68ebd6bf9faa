"""Review of probe 79's gate (the workspace read as git would commit it): a file git keeps by a negated ignore rule
is no ignored file. The gate runs in-process (:func:`winnow.cli.main`) and its lines are asserted whole."""

import pytest
from gate_repo import gated, git
from test_hostile_gate_73 import committed


@pytest.mark.hostile("gate")
def test_predictions_kept_by_a_negated_ignore_rule_are_gated_not_refused_as_ignored(tmp_path, capsys):
    # "*.csv" then "!predictions.csv": git add -A commits an untracked predictions.csv (a variant evaluated anew).
    # `git check-ignore -v` names the negation too, and exits 0 for it; before: "error: metrics/evaluate/pruned/
    # predictions.csv at workspace: ignored by git (.gitignore:2:!predictions.csv) and not tracked, ..."
    project = committed(tmp_path)
    (project / ".gitignore").write_text("*.csv\n!predictions.csv\n")
    git(project, "rm", "-q", "--cached", "metrics/evaluate/pruned/predictions.csv")
    assert "metrics/evaluate/pruned/predictions.csv" in git(project, "ls-files", "-o", "--exclude-standard")
    code, out = gated(project, capsys)
    assert code == 0 and out.splitlines()[-1].startswith("gate: PASS — 2 variant(s)")
