"""Leftovers of stop 79: dvc.lock read by libyaml's parser with ruamel's YAML 1.2 meaning of each value (before:
ruamel's pure-Python parser, 0.8-2.6 s a read of the project's 230 KB lock), an image behind a backup suffix in a
bucket told the name it had, and a verdict word typed full-width (an East Asian input method's) read as the word.
study.csv's commit column, renamed from ``rev`` (which `dvc plots show` wrote over), is asserted in test_study.py.
"""

from __future__ import annotations

import io
import shutil
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
from dvc.utils.serialize import dumps_yaml
from PIL import Image
from ruamel.yaml import YAML

from test_hostile_review_66 import FIRST, exported, fill_in  # noqa: F401 (exported: a fixture)
from winnow import review
from winnow.errors import WinnowError
from winnow.image_files import load_imagefolder
from winnow.remote_files import RemotePath
from winnow.yaml_text import _UNREAD, _parsed_by_libyaml, load_yaml

# values DVC writes into dvc.lock that YAML 1.1 (PyYAML, libyaml's own resolver) reads otherwise than 1.2 (ruamel,
# DVC): booleans, sexagesimals, octals, underscores, the value key '=', dates, text that looks like null
TRICKY = ["on", "off", "yes", "no", "y", "N", "Off", "1:20", "0x1F", "0o17", "017", "1_000", "1e3", "1E3", ".inf",
          "-.Inf", ".nan", "=", "<<", "2020-01-01", "null", "~", "", " padded ", "猫", "ｃａｔ", "a: b", "#x", "- y"]


def dvc_lock() -> tuple[dict, str]:
    """(a dvc.lock's value holding :data:`TRICKY` as params values, class names, paths and keys, the text DVC's own
    dumper writes of it)."""
    params = {f"p{i}": value for i, value in enumerate(TRICKY)}
    params.update(classes=TRICKY, real_inf=float("inf"), real_sci=1e3, fifteen=15, flags=[True, False, None],
                  nested={value: value for value in TRICKY if value})
    lock = {"schema": "2.0", "stages": {"train@on": {
        "cmd": "python stages/train.py --variant on\n  --seed 1:20",
        "deps": [{"path": value or "x", "hash": "md5", "md5": "0" * 32, "size": 17} for value in TRICKY],
        "params": {"params.yaml": params},
        "outs": [{"path": "data/no", "hash": "md5", "md5": "017", "size": 0}]}}}
    return lock, dumps_yaml(lock)


def test_a_dvc_lock_dvc_wrote_reads_as_dvc_reads_it():
    lock, text = dvc_lock()
    ruamel = YAML(typ="safe", pure=True).load(text)
    fast = _parsed_by_libyaml(text)
    assert fast is not _UNREAD  # libyaml read it: the comparison below is of its reading
    assert fast == ruamel == lock  # each value the one DVC wrote: 'on' text, not True; '1:20' text, not 80
    assert load_yaml(text, name="dvc.lock") == lock
    params = fast["stages"]["train@on"]["params"]["params.yaml"]
    assert params["classes"][:4] == ["on", "off", "yes", "no"] and params["p7"] == "1:20" and params["fifteen"] == 15


def test_the_projects_own_dvc_lock_reads_as_ruamel_reads_it():
    text = (Path(__file__).resolve().parents[1] / "dvc.lock").read_text(encoding="utf-8")
    fast = _parsed_by_libyaml(text)
    assert fast is not _UNREAD
    assert fast == YAML(typ="safe", pure=True).load(text)


@pytest.mark.parametrize("text, value", [
    ("%YAML 1.1\n---\na: on\nb: 017\n", {"a": True, "b": 15}),  # the directive's 1.1 meaning, as ruamel reads it
    ("a: &x 1\nb: &x 2\nc: *x\n", {"a": 1, "b": 2, "c": 2}),  # an anchor given twice: the latest (libyaml refuses)
    ("\ufeffa: on\n", {"a": "on"}),  # a byte-order mark
    ("a: x\u2028y\n", {"a": "x\u2028y"}),  # a line separator: text to ruamel, a line break to libyaml
], ids=["yaml-1.1", "anchor-twice", "bom", "line-separator"])
def test_a_text_libyaml_might_read_otherwise_is_read_by_ruamel(text, value):
    assert _parsed_by_libyaml(text) is _UNREAD
    assert load_yaml(text, name="dvc.lock") == value


def test_a_key_given_twice_in_dvc_lock_is_still_refused_in_ruamels_words():
    with pytest.raises(WinnowError) as raised:
        load_yaml("stages:\n  train:\n    cmd: a\n    cmd: b\n", name="dvc.lock")
    assert str(raised.value).startswith('dvc.lock: not valid YAML at line 4: found duplicate key "cmd"')


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.hostile("imagefolder")
def test_an_image_behind_a_backup_suffix_in_a_bucket_is_told_the_name_it_had():
    # before: "rename it x.jpg.jpg" of x.jpg.bak in a bucket, where the name beside it was not looked up
    fs, root = fsspec.filesystem("memory"), f"/winnow-{uuid.uuid4().hex}"
    try:
        for name in ("a/0.jpg", "a/x.jpg.bak", "a/y.jpg", "a/y.jpg.1", "b/0.jpg", "b/1.jpg"):
            fs.pipe(f"{root}/{name}", jpeg())
        loaded = load_imagefolder(RemotePath(fs, root), size=None)
    finally:
        fs.rm(root, recursive=True)
    said = "an image file by its content (JPEG) but not by its suffix ({}; accepted: .png, .jpg, .jpeg, .bmp, .webp)"
    assert dict(loaded.rejected) == {
        f"memory://{root}/a/x.jpg.bak": said.format(".bak") + ": rename it x.jpg to read it",
        f"memory://{root}/a/y.jpg.1": said.format(".1") + ": rename it y.jpg.jpg to read it"}  # y.jpg is there


@pytest.fixture
def copies(exported, tmp_path) -> tuple[Path, Path]:  # noqa: F811 (the fixture imported above)
    """Two copies of the exported review project."""
    return tuple(Path(shutil.copytree(exported, tmp_path / name / exported.name)) for name in ("ascii", "wide"))


@pytest.mark.hostile("review")
def test_a_verdict_word_typed_full_width_means_the_word(copies, monkeypatch):
    # before: "reviews/queue.csv: line N (id 'train-00'): verdict 'ＲＥＪＥＣＴ' is neither accept, reject, drop nor a
    # class (cat, dog, owl)", where the class typed "ｃａｔ" was read as cat
    wide = {"train-00": "ＲＥＪＥＣＴ", "train-04": "ｃａｔ", "train-08": "ａｃｃｅｐｔ", "train-05": "Ｒｅｊｅｃｔ"}
    read = []
    for root, words in zip(copies, (FIRST, wide)):
        monkeypatch.chdir(root)
        review.import_verdicts(fill_in(words))
        read.append(pd.read_csv("reviews/verdicts.csv", dtype=str).set_index("id")[["verdict", "label"]].sort_index())
    pd.testing.assert_frame_equal(read[1], read[0])
    assert read[1]["verdict"].to_dict() == {"train-00": "reject", "train-04": "relabel", "train-05": "reject",
                                            "train-08": "accept"}
