"""More hostile input to the review (issue 21), from a reviewer's side: a queue edited before the cleaners
changed their suggestion and imported after, Label Studio's CSV export (whose id is its own task number), and
an export over a queue holding verdicts while reviews/verdicts.csv is unreadable (a git merge conflict). Each
ends with every verdict on the image and label the person meant, or in one `error:` line and nothing written."""

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import (
    assert_error_line, assert_nothing_left, budget_stamped, edit_table, files_under, regroup, run_stage, run_winnow,
)
from review_project import exported, write_project  # noqa: F401  (exported: a fixture)
from test_hostile_review import HEADER, import_refused, row
from test_review import with_data_valuation

from winnow import review
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.review_verdicts import resolve


@pytest.fixture
def project(exported, tmp_path) -> Path:
    """A fresh copy of the exported project, holding one earlier verdict (train-08 dropped)."""
    root = Path(shutil.copytree(exported, tmp_path / "project"))
    (root / "reviews/verdicts.csv").write_text(HEADER + row(root, "train-08,accept,-1,-1,2") + "\n")
    return root


def queue(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)


@pytest.mark.hostile("review")
def test_accept_of_a_suggestion_the_cleaners_changed_since_the_export_is_refused(project):
    # the person accepts train-05's suggestion dog -> cat in a copy of the queue; then the pipeline runs again,
    # confident-learn now suggests owl, and the queue is exported anew before the import.
    # before: exit 0 and train-05 relabelled to owl, a label the person never saw suggested
    edited = queue(project)
    edited.loc[edited["id"] == "train-05", "verdict"] = "accept"
    edited.to_csv(project / "mine.csv", index=False)
    issues = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    issues.loc[issues["id"] == "train-05", "suggested_label"] = 2  # owl
    issues.to_parquet(project / "data/confident-learn/label_issues.parquet", index=False)
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))  # reran too
    assert run_winnow(project, "review", "export").returncode == 0
    assert queue(project).set_index("id").loc["train-05", "suggested"] == "owl"
    import_refused(project, "mine.csv", None,
                   "mine.csv: line 7 (id 'train-05'): accept meant relabel to 'cat' when exported and means relabel "
                   "to 'owl' now (the cleaners' suggestion changed)", "export the queue again")


@pytest.mark.hostile("review")
def test_a_class_word_for_a_suggestion_that_changed_keeps_the_class_the_person_chose(project):
    # a class is an outcome, whatever was suggested: the same edit with "cat" instead of accept relabels to cat
    edited = queue(project)
    edited.loc[edited["id"] == "train-05", "verdict"] = "cat"
    edited.to_csv(project / "mine.csv", index=False)
    issues = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    issues.loc[issues["id"] == "train-05", "suggested_label"] = 2
    issues.to_parquet(project / "data/confident-learn/label_issues.parquet", index=False)
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))  # reran too
    assert run_winnow(project, "review", "export").returncode == 0
    done = run_winnow(project, "review", "import", "mine.csv")
    assert done.returncode == 0, done.stderr
    # dog (1) -> cat (0), with owl (2) the suggestion now: the person's own class
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [
        row(project, "train-08,accept,-1,-1,2"), row(project, "train-05,relabel,0,2,1")]


@pytest.mark.hostile("review")
def test_a_label_studio_csv_export_lands_each_verdict_on_its_winnow_id(project):
    # Label Studio's CSV export: the task's data as columns, its task number as id, the verdict control's choice
    # (and one row per annotation: two annotators agreeing on train-04, a skipped task with no choice).
    # before: "id '3' is not in the review queue": the task numbers were read as image ids
    data = queue(project).drop(columns=["image", "verdict", "pruned", "score", "stage", "copy_of"])
    tasks = data.rename(columns={"id": "winnow_id"}).assign(id=range(1, len(data) + 1))
    chosen = {"train-04": "cat", "train-07": "drop"}
    rows = [tasks.assign(verdict=tasks["winnow_id"].map(chosen).fillna(""), annotator=1),
            tasks[tasks["winnow_id"] == "train-04"].assign(verdict="cat", annotator=2)]
    pd.concat(rows).to_csv(project / "project-1-at-2024.csv", index=False)
    done = run_winnow(project, "review", "import", "project-1-at-2024.csv")
    assert done.returncode == 0, done.stderr
    # train-04 (dog, suggested owl) relabelled to cat by the person; train-07's drop accepted
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [
        row(project, "train-08,accept,-1,-1,2"), row(project, "train-04,relabel,0,2,1"),
        row(project, "train-07,accept,-1,-1,1")]


@pytest.mark.hostile("review")
def test_an_export_over_queued_verdicts_while_the_verdicts_file_is_unreadable_is_refused(project):
    # reviews/verdicts.csv is tracked by git: a merge leaves conflict markers in it.
    # before: exit 0 and the queue exported anew, its verdict column empty: the person's accept was lost
    edited = queue(project)
    edited.loc[edited["id"] == "train-04", "verdict"] = "accept"
    edited.to_csv(project / "reviews/queue.csv", index=False)
    (project / "reviews/verdicts.csv").write_text(
        HEADER + "<<<<<<< HEAD\n" + row(project, "train-08,accept,-1,-1,2") + "\n=======\n>>>>>>> theirs\n")
    before = files_under(project)
    kept = (project / "reviews/queue.csv").read_text()
    done = run_winnow(project, "review", "export")
    # the conflict named since probe 74 (before: "not readable (invalid literal for int() with base 10: ''), ...; mend
    # it (restore it from git), or import the queue anew with `winnow review import --replace reviews/queue.csv`")
    assert assert_error_line(done) == (
        "error: reviews/verdicts.csv: line 2 is a git merge conflict marker ('<<<<<<< HEAD'), left by a merge of two "
        "versions of the file, so whether the 1 verdict(s) in reviews/queue.csv were imported is unknown, and a new "
        "export would overwrite them; keep the verdict lines you mean (one per image), delete the marker lines, and "
        "`git add` the file, then export; or import the queue anew with `winnow review import --replace "
        "reviews/queue.csv`, which keeps its verdicts alone")
    assert_nothing_left(project, before)
    assert (project / "reviews/queue.csv").read_text() == kept
    # the way out the line names works, and the verdict lands where the person put it
    assert run_winnow(project, "review", "import", "--replace", "reviews/queue.csv").returncode == 0
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [row(project, "train-04,accept,2,2,1")]


@pytest.mark.hostile("review")
def test_a_verdicts_file_that_does_not_say_what_the_person_saw_is_refused(project):
    # before: a plain id,verdict file was checked against reviews/queue.csv, which may be an export made after
    # the data changed: "reject" for the dog the person saw kept the cat train-04 had become, exit 0
    import_refused(project, "mine.csv", "id,verdict\ntrain-04,reject\n",
                   "error: mine.csv: line 2 (id 'train-04'): no given, digest, so which label, pixels or suggestion "
                   "were judged cannot be told; fill in the verdict column of the exported reviews/queue.csv, or "
                   "import the review page's download or a Label Studio export, which carry them")
    # accept needs the suggestion the person saw as well
    digest = queue(project).set_index("id").loc["train-04", "digest"]
    import_refused(project, "mine.csv", f"id,verdict,given,digest\ntrain-04,accept,dog,{digest}\n",
                   "error: mine.csv: line 2 (id 'train-04'): no action, so which label")
    # before: the queue without its digest column was imported with the digest of whatever picture was there now
    edited = queue(project)
    edited.loc[edited["id"] == "train-05", "verdict"] = "reject"
    edited.drop(columns=["digest"]).to_csv(project / "reviews/queue.csv", index=False)
    import_refused(project, "reviews/queue.csv", None,
                   "error: reviews/queue.csv: lacks column(s) digest; run `winnow review export` (again) first")


def edit_degrade(project: Path, change) -> None:
    """data/degrade rewritten with ``change(images, manifest)`` applied (degrade ran again, and dedup, which
    depends on it, with it: its groups' splits and labels follow; no cleaner did)."""
    data = read_imageset(project / "data/degrade")
    images, manifest = np.array(data.images), data.manifest.drop(columns="digest")
    change(images, manifest)
    write_imageset(project / "data/degrade", images, manifest, data.classes)
    regroup(project)


@pytest.mark.hostile("review")
def test_a_label_cleaners_file_older_than_the_labels_is_refused_by_export_and_import(project):
    # before: with train-04 owl in data/degrade and confident-learn's file still judging it as dog, export offered
    # "owl -> owl", the import recorded reject as accept, and variants refused it with advice to export again
    edit_degrade(project, lambda images, manifest: manifest.__setitem__(
        "label", manifest["label"].where(manifest["id"] != "train-04", 2)))
    line = ("error: data/confident-learn/label_issues.parquet: given_label differs from data/degrade for 1 image(s) "
            "(first: id 'train-04', 1 there, 2 in data/degrade): it judged labels that changed since; rerun the "
            "confident-learn stage (dvc repro confident-learn)")
    before, kept = files_under(project), (project / "reviews/queue.csv").read_text()
    assert assert_error_line(run_winnow(project, "review", "export")) == line
    assert_nothing_left(project, before)
    assert (project / "reviews/queue.csv").read_text() == kept
    import_refused(project, "reviews/queue.csv", None, line)


@pytest.mark.hostile("review")
def test_a_data_valuation_file_older_than_the_labels_is_refused_by_export(tmp_path):
    # before: only confident-learn's and embedding-clean's given_label were checked: data-valuation's drop of
    # train-09, valued while it was a dog, was offered for review as an owl's
    project = with_data_valuation(write_project(tmp_path / "project"))
    table = pd.read_parquet(project / "data/data-valuation/decisions.parquet")
    table.loc[table["id"] == "train-09", "given_label"] = 1
    table.to_parquet(project / "data/data-valuation/decisions.parquet", index=False)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "review", "export")) == (
        "error: data/data-valuation/decisions.parquet: given_label differs from data/degrade for 1 image(s) (first: "
        "id 'train-09', 1 there, 2 in data/degrade): it judged labels that changed since; rerun the data-valuation "
        "stage (dvc repro data-valuation)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_reject_of_a_suggestion_that_is_its_given_label_is_never_read_as_accept():
    # before: ("accept", 2): the person's reject was recorded as accepting a relabel owl -> owl
    with pytest.raises(WinnowError, match=r"^x: reject keeps its given class, which is also the suggestion \(the "
                                          r"cleaners' files are older than the data\); rerun the pipeline \(dvc repro\) "
                                          r"and export again$"):
        resolve("reject", where="x", given=2, action="relabel", suggested=2, classes=["cat", "dog", "owl"])


@pytest.mark.hostile("review")
def test_a_failed_export_leaves_every_review_file_as_it_was(project, monkeypatch):
    # before: the thumbnails, queue and Label Studio files were replaced and the page was not: the queue said
    # train-00 was dog while the page still showed cat
    edit_degrade(project, lambda images, manifest: manifest.__setitem__(
        "label", manifest["label"].where(manifest["id"] != "train-00", 1)))
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))  # reran too
    before = {name: (project / name).read_bytes() for name in files_under(project) if name.startswith("reviews/")}
    written = review.write_text

    def disk_full_at_the_page(path, text):
        if Path(path) == review.PAGE_FILE:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written(path, text)

    monkeypatch.chdir(project)
    monkeypatch.setattr(review, "write_text", disk_full_at_the_page)
    with pytest.raises(OSError, match="No space left on device"):
        review.export()
    assert {name: (project / name).read_bytes() for name in files_under(project) if name.startswith("reviews/")} == before


@pytest.mark.hostile("review")
def test_an_export_over_a_queue_verdict_older_than_an_imported_one_names_both(project):
    # before: "holds 1 verdict(s) not imported, or changed since ...; import them first": following it put the
    # queue's older accept back in place of the page's later reject, exit 0
    edited = queue(project)
    edited.loc[edited["id"] == "train-04", "verdict"] = "accept"
    edited.to_csv(project / "reviews/queue.csv", index=False)
    assert run_winnow(project, "review", "import", "reviews/queue.csv").returncode == 0
    digest = edited.set_index("id").loc["train-04", "digest"]
    (project / "verdicts-reviewed.csv").write_text(f"id,verdict,given,digest\ntrain-04,reject,dog,{digest}\n")
    assert run_winnow(project, "review", "import", "verdicts-reviewed.csv").returncode == 0
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "review", "export")) == (
        "error: reviews/queue.csv: id 'train-04' says 'accept' and reviews/verdicts.csv holds 'reject' for it (1 such "
        "verdict(s)), which a new export would overwrite in the queue; to keep 'reject', clear the queue's verdict "
        "cell (or delete reviews/queue.csv), to keep 'accept', import the queue (winnow review import "
        "reviews/queue.csv), then export, or, where that import is refused because the data or the cleaners changed "
        "since, move the file aside (mv reviews/queue.csv reviews/queue-reviewed.csv), export, and import "
        "reviews/queue-reviewed.csv")
    assert_nothing_left(project, before)
    # the way to keep reject works
    edited["verdict"] = ""
    edited.to_csv(project / "reviews/queue.csv", index=False)
    assert run_winnow(project, "review", "export").returncode == 0
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [
        row(project, "train-08,accept,-1,-1,2"), row(project, "train-04,reject,1,2,1")]


@pytest.mark.hostile("review")
def test_class_columns_a_spreadsheet_turned_into_numbers_are_named_as_the_cause(tmp_path, monkeypatch):
    # before: "id 'train-04' was '2' when exported and is '02' in data/degrade now; export the queue again", and
    # that export refused for the verdict not imported: each error pointed at the other
    import review_project

    monkeypatch.setattr(review_project, "CLASSES", ["01", "02", "10"])
    project = review_project.write_project(tmp_path / "project")
    assert run_winnow(project, "review", "export").returncode == 0
    (project / "reviews/verdicts.csv").write_text(HEADER)
    edited = pd.read_csv(project / "reviews/queue.csv")  # as a spreadsheet reads it: the classes as numbers
    edited["verdict"] = ""
    edited.loc[edited["id"] == "train-04", "verdict"] = "reject"
    edited.to_csv(project / "reviews/queue.csv", index=False)
    line = int(edited.index[edited["id"] == "train-04"][0]) + 2
    import_refused(project, "reviews/queue.csv", None,
                   f"error: reviews/queue.csv: line {line}: id 'train-04': given '2' names no class (a spreadsheet may "
                   "have turned '02' into 2: write the class names as exported, and keep the class columns as text)")


@pytest.mark.hostile("review")
def test_import_replace_with_a_file_holding_no_verdict_warns_of_what_it_removes(project):
    # before: a freshly exported queue, no verdict filled in, emptied reviews/verdicts.csv: exit 0, no word
    done = run_winnow(project, "review", "import", "--replace", "reviews/queue.csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "warning: review import --replace: reviews/queue.csv holds no verdict, so it removes the 1 verdict(s) of "
        "reviews/verdicts.csv and adds none; restore it from git (git checkout reviews/verdicts.csv) if that was not "
        "meant")
    assert (project / "reviews/verdicts.csv").read_text().splitlines() == [HEADER.strip()]


@pytest.mark.hostile("review")
def test_a_line_number_after_a_field_holding_a_line_break_is_the_rows_own(project):
    # before: rows after a quoted field with a line break were numbered by row: "line 3" for the row on line 4
    digests = queue(project).set_index("id")["digest"]
    (project / "mine.csv").write_text(f'id,verdict,given,digest,note\ntrain-04,cat,dog,{digests["train-04"]},"two\n'
                                      f'lines"\ntrain-05,fox,dog,{digests["train-05"]},\n')
    import_refused(project, "mine.csv", None,
                   "error: mine.csv: line 4 (id 'train-05'): verdict 'fox' is neither accept, reject, drop nor a "
                   "class (cat, dog, owl)")


def relabel_to_its_own_label(project: Path) -> None:
    """confident-learn's file edited by hand: train-09 (owl) relabelled to owl, its own label, and the budget's
    decisions taking it as they take every applied relabel."""
    issues = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    issues.loc[issues["id"] == "train-09", ["decision", "reason", "is_issue", "label_quality"]] = [
        "relabel", "label_issue", True, 0.2]
    issues.to_parquet(project / "data/confident-learn/label_issues.parquet", index=False)
    applied = pd.read_parquet(project / "data/budget/decisions.parquet")
    same = pd.DataFrame({"id": ["train-09"], "action": ["relabel"], "label": [2], "reason": ["label_issue"],
                         "stage": ["confident_learn"], "confidence": [0.8]})
    budget_stamped(project, pd.concat([applied, same], ignore_index=True)).to_parquet(
        project / "data/budget/decisions.parquet", index=False)


@pytest.mark.hostile("review")
def test_a_relabel_to_the_label_an_image_has_is_not_offered_for_review(project):
    # before: the queue offered train-09 as "relabel owl -> owl" (pruned: relabel), and a person's accept of it was
    # recorded with the suggestion owl, which the variants stage then refused with advice to export again
    relabel_to_its_own_label(project)
    done = run_winnow(project, "review", "export")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[:2] == [
        "warning: the cleaners' decision files: 1 relabel(s) to the label the image already has, read as keep "
        "(first: id 'train-09', by confident_learn); the data set keeps those labels",
        "warning: data/budget/decisions.parquet: 1 relabel(s) to the label the image already has, read as keep "
        "(first: id 'train-09', by confident_learn); the data set keeps those labels"]
    assert queue(project)["id"].tolist() == ["train-02", "train-00", "train-04", "train-06", "train-08", "train-05",
                                             "train-07"]


@pytest.mark.hostile("review")
def test_pruned_keeps_an_image_relabelled_to_the_label_it_has_and_does_not_count_it(project):
    # before: pruned's row of train-09 was "relabel", reason "2->2: label_issue", and metrics/variants.json (and the
    # report from it) counted 3 relabels where 2 labels changed
    relabel_to_its_own_label(project)
    done = run_stage(project, "variants")
    assert (done.returncode, done.stderr, done.stdout.splitlines()[0]) == (0, "", (
        "warning: data/budget/decisions.parquet: 1 relabel(s) to the label the image already has, read as keep "
        "(first: id 'train-09', by confident_learn); the data set keeps those labels"))
    rows = pd.read_parquet(project / "data/variants/pruned/rows.parquet").set_index("id")
    assert rows.loc["train-09", ["label", "action", "reason", "stage"]].tolist() == [2, "keep", "", ""]
    pruned = json.loads((project / "metrics/variants.json").read_text())["pruned"]
    assert (pruned["relabel"], pruned["by_stage"]["confident_learn.relabel"]) == (2, 1)  # train-04 and train-06
