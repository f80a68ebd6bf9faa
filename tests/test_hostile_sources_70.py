"""Hostile sources of the 70th stop's probe (the .npz and CIFAR-10 sources beside ingest's own cases):

- an .npz member of Python objects (class names taken from pandas, labels as an object array), which numpy pickles:
  the refusal names the member and how to store it;
- one image saved without its batch axis (``(16, 16, 3)`` or ``(16, 16)`` beside one label, or a label that is a
  single number): the refusal says so, not "16 images" nor "flat rows".

Each runs the ingest stage's ``main`` in this process and asserts its one message whole (the stage prints it after
``error: ``), with nothing left behind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_contracts import _stage_module
from winnow.errors import WinnowError


def refused_ingest(tmp_path, monkeypatch, source: str, path, **ingest) -> str:
    """The message of the ingest stage's refusal to read ``path`` as ``source``; nothing may be left behind."""
    params = default_params()
    params["ingest"].update(source=source, path=str(path), **ingest)
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert_nothing_left(project, before)
    return str(refused.value)


def grey_images(n: int) -> np.ndarray:
    """uint8 ``(n, 8, 8)``, each a grey of its own."""
    return np.repeat(np.arange(0, 10 * n, 10, dtype=np.uint8), 64).reshape(n, 8, 8)


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("member", ["classes", "labels"])
def test_an_npz_member_of_python_objects_is_named_with_how_to_store_it(tmp_path, monkeypatch, member):
    # before: "…/set.npz: not a readable .npz without pickles (ValueError: Object arrays cannot be loaded when
    # allow_pickle=False)": no member named (the module's rule: each refusal names the key), nothing said to do
    arrays = {"images": grey_images(10), "labels": np.arange(10) % 2,
              "classes": pd.Series(["cat", "dog"]).unique()}  # pandas hands back names as an object array
    if member == "labels":
        arrays["labels"] = np.array(["cat", "dog"] * 5, dtype=object)
    np.savez(tmp_path / "set.npz", **arrays)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: not a readable .npz without pickles: member {member!r} is an array of Python objects, "
        "which numpy stores as a pickle and reads only with allow_pickle (a pickle can run any code, so none is read); "
        "store it as a plain array: names as np.array(names, dtype=str), pixels and labels as numbers")


ONE_IMAGE = {
    # before: "…/set.npz: labels has 1 labels for 16 images in images; give one per image"
    "rgb": ((16, 16, 3), np.array([0]), "images has shape (16, 16, 3), read as 16 grey 16x3 images, beside 1 label in "
            "labels: one 16x16 image without its batch axis? store it as np.expand_dims(image, 0), of shape "
            "(1, 16, 16, 3)"),
    # before: "…/set.npz: images holds flat rows of 16 values; store images as (N, H, W[, C]) instead"
    "grey": ((16, 16), np.array([0]), "images has shape (16, 16): flat rows of 16 values, or one 16x16 image without "
             "its batch axis? store images as (N, H, W[, C]) (one image: np.expand_dims(image, 0), of shape "
             "(1, 16, 16))"),
    # before: "…/set.npz: labels must hold one class number per image, got shape () (one-hot rows? store their argmax)"
    "label": ((1, 16, 16, 3), np.array(0), "labels is a single number, not an array of one class number per image; "
              "store the labels as shape (N,) (one image's: np.array([label]))"),
}


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("case", sorted(ONE_IMAGE))
def test_one_image_saved_without_its_batch_axis_is_told_so(tmp_path, monkeypatch, case):
    shape, labels, said = ONE_IMAGE[case]
    np.savez(tmp_path / "set.npz", images=np.full(shape, 7, np.uint8), labels=labels)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == f"{tmp_path / 'set.npz'}: {said}"
