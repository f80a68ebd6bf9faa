"""Outputs of a stage that stops part-way, found in review of stop 69: the folders its staged writes made go with
them, and none it did not make."""

from __future__ import annotations

import errno
import os

import pandas as pd
import pytest

from winnow.outputs import together
from winnow.stage import write_json, write_table


@pytest.mark.hostile("interrupted")
def test_a_stage_stopped_after_an_output_was_staged_leaves_no_folder_it_made(tmp_path, monkeypatch):
    # found in review of e982b7a8: a write inside together() (every stage that writes several outputs) made
    # data/threshold/ and metrics/ for its staged temporaries; the block stopped at the next output (a full disk), its
    # temporaries were removed and both folders were left empty. A folder that was there before stays, empty or not
    monkeypatch.chdir(tmp_path)
    os.makedirs("plots/threshold")
    os.makedirs("reports")
    (tmp_path / "plots/notes.txt").write_text("mine\n")
    with pytest.raises(OSError, match="No space left"):
        with together():
            write_table("data/threshold/flags.parquet", pd.DataFrame({"id": ["a"], "any": [False]}))
            write_json("metrics/threshold.json", {"flagged": 0})
            write_json("plots/threshold/dark.json", {})
            raise OSError(errno.ENOSPC, "No space left on device", "plots/threshold/blur.csv")
    assert sorted(os.listdir(tmp_path)) == ["plots", "reports"]
    assert sorted(os.listdir(tmp_path / "plots")) == ["notes.txt", "threshold"]


def test_a_stage_whose_outputs_are_written_keeps_the_folders_they_are_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with together():
        write_table("data/threshold/flags.parquet", pd.DataFrame({"id": ["a"], "any": [False]}))
        write_json("metrics/threshold.json", {"flagged": 0})
    assert (sorted(os.listdir(tmp_path)), os.listdir("data/threshold"), os.listdir("metrics")) == (
        ["data", "metrics"], ["flags.parquet"], ["threshold.json"])
