"""Hostile review cases of probe 72, in-process on the exported project of review_project.py (no training):

- reviews/verdicts.csv edited by hand with blank lines: a refusal of the variants stage (and of import, which reads
  the file the same way) named the line above the one to mend, for pandas skipped the blank lines and every later
  row's number moved up;
- a saved verdict keeping an image the budget now drops as a leak (dedup: a train copy of a test image, the splits
  drawn anew since the review): the import of another verdict wrote it on beside the new ones, exit 0, and only the
  variants stage refused it;
- reviews/verdicts.csv, or a reviewer's copy of it, given to import: refused as "given '0' names no class (...; edit
  only the verdict column)", the wrong cause and a fix that does not work (its class numbers are import's own).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, budget_stamped, files_under
from review_project import digest
from test_hostile_review_66 import HEADER, KEY, exported, fill_in, saved_lines  # noqa: F401 (fixture)
from test_hostile_review_70 import project  # noqa: F401 (fixture: a copy of the exported project)
from winnow import review
from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.variants import baseline_rows
from winnow.verdicts import read_verdicts


@pytest.mark.hostile("review")
def test_a_refusal_of_a_verdicts_file_with_blank_lines_names_the_line_to_mend(project):
    # before: "line 3 (id 'train-05')", the line of train-04's good verdict: the two blank lines were not counted
    good = f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n"
    bad = f"train-05,accept,1,0,1,{digest(project, 'train-05')},{KEY}\n"  # accept, yet the given label
    Path("reviews/verdicts.csv").write_text(HEADER + good + "\n\n" + bad)
    data = read_imageset("data/degrade")
    with pytest.raises(WinnowError) as refused:
        read_verdicts("reviews/verdicts.csv", baseline=baseline_rows(data.manifest),
                      digests=data.manifest.set_index("id")["digest"], classes=data.classes)
    assert str(refused.value) == (
        "reviews/verdicts.csv: line 5 (id 'train-05'): verdict accept needs the label its suggestion 0, not 1; write "
        "it with `winnow review import`, or restore the header-only file from git")


@pytest.mark.hostile("review")
def test_a_line_judging_an_image_twice_after_a_blank_line_is_named_by_its_own_number(project):
    # before: "line 3", the first of the two lines of train-04 (a blank line after the header went uncounted)
    line = f"train-04,relabel,0,2,1,{digest(project, 'train-04')},{KEY}\n"
    Path("reviews/verdicts.csv").write_text(HEADER + "\n" + line + line)
    data = read_imageset("data/degrade")
    with pytest.raises(WinnowError) as refused:
        read_verdicts("reviews/verdicts.csv", baseline=baseline_rows(data.manifest),
                      digests=data.manifest.set_index("id")["digest"], classes=data.classes)
    assert str(refused.value) == "reviews/verdicts.csv: line 4: id 'train-04' has a verdict already; keep one line per image"
