"""Hostile inputs to the represent stage, probe 72:

- a ``represent.pretrained.path`` weights file that does not fit the model named (another architecture, tensors of
  another shape, a training checkpoint around the state_dict, DataParallel's ``module.`` prefix, a list): torch's
  first line names the model alone, and the line blamed ``represent.pretrained.model`` and said to give path:;
- a TorchScript model, or a model pickled whole, given as ``represent.pretrained.path``: the line quoted torch's
  ``weights_only`` internals (and a .npy there is not called a pickled model);
- a library model whose download fails with ``download: true``, told to set download: true; a name the library
  does not know beside a ``path:``, told to give path:;
- selfsup with one train or val image to learn from, told nothing to do;
- a selfsup embedding read (a stage run alone) after ingest's split moved an image its encoder learnt into test.

In-process on test_represent's blobs (48 images of 12x12), ``pretrained.embed`` or ``read_representation`` alone:
no training. torchvision is stood in for as in test_pretrained_libraries (it does not install beside the pinned CPU
torch)."""

from __future__ import annotations

import sys
import types
import urllib.error

import numpy as np
import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_represent_65 import _project, _represent
from test_pretrained_libraries import Pooled, config, images
from test_represent import blobs, write_blobs
from winnow import pretrained, represent
from winnow.errors import WinnowError
from winnow.imageset import ImageSet
from winnow.stage import write_json


@pytest.fixture
def stand_in_torchvision(monkeypatch):
    """``torchvision.models.get_model(name, weights=None)``: a :class:`Pooled` model whose head is ``fc``, which winnow
    loads the ``path:`` state_dict into."""
    models = types.SimpleNamespace(get_model=lambda name, *, weights=None: Pooled("fc"))
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=models))


@pytest.mark.hostile("represent")
def test_weights_of_another_architecture_given_as_path_are_named_under_path(tmp_path, monkeypatch, capsys,
                                                                              stand_in_torchvision):
    # before: "error: represent.pretrained.model: torchvision could not load 'resnet18' with weights (Error(s) in
    # loading state_dict for Pooled:); check the name, give path: a weights file, or set download: true": no word of
    # which weights did not fit, and path: to be given where it was
    project = _project(tmp_path, source="pretrained", pretrained={"model": "torchvision:resnet18", "path": "r18.pth",
                                                                  "input_size": 16, "batch_size": 16, "device": "cpu"})
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.bias": torch.zeros(10)}, project / "r18.pth")
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.pretrained.path: r18.pth does not hold the weights of torchvision:resnet18 (1 "
                    "missing key(s), first 'fc.weight', 1 unexpected key(s), first 'conv1.weight'); give the weights "
                    "file of torchvision:resnet18: save the state_dict of that architecture")
    assert_nothing_left(project, before)


FITTING = Pooled("fc").state_dict()  # fc.weight (10, 3), fc.bias (10,)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("saved, why", [
    ({"fc.weight": torch.zeros(5, 3), "fc.bias": torch.zeros(5)},
     "2 of another shape, first 'fc.weight': [5, 3] in the file, [10, 3] in the model); give the weights file of "
     "torchvision:resnet18: save the state_dict of that architecture"),
    ({"state_dict": FITTING, "epoch": 3},  # a training checkpoint, as a training loop saves one
     "2 missing key(s), first 'fc.weight', 2 unexpected key(s), first 'state_dict'); give the weights file of "
     "torchvision:resnet18: it is a training checkpoint: save its weights alone, torch.save(checkpoint['state_dict'], "
     "path)"),
    ({f"module.{key}": value for key, value in FITTING.items()},  # nn.DataParallel(model).state_dict()
     "2 missing key(s), first 'fc.weight', 2 unexpected key(s), first 'module.fc.weight'); give the weights file of "
     "torchvision:resnet18: its keys carry the 'module.' prefix of a DataParallel model: save "
     "model.module.state_dict()"),
    ([FITTING["fc.weight"], FITTING["fc.bias"]],
     "it holds a list, not a state_dict); give the weights file of torchvision:resnet18: save model.state_dict()"),
], ids=["other-shapes", "training-checkpoint", "data-parallel", "list"])
def test_a_path_weights_file_that_does_not_fit_says_how(tmp_path, stand_in_torchvision, saved, why):
    # before: each "represent.pretrained.model: torchvision could not load 'resnet18' with weights (Error(s) in loading
    # state_dict for Pooled:); check the name, give path: a weights file, or set download: true" (the list: "(Expected
    # state_dict to be dict-like, got <class 'list'>.)")
    assert_weights_refused(tmp_path, saved, why)


def assert_weights_refused(tmp_path, saved, why: str) -> None:
    """``saved`` (what torch.save writes), given as torchvision:resnet18's ``path``, is refused as not its weights,
    for ``why`` (the rest of the line)."""
    weights = tmp_path / "r18.pth"
    torch.save(saved, weights)
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("torchvision:resnet18", path=str(weights)), progress=False)
    assert str(refused.value) == (f"represent.pretrained.path: {weights} does not hold the weights of "
                                  f"torchvision:resnet18 ({why}")


@pytest.mark.hostile("represent")
def test_a_torchscript_model_given_as_path_is_told_to_be_given_as_torchscript(tmp_path, stand_in_torchvision):
    # before: "represent.pretrained.path: <file> cannot be loaded (Cannot use ``weights_only=True`` with TorchScript
    # archives passed to ``torch.load``); give the weights file of torchvision:resnet18"
    scripted = tmp_path / "r18.pt"
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    torch.jit.save(torch.jit.script(net), str(scripted))
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("torchvision:resnet18", path=str(scripted)), progress=False)
    assert str(refused.value) == (f"represent.pretrained.path: {scripted} is a TorchScript model (torch.jit.save), "
                                  "not a weights file; give it as represent.pretrained.torchscript, with model and "
                                  "path null, or give the weights file of torchvision:resnet18")


@pytest.mark.hostile("represent")
def test_a_model_pickled_whole_given_as_path_is_told_to_save_its_state_dict(tmp_path, stand_in_torchvision):
    # before: "represent.pretrained.path: <file> cannot be loaded (Weights only load failed); give the weights file of
    # torchvision:resnet18"
    whole = tmp_path / "r18.pth"
    torch.save(nn.Linear(3, 10), whole)
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("torchvision:resnet18", path=str(whole)), progress=False)
    assert str(refused.value) == (f"represent.pretrained.path: {whole} holds pickled Python objects besides tensors "
                                  "(a model saved whole, or a checkpoint with settings of its own), and a pickle is "
                                  "never loaded; give the weights file of torchvision:resnet18: "
                                  "torch.save(model.state_dict(), path)")


@pytest.mark.hostile("represent")
def test_a_numpy_file_given_as_path_is_not_called_a_pickled_model(tmp_path, stand_in_torchvision):
    # torch's weights-only loader fails on it as on a pickle: it is no torch.save file, and is said to be none
    weights = tmp_path / "r18.npy"
    np.save(weights, np.zeros(3))
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("torchvision:resnet18", path=str(weights)), progress=False)
    # (72r: no longer "cannot be loaded (Weights only load failed)", torch's words for a pickle it refuses)
    assert str(refused.value) == not_a_torch_save_file(weights)


@pytest.mark.hostile("represent")
def test_a_download_that_fails_is_not_told_to_set_download_true(monkeypatch):
    # before: "represent.pretrained.model: torchvision could not load 'resnet18' with weights (<urlopen error ...>);
    # check the name, give path: a weights file, or set download: true", where download was true already
    def get_model(name, *, weights=None):  # torchvision fetches the weights' URL (torch.hub) as it builds the model
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    weights = types.SimpleNamespace(DEFAULT=types.SimpleNamespace(url="https://download.pytorch.org/models/r18.pth"))
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=types.SimpleNamespace(
        get_model=get_model, get_model_weights=lambda name: weights)))
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("torchvision:resnet18", download=True), progress=False)
    assert str(refused.value) == (
        "represent.pretrained.model: torchvision could not load 'resnet18' with weights (<urlopen error [Errno -3] "
        "Temporary failure in name resolution>); check the name and this machine's connection to the weights' host "
        "(download is true), or give path: a weights file")


@pytest.mark.hostile("represent")
def test_a_name_the_library_does_not_know_beside_a_path_is_not_told_to_give_path(monkeypatch, tmp_path):
    # before: "represent.pretrained.model: timm could not load 'resnet-18' with weights (Unknown model (resnet-18));
    # check the name, give path: a weights file, or set download: true", where path: was given
    def create_model(name, *, pretrained=False, num_classes=1000, pretrained_cfg_overlay=None):
        raise RuntimeError(f"Unknown model ({name})")  # as timm says of a name it does not have

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=create_model))
    weights = tmp_path / "resnet18.pth"
    torch.save(FITTING, weights)
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("timm:resnet-18", path=str(weights)), progress=False)
    assert str(refused.value) == ("represent.pretrained.model: timm could not load 'resnet-18' with weights (Unknown "
                                  f"model (resnet-18)); check the name, and that {weights} holds its weights")


@pytest.mark.hostile("represent")
def test_selfsup_with_one_train_or_val_image_is_told_what_to_do(tmp_path, monkeypatch, capsys):
    # before: "error: represent.selfsup: 1 image(s) to learn from; contrastive learning needs two", and nothing to do
    data = blobs()
    rows = [0, *np.flatnonzero((data.manifest["split"] == "test").to_numpy())]  # one train image, no val, the tests
    one = ImageSet(data.images[rows], data.manifest.iloc[rows].reset_index(drop=True), data.classes)
    project = _project(tmp_path, source="selfsup", knn_k=1, selfsup={"epochs": 1, "width": 4, "device": "cpu"})
    write_blobs(project, one)
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.selfsup: 1 image(s) to learn from (the train and val splits), and contrastive "
                    "learning needs two; add train or val images, or choose represent.source pretrained or file")
    assert_nothing_left(project, before)


RERUN = "; rerun the represent stage (dvc repro represent)"


@pytest.mark.hostile("represent")
def test_a_selfsup_embedding_whose_encoder_learnt_an_image_now_in_test_is_refused(tmp_path):
    # before: only the pixels under each id were checked, so after ingest's split changed (the stage run alone, `dvc
    # repro -s`, or by hand) the test images were judged by an encoder that had learnt one of them, without a word
    data = blobs()
    folder = tmp_path / "represent"
    folder.mkdir()
    np.save(folder / "embeddings.npy", np.arange(len(data) * 3, dtype=np.float32).reshape(len(data), 3) + 1)
    write_json(folder / "ids.json", data.manifest["id"].tolist())
    write_json(folder / represent.MADE_FROM, represent.made_from(data, source="selfsup"))
    manifest = data.manifest.copy()
    test = manifest.index[manifest["split"] == "test"][0]
    manifest.loc[[0, test], "split"] = ["test", "train"]  # img-0 (learnt as train) and the first test image swap
    moved = ImageSet(data.images, manifest, data.classes)
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(folder, manifest["id"][manifest["split"] == "test"], data=moved)
    assert str(refused.value) == (f"{folder}: 2 image(s) moved into or out of train and val since its selfsup encoder "
                                  "learnt from them, first 'img-0' (learnt then, test now): its encoder learnt an image "
                                  "the test split now holds, which is never learnt from" + RERUN)
    # between train and val the encoder learnt them alike: still read
    swapped = data.manifest.copy()
    val = swapped.index[swapped["split"] == "val"][0]
    swapped.loc[[0, val], "split"] = ["val", "train"]
    assert represent.read_representation(folder, ["img-0"], data=ImageSet(data.images, swapped, data.classes)).tolist(
    ) == [[1.0, 2.0, 3.0]]
    # a record of before, which lists no images learnt, cannot tell: refused as an earlier winnow's
    record = represent.made_from(data, source="selfsup")
    del record["learnt"]
    write_json(folder / represent.MADE_FROM, record)
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(folder, ["img-0"], data=data)
    assert str(refused.value) == (f"{folder}/made_from.json: records no list of the images its selfsup encoder learnt "
                                  "from (an earlier winnow's record), so images moved into or out of train and val "
                                  "since cannot be told" + RERUN)


def not_a_torch_save_file(weights) -> str:
    """The refusal of ``weights``, given as torchvision:resnet18's ``path``, when torch.save never wrote it."""
    return (f"represent.pretrained.path: {weights} is not a file of torch.save (neither its zip archive nor its older "
            "pickle); give the weights file of torchvision:resnet18: torch.save(model.state_dict(), path)")
