"""Review of probe 71's mends: the cases next to the ones they handled.

- dedup's groups with their ``split`` or ``label`` column dropped (the stale groups check_grouped refuses, those
  columns cut off) were read unchecked by every reader: refused as lacking the column, as a table without ``digest``
  is (confident-learn here);
- the report read dedup's groups through the pixel check alone, so groups of the labels before degrade drew its label
  noise anew were shown as current: refused there too;
- the variant contracts measure dedup's groups by split alone: groups whose labels alone are of another draw are read
  (no rate changes), groups of other splits still refused;
- a PNG decoded by Pillow had its image data inflated a second time to count it (the short-stream check), even where
  the decoded image already holds its last row; that row is looked at first, and an interlaced (Adam7) PNG missing its
  seventh pass or a 2-bit palette PNG missing rows is still a row;
- a class folder that cannot be listed for the process's open-file limit (EMFILE) was told "moved or removed
  meanwhile?", and so was any cause but a permission (an out-of-memory, say);
- augment-search's settings record: op_sets whose sets hold the same ops in another order (the same candidates) were
  refused as other settings; the sets in another order (another tie-break) still are.
"""

import errno
import shutil
import struct
import types
import zlib

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import (
    assert_nothing_left, edit_table, files_under, make_project, refused_line, write_judged,
)
from test_contracts import _params as contract_params
from test_contracts import _stage_module
from test_contracts import project as contracts_project  # noqa: F401 - the fixture, used by name
from test_hostile_cleaners_71 import _project as cleaners_project
from test_hostile_imagefolder_71 import chunk, listing_refused, project_of
from test_hostile_ingest import image_folder
from test_hostile_report import write_images
from test_hostile_search_71 import RERUN, WEAK, _edit, _searched
from winnow import image_damage
from winnow.errors import WinnowError

# -- dedup's groups -----------------------------------------------------------------------------------------------


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("column", ["label", "split"])
def test_dedup_groups_without_their_split_or_label_column_are_refused(tmp_path, monkeypatch, column):
    # before: exit 0; check_grouped compared only the columns there, so the stale groups it refuses passed once the
    # column was dropped, and their leaks and label conflicts were judged as current
    project = cleaners_project(tmp_path / "p", cleaners=("threshold", "dedup", "confident_learn"))
    edit_table(project / "data/dedup/groups.parquet", lambda groups: groups.drop(columns=[column]))
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("confident_learn").main()
    assert str(refused.value) == (f"data/dedup/groups.parquet: lacks column(s) {column}; rerun the dedup stage "
                                  "(dvc repro dedup)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_report_refuses_dedup_groups_of_other_labels_than_data_degrades(tmp_path):
    # before: exit 0; the duplicate grid captioned t1 with label a (0), the label of the draw dedup grouped, beside
    # data/degrade's b (1) now
    project = make_project(tmp_path)
    write_images(project, copies={})  # t0 of class a (0), t1 of b (1), both train
    write_judged(project, "data/dedup/groups.parquet", pd.DataFrame({
        "id": ["t0", "t1"], "split": "train", "label": [0, 0], "group": [0, 0], "group_size": 2,
        "kept": [True, False], "reason": ["kept", "near_duplicate"], "label_conflict": False}))
    assert refused_line(project, "report") == (
        "error: data/dedup/groups.parquet: grouped other labels than data/degrade's now for 1 image(s) (first: id "
        "'t1', label 0 then, 1 now): made before degrade changed the data; rerun the dedup stage (dvc repro dedup)")


@pytest.mark.hostile("intermediates")
def test_the_variant_contracts_read_groups_whose_labels_alone_are_of_another_draw(tmp_path, monkeypatch,
                                                                                 contracts_project):  # noqa: F811
    # before: refused "grouped other labels than data/degrade's now", though the contracts read the groups' split and
    # group alone: a redraw of degrade's label noise changes none of their rates
    from winnow.variant_contract import VariantContract

    root = tmp_path / "p"
    shutil.copytree(contracts_project, root)
    groups_path = root / "data/dedup/groups.parquet"
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    edit_table(groups_path, lambda groups: groups.assign(label=1 - groups["id"].map(manifest.set_index("id")["label"])))
    monkeypatch.chdir(root)
    params = contract_params()
    measured = VariantContract.read(params).measured
    assert measured["group"].tolist() == [0, 0, 1, 2, 3, 4, 5, 6]
    # the splits still count: one redrawn is refused
    moved = manifest["id"].iloc[0]
    edit_table(groups_path, lambda groups: groups.assign(split=groups["split"].where(groups["id"] != moved, "test")))
    with pytest.raises(WinnowError) as refused:
        VariantContract.read(params)
    then = manifest["split"].iloc[0]
    assert str(refused.value) == (
        f"data/dedup/groups.parquet: grouped other splits than data/degrade's now for 1 image(s) (first: id {moved!r}, "
        f"split 'test' then, {then!r} now): made before degrade changed the data; rerun the dedup stage "
        "(dvc repro dedup)")


# -- a PNG's image data ending before its last row ----------------------------------------------------------------

ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png(header: tuple, rows: bytes, *, extra: bytes = b"") -> bytes:
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", *header)) + extra
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def adam7_rgba(passes: int, *, bottom: int = 200) -> bytes:
    """An 8x8 8-bit RGBA PNG, interlaced (Adam7), whose image data holds its first ``passes`` passes: each pass row a
    filter byte 0 and its pixels, every byte 200 (``bottom`` in the image's last row)."""
    pixels = np.full((8, 8, 4), 200, np.uint8)
    pixels[7] = bottom
    rows = b"".join(b"\0" + pixels[row, column::column_step].tobytes()
                    for column, first, column_step, row_step in ADAM7[:passes] for row in range(first, 8, row_step))
    return _png((8, 8, 8, 6, 0, 0, 1), rows)


@pytest.mark.hostile("imagefolder")
def test_short_png_streams_are_rows_and_a_png_holding_its_last_row_is_not_inflated_again(tmp_path, monkeypatch):
    # before: every PNG Pillow decoded (RGBA, palette, 16-bit, interlaced: none of the plain ones) had its image data
    # inflated a second time to count its bytes, about what decoding it cost again; the row the data ends with,
    # already decoded, says so for every image whose last row is not all zeros
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12})
    (data / "a" / "adam7.png").write_bytes(adam7_rgba(6))  # the seventh pass (the odd rows) missing: Pillow reads it
    palette = chunk(b"PLTE", bytes([10, 20, 30, 200, 100, 50, 90, 90, 90, 0, 0, 0]))
    # a 2-bit palette PNG: rows of a filter byte and 8 pixels in 2 bytes, 5 of its 8
    (data / "b" / "two_bit.png").write_bytes(_png((8, 8, 2, 3, 0, 0, 0), b"\0\x55\x55" * 5, extra=palette))
    (data / "b" / "whole.png").write_bytes(adam7_rgba(7))
    (data / "b" / "black_bottom.png").write_bytes(adam7_rgba(7, bottom=0))
    inflated = []

    def counted(*args):
        inflated.append(args)
        return zlib.decompressobj(*args)

    monkeypatch.setattr(image_damage, "zlib", types.SimpleNamespace(decompressobj=counted, error=zlib.error))
    project = project_of(tmp_path, data, max_reject_fraction=0.1)
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    # Adam7 of 8x8 RGBA: passes of 1, 1, 2x1, 2x2, 4x2, 4x4 and 8x4 pixels, each row 1 + 4 bytes a pixel: 271 bytes,
    # the seventh 4 * 33 of them
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [
        [f"{data}/a/adam7.png", "cut short: its image data inflates to 139 of the 271 bytes of its 8x8 "
                                "pixels (width x height; its encoder stopped early), and the rows missing would "
                                "be read as blank; save it again from its source"],
        [f"{data}/b/two_bit.png", "cut short: its image data inflates to 15 of the 24 bytes of its 8x8 "
                                  "pixels (width x height; its encoder stopped early), and the rows missing would "
                                  "be read as blank; save it again from its source"]]
    ids = set(pd.read_parquet(project / "data/ingest/manifest.parquet")["id"])
    assert {"b/whole.png", "b/black_bottom.png"} <= ids and len(ids) == 26
    # the three whose last row is all zeros, and no other (whole.png's last row holds 200s)
    assert len(inflated) == 3


# -- a class folder that cannot be listed --------------------------------------------------------------------------


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENOMEM, errno.ENOTDIR])
def test_a_class_folder_listing_failing_for_another_cause_is_not_told_it_moved(tmp_path, monkeypatch, code):
    # before: "it was there a moment before (moved or removed meanwhile?)" of every cause but a permission: of the
    # process's open-file limit, which a decode failing so is told, and of memory
    line, b = listing_refused(tmp_path, monkeypatch, code)
    said = {errno.EMFILE: f"cannot read {b} (Too many open files), which its folder lists; nothing was "
                          "ingested: check the open-file limit (`ulimit -n`), then rerun",
            errno.ENOMEM: f"cannot list {b} (Cannot allocate memory); check the folder, then rerun",
            errno.ENOTDIR: f"cannot list {b} (Not a directory); it was there a moment before (moved or "
                           "removed meanwhile?): rerun once the data is no longer being changed"}
    assert line == f"ingest.path: {said[code]}"


# -- augment-search's settings record ------------------------------------------------------------------------------


@pytest.mark.hostile("training")
def test_a_policy_searched_under_op_sets_of_the_same_ops_in_another_order_is_read(tmp_path, monkeypatch):
    # before: refused "searched under augment_search.op_sets [[shear, translate, rotate, crop], ...]", though each set
    # holds the same ops: the same candidates (same_policy), a search to rerun for nothing
    from winnow.augment_search import policy_for
    from winnow.configs import Policy

    first = ["shear", "translate", "rotate", "crop"]
    second = ["shear", "translate", "rotate", "crop", "noise", "brightness", "contrast", "cutout"]
    params = _searched(tmp_path, monkeypatch, op_sets=[first, second])
    _edit(tmp_path, params, op_sets=[first[::-1], second[::-1]])
    assert policy_for(params, "searched") == Policy.from_params(WEAK)
    # the sets in another order are another tie-break (a tie goes to the first candidate): still refused
    _edit(tmp_path, params, op_sets=[second, first])
    with pytest.raises(WinnowError) as refused:
        policy_for(yaml.safe_load((tmp_path / "params.yaml").read_text()), "searched")
    assert str(refused.value) == (
        'data/augment-search/policy.json: searched under augment_search.op_sets [["shear", "translate", "rotate", '
        '"crop"], ["shear", "translate", "rotate", "crop", "noise", "brightness", "contrast", "cutout"]], but '
        'params.yaml gives [["shear", "translate", "rotate", "crop", "noise", "brightness", "contrast", "cutout"], '
        f'["shear", "translate", "rotate", "crop"]] now; {RERUN}')
