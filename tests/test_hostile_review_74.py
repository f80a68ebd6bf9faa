"""Hostile review cases of probe 74, in-process on the exported project of review_project.py (no training):

- reviews/verdicts.csv (git-tracked) left with a merge conflict, two reviewers' imports merged on two branches: pandas
  read git's marker lines as verdicts of ids '<<<<<<< HEAD' and '=======', so the variants stage and import refused
  "verdict ''" with the advice to restore the header-only file from git (every verdict of both reviewers lost), the
  export warned of verdicts made on another class list (a class renamed), and an export over a queue holding a verdict
  said the file was not readable ("invalid literal for int()") with the advice to restore it from git;
- Label Studio's JSON-MIN export (a task's data fields and choices side by side) given to import: told it had "no
  data.winnow_id" (it holds winnow_id) and to export the project as JSON (JSON-MIN is JSON too);
- reviews/verdicts.csv edited by hand with a space after each comma: the export warned of a verdict made on another
  class list (a class renamed, removed or added since), where the variants stage refuses the line for its form; and
  a verdicts file of an older winnow (no digest or classes column) was said to be not readable in pandas' words
  ("['digest', 'classes'] not in index");
- reviews/verdicts.csv holding two lines of one image (both sides of a merge conflict kept): the export showed the
  last as the image's saved verdict, without a word, where the variants stage refuses the file;
- import --replace of a second round's queue beside a saved verdict of an image no cleaner raises now (which the export
  had said pruned still applies, and which no queue, page or Label Studio export carries back): removed without a word;
- a reviewed queue whose id column a spreadsheet sorted alone (its "continue with the current selection"): each row's
  given class and digest are another image's, and import said the data had changed since the export ("holds other
  pixels under that id now", or "was 'dog' when exported and is 'cat' ... now") and advised reviewing anew.
"""

import json
from pathlib import Path

import pytest

from hostile_harness import assert_nothing_left, files_under
from review_project import digest
from test_hostile_review_66 import HEADER, KEY, exported, fill_in  # noqa: F401 (fixture)
from test_hostile_review_66 import queue as review_queue
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from test_hostile_review_72r import variants_read
from winnow import review
from winnow.errors import WinnowError

CONFLICT_LINE = (
    "reviews/verdicts.csv: line 2 is a git merge conflict marker ('<<<<<<< HEAD'), left by a merge of two versions of "
    "the file")
CONFLICT_FIX = "keep the verdict lines you mean (one per image), delete the marker lines, and `git add` the file"


def write_conflict(project: Path) -> bytes:
    """reviews/verdicts.csv as git leaves it where two branches each imported a verdict (train-04 kept as a dog on
    one, train-05 relabelled cat on the other); its bytes."""
    ours = f"train-04,reject,1,2,1,{digest(project, 'train-04')},{KEY}\n"
    theirs = f"train-05,accept,0,0,1,{digest(project, 'train-05')},{KEY}\n"
    text = (HEADER + "<<<<<<< HEAD\n" + ours + "=======\n" + theirs + ">>>>>>> reviewer-b\n").encode()
    Path("reviews/verdicts.csv").write_bytes(text)
    return text


@pytest.mark.hostile("review")
def test_a_verdicts_file_left_with_a_merge_conflict_is_named_so_by_the_variants_stage_and_import(project):
    # before: "reviews/verdicts.csv: line 2 (id '<<<<<<< HEAD'): verdict '' is not one of accept, reject, relabel,
    # drop; write it with `winnow review import`, or restore the header-only file from git", both reviewers' verdicts
    # thrown away by the advice
    text = write_conflict(project)
    with pytest.raises(WinnowError) as refused:
        variants_read()
    assert str(refused.value) == f"{CONFLICT_LINE}; {CONFLICT_FIX}"
    reviewed = fill_in({"train-06": "reject"}, name="reviewed.csv")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts(reviewed)
    assert str(refused.value) == f"{CONFLICT_LINE}; {CONFLICT_FIX}"
    assert Path("reviews/verdicts.csv").read_bytes() == text
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_an_export_beside_a_verdicts_file_left_with_a_merge_conflict_says_so(project, capsys):
    # before: "warning: review export: 3 verdict(s) of reviews/verdicts.csv were made on another class list than the
    # data set's now (a class renamed, removed or added since; first: id '<<<<<<< HEAD') ..."
    write_conflict(project)
    review.export()
    assert capsys.readouterr().out == (
        f"warning: review export: reviews/verdicts.csv holds no verdicts as it stands ({CONFLICT_LINE.split(': ', 1)[1]}"
        f"), so the queue shows no saved verdict; {CONFLICT_FIX}, then export again\n")
    # a queue holding a verdict the person wrote. Before: "reviews/verdicts.csv: not readable (invalid literal for
    # int() with base 10: ''), so whether the 1 verdict(s) ... were imported is unknown ...; mend it (restore it from
    # git), or import the queue anew with `winnow review import --replace reviews/queue.csv`"
    fill_in({"train-06": "reject"})
    queue = Path("reviews/queue.csv").read_bytes()
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.export()
    assert str(refused.value) == (
        f"{CONFLICT_LINE}, so whether the 1 verdict(s) in reviews/queue.csv were imported is unknown, and a new export "
        f"would overwrite them; {CONFLICT_FIX}, then export; or import the queue anew with `winnow review import "
        "--replace reviews/queue.csv`, which keeps its verdicts alone")
    assert Path("reviews/queue.csv").read_bytes() == queue
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_import_replace_over_a_merge_conflict_counts_no_marker_line_as_a_verdict_it_removes(project, capsys):
    # before: "... so it removes the 5 verdict(s) of reviews/verdicts.csv", of a file holding two
    write_conflict(project)
    review.import_verdicts("reviews/queue.csv", replace=True)  # as exported: no verdict filled in
    assert capsys.readouterr().out == (
        "warning: review import --replace: reviews/queue.csv holds no verdict, so it removes the 2 verdict(s) of "
        "reviews/verdicts.csv and adds none; restore it from git (git checkout reviews/verdicts.csv) if that was not "
        "meant\n")


@pytest.mark.hostile("review")
def test_label_studios_json_min_export_is_named_so_not_told_it_lacks_the_id_it_holds(project):
    # before: "minimal.json: task 1: no data.winnow_id; export the project from Label Studio as JSON, with tasks imported
    # from reviews/label_studio_tasks.json": the file holds winnow_id, was exported as JSON (JSON-MIN is JSON too), of
    # those very tasks
    tasks = json.loads(Path("reviews/label_studio_tasks.json").read_text())
    # JSON-MIN: a task's data fields and each control's choice side by side, Label Studio's task and annotation ids
    minimal = [{**{k: v for k, v in task["data"].items() if k != "image"}, "id": number, "verdict": "drop",
                "annotator": 1, "annotation_id": number} for number, task in enumerate(tasks, start=1)]
    Path("minimal.json").write_text(json.dumps(minimal))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("minimal.json")
    assert str(refused.value) == (
        "minimal.json: task 1: holds winnow_id at its top level, as Label Studio's JSON-MIN export writes a task, not a "
        "task with its data and annotations, which import reads; export the project as JSON (not JSON-MIN), and import "
        "that file")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_a_verdicts_line_edited_by_hand_with_spaces_is_not_called_a_class_list_changed(project, capsys):
    # before: "warning: review export: 1 verdict(s) of reviews/verdicts.csv were made on another class list than the
    # data set's now (a class renamed, removed or added since; first: id 'train-04') ...": no class changed, and the
    # variants stage refuses the line as "verdict ' reject' is not one of accept, reject, relabel, drop"
    line = f"train-04,reject,1,2,1,{digest(project, 'train-04')},{KEY}\n"
    Path("reviews/verdicts.csv").write_text(HEADER + line.replace(",", ", "))
    review.export()
    assert capsys.readouterr().out == (
        "warning: review export: the lines of 1 image(s) in reviews/verdicts.csv are not as `winnow review import` "
        "writes them (first: id 'train-04'), and `dvc repro variants` refuses them, naming what is wrong: mend them, or "
        "remove them and judge those images anew (their verdict cells are empty)\n")
    assert review_queue().loc["train-04", "saved"] == ""


@pytest.mark.hostile("review")
def test_a_verdicts_file_of_an_older_winnow_is_said_to_lack_its_columns_at_export(project, capsys):
    # before: "warning: review export: reviews/verdicts.csv is not readable ("['digest', 'classes'] not in index"), so
    # the queue shows no saved verdict; mend it or restore it from git"
    Path("reviews/verdicts.csv").write_text("id,verdict,label,suggested,given\ntrain-04,reject,1,2,1\n")
    review.export()
    assert capsys.readouterr().out == (
        "warning: review export: reviews/verdicts.csv lacks column(s) digest, classes, so the queue shows no saved "
        "verdict, and `dvc repro variants` refuses the file, saying what to do\n")


@pytest.mark.hostile("review")
def test_an_image_with_two_lines_in_the_verdicts_file_shows_no_saved_verdict_and_export_says_so(project, capsys):
    # both sides of a merge conflict kept: train-04 kept as a dog on one branch, relabelled cat on the other. Before: the
    # queue showed "cat" saved, without a word, and the variants stage refused "line 3: id 'train-04' has a verdict
    # already; keep one line per image"
    seen = digest(project, "train-04")
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-04,reject,1,2,1,{seen},{KEY}\n"
                                            + f"train-04,relabel,0,2,1,{seen},{KEY}\n")
    with pytest.raises(WinnowError) as refused:
        variants_read()
    assert str(refused.value) == (
        "reviews/verdicts.csv: line 3: id 'train-04' has a verdict already; keep one line per image")
    review.export()
    assert capsys.readouterr().out == (
        "warning: review export: the lines of 1 image(s) in reviews/verdicts.csv are not as `winnow review import` "
        "writes them (first: id 'train-04'), and `dvc repro variants` refuses them, naming what is wrong: mend them, or "
        "remove them and judge those images anew (their verdict cells are empty)\n")
    assert review_queue().loc["train-04", "saved"] == ""


@pytest.mark.hostile("review")
def test_import_replace_says_which_saved_verdicts_it_removes_beside_those_it_adds(project, capsys):
    # train-09 (an owl no cleaner raises) dropped by a person: the export says pruned still applies it. Before, the
    # second round imported with --replace removed it without a word, and pruned kept the image again
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-09,drop,-1,-1,2,{digest(project, 'train-09')},{KEY}\n")
    review.export()
    capsys.readouterr()
    review.import_verdicts(fill_in({"train-06": "reject"}), replace=True)
    assert capsys.readouterr().out == (
        "warning: review import --replace: removed the verdict(s) of 1 image(s) reviews/queue.csv does not name "
        "(first: id 'train-09') from reviews/verdicts.csv; restore it from git (git checkout reviews/verdicts.csv) and "
        "import reviews/queue.csv without --replace if that was not meant\n")
    assert Path("reviews/verdicts.csv").read_text() == (
        HEADER + f"train-06,reject,1,0,1,{digest(project, 'train-06')},{KEY}\n")


@pytest.mark.hostile("review")
def test_a_queue_whose_id_column_a_spreadsheet_sorted_alone_is_not_said_to_hold_changed_data(project):
    # the queue lists train-02, train-00, train-04, train-06, train-08, train-05, train-07; sorted alone, the id column
    # puts train-05 on train-06's row (given dog, train-06's digest), whose verdict is drop. Before: "reviewed.csv:
    # id 'train-05' showed pixels of digest '...', and data/degrade holds other pixels under that id now (...); export
    # the queue again and review that image anew, ...": nothing had changed
    table = review_queue().reset_index()
    table.loc[table["id"] == "train-06", "verdict"] = "drop"
    table["id"] = sorted(table["id"])
    table.to_csv("reviewed.csv", index=False)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("reviewed.csv")
    assert str(refused.value) == (
        f"reviewed.csv: line 5: id 'train-05' stands beside the pixels of id 'train-06' (digest "
        f"'{digest(project, 'train-06')}'), not its own ('{digest(project, 'train-05')}'): the row's id and its other "
        "cells do not belong together (a spreadsheet sort of some columns only, or images renamed since the export); "
        "restore the file's rows as exported, or export the queue again and review that image anew, and remove its "
        "verdict from reviewed.csv to import the file's other verdicts")
    assert_nothing_left(project, before)
