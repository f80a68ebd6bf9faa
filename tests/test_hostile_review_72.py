"""Hostile review cases of probe 72, in-process on the exported project of review_project.py (no training):

- reviews/verdicts.csv edited by hand with blank lines: a refusal of the variants stage (and of import, which reads
  the file the same way) named the line above the one to mend, for pandas skipped the blank lines and every later
  row's number moved up;
- a saved verdict keeping an image the budget now drops as a leak (dedup: a train copy of a test image, the splits
  drawn anew since the review): the import of another verdict wrote it on beside the new ones, exit 0, and only the
  variants stage refused it;
- reviews/verdicts.csv, or a reviewer's copy of it, given to import: refused as "given '0' names no class (...; edit
  only the verdict column)", the wrong cause and a fix that does not work (its class numbers are import's own);
- a class renamed after a review whose queue still holds its verdicts: the export said the queue held verdicts not
  imported (one was imported) and advised importing it, whose import refused the class with "edit only the verdict
  column"; and the export's warning called the saved verdicts made on a label or pixels the image no longer has;
- import --replace of a file holding no verdict over a verdicts.csv with blank lines at its end: the warning counted
  the blank lines as verdicts it removed;
- a verdicts.csv a spreadsheet saved with two decimals ("0.00"): the export over the imported queue called it not
  readable, though the variants stage applies it.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, budget_stamped, files_under
from review_project import digest
from test_hostile_review_66 import HEADER, KEY, exported, fill_in, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project)
from winnow import review
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.variants import baseline_rows
from winnow.verdicts import read_verdicts


@pytest.mark.hostile("review")
def test_a_refusal_of_a_verdicts_file_with_blank_lines_names_the_line_to_mend(project):
    # before: "line 3 (id 'train-05')", the line of train-04's good verdict: the two blank lines were not counted
    good = f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n"
    bad = f"train-05,accept,1,0,1,{digest(project, 'train-05')},{KEY}\n"  # accept, yet the given label
    Path("reviews/verdicts.csv").write_text(HEADER + good + "\n\n" + bad)
    data = read_imageset("data/degrade")
    with pytest.raises(WinnowError) as refused:
        read_verdicts("reviews/verdicts.csv", baseline=baseline_rows(data.manifest),
                      digests=data.manifest.set_index("id")["digest"], classes=data.classes)
    assert str(refused.value) == (
        "reviews/verdicts.csv: line 5 (id 'train-05'): verdict accept needs the label its suggestion 0, not 1; write "
        "it with `winnow review import`, or restore the header-only file from git")


@pytest.mark.hostile("review")
def test_a_line_judging_an_image_twice_after_a_blank_line_is_named_by_its_own_number(project):
    # before: "line 3", the first of the two lines of train-04 (a blank line after the header went uncounted)
    line = f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n"
    Path("reviews/verdicts.csv").write_text(HEADER + "\n" + line + line)
    data = read_imageset("data/degrade")
    with pytest.raises(WinnowError) as refused:
        read_verdicts("reviews/verdicts.csv", baseline=baseline_rows(data.manifest),
                      digests=data.manifest.set_index("id")["digest"], classes=data.classes)
    assert str(refused.value) == "reviews/verdicts.csv: line 4: id 'train-04' has a verdict already; keep one line per image"


def leak_of_train_09(project: Path) -> None:
    """The budget's decisions with train-09 dropped as dedup's leak (a train copy of a test image)."""
    applied = pd.read_parquet("data/budget/decisions.parquet")
    leak = pd.DataFrame({"id": ["train-09"], "action": ["drop"], "label": [-1], "reason": ["leak"],
                         "stage": ["dedup"], "confidence": [np.nan]})
    pd.concat([applied, budget_stamped(project, leak)], ignore_index=True).to_parquet(
        "data/budget/decisions.parquet", index=False)


@pytest.mark.hostile("review")
def test_a_saved_verdict_keeping_a_leak_stops_the_import_of_another_verdict(project):
    # train-09 was kept by a person (reject of a drop) before the splits were drawn anew, and is a train copy of a
    # test image now. Before: the import of train-04's verdict wrote both, exit 0, and `dvc repro variants` refused
    # the file with this very line after the person had left the review
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-09,reject,2,-1,2,{digest(project, 'train-09')},{KEY}\n")
    leak_of_train_09(project)
    reviewed = fill_in({"train-04": "cat"}, name="reviewed.csv")
    before, lines = files_under(project), saved_lines()
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts(reviewed)
    assert str(refused.value) == (
        "reviews/verdicts.csv: id 'train-09': verdict reject keeps a train copy of a val, test or trusted image "
        "(dedup: leak), which pruned always drops: val or the test would score an image the model learnt, or the "
        "trusted split judge the budget on one; write drop or accept for it, or remove the verdict")
    assert_nothing_left(project, before)
    assert saved_lines() == lines


@pytest.mark.hostile("review")
def test_a_saved_verdict_keeping_a_leak_is_replaced_as_the_refusal_advises(project):
    # the refusal's advice, followed: accept written for train-09 in the reviewed file replaces the saved reject
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-09,reject,2,-1,2,{digest(project, 'train-09')},{KEY}\n")
    leak_of_train_09(project)
    review.export()  # the queue lists train-09 now, its saved reject shown
    review.import_verdicts(fill_in({"train-04": "cat", "train-09": "accept"}, name="reviewed.csv"))
    assert saved_lines() == [HEADER.strip(), f"train-09,accept,-1,-1,2,{digest(project, 'train-09')},{KEY}",
                             f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}"]


@pytest.mark.hostile("review")
@pytest.mark.parametrize("name", ["reviews/verdicts.csv", "verdicts-of-bob.csv"])
def test_a_verdicts_file_given_to_import_is_named_as_such(project, name):
    # before: "<file>: line 2: id 'train-00': given '0' names no class (the classes are cat, dog, owl; edit only the
    # verdict column)": the class numbers are what import writes, and no edit of a column imports them
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}, name="reviewed.csv"))
    Path(name).write_text(Path("reviews/verdicts.csv").read_text())
    before, lines = files_under(project), saved_lines()
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts(name)
    assert str(refused.value) == (
        f"{name}: holds verdicts as `winnow review import` writes them into reviews/verdicts.csv (class numbers, not "
        "the class names a person saw), not a reviewed file; import the file they were read from (the edited "
        "reviews/queue.csv, the review page's download or a Label Studio JSON export); `dvc repro` applies "
        "reviews/verdicts.csv as it is")
    assert_nothing_left(project, before)
    assert saved_lines() == lines


def rename_owl(project: Path) -> None:
    """The class owl renamed bird in data/ingest and data/degrade (a source folder renamed; the pipeline reran)."""
    for name in ("ingest", "degrade"):
        data = read_imageset(project / "data" / name)
        write_imageset(project / "data" / name, np.asarray(data.images), data.manifest, ["cat", "dog", "bird"])


@pytest.mark.hostile("review")
def test_an_export_over_a_queue_naming_a_class_renamed_since_names_the_rename(project):
    # train-04's cat was imported; then owl was renamed bird. Before: "holds 1 verdict(s) not imported (first: id
    # 'train-04', 'cat') ...; import them first", an import refused as "suggested 'owl' names no class (the classes are
    # cat, dog, bird; edit only the verdict column)", which no edit of the verdict column mends
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}))
    rename_owl(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.export()
    assert str(refused.value) == (
        "reviews/queue.csv: id 'train-04': suggested 'owl' names no class (the classes are cat, dog, bird now: one "
        "renamed or removed since the export, or the cell edited), so its verdict 'cat' (1 such verdict(s)) can be "
        "neither imported nor told imported, and a new export would overwrite it; restore the cells as exported and "
        "import the queue (winnow review import reviews/queue.csv), or, where the classes changed since, move the "
        "file aside to keep its verdicts (mv reviews/queue.csv reviews/queue-reviewed.csv), export, and review those "
        "images anew; or delete the file to discard them")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_an_import_naming_a_class_renamed_since_the_export_says_to_review_anew(project):
    # before: "... names no class (the classes are cat, dog, bird; edit only the verdict column)"
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}))
    rename_owl(project)
    Path("reviews/queue.csv").rename("reviews/queue-reviewed.csv")  # as the export's refusal advises
    review.export()
    before, lines = files_under(project), saved_lines()
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("reviews/queue-reviewed.csv")
    assert str(refused.value) == (
        "reviews/queue-reviewed.csv: line 4: id 'train-04': suggested 'owl' names no class (the classes are cat, dog, "
        "bird now: one renamed or removed since the export, or the cell edited); export the queue again and review "
        "that image anew, and remove its verdict from reviews/queue-reviewed.csv to import the file's other verdicts")
    assert_nothing_left(project, before)
    assert saved_lines() == lines


@pytest.mark.hostile("review")
def test_an_export_names_saved_verdicts_made_on_another_class_list_as_such(project, capsys):
    # before: "2 verdict(s) ... no longer hold, made on a label or pixels the image no longer has or on an image no
    # longer in train": neither label nor pixels changed, the class list did
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}))
    Path("reviews/queue.csv").unlink()
    rename_owl(project)
    capsys.readouterr()
    review.export()
    assert capsys.readouterr().out == (
        "warning: review export: 2 verdict(s) of reviews/verdicts.csv were made on another class list than the data "
        "set's now (a class renamed, removed or added since; first: id 'train-00'), and `dvc repro variants` refuses "
        "them: judge anew those the queue lists (their verdict cells are empty), and remove the others' lines\n")


@pytest.mark.hostile("review")
def test_import_replace_counts_the_verdicts_it_removes_not_the_blank_lines(project, capsys):
    # a verdicts.csv holding one verdict and two blank lines an editor left at its end. Before: "it removes the 3
    # verdict(s)"
    review.import_verdicts(fill_in({"train-04": "cat"}, name="reviewed.csv"))
    Path("reviews/verdicts.csv").write_text(Path("reviews/verdicts.csv").read_text() + "\n\n")
    assert_replace_removes_the_one_verdict(capsys)


def assert_replace_removes_the_one_verdict(capsys) -> None:
    """``review import --replace`` of the queue as exported (no verdict) over a verdicts.csv holding one verdict: the
    warning counts that one, and verdicts.csv is left with its header alone."""
    capsys.readouterr()
    review.import_verdicts("reviews/queue.csv", replace=True)  # as exported: no verdict
    assert capsys.readouterr().out == (
        "warning: review import --replace: reviews/queue.csv holds no verdict, so it removes the 1 verdict(s) of "
        "reviews/verdicts.csv and adds none; restore it from git (git checkout reviews/verdicts.csv) if that was not "
        "meant\n")
    assert saved_lines() == [HEADER.strip()]


@pytest.mark.hostile("review")
def test_an_export_reads_saved_labels_a_spreadsheet_wrote_with_two_decimals_as_the_variants_stage_does(project):
    # verdicts.csv saved by a spreadsheet whose number format shows two decimals ("0.00"), the queue's verdicts
    # imported. Before: "reviews/verdicts.csv: not readable (invalid literal for int() with base 10: '0.00'), so
    # whether the 2 verdict(s) in reviews/queue.csv were imported is unknown", though the variants stage applies it
    review.import_verdicts(fill_in({"train-00": "reject", "train-04": "cat"}))
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-00,reject,0.00,-1.00,0,{digest(project, 'train-00')},{KEY}\n"
                                            f"train-04,relabel,0.00,2.00,1,{digest(project, 'train-04')},{KEY}\n")
    review.export()
    shown = pd.read_csv("reviews/queue.csv", dtype=str, keep_default_na=False).set_index("id")
    assert shown.loc[["train-00", "train-04"], "saved"].tolist() == ["reject", "cat"]
    assert (shown.drop(["train-00", "train-04"])["saved"] == "").all()
