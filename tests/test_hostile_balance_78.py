"""Hostile ends of the 78th stop's mend of balance's leftovers.

- few_sources counted a class's source images as its rows: a class of 5 rows of one picture (exact duplicates pruned
  kept, dedup not among pruned.cleaners) got 5 copies of that picture and no warning ("5 source images"); now its one
  picture is counted, and the line says how many of its rows are duplicates;
- train@balanced, run alone (dvc repro -s train@balanced) after balance's settings, the seed or data/ingest changed,
  trained the balanced variant of the old ones, exit 0: its rows now record what balance made them of, and train
  refuses another in one line naming the stage to rerun;
- ingest never makes an id of balance's copies (bal-<id>-<k>) or degrade's (<id>~dup<i>): an image file is read under
  its path, image suffix included, and a file whose suffix is not an image's is set aside.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from test_augment import _stage
from test_hostile_balance_more import balance_project
from winnow.balance import balanced_augment, few_sources
from winnow.built_on import check_made_of
from winnow.errors import WinnowError
from winnow.imageset import pixel_digest, read_imageset, write_imageset
from winnow.stage import load_params, run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_a_class_of_one_picture_in_many_rows_is_warned_of_as_one_source():
    # a: 10 distinct images; b: 5 rows of one picture, which balance copies 5 times. Before: None (b counted 5 sources)
    labels = np.repeat([0, 1], [10, 5])
    images = np.random.default_rng(0).integers(0, 256, (15, 8, 8, 1), dtype=np.uint8)
    images[10:] = images[10]
    made = balanced_augment(images, labels, policy={"ops": ["noise"], "n": 1}, seed=0, num_classes=2)
    assert few_sources(labels, made, ["a", "b"], digests=pixel_digest(images)) == (
        "warning: balance: class b ends with 10 train images from 1 source image (4 of its 5 train rows exact "
        "duplicates of another, 5 augmented copies); so few sources add little variety: give the class more train "
        "images")


def _balanced(tmp_path, monkeypatch):
    """A project (the cwd) whose balance stage has just written balanced: a of 4 images, b of 2, c of 1."""
    labels = np.repeat([0, 1, 2], [4, 2, 1])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path / "project", images, labels, policy={"ops": ["noise"], "n": 1})
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/balance.py"])
    run(_stage("balance").main)
    return project


def _train_refused(monkeypatch) -> str:
    """train@balanced's one line; it wrote no model."""
    monkeypatch.setattr("sys.argv", ["stages/train.py", "balanced"])
    with pytest.raises(WinnowError) as refused:
        _stage("train").main()
    assert not Path("models/balanced.pt").exists()
    return str(refused.value)


@pytest.mark.hostile("intermediates")
def test_train_balanced_refuses_balanced_made_with_another_balance_target(tmp_path, monkeypatch, capsys):
    # before: balance.target raised to 6 and train@balanced run alone trained the 4-a-class balanced, exit 0
    project = _balanced(tmp_path, monkeypatch)
    check_made_of("balanced", load_params())  # as made: passes
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["balance"]["target"] = 6
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert _train_refused(monkeypatch) == (
        'data/variants/balanced/rows.parquet: made with balance.target "max", which is 6 now; rerun the balance stage '
        "(dvc repro balance)")


@pytest.mark.hostile("intermediates")
def test_train_balanced_refuses_balanced_made_of_another_data_ingest(tmp_path, monkeypatch, capsys):
    # a val image of data/ingest read anew (its file replaced, only ingest rerun): balance checked its copies against
    # the old one, and train@balanced's checks of pruned's rows and pixels pass. Before: trained, exit 0
    _balanced(tmp_path, monkeypatch)
    ingested = read_imageset("data/ingest")
    images = np.array(ingested.images)
    images[-1] = 255 - images[-1]  # v1
    write_imageset("data/ingest", images, ingested.manifest.drop(columns="digest"), ingested.classes)
    assert _train_refused(monkeypatch) == (
        "data/variants/balanced/rows.parquet: made of another data/ingest: its images, splits or labels changed since; "
        "rerun the balance stage (dvc repro balance)")


@pytest.mark.hostile("intermediates")
def test_train_balanced_refuses_balanced_rows_that_record_nothing_they_were_made_of(tmp_path, monkeypatch, capsys):
    # rows of an earlier winnow, or written by hand: nothing to hold to params.yaml and data/ingest now
    _balanced(tmp_path, monkeypatch)
    rows = pd.read_parquet("data/variants/balanced/rows.parquet")
    rows.attrs = {}
    rows.to_parquet("data/variants/balanced/rows.parquet", index=False)
    assert _train_refused(monkeypatch) == (
        "data/variants/balanced/rows.parquet: records no settings or data/ingest it was made of: made by an earlier "
        "winnow or by hand; rerun the balance stage (dvc repro balance)")


@pytest.mark.hostile("imagefolder")
def test_files_named_as_copies_are_read_under_ids_no_copy_can_take(tmp_path):
    # balance names a copy bal-<id>-<k> and degrade <id>~dup<i>: both end in a digit, and ingest's ids of image files
    # end in their image suffix, so bal-3-0.png beside 3.png is an image of its own, never a copy's row; a file named
    # exactly as a copy (no image suffix) is set aside, not read under that id
    from PIL import Image

    from winnow.image_files import load_imagefolder

    for name in ("cat/3.png", "cat/bal-3-0.png", "cat/3.png~dup0", "dog/1.png", "bal-cat/3.png-0"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((4, 4), 7, np.uint8)).save(tmp_path / name, format="PNG")
    loaded = load_imagefolder(tmp_path, size=None)
    assert list(loaded.ids) == ["cat/3.png", "cat/bal-3-0.png", "dog/1.png"]
    assert [path.removeprefix(f"{tmp_path}/") for path, _ in loaded.rejected] == ["bal-cat/3.png-0", "cat/3.png~dup0"]
