"""Hostile input to the review, stop 62: a person who follows a refusal's advice (export and review again) is
not refused again by the very verdict the new one replaces. Each ends with every verdict on the image and label
the person meant, or in one `error:` line and nothing written."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from hostile_harness import run_winnow
from review_project import digest, exported  # noqa: F401  (exported: a fixture)
from test_hostile_review import HEADER, classes_key, replace_pixels, row


@pytest.fixture
def project(exported, tmp_path) -> Path:
    """A fresh copy of the exported project, holding two earlier verdicts (train-08 dropped, train-07 kept)."""
    root = Path(shutil.copytree(exported, tmp_path / "project"))
    (root / "reviews/verdicts.csv").write_text(HEADER + row(root, "train-08,accept,-1,-1,2") + "\n"
                                               + row(root, "train-07,reject,1,-1,1") + "\n")
    return root


@pytest.mark.hostile("review")
def test_a_stale_verdict_judged_anew_is_replaced_and_the_others_kept(project):
    # found by probing: train-07's picture changed under its id, variants refused its verdict ("export and review
    # again, or remove the line"); the person exported, judged train-07 anew and imported, and the import stopped
    # on the same old line, the one the new verdict replaces: only a hand edit or --replace (losing train-08's) got on
    replace_pixels(project, "train-07")
    assert run_winnow(project, "review", "export").returncode == 0
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)
    queue.loc[queue["id"] == "train-07", "verdict"] = "accept"
    queue.to_csv(project / "reviews/queue.csv", index=False)
    done = run_winnow(project, "review", "import", "reviews/queue.csv")
    assert done.returncode == 0, done.stderr
    assert (project / "reviews/verdicts.csv").read_text().splitlines() == [
        HEADER.strip(), row(project, "train-08,accept,-1,-1,2"),
        f"train-07,accept,-1,-1,1,{digest(project, 'train-07')},{classes_key(project)}"]
