"""Hostile represent cases of the 66th stop's probe: faults noted at earlier stops and mended here."""

import sys
import types

import pytest
import torch
from torch import nn

from test_pretrained_libraries import Pooled, config, images
from winnow import pretrained
from winnow.errors import WinnowError


@pytest.fixture
def cached_timm(monkeypatch, tmp_path):
    """``timm.create_model(name, pretrained=True, num_classes=0)`` loading its weights as timm does for a URL-hosted
    model: torch.hub's ``load_state_dict_from_url``, which loads ``<hub dir>/checkpoints/<file>`` as it is once it is
    cached. Gives that cached file's path."""
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-5c106cde.pth"

    def create_model(name, *, pretrained=False, num_classes=1000):
        model = Pooled()
        model.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
        model.fc = nn.Identity()
        return model

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=create_model))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cached.parent.mkdir(parents=True)
    torch.save(Pooled().state_dict(), cached)
    return cached


@pytest.mark.hostile("represent")
def test_timm_weights_cut_short_in_the_cache_are_one_line_naming_the_file(cached_timm):
    # before: "represent.pretrained.model: timm could not load 'resnet18' with weights (PytorchStreamReader failed
    # reading zip archive: failed finding central directory); check the name, ...": no file named to delete
    cached_timm.write_bytes(cached_timm.read_bytes()[:700])  # a download cut short
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("timm:resnet18"), progress=False)
    assert str(refused.value) == (
        f"represent.pretrained.model: timm:resnet18 weights in {cached_timm} cannot be loaded (PytorchStreamReader "
        "failed reading zip archive: failed finding central directory); if it was cut short or damaged, delete the "
        "file and set download: true, or give path: a weights file")
    assert torch.load.__module__ == "torch.serialization"  # the library's own loader is back after the refusal


@pytest.mark.hostile("represent")
def test_timm_weights_with_a_flipped_bit_in_the_cache_are_refused(cached_timm):
    # before: torch.hub loads a cached file as it is and torch.load checks no CRC: every image embedded with another
    # weight, exit 0
    from hostile_harness import flip_a_bit

    flipped = flip_a_bit(cached_timm, member="data.pkl")
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("timm:resnet18"), progress=False)
    assert str(refused.value) == (
        f"represent.pretrained.model: timm:resnet18 weights in {cached_timm}: corrupt: its member {flipped} fails its "
        "CRC-32 check (a bit changed on disk or in a copy); delete the file and set download: true, or give path: a "
        "weights file")


@pytest.mark.hostile("represent")
def test_a_path_weights_file_cut_short_is_named_under_path_not_as_a_cache_file_to_delete(monkeypatch, tmp_path):
    # before (1f4da93): "represent.pretrained.model: torchvision:resnet18 weights in <the user's file> cannot be loaded
    # (...); if it was cut short or damaged, delete the file and set download: true, or give path: a weights file": the
    # user's own file to be deleted, and path: to be given where it was (its CRCs read through a second time too)
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=types.SimpleNamespace(
        get_model=lambda name, *, weights=None: Pooled("fc"))))
    weights = tmp_path / "r18.pth"
    torch.save(Pooled("fc").state_dict(), weights)
    weights.write_bytes(weights.read_bytes()[:700])  # a copy cut short
    with pytest.raises(WinnowError) as refused:
        pretrained.embed(images(), config=config("torchvision:resnet18", path=str(weights)), progress=False)
    assert str(refused.value) == (
        f"represent.pretrained.path: {weights} cannot be loaded (PytorchStreamReader failed reading zip archive: "
        "failed finding central directory); give the weights file of torchvision:resnet18")
