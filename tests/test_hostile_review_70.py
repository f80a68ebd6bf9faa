"""Hostile review cases of stop 70, in-process on the exported project of review_project.py (no training):

- a saved verdict for an image no longer in train: the import of a new review, and the variants stage, advised to
  export and review again, which no queue could ever serve (it lists train images only);
- a page's download naming an image that left train since the export: advised to export again, whose queue never
  lists it, rather than to remove its verdict;
- a second reviewer's copy of a queue exported before the first's import: its cells, empty from the start, were
  warned of as emptied saved verdicts;
- the budget's decisions (every train id in their attrs) applied to thousands of images: pandas deep-copied the
  ids into every group, so export, import and the variants stage took minutes;
- a reviewed queue a spreadsheet saved as plain "CSV" (the Windows code page): refused with no way out named;
- a Label Studio annotation choosing two verdicts (an interface of multiple choice): "its annotations disagree";
- a choice made by mistake on the review page (a quality, duplicate or outlier image): nothing withdrew it but a
  reload, which lost every other choice; each image's radios were an unnamed group.
"""

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, files_under
from review_project import digest
from test_report import browser, chromium  # noqa: F401 (fixtures: headless Chromium over DevTools)
from test_hostile_review_66 import HEADER, KEY, exported, fill_in, queue, saved_lines  # noqa: F401 (fixture)
from winnow import review
from winnow.decision_rows import apply_decisions
from winnow.errors import WinnowError


@pytest.fixture
def project(exported, tmp_path, monkeypatch) -> Path:  # noqa: F811 (the fixture imported above)
    """A copy of the exported review project, the working directory."""
    root = Path(shutil.copytree(exported, tmp_path / exported.name))
    monkeypatch.chdir(root)
    return root


@pytest.mark.hostile("review")
def test_a_saved_verdict_for_an_image_out_of_train_is_named_for_removal_not_for_a_new_review(project):
    # val-0 was a train image when judged (the data changed since: a split drawn anew). Before, every import and the
    # variants stage said "export and review again, or remove the line"; a new export and review never list val-0,
    # so the import of that review was refused with the same advice again
    Path("reviews/verdicts.csv").write_text(HEADER + f"val-0,reject,0,-1,0,{digest(project, 'val-0')},{KEY}\n")
    review.export()
    reviewed = fill_in({"train-04": "cat"}, name="reviewed.csv")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts(reviewed)
    assert str(refused.value) == (
        "reviews/verdicts.csv: line 2 (id 'val-0'): not a train image of data/degrade (the data changed since the "
        "review), so no export lists it to review again; remove the line")
    assert_nothing_left(project, before)
    assert saved_lines()[1:] == [f"val-0,reject,0,-1,0,{digest(project, 'val-0')},{KEY}"]


@pytest.mark.hostile("review")
def test_a_download_naming_an_image_that_left_train_says_to_remove_its_verdict(project):
    # the queue of the export the person reviewed still lists val-0 (then a train image, flagged as train-07 is).
    # Before: "export the queue again", whose queue never lists val-0, and the download was refused anew
    table = queue().reset_index()
    table = pd.concat([table, table[table["id"] == "train-07"].assign(id="val-0", given="cat",
                                                                      digest=digest(project, "val-0"))])
    table.to_csv("reviews/queue.csv", index=False)
    Path("download.csv").write_text("id,verdict,given,digest,action,suggested,saved\n"
                                    f"train-04,reject,dog,{digest(project, 'train-04')},relabel,owl,\n"
                                    f"val-0,accept,cat,{digest(project, 'val-0')},drop,cat,\n")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("download.csv")
    assert str(refused.value) == (
        "download.csv: line 3: id 'val-0' is no longer a train image of data/degrade (the data changed since the "
        "export), so no export lists it again; remove its verdict from download.csv to import the file's other "
        "verdicts")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_a_second_reviewers_cells_empty_from_the_export_are_no_emptied_saved_verdicts(project, capsys):
    # alice and bob each got a copy of one export; alice's reject of train-05 is imported first. Before, bob's import
    # warned "1 image(s) of bob.csv with an empty verdict cell keep the verdict saved ... (first: id 'train-05')", as
    # if bob had emptied a saved verdict he never saw: with a queue of thousands, a count of all of alice's verdicts
    shutil.copy("reviews/queue.csv", "bob-export.csv")
    review.import_verdicts(fill_in({"train-05": "reject"}, name="alice.csv"))
    shutil.copy("bob-export.csv", "reviews/queue.csv")
    bob = fill_in({"train-08": "accept"}, name="bob.csv")
    capsys.readouterr()
    review.import_verdicts(bob)
    assert capsys.readouterr().out == ""
    assert [line.split(",")[:2] for line in saved_lines()[1:]] == [["train-05", "reject"], ["train-08", "accept"]]


@pytest.mark.hostile("review")
def test_a_reviewed_file_in_the_windows_code_page_is_refused_with_the_way_to_save_it(project):
    # a spreadsheet's plain "CSV" on Windows writes cp1252: the reason's dash is byte 0x96. Before, the line ended
    # at the decoder's words, naming nothing to do
    table = queue().reset_index().assign(verdict=lambda t: t["id"].map({"train-04": "cat"}).fillna(""),
                                         reason="label_issue – seen")
    text = table.to_csv(index=False)
    Path("reviewed.csv").write_bytes(text.encode("cp1252"))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("reviewed.csv")
    assert str(refused.value) == (
        f"reviewed.csv: not readable as UTF-8 text ('utf-8' codec can't decode byte 0x96 in position {text.index('–')}: "
        "invalid start byte); save it as UTF-8 (a spreadsheet's \"CSV UTF-8\") and import it again")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_one_label_studio_annotation_choosing_two_verdicts_is_named_as_such(project):
    # a project whose interface allows several choices (choice="multiple"), one annotator choosing cat and owl for
    # train-04. Before: "its annotations disagree ('cat', 'owl'); settle them in Label Studio", of one annotation
    tasks = [task for task in json.loads(review.TASKS_FILE.read_text()) if task["data"]["winnow_id"] == "train-04"]
    tasks[0]["annotations"] = [{"result": [{"from_name": "verdict", "to_name": "image", "type": "choices",
                                            "value": {"choices": ["cat", "owl"]}}]}]
    Path("export.json").write_text(json.dumps(tasks))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        review.import_verdicts("export.json")
    assert str(refused.value) == (
        "export.json: task 1: one annotation chose 2 verdicts ('cat', 'owl'), of which one is meant; label with "
        "reviews/label_studio_config.xml (a single choice) as the project's labelling interface, and choose one")
    assert_nothing_left(project, before)


class CountedIds(list):
    """The budget's train ids (a decisions file's attrs), counting the deep copies pandas makes of them."""

    copies = 0

    def __deepcopy__(self, memo):
        CountedIds.copies += 1
        return CountedIds(copy.deepcopy(list(self), memo))


@pytest.mark.hostile("review")
def test_the_budgets_train_ids_are_not_copied_per_image_its_decisions_name():
    # before: 2,000 decisions of 20,000 train images took 39 s to apply (0.6 s without the attrs): each group of the
    # aggregations deep-copied the ids, so copies grew with the images decided, and an export of thousands of flags
    # took minutes
    def copies(decided: int) -> int:
        ids = [f"train-{i:04d}" for i in range(200)]
        rows = pd.DataFrame({"id": ids, "label": np.zeros(200, np.int64), "action": "keep", "reason": "", "stage": ""})
        decisions = pd.DataFrame({"id": ids[:decided], "action": "drop", "label": -1, "reason": "dark",
                                  "stage": "threshold"})
        decisions.attrs = {"train_ids": CountedIds(ids)}
        CountedIds.copies = 0
        applied = apply_decisions(rows, decisions)
        assert applied["action"].tolist() == ["drop"] * decided + ["keep"] * (200 - decided)
        return CountedIds.copies

    assert copies(150) == copies(10)


@pytest.mark.hostile("review")
def test_a_choice_made_by_mistake_on_the_page_is_withdrawn_by_undecided(browser, exported):  # noqa: F811
    # before: train-00 (a quality drop) had only accept and reject: accept clicked by mistake stayed chosen, and the
    # download wrote it, unless the page was reloaded, which lost every other choice; train-04's choices were one
    # unnamed group of radios like every other image's ("accept: relabel → owl" alone, to a screen reader)
    browser.events.clear()
    browser.call("Page.navigate", url=(exported / "reviews/index.html").as_uri())
    browser.wait_for("Page.loadEventFired")

    def evaluate(expression: str):
        done = browser.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in done, done
        return done["result"]["value"]

    item = "document.querySelector('.item[data-id=\"{}\"] {}')".format
    evaluate(";".join([
        item("train-00", "input[value=accept]") + ".click()", item("train-00", 'input[value=\\"\\"]') + ".click()",
        item("train-04", "input[value=reject]") + ".click()", item("train-04", "select") + ".focus()",
        item("train-04", "select") + ".value = 'cat'",
        item("train-04", "select") + ".dispatchEvent(new Event('change', {bubbles: true}))",
        item("train-04", "select") + ".value = ''",
        item("train-04", "select") + ".dispatchEvent(new Event('change', {bubbles: true}))",
        item("train-07", "input[value=accept]") + ".click()", "true"]))
    assert evaluate("verdictsCsv()").splitlines() == [
        "id,verdict,given,digest,action,suggested,saved", f"train-07,accept,dog,{digest(exported, 'train-07')},drop,cat,"]
    assert evaluate("document.getElementById('count').textContent") == "1 verdict(s) chosen"
    # each image's choices are one group named by its image, "undecided" checked where no verdict is chosen
    assert evaluate("[...document.querySelectorAll('[role=radiogroup]')].map(group => [group.getAttribute('aria-label'), "
                    "group.querySelector('input:checked').parentElement.textContent.trim()])") == [
        ["verdict on train-04", "undecided"], ["verdict on train-06", "undecided"],
        ["verdict on train-05", "undecided"], ["verdict on train-07", "accept: drop"], ["verdict on train-00", "undecided"],
        ["verdict on train-02", "undecided"], ["verdict on train-08", "undecided"]]
