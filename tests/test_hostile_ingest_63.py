"""Hostile inputs to ingest, fourth pass (stop 63): a trusted set that is a split folder of the data set itself.

Each case runs ``stages/ingest.py`` through the harness (see :mod:`test_hostile_ingest`, whose helpers it
reuses) and asserts the one ``error:`` line with nothing left behind, or the exact rows and counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile_harness import assert_error_line, assert_nothing_left
from test_hostile_ingest import image_folder, run_ingest


def split_folders(root: Path) -> Path:
    """``root/{train,val,test}/{a,b}/<i>.png``: 10, 4 and 4 distinct grey images a class."""
    for split, count in (("train", 10), ("val", 4), ("test", 4)):
        image_folder(root / split, {"a": count, "b": count})
    return root


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("split", ["test", "train"])
def test_a_trusted_path_inside_ingest_path_is_refused(tmp_path, split):
    # before: ingest.trusted_path at root/test passed with "8 of its 8 images are pixel-identical to images of
    # ingest.path; dedup drops their train copies as leaks" (of none): the budget chose the cleaning on the test
    # images; at root/train dedup would drop the whole train split as leaks
    data = split_folders(tmp_path / "data")
    project, before, done = run_ingest(tmp_path, "imagefolder", data, trusted_path=str(data / split))
    line = assert_error_line(done)
    assert line == (f"error: ingest.trusted_path: {data / split} is inside ingest.path ({data}), whose images ingest "
                    "reads as the data set; the trusted split must be images held out from the data it judges: move "
                    "them out of ingest.path")
    assert_nothing_left(project, before)
