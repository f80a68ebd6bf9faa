"""The review's files, found in review of stop 69: the Label Studio tasks file given to import in place of Label
Studio's export, and what the review page says its download holds."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from winnow.errors import WinnowError
from winnow.review import QUEUE_COLUMNS, TASKS_FILE, import_verdicts
from winnow.review_page import review_page


@pytest.mark.hostile("review")
def test_the_label_studio_tasks_file_given_to_import_is_refused_naming_the_export(tmp_path, monkeypatch):
    # found by probe 69: reviews/label_studio_tasks.json, taken for Label Studio's export, imported as "0 verdict(s)
    # (none) written", exit 0, and the person thought the labelling imported; a copy of it is as refused
    monkeypatch.chdir(tmp_path)
    TASKS_FILE.parent.mkdir()
    TASKS_FILE.write_text(json.dumps([{"data": {"winnow_id": "train-04", "given": "dog", "action": "relabel",
                                                "suggested": "owl", "digest": "0" * 16}, "predictions": []}]))
    shutil.copy(TASKS_FILE, "tasks.json")
    with pytest.raises(WinnowError) as refused:
        import_verdicts("tasks.json")
    assert str(refused.value) == (
        "tasks.json: the tasks `winnow review export` wrote for Label Studio (reviews/label_studio_tasks.json), which "
        "hold no verdict of a person's; import them into a Label Studio project labelled with "
        "reviews/label_studio_config.xml, label there, then import the project's JSON export")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["label_studio_tasks.json", "reviews", "tasks.json"]


def test_the_review_page_says_its_download_holds_the_saved_verdicts_it_shows():
    # found in review of 5f2585e7: the page said "the download holds only what you choose or change", but it holds
    # every verdict shown chosen, a saved one too (test_review's download imported with --replace keeps them), and a
    # person who had chosen nothing was told the download would be empty
    page = review_page(pd.DataFrame(columns=list(QUEUE_COLUMNS)), classes=["cat", "dog"], thumbs={})
    assert "only what you choose or change" not in page
    assert ("(the download holds every verdict shown chosen, the saved ones too; import takes a saved one left as it "
            "was for no new word)") in page
