"""Review of probe 73's mends of the score and threshold stages (the original sizes the scores and flags record):

- data/degrade's manifest given a size that is no size (text, or null) after the score stage ran: every reader of a
  table recording sizes cast them to int64 first, a ValueError traceback (text) or a RuntimeWarning before a refusal
  blaming the score stage (null); and a reader of a table recording none (a label cleaner's) read them too;
- the variants stage (or `winnow review export`'s decisions read) after degrade's odd_size changed the manifest's
  sizes alone: the budget's decisions, chosen among threshold's flags of the old sizes, were applied, exit 0, where
  every other reader of the flags refuses them;
- an original size edited below the stored one (pixels kept) after the score stage ran: refused, but the line said
  only the odd_size and odd_aspect_ratio scores read the sizes, where blurry's of that image changed too;
- the other side: scores and flags of data/degrade's sizes, its rows written again in another order, still read.

Stage cases run the real script in this process on a throwaway project of a few small images; the others call the
library the stages call."""

import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import budget_stamped, edit_table, files_under, planted_log, undamaged_params
from review_project import write_project
from test_hostile_quality_70 import _refused
from test_hostile_score_73 import _odd_sizes_planted, _project_with_log
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.judged_rows import check_pixels
from winnow.quality import score_table
from winnow.stage import write_table
from winnow.stage_reads import SIZED_AT, sizes_record


def _size_of_i003(value):
    """An edit of data/degrade's manifest (:func:`edit_table`): image i003's orig_h ``value``, the column as text where
    ``value`` is text."""
    def change(manifest):
        manifest["orig_h"] = manifest["orig_h"].astype(object if value is None else str)
        manifest.loc[manifest["id"] == "i003", "orig_h"] = value
        return manifest
    return change


def _sizes_of_i003(side: int):
    """An edit of data/degrade's manifest (:func:`edit_table`): image i003's original size ``side`` x ``side``."""
    def change(manifest):
        manifest.loc[manifest["id"] == "i003", ["orig_h", "orig_w"]] = side
        return manifest
    return change


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("value", "problem"), [
    ("x", "orig_h holds str values, not sizes in pixels"),
    (None, "1 image(s) without a whole original size of at least 1 pixel, first 'i003' (nan x 8)"),
], ids=["text", "null"])
def test_a_size_that_is_no_size_in_data_degrade_is_refused_naming_degrade(tmp_path, monkeypatch, capsys, value,
                                                                         problem):
    # before: text: a ValueError traceback (int() of 'x', casting the sizes to hash them); null: a RuntimeWarning
    # (a NaN cast to int64) and "scored other original sizes ...; rerun the score stage", whose rerun refused the
    # manifest naming degrade
    project = _project_with_log(tmp_path, [])
    edit_table(project / "data/degrade/manifest.parquet", _size_of_i003(value))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        line = _refused(project, "threshold", monkeypatch, capsys)
    assert line == f"error: data/degrade/manifest.parquet: {problem}; rerun the degrade stage (dvc repro degrade)"


@pytest.mark.hostile("intermediates")
def test_a_table_recording_no_sizes_does_not_read_the_manifest_s_sizes(tmp_path):
    # a label cleaner's table (no sizes record) read beside a manifest of a text size. Before: a ValueError traceback
    # in each reader (the budget, the contracts, the report), though the table reads no size
    project = _project_with_log(tmp_path, [])
    edit_table(project / "data/degrade/manifest.parquet", _size_of_i003("x"))
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    judged = manifest[["id", "digest"]].iloc[:5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_pixels(judged, manifest=manifest, path="data/x.parquet", written_by="x")  # nothing raised


@pytest.mark.hostile("score")
def test_scores_of_an_original_now_below_the_stored_size_name_blurry_too(tmp_path, monkeypatch, capsys):
    # i003, stored 8x8, given a 4x4 original: blurry first takes it back to 4x4 (ingest's upscaling is no blur), so
    # its blurry score moves with the size. Before: the line named odd_size and odd_aspect_ratio alone
    project = _project_with_log(tmp_path, [])
    edit_table(project / "data/degrade/manifest.parquet", _sizes_of_i003(4))
    data = read_imageset(project / "data/degrade")
    then = pd.read_parquet(project / "data/score/scores.parquet").set_index("id")
    now = score_table(np.asarray(data.images), data.manifest, **undamaged_params()["score"]).set_index("id")
    assert now.loc["i003", "blurry"] != then.loc["i003", "blurry"]
    assert _refused(project, "threshold", monkeypatch, capsys) == (
        "error: data/score/scores.parquet: scored other original sizes (orig_h, orig_w) than data/degrade's manifest "
        "gives now, which the blurry, odd_size and odd_aspect_ratio scores read: made before degrade changed them; "
        "rerun the score stage (dvc repro score)")


def _budget_of_old_sizes(root: Path) -> None:
    """review_project.py's project with threshold's flags recording data/degrade's sizes and the budget's decisions
    chosen among them, then degrade's manifest giving train-01 a 60x60 original (pixels as they were)."""
    flags = pd.read_parquet(root / "data/threshold/flags.parquet")
    data = read_imageset(root / "data/degrade")
    flags.attrs[SIZED_AT] = sizes_record(data.manifest)
    write_table(root / "data/threshold/flags.parquet", flags)
    decisions = pd.read_parquet(root / "data/budget/decisions.parquet")
    decisions.attrs = {}
    write_table(root / "data/budget/decisions.parquet",
                budget_stamped(root, decisions.drop(columns=["given_label", "digest"])))  # the flags' bytes now
    manifest = data.manifest.drop(columns=["digest"])
    manifest.loc[manifest["id"] == "train-01", ["orig_h", "orig_w"]] = 60
    write_imageset(root / "data/degrade", np.asarray(data.images), manifest, data.classes,
                   tables=planted_log(root / "data/degrade"))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return write_project(tmp_path_factory.mktemp("score73r") / "project")


@pytest.mark.hostile("intermediates")
def test_decisions_among_flags_of_sizes_degrade_has_since_changed_are_not_applied(made, tmp_path, monkeypatch):
    # before: the variants stage run alone after degrade's odd_size (dvc repro -s variants) read the flags only for
    # the settings they were cut under: exit 0, pruned applying drops chosen among flags that judged the old sizes
    project = Path(shutil.copytree(made, tmp_path / "project"))
    _budget_of_old_sizes(project)
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "stages"))
    sys.modules.pop("variants", None)
    from variants import main  # the stage's main, in-process (the stage script prints the line after "error: ")

    before = files_under(project)
    with pytest.raises(WinnowError) as raised:
        main()
    assert str(raised.value) == (
        "data/threshold/flags.parquet: judged other original sizes (orig_h, orig_w) than data/degrade's manifest gives "
        "now: made before degrade changed them; rerun the threshold stage (dvc repro threshold)")
    assert files_under(project) == before  # no variant, no metrics/variants.json


@pytest.mark.hostile("intermediates")
def test_scores_and_flags_read_after_data_degrade_is_written_in_another_row_order(tmp_path, monkeypatch, capsys):
    # the other side of the sizes record: the same sizes under the same ids, rows reversed (ingest drawing its rows
    # in another order), are no change: dedup reads the scores and threshold's flags and groups the images
    manifest, _ = _odd_sizes_planted(tmp_path)
    assert _stage_in_process(tmp_path, "score", monkeypatch, capsys).returncode == 0
    assert _stage_in_process(tmp_path, "threshold", monkeypatch, capsys).returncode == 0
    data = read_imageset(tmp_path / "data/degrade")
    write_imageset(tmp_path / "data/degrade", np.asarray(data.images)[::-1],
                   data.manifest.iloc[::-1].drop(columns=["digest"]).reset_index(drop=True), data.classes,
                   tables=planted_log(tmp_path / "data/degrade"))
    assert list(read_imageset(tmp_path / "data/degrade").manifest["id"]) == list(manifest["id"])[::-1]
    done = _stage_in_process(tmp_path, "dedup", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    assert len(pd.read_parquet(tmp_path / "data/dedup/groups.parquet")) == 60
