"""Hostile leftovers, probe 78h (review of c3703372 .. ca7fc4fb).

- b5a0b3af read a reviewed file's class cells (given, suggested) in another Unicode form as the class they show, but
  the exported queue itself, reviews/queue.csv, read for what each image's suggestion was, was still compared as
  written: the queue edited in place (the README's way: fill in its verdict column) by a tool that rewrote its class
  cells full-width was refused as "the queue was edited, or the pipeline ran again since the export".
"""

import pytest

from test_hostile_review_66 import exported, queue, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from test_hostile_review_78 import choice, label_studio_export
from winnow import review


@pytest.mark.hostile("review")
def test_the_exported_queue_with_class_cells_in_another_unicode_form_imports_in_place(project):
    table = queue()
    table["verdict"] = ""
    table.loc["train-04", ["given", "suggested", "verdict"]] = ["ｄｏｇ", "ｏｗｌ", "accept"]
    table.reset_index().to_csv("reviews/queue.csv", index=False)
    review.import_verdicts("reviews/queue.csv")
    assert [line.split(",")[:5] for line in saved_lines()[1:]] == [["train-04", "accept", "2", "2", "1"]]


@pytest.mark.hostile("review")
def test_a_label_studio_draft_of_another_shape_is_no_traceback_after_the_verdicts_are_written(project, capsys):
    # before: "AttributeError: 'str' object has no attribute 'get'" from the drafts' check, which runs after
    # reviews/verdicts.csv is written: the verdict imported, the command a traceback
    export = label_studio_export({"train-02": [choice("drop")]},
                                 drafts={"train-04": [{"result": ["cat"]}], "train-05": [{"result": [None]}]})
    review.import_verdicts(export)
    assert [line.split(",")[:3] for line in saved_lines()[1:]] == [["train-02", "accept", "-1"]]
    assert "hold a draft never submitted" not in capsys.readouterr().out  # no word of a verdict control's
