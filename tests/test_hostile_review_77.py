"""Hostile review cases of probe 77, in-process on the exported project of review_project.py (no training):

- a reviewed file written by hand with a space after each comma ("id, verdict, given, ..."): refused as lacking the
  column verdict, which its header holds (after a space); reviews/verdicts.csv so written was refused the same way by
  the variants stage, with the advice to restore the header-only file from git (every verdict lost);
- a reviewed file whose data lines hold a space after each comma (the header as exported): its given class ' dog' was
  said to name no class (one renamed or removed since the export), with the advice to export the queue again and
  review the image anew, which changes nothing; its digest ' 58f0…' to be a spreadsheet's number;
- a reviewed file whose id cell holds a trailing space: refused as an id the queue never listed, with the advice to
  remove the verdict (the person's word lost), where the queue lists that id without the space;
- a Label Studio export of another project (another data set's ids, none in this project's queue): told to remove the
  verdict of task 1 to import the file's others, then of task 2, and so on, to import nothing.
"""

import json
from pathlib import Path

import pytest

from hostile_harness import assert_nothing_left, files_under
from review_project import digest
from test_hostile_review_66 import HEADER, KEY, exported  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from test_hostile_review_72r import variants_read
from winnow import review
from winnow.errors import WinnowError

# the page's download's header (review_page.SCRIPT's verdictsCsv), as a person types it by hand
DOWNLOAD_HEADER = "id,verdict,given,digest,action,suggested,saved"


def refused_import(project: Path, text: str, *, name: str = "reviewed.csv") -> str:
    """The refusal of importing ``text`` as ``name`` beside a saved verdict (train-05 kept a dog), once nothing
    was written (reviews/verdicts.csv as before)."""
    saved = (HEADER + f"train-05,reject,1,0,1,{digest(project, 'train-05')},{KEY}\n").encode()
    Path("reviews/verdicts.csv").write_bytes(saved)
    Path(name).write_text(text)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts(name)
    assert Path("reviews/verdicts.csv").read_bytes() == saved
    assert_nothing_left(project, before)
    return str(refused.value)


@pytest.mark.hostile("review")
def test_a_reviewed_file_with_a_space_after_each_comma_is_told_so_not_that_it_lacks_the_verdict_column(project):
    # before: "reviewed.csv: lacks column(s) verdict; the queue's columns id and verdict are needed", of a header
    # holding " verdict"
    spaced = DOWNLOAD_HEADER.replace(",", ", ")
    line = refused_import(project, f"{spaced}\ntrain-04, cat, dog, {digest(project, 'train-04')}, relabel, owl,\n")
    assert line == ("reviewed.csv: lacks column(s) verdict (its header's field ' verdict' has spaces around it: write "
                    "it without spaces beside its commas); the queue's columns id and verdict are needed")


@pytest.mark.hostile("review")
def test_a_verdicts_file_with_a_space_after_each_comma_is_told_so_by_the_variants_stage(project):
    # before: "reviews/verdicts.csv: lacks column(s) verdict, label, suggested, given, digest, classes (needs id,
    # verdict, ...); write it with `winnow review import`, or restore the header-only file from git"
    line = f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n"
    Path("reviews/verdicts.csv").write_text((HEADER + line).replace(",", ", "))
    with pytest.raises(WinnowError) as refused:
        variants_read()
    assert str(refused.value) == (
        "reviews/verdicts.csv: lacks column(s) verdict, label, suggested, given, digest, classes (its header's field "
        "' verdict' has spaces around it: write it without spaces beside its commas), or restore it from git")


@pytest.mark.hostile("review")
@pytest.mark.parametrize("column, cell", [("given", " dog"), ("digest", " {digest}")])
def test_a_spaced_cell_of_a_reviewed_file_is_named_not_called_data_changed_since_the_export(project, column, cell):
    # before: given ' dog' "names no class (the classes are cat, dog, owl now: one renamed or removed since the
    # export, or the cell edited); export the queue again and review that image anew, and remove its verdict ...";
    # digest ' 58f0…': told a spreadsheet had saved it as a number, to keep the digest column as text
    cells = {"given": "dog", "digest": digest(project, "train-04")}
    cells[column] = cell.format(digest=cells["digest"])
    text = f"{DOWNLOAD_HEADER}\ntrain-04,cat,{cells['given']},{cells['digest']},relabel,owl,\n"
    assert refused_import(project, text) == (
        f"reviewed.csv: line 2: id 'train-04': {column} {cells[column]!r} has spaces around it (a space after a comma, "
        "or the cell edited); write the cells as exported, without spaces beside the commas")


@pytest.mark.hostile("review")
def test_an_id_with_a_trailing_space_is_named_so_not_told_to_remove_its_verdict(project):
    # before: "id 'train-04 ' is not in the review queue (reviews/queue.csv); verdicts are for the images `winnow
    # review export` listed: remove its verdict from reviewed.csv to import the file's other verdicts"
    text = f"{DOWNLOAD_HEADER}\ntrain-04 ,cat,dog,{digest(project, 'train-04')},relabel,owl,\n"
    assert refused_import(project, text) == (
        "reviewed.csv: line 2: id 'train-04 ' has spaces around it, and the review queue (reviews/queue.csv) lists "
        "'train-04'; write the cells as exported, without spaces beside the commas")


@pytest.mark.hostile("review")
def test_a_label_studio_export_of_another_project_is_named_so_not_refused_one_task_at_a_time(project):
    # before: "ls.json: task 1: id 'mnist5k-00000' is not in the review queue (reviews/queue.csv); verdicts are for the
    # images `winnow review export` listed: remove its verdict from ls.json to import the file's other verdicts"
    tasks = json.loads(Path("reviews/label_studio_tasks.json").read_text())
    choice = {"from_name": "verdict", "to_name": "image", "type": "choices", "value": {"choices": ["drop"]}}
    other = [{"data": {**task["data"], "winnow_id": f"mnist5k-{number:05d}"}, "annotations": [{"result": [choice]}]}
             for number, task in enumerate(tasks[:3])]
    assert refused_import(project, json.dumps(other), name="ls.json") == (
        "ls.json: none of its 3 verdicts is for an image of the review queue (reviews/queue.csv; first: id "
        "'mnist5k-00000'): a file reviewed in another project or on other data, or before the cleaners changed what "
        "they raise; review the queue this project's `winnow review export` wrote, and import that")
