"""Review of probe 79's gate (the workspace read as git would commit it): a file git keeps by a negated ignore rule
is no ignored file; and of the reviewed-CSV reader (5f681b1d): a file split at semicolons gets no advice to save it
with commas. The gate runs in-process (:func:`winnow.cli.main`) and its lines are asserted whole."""

from pathlib import Path

import pytest
from gate_repo import gated, git
from test_hostile_gate_73 import committed
from test_hostile_review_66 import exported  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from winnow import review
from winnow.errors import WinnowError


@pytest.mark.hostile("gate")
def test_predictions_kept_by_a_negated_ignore_rule_are_gated_not_refused_as_ignored(tmp_path, capsys):
    # "*.csv" then "!predictions.csv": git add -A commits an untracked predictions.csv (a variant evaluated anew).
    # `git check-ignore -v` names the negation too, and exits 0 for it; before: "error: metrics/evaluate/pruned/
    # predictions.csv at workspace: ignored by git (.gitignore:2:!predictions.csv) and not tracked, ..."
    repo = committed(tmp_path)
    (repo / ".gitignore").write_text("*.csv\n!predictions.csv\n")
    git(repo, "rm", "-q", "--cached", "metrics/evaluate/pruned/predictions.csv")
    assert "metrics/evaluate/pruned/predictions.csv" in git(repo, "ls-files", "-o", "--exclude-standard")
    code, out = gated(repo, capsys)
    assert code == 0 and out.splitlines()[-1].startswith("gate: PASS — 2 variant(s)")


@pytest.mark.hostile("review")
def test_a_semicolon_file_lacking_the_verdict_column_is_not_told_to_save_with_commas(project):  # noqa: F811
    # since 5f681b1d a semicolon file is split at its semicolons, so one lacking a column lacks it with commas too;
    # before: "... lacks column(s) verdict (its header holds semicolons: save it as comma-separated CSV); ..."
    Path("reviewed.csv").write_text("id;given;action\ntrain-04;0;relabel\n")
    assert not Path("reviews/verdicts.csv").exists()  # the exported project: no verdict imported yet
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("reviewed.csv")
    assert str(refused.value) == "reviewed.csv: lacks column(s) verdict; the queue's columns id and verdict are needed"
    assert not Path("reviews/verdicts.csv").exists()  # nothing imported
