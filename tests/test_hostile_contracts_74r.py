"""Review of probe 74's mends (contracts, report, review):

- review import --replace of a second round's queue over a reviews/verdicts.csv pandas cannot read as a table of ids
  (a spreadsheet saved it with semicolons; a hand edit left its lines one field more than the header): the mend
  that names the saved verdicts --replace removes returned "" for such a file, so its verdicts were removed without
  a word (an import adding none counted them as text and warned); and of lines with a field too many, pandas took the
  ids for an index, and the verdict words were named as the ids removed;
- a reviewed queue kept in git by two reviewers, merged with a conflict, given to import: its marker line was called "a
  file cut short, or a row that lost a comma" (the conflict mends named it in reviews/verdicts.csv alone);
- reviews/verdicts.csv edited by hand with its suggestion cell emptied, or its verdict word against its label ("drop"
  over label 1): the export showed the label's outcome ('reject') as the image's saved verdict without a word, where
  the variants stage refuses the line (the hand-edit mend checked the word, the key, and the label and given cells).
"""

from pathlib import Path

import pytest

from hostile_harness import assert_nothing_left, files_under
from review_project import digest
from test_hostile_review_66 import HEADER, KEY, exported, fill_in  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project, the working folder)
from test_hostile_review_66 import queue as review_queue
from winnow import review
from winnow.errors import WinnowError

REPLACED = ("warning: review import --replace: removed the 1 line(s) of reviews/verdicts.csv, which {why}, so which of "
            "them reviews/queue.csv does not name cannot be told; restore it from git (git checkout "
            "reviews/verdicts.csv) and import reviews/queue.csv without --replace if that was not meant\n")


@pytest.mark.hostile("review")
@pytest.mark.parametrize(("saved", "why"), [
    (lambda line: (HEADER + line).replace(",", ";"),
     "lacks column id (its header holds semicolons: save it as comma-separated CSV)"),
    (lambda line: HEADER + line.replace("\n", ",kept by hand\n"), "holds lines of more fields than its header"),
], ids=["semicolons", "a-field-too-many"])
def test_import_replace_over_verdicts_it_cannot_read_as_a_table_says_it_removes_their_lines(
        project, capsys, saved, why):  # noqa: F811
    # before: no word for semicolons (train-09's drop, an owl no cleaner raises, gone with the file), and of the line
    # with a field too many "removed the verdict(s) of 1 image(s) ... (first: id 'drop')", a verdict word for an id
    line = f"train-09,drop,-1,-1,2,{digest(project, 'train-09')},{KEY}\n"
    Path("reviews/verdicts.csv").write_text(saved(line))
    queue = fill_in({"train-06": "reject"})
    capsys.readouterr()
    before = files_under(project)
    review.import_verdicts(queue, replace=True)
    assert capsys.readouterr().out == REPLACED.format(why=why)
    assert Path("reviews/verdicts.csv").read_text() == (
        HEADER + f"train-06,reject,1,0,1,{digest(project, 'train-06')},{KEY}\n")
    assert_nothing_left(project, before, allowed={"reviews/verdicts.csv"})


@pytest.mark.hostile("review")
def test_a_reviewed_queue_left_with_a_merge_conflict_is_named_so_by_import(project):  # noqa: F811
    # before: "reviewed.csv: line 2 holds 1 of the header's 14 fields (a file cut short, or a row that lost a comma);
    # fix or remove that line", where the line is git's marker
    table = review_queue().reset_index()
    ours, theirs = table[table["id"] == "train-06"].assign(verdict="reject"), table[table["id"] == "train-06"]
    theirs = theirs.assign(verdict="drop")
    text = (ours.to_csv(index=False) + "=======\n" + theirs.to_csv(index=False, header=False) + ">>>>>>> reviewer-b\n")
    header, _, rows = text.partition("\n")
    Path("reviewed.csv").write_text(header + "\n<<<<<<< HEAD\n" + rows)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("reviewed.csv")
    assert str(refused.value) == (
        "reviewed.csv: line 2 is a git merge conflict marker ('<<<<<<< HEAD'), left by a merge of two versions of the "
        "file; keep the verdict lines you mean (one per image), delete the marker lines, and `git add` the file, then "
        "import it again")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
@pytest.mark.parametrize("line", ["train-04,reject,1,,1,{digest},{key}\n", "train-04,drop,1,2,1,{digest},{key}\n"],
                         ids=["suggestion-emptied", "word-against-label"])
def test_a_verdicts_line_the_variants_stage_refuses_for_its_form_shows_no_saved_verdict(project, capsys, line):
    # before: the queue showed 'reject' (the outcome of label 1) as train-04's saved verdict without a word, where the
    # variants stage refuses the line ("suggested '' is not a class index", "verdict drop needs the label -1, not 1")
    Path("reviews/verdicts.csv").write_text(HEADER + line.format(digest=digest(project, "train-04"), key=KEY))
    review.export()
    assert capsys.readouterr().out == (
        "warning: review export: the lines of 1 image(s) in reviews/verdicts.csv are not as `winnow review import` "
        "writes them (first: id 'train-04'), and `dvc repro variants` refuses them, naming what is wrong: mend them, "
        "or remove them and judge those images anew (their verdict cells are empty)\n")
    assert review_queue().loc["train-04", "saved"] == ""
