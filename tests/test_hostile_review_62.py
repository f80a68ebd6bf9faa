"""Hostile input to the review, stop 62: a person who follows a refusal's advice (export and review again) is
not refused again by the very verdict the new one replaces. Each ends with every verdict on the image and label
the person meant, or in one `error:` line and nothing written."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import (
    assert_error_line, assert_nothing_left, budget_stamped, edit_table, files_under, refused_line, run_winnow,
)
from review_project import digest, exported  # noqa: F401  (exported: a fixture)
from test_hostile_review import (
    HEADER, classes_key, import_refused, relabel_everywhere, replace_pixels, row, write_digits_only_pixels,
)


@pytest.fixture
def project(exported, tmp_path) -> Path:
    """A fresh copy of the exported project, holding two earlier verdicts (train-08 dropped, train-07 kept)."""
    root = Path(shutil.copytree(exported, tmp_path / "project"))
    (root / "reviews/verdicts.csv").write_text(HEADER + row(root, "train-08,accept,-1,-1,2") + "\n"
                                               + row(root, "train-07,reject,1,-1,1") + "\n")
    return root


@pytest.fixture
def unjudged(project) -> Path:
    """The fresh copy of the exported project with no verdict in its verdicts file yet, as in git."""
    (project / "reviews/verdicts.csv").write_text(HEADER)
    return project


def set_verdicts(project: Path, name: str, verdicts: dict[str, str]) -> None:
    """The review file ``name`` (the exported queue or a copy) with each id's verdict cell set as in ``verdicts``."""
    edited = pd.read_csv(project / name, dtype=str, keep_default_na=False)
    for image_id, verdict in verdicts.items():
        edited.loc[edited["id"] == image_id, "verdict"] = verdict
    edited.to_csv(project / name, index=False)


def suggest_anew(project: Path, image_id: str, label: int) -> None:
    """confident-learn and the budget relabel ``image_id`` to ``label`` now: the pipeline ran again since the
    export."""
    for table in ("data/confident-learn/label_issues.parquet", "data/budget/decisions.parquet"):
        frame = pd.read_parquet(project / table)
        frame.loc[frame["id"] == image_id, "suggested_label" if "suggested_label" in frame else "label"] = label
        # the budget's recording confident-learn's file as it is now
        (budget_stamped(project, frame) if "budget" in table else frame).to_parquet(project / table, index=False)


def move_aside_and_export(project: Path) -> None:
    """The way aside the refusals name: the reviewed queue moved to reviews/queue-reviewed.csv, and a new export."""
    (project / "reviews/queue.csv").rename(project / "reviews/queue-reviewed.csv")
    assert run_winnow(project, "review", "export").returncode == 0


def import_reviewed(project: Path) -> None:
    done = run_winnow(project, "review", "import", "reviews/queue-reviewed.csv")
    assert done.returncode == 0, done.stderr


def import_all_but(project: Path, image_id: str) -> None:
    """reviews/queue-reviewed.csv imported once ``image_id``'s verdict is removed, as its refusal advised: train-06's
    accept alone lands."""
    set_verdicts(project, "reviews/queue-reviewed.csv", {image_id: ""})
    import_reviewed(project)
    assert (project / "reviews/verdicts.csv").read_text().splitlines() == [
        HEADER.strip(), row(project, "train-06,accept,0,0,1")]


@pytest.mark.hostile("review")
def test_a_stale_verdict_judged_anew_is_replaced_and_the_others_kept(project):
    # found by probing: train-07's picture changed under its id, variants refused its verdict ("export and review
    # again, or remove the line"); the person exported, judged train-07 anew and imported, and the import stopped
    # on the same old line, the one the new verdict replaces: only a hand edit or --replace (losing train-08's) got on
    replace_pixels(project, "train-07")
    assert run_winnow(project, "review", "export").returncode == 0
    set_verdicts(project, "reviews/queue.csv", {"train-07": "accept"})
    done = run_winnow(project, "review", "import", "reviews/queue.csv")
    assert done.returncode == 0, done.stderr
    assert (project / "reviews/verdicts.csv").read_text().splitlines() == [
        HEADER.strip(), row(project, "train-08,accept,-1,-1,2"),
        f"train-07,accept,-1,-1,1,{digest(project, 'train-07')},{classes_key(project)}"]


@pytest.mark.hostile("review")
def test_a_reviewed_queue_the_pipeline_overtook_is_kept_by_the_advice_of_the_refusals(project):
    # found by probing: a person filled in reviews/queue.csv (train-04 reject, train-06 accept); the pipeline ran
    # again (confident-learn now relabels train-04 to cat, not owl) before the import. The import said "run `winnow
    # review export` again", and export refused to overwrite "2 verdict(s) not imported ... import them first (...),
    # or delete the file to discard them": neither way kept the person's work
    set_verdicts(project, "reviews/queue.csv", {"train-04": "reject", "train-06": "accept"})
    suggest_anew(project, "train-04", 0)
    import_refused(project, "reviews/queue.csv", None, "the pipeline ran again since the export; run `winnow review "
                   "export` again")
    before = files_under(project)
    assert_error_line(run_winnow(project, "review", "export"),
                      "error: reviews/queue.csv: holds 2 verdict(s) not imported (first: id 'train-04', 'reject'), "
                      "which a new export would overwrite; import them first (winnow review import reviews/queue.csv), "
                      "or, where that import is refused because the data or the cleaners changed since, move the file "
                      "aside (mv reviews/queue.csv reviews/queue-reviewed.csv), export, and import "
                      "reviews/queue-reviewed.csv; or delete the file to discard them")
    assert_nothing_left(project, before)
    move_aside_and_export(project)
    import_reviewed(project)
    # train-04 keeps dog (1), cat (0) the suggestion now; train-06 takes the suggestion it was shown, cat
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [
        row(project, "train-08,accept,-1,-1,2"), row(project, "train-07,reject,1,-1,1"),
        row(project, "train-04,reject,1,0,1"), row(project, "train-06,accept,0,0,1")]


@pytest.mark.hostile("review")
def test_a_digest_a_spreadsheet_saved_as_a_number_is_named_as_such(project):
    # found by probing: a digest of decimal digits (0065817473709735; 3 of MNIST-5k's images, 3 more of digits
    # around one "e") is a number to a spreadsheet, which saves it as 6.58175E+13. The import said "showed pixels of
    # digest '6.58175E+13', and data/degrade holds other pixels under that id now ...; export the queue again and
    # review that image anew": false, and the new export met the same spreadsheet
    import_refused(project, "mine.csv", "id,verdict,given,digest,action\ntrain-07,accept,dog,6.58175E+13,drop\n",
                   "error: mine.csv: id 'train-07': digest '6.58175E+13' is no pixel digest (16 hex digits, as "
                   "exported): a spreadsheet may have read it as a number; keep the digest column as text, or choose "
                   "on the review page and import its download")


@pytest.mark.hostile("review")
def test_a_changed_queue_verdict_the_pipeline_overtook_is_kept_by_the_advice_of_the_refusals(project):
    # found in review: the sibling of the case above where the queue's verdict differs from the one imported (the
    # person's second thought): train-04 accept imported, then changed to drop in the queue, and the pipeline ran
    # again (confident-learn now relabels train-04 to cat, not owl). The import said "run `winnow review export`
    # again", and the export said "to keep 'drop', import the queue (...), then export": round in a circle, and the
    # only other way it named (clear the cell) kept accept
    set_verdicts(project, "reviews/queue.csv", {"train-04": "accept"})
    assert run_winnow(project, "review", "import", "reviews/queue.csv").returncode == 0
    set_verdicts(project, "reviews/queue.csv", {"train-04": "drop"})
    suggest_anew(project, "train-04", 0)
    import_refused(project, "reviews/queue.csv", None, "the pipeline ran again since the export; run `winnow review "
                   "export` again")
    before = files_under(project)
    assert_error_line(run_winnow(project, "review", "export"),
                      "error: reviews/queue.csv: id 'train-04' says 'drop' and reviews/verdicts.csv holds 'accept' "
                      "for it (1 such verdict(s)), which a new export would overwrite in the queue; to keep 'accept', "
                      "clear the queue's verdict cell (or delete reviews/queue.csv), to keep 'drop', import the queue "
                      "(winnow review import reviews/queue.csv), then export, or, where that import is refused "
                      "because the data or the cleaners changed since, move the file aside (mv reviews/queue.csv "
                      "reviews/queue-reviewed.csv), export, and import reviews/queue-reviewed.csv")
    assert_nothing_left(project, before)
    move_aside_and_export(project)
    import_reviewed(project)
    # drop, the person's later word, in place of accept; the earlier verdicts kept
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [
        row(project, "train-08,accept,-1,-1,2"), row(project, "train-07,reject,1,-1,1"),
        row(project, "train-04,drop,-1,0,1")]


@pytest.mark.hostile("review")
@pytest.mark.parametrize("change", ["pixels", "label"])
def test_a_reviewed_queue_the_data_overtook_is_imported_but_for_the_overtaken_verdict(unjudged, change):
    # found in review of the way aside above: where the data changed under a verdict (train-04's pixels or label),
    # the moved file's import was refused as the queue's had been, "export the queue again and review that image
    # anew", which the person had done: no line named the way to import the file's other verdicts (train-06's)
    project = unjudged
    set_verdicts(project, "reviews/queue.csv", {"train-04": "reject", "train-06": "accept"})
    if change == "pixels":
        replace_pixels(project, "train-04")
    else:
        relabel_everywhere(project, "train-04", 0)  # dog -> cat, as another degrade seed might
    assert run_winnow(project, "review", "export").returncode == 1  # the way aside, as its line says
    move_aside_and_export(project)
    import_refused(project, "reviews/queue-reviewed.csv", None, "error: reviews/queue-reviewed.csv: id 'train-04' ",
                   "; export the queue again and review that image anew, and remove its verdict from "
                   "reviews/queue-reviewed.csv to import the file's other verdicts")
    import_all_but(project, "train-04")


@pytest.mark.hostile("review")
def test_a_digest_a_spreadsheet_saved_as_a_number_in_the_verdicts_file_is_named_as_such(project):
    # found in review of the import's mend: reviews/verdicts.csv opened in a spreadsheet (to remove a line, as
    # variants' refusals advise) and saved turns a digest of decimal digits (0065817473709735) into 6.58175E+13, and
    # variants said "its pixels changed since the review (digest '6.58175E+13' then, ...): export and review again":
    # the pixels had not changed, and the verdicts file met the same spreadsheet again
    write_digits_only_pixels(project, "train-07")
    assert digest(project, "train-07") == "0065817473709735"
    (project / "reviews/verdicts.csv").write_text(HEADER + row(project, "train-08,accept,-1,-1,2") + "\n"
                                                  + f"train-07,reject,1,-1,1,6.58175E+13,{classes_key(project)}\n")
    assert refused_line(project, "variants") == (
        "error: reviews/verdicts.csv: line 3 (id 'train-07'): digest '6.58175E+13' is no pixel digest (16 hex "
        "digits, as written): a spreadsheet may have read it as a number; restore the file from git and edit it as "
        "text, or import the reviewed file again with `winnow review import --replace FILE`")


@pytest.mark.hostile("review")
def test_a_reviewed_queue_whose_image_left_the_queue_is_imported_but_for_that_verdict(unjudged):
    # found in review of the way aside: the pipeline ran again and no cleaner suggests anything for train-05 now
    # (confident-learn's label issue gone); the queue's import said "run `winnow review export` again", the export
    # named the way aside, and the moved file's import said "id 'train-05' is not in the review queue ...;
    # verdicts are for the images `winnow review export` listed", with no way named to import train-06's accept
    project = unjudged
    set_verdicts(project, "reviews/queue.csv", {"train-05": "reject", "train-06": "accept"})
    issues = pd.read_parquet(project / "data/confident-learn/label_issues.parquet")
    issues.loc[issues["id"] == "train-05", ["suggested_label", "is_issue"]] = [1, False]
    issues.to_parquet(project / "data/confident-learn/label_issues.parquet", index=False)
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))  # reran too
    import_refused(project, "reviews/queue.csv", None, "id 'train-05': no cleaner suggests a drop or relabel of it now")
    move_aside_and_export(project)
    import_refused(project, "reviews/queue-reviewed.csv", None,
                   "id 'train-05' is not in the review queue (reviews/queue.csv); verdicts are for the images "
                   "`winnow review export` listed: remove its verdict from reviews/queue-reviewed.csv to import the "
                   "file's other verdicts")
    import_all_but(project, "train-05")
