"""Hostile review cases of probe 78, in-process on the exported project of review_project.py (no training):

- a Label Studio export whose annotators left drafts only (never submitted): "0 verdict(s) (none) written", exit 0,
  nothing saying the drafts were not read;
- a saved verdict whose pre-filled annotation a person deleted in Label Studio (the way to withdraw it there): kept
  without a word, where the same cell emptied in the queue is warned of;
- a verdict typed into the queue's saved column (beside the verdict column), or into both: skipped as the saved verdict
  the export filled in, "0 verdict(s) (none) written", where reviews/verdicts.csv held none for the image;
- a reviewed file whose class cells (given, suggested) a tool rewrote in another Unicode form (full-width, decomposed):
  refused as naming no class, "one renamed or removed since the export", with the advice to review the image anew,
  where the verdict word in that form was read as the class.
"""

import json
from pathlib import Path

import pytest

from hostile_harness import assert_nothing_left, files_under
from test_hostile_review_66 import exported, queue, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from winnow import review
from winnow.errors import WinnowError

HEADER = "id,verdict,label,suggested,given,digest,classes"


def choice(word: str, *, cancelled: bool = False) -> dict:
    """An annotation (or, without ``was_cancelled``, a draft) choosing ``word``, as Label Studio exports it."""
    return {"id": 7, "completed_by": 3, "was_cancelled": cancelled, "result": [
        {"type": "choices", "from_name": "verdict", "to_name": "image", "value": {"choices": [word]}}]}


def label_studio_export(annotated: dict[str, list], *, drafts: dict[str, list] = {}, name: str = "project.json") -> Path:
    """The exported tasks as Label Studio exports them after labelling: ``annotated`` (id -> annotations) and
    ``drafts`` (id -> drafts), every other task with no annotation (a saved verdict's annotation deleted too)."""
    tasks = json.loads(Path("reviews/label_studio_tasks.json").read_text())
    for task in tasks:
        task["annotations"] = annotated.get(task["data"]["winnow_id"], [])
        task["drafts"] = drafts.get(task["data"]["winnow_id"], [])
    Path(name).write_text(json.dumps(tasks))
    return Path(name)


@pytest.mark.hostile("review")
def test_a_label_studio_export_of_drafts_never_submitted_says_they_were_not_imported(project, capsys):
    # before: "review import: 0 verdict(s) (none) written", nothing more: the annotators' drafts were read as no choice
    # train-02 submitted (its leftover draft agrees); train-04 and train-05 drafted only
    drafted = label_studio_export({"train-02": [choice("drop")]},
                                  drafts={"train-02": [choice("drop")], "train-04": [choice("cat")],
                                          "train-05": [choice("dog")]})
    capsys.readouterr()
    review.import_verdicts(drafted)
    assert capsys.readouterr().out.splitlines() == [
        "warning: review import: 2 task(s) of project.json hold a draft never submitted (first: id 'train-04'), which "
        "is no verdict and was not imported; submit those annotations in Label Studio, export the project again and "
        "import that"]
    assert [line.split(",")[:2] for line in saved_lines()] == [HEADER.split(",")[:2], ["train-02", "accept"]]


@pytest.mark.hostile("review")
def test_a_saved_verdicts_annotation_deleted_in_label_studio_keeps_the_verdict_and_says_so(project, capsys):
    # round one relabelled train-04 (a dog) cat; the next export carries that as an annotation, which the person
    # deleted in Label Studio. Before: kept without a word, where an emptied cell of the queue is warned of
    review.import_verdicts(label_studio_export({"train-04": [choice("cat")]}, name="round1.json"))
    review.export()
    saved = saved_lines()
    round2 = label_studio_export({"train-02": [choice("drop")], "train-05": [choice("dog", cancelled=True)]},
                                 name="round2.json")
    capsys.readouterr()
    review.import_verdicts(round2)
    assert capsys.readouterr().out.splitlines() == [
        "warning: review import: 1 task(s) of round2.json no longer hold the annotation of the verdict saved in "
        "reviews/verdicts.csv (first: id 'train-04', relabel), which is kept: a deleted annotation changes nothing; "
        "to withdraw a verdict, remove its line from reviews/verdicts.csv"]
    assert saved_lines()[:2] == saved
    assert saved_lines()[2].startswith("train-02,accept,-1,")


@pytest.mark.hostile("review")
def test_a_verdict_typed_into_the_saved_column_is_refused_not_skipped_as_the_saved_one(project):
    # train-04 (a dog, suggested owl) judged cat in both cells, train-05 reject in the saved cell alone; train-02 drop
    # as meant. Before: "review import: 1 verdict(s) (accept 1) written", the two others skipped as the export's
    table = queue()
    table.loc["train-02", "verdict"] = "drop"
    table.loc["train-04", ["saved", "verdict"]] = ["cat", "cat"]
    table.loc["train-05", "saved"] = "reject"
    table.reset_index().to_csv("reviewed.csv", index=False)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("reviewed.csv")
    assert str(refused.value) == (
        "reviewed.csv: id 'train-04' (2 such image(s)) shows a saved verdict that reviews/verdicts.csv does not hold (a "
        "word typed into the saved column, or a verdict removed from that file since the export), which import would "
        "skip as no new word; write the verdict in the verdict column and empty the saved cell, or empty both to leave "
        "the image unjudged")
    assert_nothing_left(project, before)
    assert not Path("reviews/verdicts.csv").exists()
    # as the refusal says: the saved cells emptied, the verdicts in the verdict column
    table.loc[["train-04", "train-05"], ["saved", "verdict"]] = [["", "cat"], ["", "reject"]]
    table.reset_index().to_csv("reviewed.csv", index=False)
    review.import_verdicts("reviewed.csv")
    assert [line.split(",")[:3] for line in saved_lines()[1:]] == [
        ["train-02", "accept", "-1"], ["train-04", "relabel", "0"], ["train-05", "reject", "1"]]


@pytest.mark.hostile("review")
def test_class_cells_in_another_unicode_form_name_the_class_they_show(project):
    # before: "reviewed.csv: line 4: id 'train-04': given 'ｄｏｇ' names no class (the classes are cat, dog, owl now: one
    # renamed or removed since the export, or the cell edited); export the queue again and review that image anew, ..."
    table = queue()
    table["verdict"] = ""
    table.loc["train-04", ["given", "suggested", "verdict"]] = ["ｄｏｇ", "ｏｗｌ", "accept"]
    table.reset_index().to_csv("reviewed.csv", index=False)
    review.import_verdicts("reviewed.csv")
    assert [line.split(",")[:5] for line in saved_lines()[1:]] == [["train-04", "accept", "2", "2", "1"]]
    # and an export over that queue tells it imported (before: refused, naming the class as renamed since)
    Path("reviewed.csv").replace("reviews/queue.csv")
    assert review.export().set_index("id").loc["train-04", "saved"] == "accept"
