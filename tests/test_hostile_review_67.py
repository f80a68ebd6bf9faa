"""Hostile review cases of stop 67: a saved verdict's cell that a spreadsheet or a person rewrote in another case or
with spaces around it. In-process on the exported project of review_project.py after its first round (exported again), made once."""

import shutil
from pathlib import Path

import pytest

from test_hostile_review_66 import FIRST, exported, fill_in, queue  # noqa: F401 (fixtures)
from winnow import review
from winnow.unimported_verdicts import refuse_unimported_verdicts


@pytest.fixture(scope="module")
def second_round(exported, tmp_path_factory) -> Path:  # noqa: F811 (the fixture imported above)
    """The exported project after its first round, once for the module: FIRST imported, the queue exported again
    (its cells show the saved words)."""
    root = Path(shutil.copytree(exported, tmp_path_factory.mktemp("second") / exported.name))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        review.import_verdicts(fill_in(FIRST))
        review.export()
    return root


@pytest.fixture
def project(second_round, tmp_path, monkeypatch) -> Path:
    """A copy of :func:`second_round`, the working directory."""
    root = Path(shutil.copytree(second_round, tmp_path / second_round.name))
    monkeypatch.chdir(root)
    return root


@pytest.mark.hostile("review")
def test_a_saved_verdict_rewritten_in_another_case_or_with_spaces_is_no_new_verdict(project, capsys):
    saved = Path("reviews/verdicts.csv").read_bytes()
    table = queue()
    assert table.loc[["train-05", "train-08", "train-04"], "saved"].tolist() == ["reject", "accept", "cat"]
    # train-04: full-width letters (an input method's), which resolve reads as the class cat (found by review)
    table.loc[["train-05", "train-08", "train-04"], "verdict"] = ["Reject ", "ACCEPT", " ｃａｔ"]
    table.reset_index().to_csv("reviews/queue.csv", index=False)
    capsys.readouterr()
    # before: 3 verdict(s) imported anew (relabel 1, accept 1, reject 1), each checked again against the data now
    assert review.import_verdicts("reviews/queue.csv").empty
    assert Path("reviews/verdicts.csv").read_bytes() == saved
    assert capsys.readouterr().out == ""
    # nor a verdict not imported, which the next export would refuse to overwrite
    assert refuse_unimported_verdicts(Path("reviews/queue.csv"), ["cat", "dog", "owl"]) is None


@pytest.mark.hostile("review")
def test_import_replace_of_the_exported_queue_keeps_the_saved_verdicts_it_shows(project, capsys):
    table = queue()
    table.loc["train-05", "verdict"] = "accept"  # one verdict changed; train-00, -04 and -08 still show the saved
    table.reset_index().to_csv("reviews/queue.csv", index=False)
    capsys.readouterr()
    # before: only train-05's line was left, the three verdicts the queue showed removed without a word
    review.import_verdicts("reviews/queue.csv", replace=True)
    assert [line.split(",")[:3] for line in Path("reviews/verdicts.csv").read_text().splitlines()[1:]] == [
        ["train-00", "reject", "0"], ["train-04", "relabel", "0"], ["train-08", "accept", "-1"],
        ["train-05", "accept", "0"]]
    assert capsys.readouterr().out == ""
