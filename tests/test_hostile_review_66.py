"""Hostile review cases of stop 66: the second round of a review. A person imports verdicts, exports again and
changes one; a verdict saved for pixels that changed or for an image no cleaner raises now; two reviewers'
files imported in turn; the filled-in queue saved by a spreadsheet. In-process on the exported project of
review_project.py (no training), so each case costs a fraction of a second."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from review_project import digest, write_project
from winnow import review
from winnow.errors import WinnowError
from winnow.variants import baseline_rows
from winnow.verdicts import read_verdicts

HEADER = "id,verdict,label,suggested,given,digest,classes\n"
KEY = "31fe1f128dc5"  # the class list key of cat, dog, owl: 12 hex digits of the SHA-256 of '["cat", "dog", "owl"]'
# what the person wrote in the first round (train-04: dog, suggested owl, relabelled cat by the person)
FIRST = {"train-00": "reject", "train-04": "cat", "train-08": "accept", "train-05": "reject"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The review project, exported once for the module (in-process: a forked `winnow review export` cost seconds
    more); each case works on its own copy."""
    root = write_project(tmp_path_factory.mktemp("exported"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        review.export()
    return root


@pytest.fixture
def project(exported, tmp_path, monkeypatch) -> Path:
    """A copy of the exported review project, the working directory (the review commands read from there)."""
    root = Path(shutil.copytree(exported, tmp_path / exported.name))
    monkeypatch.chdir(root)
    return root


def queue() -> pd.DataFrame:
    return pd.read_csv("reviews/queue.csv", dtype=str, keep_default_na=False).set_index("id")


def fill_in(chosen: dict[str, str], *, name: str = "reviews/queue.csv") -> Path:
    """The exported queue with ``chosen`` verdicts filled in (any other cell emptied), saved as ``name``."""
    table = queue()
    table["verdict"] = table.index.map(chosen).fillna("")
    table.reset_index().to_csv(name, index=False)
    return Path(name)


def saved_lines() -> list[str]:
    return Path("reviews/verdicts.csv").read_text().splitlines()


@pytest.mark.hostile("review")
def test_a_second_export_shows_each_verdict_a_person_saved_and_a_reimport_changes_nothing(project, capsys):
    # before: the second export listed all 7 images again with an empty verdict column, nothing marking the 4 a
    # person had decided; the reviewer redid the work
    review.import_verdicts(fill_in(FIRST))
    saved = Path("reviews/verdicts.csv").read_bytes()
    capsys.readouterr()
    exported_again = review.export()
    assert exported_again["verdict"].tolist() == queue()["verdict"].tolist()
    # the words the person wrote, each on its image; the 3 images not judged stay to fill in
    assert queue()["verdict"].to_dict() == {"train-02": "", "train-00": "reject", "train-04": "cat", "train-06": "",
                                            "train-08": "accept", "train-05": "reject", "train-07": ""}
    assert capsys.readouterr().out == ""  # nothing stale, nothing left out
    page = Path("reviews/index.html").read_text()
    assert re.findall(r'data-id="([^"]+)"[^>]*data-verdict="([^"]*)"', page) == [
        ("train-04", "cat"), ("train-06", ""), ("train-05", "reject"), ("train-07", ""), ("train-00", "reject"),
        ("train-02", ""), ("train-08", "accept")]  # grids by kind: label, quality, duplicate, outlier
    assert '<span id="count">4 verdict(s) chosen' in page and page.count("<b>saved: ") == 4
    # the filled-in queue imported again changes nothing
    review.import_verdicts("reviews/queue.csv")
    assert Path("reviews/verdicts.csv").read_bytes() == saved
    assert capsys.readouterr().out == ""
    # a saved verdict the person changes in the second round is applied, and said
    table = queue()
    table.loc["train-05", "verdict"] = "accept"
    table.reset_index().to_csv("reviews/queue.csv", index=False)
    review.import_verdicts("reviews/queue.csv")
    assert saved_lines()[1:] == [f"{i},{v},{label},{s},{g},{digest(project, i)},{KEY}" for i, v, label, s, g in (
        ("train-00", "reject", 0, -1, 0), ("train-04", "relabel", 0, 2, 1), ("train-08", "accept", -1, -1, 2),
        ("train-05", "accept", 0, 0, 1))]
    assert capsys.readouterr().out == (
        "warning: review import: 1 verdict(s) of reviews/queue.csv replace different ones of reviews/verdicts.csv "
        "(first: id 'train-05', reject there, accept here); the later import wins: import the other file again to "
        "keep its verdicts\n")


STALE = ("warning: review export: {n} verdict(s) of reviews/verdicts.csv no longer hold, made on a label or pixels "
         "the image no longer has or on an image no longer in train (first: id '{first}'), and `dvc repro variants` "
         "refuses them: judge anew those the queue lists (their verdict cells are empty), and remove the others' "
         "lines\n")


@pytest.mark.hostile("review")
def test_a_saved_verdict_whose_pixels_changed_is_not_shown_as_the_persons_and_export_says_so(project, capsys):
    # the picture under train-05 is another since the review (its digest): the person's reject was for other pixels
    Path("reviews/verdicts.csv").write_text(
        HEADER + f"train-05,reject,1,0,1,0123456789abcdef,{KEY}\n"
        f"train-08,accept,-1,-1,2,{digest(project, 'train-08')},{KEY}\n")
    review.export()
    assert queue().loc[["train-05", "train-08"], "verdict"].tolist() == ["", "accept"]
    assert capsys.readouterr().out == STALE.format(n=1, first="train-05")


@pytest.mark.hostile("review")
def test_a_saved_verdict_for_an_image_no_cleaner_raises_now_is_named_by_export(project, capsys):
    # train-09 (owl) was dropped by a person when a cleaner raised it; no cleaner does now, so the queue cannot list
    # it, and pruned still drops it: before, nothing said so, and the reviewer could not see that decision anywhere.
    # train-99 is no train image now (the source changed): the variants stage refuses its line, which is said too
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-09,accept,-1,-1,2,{digest(project, 'train-09')},{KEY}\n"
                                            f"train-99,accept,-1,-1,2,{digest(project, 'train-09')},{KEY}\n")
    exported_again = review.export()
    assert "train-09" not in set(exported_again["id"]) and (exported_again["verdict"] == "").all()
    assert capsys.readouterr().out == STALE.format(n=1, first="train-99") + (
        "warning: review export: 1 verdict(s) of reviews/verdicts.csv are for images no cleaner raises now (first: id "
        "'train-09'), which the queue leaves out and pruned still takes as the person said; remove their lines from "
        "reviews/verdicts.csv to leave those images to the cleaners\n")


@pytest.mark.hostile("review")
def test_two_reviewers_files_imported_in_turn_the_later_wins_and_says_what_it_replaced(project, capsys):
    # reviewer A drops train-08 and rejects train-05's relabel; reviewer B keeps train-08 and agrees on train-05
    review.import_verdicts(fill_in({"train-08": "accept", "train-05": "reject"}, name="alice.csv"))
    capsys.readouterr()
    review.import_verdicts(fill_in({"train-08": "reject", "train-05": "reject"}, name="bob.csv"))
    assert [line.split(",")[:3] for line in saved_lines()[1:]] == [["train-08", "reject", "2"],
                                                                  ["train-05", "reject", "1"]]
    assert capsys.readouterr().out == (
        "warning: review import: 1 verdict(s) of bob.csv replace different ones of reviews/verdicts.csv (first: id "
        "'train-08', accept there, reject here); the later import wins: import the other file again to keep its "
        "verdicts\n")


@pytest.mark.hostile("review")
def test_the_filled_in_queue_saved_by_a_spreadsheet_with_bom_and_crlf_imports_unchanged(project, capsys):
    review.import_verdicts(fill_in(FIRST))
    saved = Path("reviews/verdicts.csv").read_bytes()
    review.export()
    # Excel's "CSV UTF-8": a byte-order mark and CRLF line ends, over the exported queue itself
    text = Path("reviews/queue.csv").read_text()
    Path("reviews/queue.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    review.import_verdicts("reviews/queue.csv")
    assert Path("reviews/verdicts.csv").read_bytes() == saved
    review.export()  # the queue's verdicts are the imported ones: nothing to refuse
    assert queue()["verdict"].tolist().count("") == 3


@pytest.mark.hostile("review")
def test_a_saved_accept_of_a_suggestion_changed_since_shows_its_class_and_the_next_export_goes_on(project, capsys):
    # the person accepted train-04's relabel dog -> cat; the cleaners suggest owl now. The saved outcome is cat,
    # which "accept" would no longer mean: the queue says cat. Before the outcome was compared, the next export
    # refused the untouched queue: "id 'train-04' says 'cat' and reviews/verdicts.csv holds 'accept' for it"
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-04,accept,0,0,1,{digest(project, 'train-04')},{KEY}\n")
    review.export()
    assert queue().loc["train-04", ["suggested", "verdict"]].tolist() == ["owl", "cat"]
    review.export()
    assert queue().loc["train-04", "verdict"] == "cat"
    review.import_verdicts("reviews/queue.csv")  # the cell as exported: no new word, the saved line stays
    assert saved_lines()[1:] == [f"train-04,accept,0,0,1,{digest(project, 'train-04')},{KEY}"]
    assert "warning" not in capsys.readouterr().out


@pytest.mark.hostile("review")
def test_a_verdicts_file_a_spreadsheet_saved_with_semicolons_is_named_so_not_advised_away(project):
    # Excel of a locale whose decimal mark is a comma saves reviews/verdicts.csv with semicolons (BOM, CRLF). Before,
    # the variants stage said only "lacks column(s) id, ... classes (needs ...); write it with `winnow review
    # import`, or restore the header-only file from git", advice that threw the person's verdicts away
    line = f"train-05;reject;1;0;1;{digest(project, 'train-05')};{KEY}"
    Path("reviews/verdicts.csv").write_bytes(b"\xef\xbb\xbf" + f"{HEADER.replace(',', ';')}{line}\n".replace(
        "\n", "\r\n").encode())
    manifest = pd.read_parquet("data/degrade/manifest.parquet")
    with pytest.raises(WinnowError) as refused:  # what the variants stage and `winnow review import` read first
        read_verdicts("reviews/verdicts.csv", baseline=baseline_rows(manifest),
                      digests=manifest.set_index("id")["digest"], classes=["cat", "dog", "owl"])
    assert str(refused.value) == (
        "reviews/verdicts.csv: lacks column(s) id, verdict, label, suggested, given, digest, classes (its header holds "
        "semicolons: save it as comma-separated CSV), or restore it from git")


@pytest.mark.hostile("review")
def test_an_emptied_verdict_cell_of_a_saved_verdict_keeps_it_and_says_how_to_withdraw_it(project, capsys):
    # the second export shows the person's reject of train-05; they empty the cell, thinking it withdrawn. Before,
    # the import said only "review import: 1 verdict(s) (accept 1) written", and pruned kept applying the reject
    review.import_verdicts(fill_in({"train-05": "reject"}))
    review.export()
    table = queue()
    table.loc["train-05", "verdict"], table.loc["train-08", "verdict"] = "", "accept"
    table.reset_index().to_csv("reviews/queue.csv", index=False)
    capsys.readouterr()
    review.import_verdicts("reviews/queue.csv")
    assert [line.split(",")[:2] for line in saved_lines()[1:]] == [["train-05", "reject"], ["train-08", "accept"]]
    assert capsys.readouterr().out == (
        "warning: review import: 1 image(s) of reviews/queue.csv with an empty verdict cell keep the verdict saved in "
        "reviews/verdicts.csv (first: id 'train-05', reject); an empty cell changes nothing: to withdraw a verdict, "
        "remove its line from reviews/verdicts.csv\n")


@pytest.mark.hostile("review")
def test_a_verdict_imported_from_another_file_after_the_export_is_neither_refused_nor_reverted_by_the_queue(
        project, capsys):
    # round 2: the export fills train-05's cell with the saved reject; the person changes it to accept on the review
    # page and imports the page's download. Before the saved column, the next export was refused ("id 'train-05'
    # says 'reject' and reviews/verdicts.csv holds 'accept'"), though no one wrote in the queue, and importing the
    # untouched queue reverted accept to reject
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-05,reject,1,0,1,{digest(project, 'train-05')},{KEY}\n")
    review.export()
    assert queue().loc["train-05", ["saved", "verdict"]].tolist() == ["reject", "reject"]
    Path("verdicts-reviewed.csv").write_text("id,verdict,given,digest,action,suggested\n"
                                             f"train-05,accept,dog,{digest(project, 'train-05')},relabel,cat\n")
    review.import_verdicts("verdicts-reviewed.csv")
    review.import_verdicts("reviews/queue.csv")  # the queue as exported: nothing in it is new
    assert saved_lines()[1:] == [f"train-05,accept,0,0,1,{digest(project, 'train-05')},{KEY}"]
    review.export()
    assert queue().loc["train-05", ["saved", "verdict"]].tolist() == ["accept", "accept"]


@pytest.mark.hostile("review")
def test_a_saved_verdict_a_spreadsheet_wrote_with_decimal_numbers_shows_as_the_variants_stage_applies_it(
        project, capsys):
    # reviews/verdicts.csv saved by a spreadsheet as "1.0" and "-1.0": the variants stage reads and applies both lines
    # (read_verdicts takes a whole number as a class index). Before, the export called them "no longer hold" and
    # left the cells empty, a false warning with the advice to judge the images anew
    Path("reviews/verdicts.csv").write_text(
        HEADER + f"train-05,reject,1.0,0.0,1.0,{digest(project, 'train-05')},{KEY}\n"
        f"train-08,accept,-1.0,-1.0,2.0,{digest(project, 'train-08')},{KEY}\n")
    manifest = pd.read_parquet("data/degrade/manifest.parquet")
    assert len(read_verdicts("reviews/verdicts.csv", baseline=baseline_rows(manifest),
                             digests=manifest.set_index("id")["digest"], classes=["cat", "dog", "owl"])) == 2
    review.export()
    assert queue().loc[["train-05", "train-08"], "verdict"].tolist() == ["reject", "accept"]
    assert capsys.readouterr().out == ""
    # the person's own words in the queue (its saved column dropped), as imported: the next export goes on. Before,
    # its guard read the labels with int() and refused: "reviews/verdicts.csv: not readable (invalid literal for
    # int() with base 10: '1.0')"
    queue().drop(columns="saved").reset_index().to_csv("reviews/queue.csv", index=False)
    review.export()
    assert queue().loc[["train-05", "train-08"], "verdict"].tolist() == ["reject", "accept"]
    assert capsys.readouterr().out == ""
    # the same verdict imported again replaces nothing different: before, the import compared "1.0" with "1" as text
    # and warned "1 verdict(s) of verdicts-reviewed.csv replace different ones (... reject there, reject here)"
    Path("verdicts-reviewed.csv").write_text("id,verdict,given,digest,action,suggested\n"
                                             f"train-05,reject,dog,{digest(project, 'train-05')},relabel,cat\n")
    review.import_verdicts("verdicts-reviewed.csv")
    assert capsys.readouterr().out == ""


@pytest.mark.hostile("review")
def test_label_studio_tasks_carry_a_saved_verdict_as_an_annotation_that_reimports_as_nothing_new(project, capsys):
    # before: the tasks of a second export held no annotation, and the annotator judged train-05 and train-04 again
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-05,reject,1,0,1,{digest(project, 'train-05')},{KEY}\n"
                                            f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n")
    review.export()
    tasks = json.loads(Path("reviews/label_studio_tasks.json").read_text())
    # in the labelling interface's words (drop or a class): reject of dog -> cat is dog; the relabel to cat is cat
    chosen = {t["data"]["winnow_id"]: t["annotations"][0]["result"][0]["value"]["choices"] for t in tasks
              if "annotations" in t}
    assert chosen == {"train-05": ["dog"], "train-04": ["cat"]}
    Path("export.json").write_text(json.dumps(tasks))  # Label Studio's export, nothing changed
    assert review.import_verdicts("export.json").empty
    # the annotator changes train-05 to cat (the suggestion): applied, and said
    next(t for t in tasks if t["data"]["winnow_id"] == "train-05")["annotations"][0]["result"][0]["value"] = {
        "choices": ["cat"]}
    Path("export.json").write_text(json.dumps(tasks))
    capsys.readouterr()
    review.import_verdicts("export.json")
    assert saved_lines()[1:] == [f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}",
                                 f"train-05,accept,0,0,1,{digest(project, 'train-05')},{KEY}"]
    assert capsys.readouterr().out == (
        "warning: review import: 1 verdict(s) of export.json replace different ones of reviews/verdicts.csv (first: id "
        "'train-05', reject there, accept here); the later import wins: import the other file again to keep its "
        "verdicts\n")
