"""Hostile inputs next to the ones probe 72 mended in the represent stage (review 72r):

- a selfsup embedding read after an image its encoder learnt left the data set and another it learnt moved into
  test: the gone one was named first, as "other images", and the test one, the leak, not at all;
- a selfsup embedding read after a train image it learnt was dropped, and a train image added that is not read:
  refused as an image "moved into or out of train and val", where none moved;
- a selfsup record whose ``learnt`` is damaged: called an earlier winnow's record;
- a ``represent.pretrained.path`` state_dict that fits but for one extra ``module.`` key: told to save
  ``model.module.state_dict()``, which it is; one with a value that is no tensor: torch's first line alone,
  naming the model and nothing of the file;
- a file torch.save never wrote given as ``path:`` (text, another zip archive, a plain pickle): torch's internals,
  "(101)" or "([enforce fail at inline_container.cc:180] )".

In-process on test_represent's blobs (48 images of 12x12; 32 train, 8 val, 8 test), ``pretrained.embed``,
``read_representation`` or the represent stage: no training. torchvision is stood in for as in
test_hostile_represent_72."""

from __future__ import annotations

import pickle
import sys
import types
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_represent_65 import _project, _represent
from test_hostile_represent_72 import assert_weights_refused, not_a_torch_save_file
from test_pretrained_libraries import Pooled, config, images
from test_represent import blobs
from winnow import pretrained, represent
from winnow.errors import WinnowError
from winnow.imageset import ImageSet
from winnow.stage import write_json

RERUN = "; rerun the represent stage (dvc repro represent)"
FITTING = Pooled("fc").state_dict()  # fc.weight (10, 3), fc.bias (10,)


@pytest.fixture
def stand_in_torchvision(monkeypatch):
    """``torchvision.models.get_model(name, weights=None)``: a :class:`Pooled` model whose head is ``fc``."""
    models = types.SimpleNamespace(get_model=lambda name, *, weights=None: Pooled("fc"))
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=models))


def _selfsup_embedding(tmp_path, data: ImageSet):
    """data/represent as a selfsup run on ``data`` writes it: row i is (3i + 1, 3i + 2, 3i + 3)."""
    folder = tmp_path / "represent"
    folder.mkdir()
    np.save(folder / "embeddings.npy", np.arange(len(data) * 3, dtype=np.float32).reshape(len(data), 3) + 1)
    write_json(folder / "ids.json", data.manifest["id"].tolist())
    write_json(folder / represent.MADE_FROM, represent.made_from(data, source="selfsup"))
    return folder


def _rows(data: ImageSet, keep: list[int], manifest: pd.DataFrame | None = None) -> ImageSet:
    """``data``'s rows ``keep`` (of ``manifest``, data's by default), in that order."""
    manifest = data.manifest if manifest is None else manifest
    return ImageSet(data.images[keep], manifest.iloc[keep].reset_index(drop=True), data.classes)


@pytest.mark.hostile("represent")
def test_a_learnt_image_now_in_test_is_named_before_a_learnt_image_gone(tmp_path):
    # before: "2 image(s) moved into or out of train and val ..., first 'img-0' (learnt then, gone now): its encoder
    # learnt other images than train and val hold now": the dropped image first, and the leak into test unnamed
    data = blobs()
    folder = _selfsup_embedding(tmp_path, data)
    manifest = data.manifest.copy()
    manifest.loc[5, "split"] = "test"
    now = _rows(data, list(range(1, len(data))), manifest)  # img-0 dropped, img-5 (learnt as train) now in test
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(folder, now.manifest["id"][now.manifest["split"] == "test"], data=now)
    assert str(refused.value) == (f"{folder}: 1 image(s) moved into or out of train and val since its selfsup encoder "
                                  "learnt from them, first 'img-5' (learnt then, test now): its encoder learnt an "
                                  "image the test split now holds, which is never learnt from" + RERUN)


@pytest.mark.hostile("represent")
def test_a_learnt_image_gone_or_a_new_one_is_no_move_and_the_embedding_is_read(tmp_path):
    # before: "<folder>: 1 image(s) moved into or out of train and val since its selfsup encoder learnt from them,
    # first 'img-0' (learnt then, gone now): ...; rerun", of a train image dropped since (its encoder learnt no picture a
    # test image shows), and "first 'img-new' (not learnt then, train now)" of a new train image, which has no row
    data = blobs()
    folder = _selfsup_embedding(tmp_path, data)
    dropped = _rows(data, list(range(1, len(data))))
    np.testing.assert_array_equal(represent.read_representation(folder, ["img-1", "img-40"], data=dropped),
                                  [[4.0, 5.0, 6.0], [121.0, 122.0, 123.0]])
    manifest = pd.concat([data.manifest, data.manifest.iloc[[1]].assign(id="img-new")], ignore_index=True)
    added = ImageSet(np.concatenate([data.images, data.images[[1]]]), manifest, data.classes)
    np.testing.assert_array_equal(represent.read_representation(folder, ["img-1", "img-40"], data=added),
                                  [[4.0, 5.0, 6.0], [121.0, 122.0, 123.0]])


@pytest.mark.hostile("represent")
def test_a_damaged_learnt_list_is_not_called_an_earlier_winnows_record(tmp_path):
    # before: "records no list of the images its selfsup encoder learnt from (an earlier winnow's record), ...", of a
    # record this winnow wrote whose list was damaged since
    data = blobs()
    folder = _selfsup_embedding(tmp_path, data)
    record = represent.made_from(data, source="selfsup")
    record["learnt"] = "img-0"
    write_json(folder / represent.MADE_FROM, record)
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(folder, ["img-0"], data=data)
    assert str(refused.value) == (f"{folder}/made_from.json: its learnt is not a list of image ids, the images its "
                                  "selfsup encoder learnt from" + RERUN)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("saved, why", [
    ({**FITTING, "module.x": torch.zeros(1)},  # every key of the model there, and one more
     "1 unexpected key(s), first 'module.x'); give the weights file of torchvision:resnet18: save the state_dict of "
     "that architecture"),
    ({"fc.weight": "x", "fc.bias": FITTING["fc.bias"]},  # a value that is no tensor, which the weights-only load keeps
     "While copying the parameter named \"fc.weight\", expected torch.Tensor or Tensor-like object from checkpoint "
     "but received <class 'str'>); give the weights file of torchvision:resnet18: save the state_dict of that "
     "architecture"),
], ids=["one-extra-module-key", "no-tensor"])
def test_weights_that_do_not_fit_are_told_what_is_wrong_with_them(tmp_path, stand_in_torchvision, saved, why):
    # before: the extra key "... its keys carry the 'module.' prefix of a DataParallel model: save
    # model.module.state_dict()", of a state_dict whose keys carry none; the string "(Error(s) in loading state_dict
    # for Pooled:)", torch's first line, naming the model alone
    assert_weights_refused(tmp_path, saved, why)


def _zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weights.txt", "0.1 0.2")


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("write", [
    lambda path: path.write_bytes(pickle.dumps(dict(FITTING))),  # pickle.dump(model.state_dict())
    _zip,
], ids=["plain-pickle", "other-zip"])
def test_a_file_torch_save_never_wrote_is_said_to_be_none(tmp_path, stand_in_torchvision, write):
    # before: "represent.pretrained.path: <file> cannot be loaded (Weights only load failed)", torch's words for a
    # pickle of objects, and "([enforce fail at inline_container.cc:180] )" of another zip archive
    weights = tmp_path / "r18.pth"
    write(weights)
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("torchvision:resnet18", path=str(weights)), progress=False)
    assert str(refused.value) == not_a_torch_save_file(weights)


@pytest.mark.hostile("represent")
def test_a_text_file_given_as_path_stops_the_stage_in_one_line(tmp_path, monkeypatch, capsys, stand_in_torchvision):
    # before: "error: represent.pretrained.path: r18.pth cannot be loaded (101); give the weights file of
    # torchvision:resnet18": 101, the byte 'e' that torch's unpickler read as an index
    project = _project(tmp_path, source="pretrained", pretrained={"model": "torchvision:resnet18", "path": "r18.pth",
                                                                  "input_size": 16, "batch_size": 16, "device": "cpu"})
    (project / "r18.pth").write_text("hello, these are no weights\n")
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.pretrained.path: r18.pth is not a file of torch.save (neither its zip archive "
                    "nor its older pickle); give the weights file of torchvision:resnet18: "
                    "torch.save(model.state_dict(), path)")
    assert_nothing_left(project, before)
