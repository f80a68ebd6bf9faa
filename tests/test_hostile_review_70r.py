"""Review of probe 70's mends (review import, the review page, degrade), cases next to the ones they handled:

- a reviewed file the user may not read (permission denied): refused as "not readable as UTF-8 text", told to save it
  as UTF-8, which changes nothing (eda93598 gave every OSError the encoding's advice);
- a Label Studio JSON export an editor saved as UTF-16: told to save it as a spreadsheet's "CSV UTF-8";
- a saved verdict cleared on the review page (a label issue's "relabel to …"): the download left the image out, and
  its import kept the saved verdict without a word, where an emptied cell of the queue is warned of;
- a long tail given its classes, an earlier removal having emptied one in the middle of it: refused as falling short
  of its ratio, which the classes left still span (6f604346's words fit a first or last class only);
- a class removed and another relabelled away: the stage's refusal ran its two remedies together ("remove or
  subsample fewer or relabel fewer").

In-process on the exported project of review_project.py and on tiny imagesets (no training).
"""

import errno
import json
from pathlib import Path

import pytest

from hostile_harness import assert_nothing_left, files_under
from review_project import digest
from test_hostile_degrade_70 import imageset, run_degrade
from test_hostile_review_66 import exported, fill_in, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project)
from test_report import browser, chromium  # noqa: F401 (fixtures: headless Chromium over DevTools)
from winnow import review
from winnow.degrade import degrade
from winnow.errors import WinnowError


@pytest.mark.hostile("review")
def test_a_reviewed_file_that_cannot_be_read_is_not_told_to_be_saved_as_utf8(project, monkeypatch):
    # the tests run as root, whom no mode bit refuses: the read refused as it is for another user's file. Before:
    # "reviewed.csv: not readable as UTF-8 text ([Errno 13] Permission denied: 'reviewed.csv'); save it as UTF-8 (a
    # spreadsheet's "CSV UTF-8") and import it again", which no saving cures
    reviewed = fill_in({"train-04": "cat"}, name="reviewed.csv")
    read_text = Path.read_text

    def refused(self, *args, **kwargs):
        if self.name == reviewed.name:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refused)
    before = files_under(project)
    with pytest.raises(WinnowError) as error:
        review.import_verdicts(reviewed)
    assert str(error.value) == ("reviewed.csv: cannot be read (Permission denied); fix its permissions, or give a copy "
                                "this user may read")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_a_label_studio_export_in_utf16_is_not_told_of_a_spreadsheets_csv(project):
    # Notepad's "Unicode" is UTF-16 (a byte-order mark ff fe first). Before: "...; save it as UTF-8 (a spreadsheet's
    # "CSV UTF-8") and import it again", of a JSON file no spreadsheet wrote
    tasks = json.loads(review.TASKS_FILE.read_text())
    Path("export.json").write_bytes(json.dumps(tasks).encode("utf-16"))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("export.json")
    assert str(refused.value) == ("export.json: not readable as UTF-8 text ('utf-8' codec can't decode byte 0xff in "
                                  "position 0: invalid start byte); save it as UTF-8 and import it again")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_a_saved_verdict_cleared_on_the_page_is_downloaded_as_an_empty_cell_import_warns_of(
        browser, project, capsys):  # noqa: F811
    # train-04 (dog, a label issue: relabel to owl) was rejected and imported; on the page of the next export the
    # person chose "relabel to …" in its select, which clears its choice. Before: the download left train-04 out,
    # and its import kept the saved reject without a word, where an emptied cell of the queue is warned of
    review.import_verdicts(fill_in({"train-04": "reject"}, name="first.csv"))
    review.export()
    saved = saved_lines()
    browser.events.clear()
    browser.call("Page.navigate", url=(project / "reviews/index.html").as_uri())
    browser.wait_for("Page.loadEventFired")

    def evaluate(expression: str):
        done = browser.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in done, done
        return done["result"]["value"]

    select = "document.querySelector('.item[data-id=\"train-04\"] select')"
    evaluate(f"{select}.value = ''; {select}.dispatchEvent(new Event('change', {{bubbles: true}})); true")
    download = evaluate("verdictsCsv()")
    assert download.splitlines() == ["id,verdict,given,digest,action,suggested,saved",
                                     f"train-04,,dog,{digest(project, 'train-04')},relabel,owl,reject"]
    assert evaluate("document.getElementById('count').textContent") == "0 verdict(s) chosen"
    Path("download.csv").write_text(download)
    capsys.readouterr()
    review.import_verdicts("download.csv")
    assert capsys.readouterr().out.splitlines() == [(
        "warning: review import: 1 image(s) of download.csv with an empty verdict cell keep the verdict saved in "
        "reviews/verdicts.csv (first: id 'train-04', reject); an empty cell changes nothing: to withdraw a verdict, "
        "remove its line from reviews/verdicts.csv")]
    assert saved_lines() == saved


@pytest.mark.hostile("params")
def test_a_long_tail_given_a_class_removed_in_its_middle_is_not_said_to_fall_short_of_its_ratio():
    # dog removed, a tail of ratio 4 over cat, dog and owl: cat keeps 1 and owl 1/4, a ratio of 4 still, dog's 1/2
    # falling on no image. Before: "... so the tail would fall short of imbalance_ratio 4", which it does not
    with pytest.raises(WinnowError) as refused:
        degrade(imageset([40, 40, 40], ["cat", "dog", "owl"]), seed=0, perturbations=[
            {"kind": "class_removal", "classes": ["dog"]},
            {"kind": "class_subsample", "classes": ["cat", "dog", "owl"], "imbalance_ratio": 4}])
    assert str(refused.value) == (
        "degrade.perturbations[1] (class_subsample): classes names 'dog', which the removals before it leave without "
        "train images, so its place in the tail falls on no image and the classes left are spaced unlike the tail "
        "recorded; leave 'dog' out of classes")


@pytest.mark.hostile("params")
def test_a_class_removed_and_another_relabelled_away_name_both_in_one_readable_line(tmp_path, monkeypatch, capsys):
    # a removed, every b relabelled to c: only c is left. Before: "..., so remove or subsample fewer or relabel fewer",
    # the two remedies run together as if one
    code, before, project = run_degrade(tmp_path, monkeypatch, [{"kind": "class_removal", "classes": ["a"]},
                                                                {"kind": "symmetric_noise", "rates": {"b": 1.0}}],
                                        train=[4, 4, 4], classes=["a", "b", "c"])
    assert (code, capsys.readouterr().err) == (1, "error: degrade.perturbations: only class 'c' keeps train images "
                                                  "after the damage; a classifier needs at least 2 classes, so remove "
                                                  "or subsample fewer, or relabel fewer\n")
    assert_nothing_left(project, before)
