"""Review of probe 72's review mends, in-process on the exported project of review_project.py (no training):

- reviews/verdicts.csv with a line of spaces or a tab (an editor's): since blank lines were read as rows (0aaa6bba),
  such a line was refused as "verdict ''" by the variants stage and import, where pandas had skipped it before;
- reviews/verdicts.csv with a spreadsheet's ",,,,,," for an emptied row, which the variants stage leaves out: the
  export over an imported queue called the file not readable (int() of ''), the export without a queue counted the
  row as a verdict of id '' made on another class list, and import --replace counted it among the verdicts it
  removes;
- a verdicts.csv of an older winnow (no classes column, or neither digest nor classes) given to import: still refused
  as "given '0' names no class" (or as lacking a digest), where the current format was named as a verdicts file.
"""

from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under
from review_project import digest
from test_hostile_review_66 import HEADER, KEY, exported, fill_in, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project)
from test_hostile_review_72 import assert_replace_removes_the_one_verdict
from winnow import review
from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.variants import baseline_rows
from winnow.verdicts import read_verdicts


def variants_read() -> pd.DataFrame:
    """reviews/verdicts.csv as the variants stage reads it."""
    data = read_imageset("data/degrade")
    return read_verdicts("reviews/verdicts.csv", baseline=baseline_rows(data.manifest),
                         digests=data.manifest.set_index("id")["digest"], classes=data.classes)


@pytest.mark.hostile("review")
@pytest.mark.parametrize("spaces", ["   ", "\t"])
def test_a_line_of_spaces_in_the_verdicts_file_holds_no_verdict(project, spaces):
    # before: "reviews/verdicts.csv: line 3 (id '   '): verdict '' is not one of accept, reject, relabel, drop; ...",
    # from the variants stage too, where pandas had skipped the line before blank lines were read as rows
    line = f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n"
    Path("reviews/verdicts.csv").write_text(HEADER + line + spaces + "\n")
    read = variants_read()
    assert read["id"].tolist() == ["train-04"] and read["label"].tolist() == [0]


@pytest.mark.hostile("review")
def test_a_refusal_after_a_line_of_spaces_names_the_line_to_mend(project):
    # before: "line 3 (id '   '): verdict '' is not one of ...", the line of spaces, not the line at fault
    bad = f"train-05,accept,1,0,1,{digest(project, 'train-05')},{KEY}\n"  # accept, yet the given label
    Path("reviews/verdicts.csv").write_text(HEADER + "   \n" + bad)
    with pytest.raises(WinnowError) as refused:
        variants_read()
    assert str(refused.value) == (
        "reviews/verdicts.csv: line 3 (id 'train-05'): verdict accept needs the label its suggestion 0, not 1; write "
        "it with `winnow review import`, or restore the header-only file from git")


def with_emptied_rows(count: int) -> None:
    """reviews/verdicts.csv as a spreadsheet saves it after a person cleared the cells of ``count`` rows."""
    Path("reviews/verdicts.csv").write_text(Path("reviews/verdicts.csv").read_text() + ",,,,,,\n" * count)


@pytest.mark.hostile("review")
def test_an_export_over_an_imported_queue_reads_a_spreadsheets_emptied_row_as_the_variants_stage_does(project, capsys):
    # before: "reviews/verdicts.csv: not readable (invalid literal for int() with base 10: ''), so whether the 2
    # verdict(s) in reviews/queue.csv were imported is unknown ...", though the variants stage applies the file
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}))
    with_emptied_rows(1)
    assert variants_read()["id"].tolist() == ["train-00", "train-04"]
    capsys.readouterr()
    review.export()
    assert capsys.readouterr().out == ""
    shown = pd.read_csv("reviews/queue.csv", dtype=str, keep_default_na=False).set_index("id")["saved"]
    assert shown[shown != ""].to_dict() == {"train-00": "reject", "train-04": "cat"}


@pytest.mark.hostile("review")
def test_an_export_counts_no_spreadsheets_emptied_row_as_a_verdict_on_another_class_list(project, capsys):
    # before: "warning: review export: 1 verdict(s) of reviews/verdicts.csv were made on another class list than the
    # data set's now (...; first: id '') ...", of a row the variants stage leaves out
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}))
    Path("reviews/queue.csv").unlink()
    with_emptied_rows(1)
    capsys.readouterr()
    review.export()
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("review")
def test_import_replace_counts_no_spreadsheets_emptied_row_among_the_verdicts_it_removes(project, capsys):
    # before: "it removes the 3 verdict(s)" of a file holding one verdict and two emptied rows
    review.import_verdicts(fill_in({"train-04": "cat"}, name="reviewed.csv"))
    with_emptied_rows(2)
    assert_replace_removes_the_one_verdict(capsys)


@pytest.mark.hostile("review")
@pytest.mark.parametrize("dropped", [["classes"], ["digest", "classes"]])
def test_an_older_winnows_verdicts_file_given_to_import_is_named_as_such(project, dropped):
    # before, without classes: "old.csv: line 2: id 'train-00': given '0' names no class (the classes are cat, dog,
    # owl now: one renamed or removed since the export, or the cell edited); export the queue again ..."; without
    # digest too: "old.csv: line 2 (id 'train-00'): no digest, so which label, pixels or suggestion were judged cannot
    # be told; ..."
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}, name="reviewed.csv"))
    pd.read_csv("reviews/verdicts.csv", dtype=str).drop(columns=dropped).to_csv("old.csv", index=False)
    before, lines = files_under(project), saved_lines()
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("old.csv")
    assert str(refused.value) == (
        "old.csv: holds verdicts as `winnow review import` writes them into reviews/verdicts.csv (class numbers, not "
        "the class names a person saw), not a reviewed file; import the file they were read from (the edited "
        "reviews/queue.csv, the review page's download or a Label Studio JSON export); `dvc repro` applies "
        "reviews/verdicts.csv as it is")
    assert_nothing_left(project, before)
    assert saved_lines() == lines
