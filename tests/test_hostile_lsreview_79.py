"""Hostile review of the review loop as people run it, stop 79: the filled-in queue saved by a spreadsheet of a
locale whose decimal mark is a comma (Excel's "CSV UTF-8 (Comma delimited)" takes the system's list separator and
writes semicolons), or as tab-separated text; a reviewed file saved empty. In-process on the exported project of
review_project.py (no training), so each case costs a fraction of a second."""

from pathlib import Path

import pytest

from review_project import digest
from test_hostile_review_66 import HEADER, KEY, exported, queue, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from winnow import review
from winnow.errors import WinnowError


def spreadsheet_saved(chosen: dict[str, str], *, separator: str, name: str = "reviews/queue.csv") -> bytes:
    """The exported queue with ``chosen`` verdicts filled in, as a spreadsheet saves it with ``separator``: a
    byte-order mark, CRLF line ends and a last row of separators alone (a row emptied); written to ``name``."""
    table = queue()
    table["verdict"] = table.index.map(chosen).fillna("")
    rows = [[*table.reset_index().columns], *table.reset_index().to_numpy().tolist()]
    text = "".join(separator.join(row) + "\r\n" for row in rows) + separator * (len(rows[0]) - 1) + "\r\n"
    Path(name).write_bytes(b"\xef\xbb\xbf" + text.encode())
    return Path(name).read_bytes()


@pytest.mark.hostile("review")
@pytest.mark.parametrize("separator", [";", "\t"], ids=["semicolons", "tabs"])
def test_a_queue_a_spreadsheet_saved_with_semicolons_or_tabs_imports_its_verdicts(project, separator):
    # before: "lacks column(s) id, verdict (its header holds semicolons: save it as comma-separated CSV)", advice
    # Excel of a comma-decimal locale cannot follow (its "CSV UTF-8 (Comma delimited)" writes semicolons too)
    spreadsheet_saved({"train-02": "accept", "train-04": "cat"}, separator=separator, name="reviewed.csv")
    new = review.import_verdicts("reviewed.csv")
    assert new["verdict"].tolist() == ["accept", "relabel"]
    assert saved_lines() == [HEADER.strip(), f"train-02,accept,-1,-1,0,{digest(project, 'train-02')},{KEY}",
                             f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}"]


@pytest.mark.hostile("review")
def test_an_export_over_a_semicolon_queue_holding_a_verdict_not_imported_names_it_and_its_import_works(project):
    # before: refused as not readable, with "save it as comma-separated UTF-8 CSV", which that spreadsheet cannot do;
    # now the queue is read as import reads it, its verdict named, and the advice (import it) goes through
    saved = spreadsheet_saved({"train-04": "cat"}, separator=";")
    with pytest.raises(WinnowError) as refused:
        review.export()
    assert str(refused.value).startswith(
        "reviews/queue.csv: holds 1 verdict(s) not imported (first: id 'train-04', 'cat'), which a new export would "
        "overwrite; import them first (winnow review import reviews/queue.csv), or, ")
    assert Path("reviews/queue.csv").read_bytes() == saved
    review.import_verdicts("reviews/queue.csv")
    assert saved_lines()[1:] == [f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}"]
    review.export()
    assert queue().loc["train-04", "verdict"] == "cat"  # shown as saved: the person's word kept


@pytest.mark.hostile("review")
def test_an_emptied_saved_cell_of_a_semicolon_queue_is_warned_of_as_in_a_comma_one(project, capsys):
    # the import's readers of one file must split it alike: before the import read semicolons, the warning that an
    # emptied cell withdraws nothing read the file with commas, and would have said nothing
    spreadsheet_saved({"train-04": "cat"}, separator=",")
    review.import_verdicts("reviews/queue.csv")
    review.export()
    spreadsheet_saved({"train-02": "accept"}, separator=";", name="round2.csv")  # train-04's saved cat emptied
    capsys.readouterr()
    review.import_verdicts("round2.csv")
    assert capsys.readouterr().out.splitlines()[0] == (
        "warning: review import: 1 image(s) of round2.csv with an empty verdict cell keep the verdict saved in "
        "reviews/verdicts.csv (first: id 'train-04', relabel); an empty cell changes nothing: to withdraw a verdict, "
        "remove its line from reviews/verdicts.csv")


@pytest.mark.hostile("review")
@pytest.mark.parametrize("name", ["reviewed.csv", "project.json"])
def test_a_reviewed_file_saved_empty_is_named_empty_with_what_to_give(project, name):
    # before: "not a readable CSV file (No columns to parse from file)" or "not valid JSON (Expecting value: line 1
    # column 1 (char 0))", of a download cut off or a save that failed, naming no way out
    Path("reviews/verdicts.csv").write_text(HEADER + f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n")
    Path(name).write_text("\r\n")
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts(name)
    assert str(refused.value) == (
        f"{name}: is empty (no header, no verdict); give the edited reviews/queue.csv, the review page's download or a "
        "Label Studio JSON export, as saved with the verdicts in it")
    assert saved_lines()[1:] == [f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}"]


@pytest.mark.hostile("review")
@pytest.mark.filterwarnings("error::DeprecationWarning")
@pytest.mark.parametrize("separator", [",", ";"], ids=["commas", "semicolons"])
def test_an_export_over_a_queue_emptied_of_rows_replaces_it_without_pandas_deprecation(project, separator):
    # a person deleted every row (nothing reviewed). The queue read as import reads it gave "'and' operations between
    # boolean dtype and str are deprecated" from pandas, which pandas 4 raises: a traceback where nothing is to keep
    header = Path("reviews/queue.csv").read_text().splitlines()[0]
    Path("reviews/queue.csv").write_text(header.replace(",", separator) + "\n")
    assert len(review.export()) == 7
    assert len(queue()) == 7
