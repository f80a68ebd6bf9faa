"""Hostile review cases of probe 78, in-process on the exported project of review_project.py (no training):

- a Label Studio export whose annotators left drafts only (never submitted): "0 verdict(s) (none) written", exit 0,
  nothing saying the drafts were not read;
- a saved verdict whose pre-filled annotation a person deleted in Label Studio (the way to withdraw it there): kept
  without a word, where the same cell emptied in the queue is warned of.
"""

import json
from pathlib import Path

import pytest

from test_hostile_review_66 import exported, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from winnow import review

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
