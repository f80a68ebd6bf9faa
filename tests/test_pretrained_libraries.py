"""Models by name from timm, torchvision and open_clip (issue 18 item 1, ``pretrained``).

None of the three packages imports beside the CPU build of torch this project pins, so each is stood in for
by a module with the same calls, arguments and behaviour the package documents (``timm.create_model``,
``torchvision.models.get_model`` / ``get_model_weights``, ``open_clip.create_model`` and the model's
``encode_image``). What is tested is winnow's side: the arguments it passes, where the weights come from,
that nothing is downloaded unless asked, that the classifier goes, and the one-line errors.
"""

from __future__ import annotations

import os
import re
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from hostile_harness import flip_a_bit
from winnow import pretrained, pretrained_libraries
from winnow.configs import PretrainedConfig
from winnow.errors import WinnowError

MEAN, STD = [0.5, 0.25, 0.75], [0.5, 0.25, 0.125]


def images(n: int = 5, size: int = 8) -> np.ndarray:
    """uint8 ``(n, size, size, 1)`` grey images, each a different level."""
    return np.repeat(np.linspace(10, 240, n).astype(np.uint8), size * size).reshape(n, size, size, 1)


def channel_means(pixels: np.ndarray) -> np.ndarray:
    """What a model that averages each channel returns: grey repeated to 3 channels, scaled, normalised."""
    grey = pixels[..., 0].reshape(len(pixels), -1).astype(np.float64).mean(axis=1) / 255
    return (grey[:, None] - np.array(MEAN)) / np.array(STD)


def config(model: str, **options) -> PretrainedConfig:
    return PretrainedConfig(model=model, input_size=8, mean=MEAN, std=STD, device="cpu", **options)


class Pooled(nn.Module):
    """A backbone that averages each channel, with a classifier head under ``head``."""

    def __init__(self, head: str = "fc"):
        super().__init__()
        setattr(self, head, nn.Linear(3, 10))
        self.head_name = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.head_name)(x.mean(dim=(2, 3)))


@pytest.fixture
def fake_timm(monkeypatch):
    """``timm.create_model(name, pretrained=..., num_classes=0, pretrained_cfg_overlay=...)``: with
    ``num_classes=0`` timm returns the pooled features; the weights come from the overlay's file or the
    Hugging Face Hub (which ``HF_HUB_OFFLINE=1`` keeps to its local cache). Records each call."""
    calls = []

    def create_model(name, *, pretrained=False, num_classes=1000, pretrained_cfg_overlay=None):
        calls.append({"name": name, "pretrained": pretrained, "num_classes": num_classes,
                      "overlay": pretrained_cfg_overlay, "offline": os.environ.get("HF_HUB_OFFLINE")})
        if name != "resnet18":
            raise RuntimeError(f"Unknown model ({name})")
        model = Pooled()
        model.fc = nn.Identity() if num_classes == 0 else model.fc
        return model

    monkeypatch.setitem(sys.modules, "timm", types.SimpleNamespace(create_model=create_model))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return calls


def test_timm_model_from_a_weights_file_gives_pooled_features_offline(fake_timm, tmp_path):
    weights = tmp_path / "resnet18.safetensors"
    weights.write_bytes(b"weights")
    features, name = pretrained.embed(images(), config=config("timm:resnet18", path=str(weights)), progress=False)
    assert fake_timm == [{"name": "resnet18", "pretrained": True, "num_classes": 0,
                          "overlay": {"file": str(weights)}, "offline": "1"}]
    assert name == "timm:resnet18"
    np.testing.assert_allclose(features, channel_means(images()), rtol=1e-5, atol=1e-6)
    assert "HF_HUB_OFFLINE" not in os.environ  # the setting is the block's, not the process's


def test_timm_downloads_only_when_asked(fake_timm):
    pretrained.embed(images(), config=config("timm:resnet18"), progress=False)
    pretrained.embed(images(), config=config("timm:resnet18", download=True), progress=False)
    assert [(call["overlay"], call["offline"]) for call in fake_timm] == [(None, "1"), (None, None)]


def test_a_model_timm_cannot_load_is_one_line(fake_timm):
    with pytest.raises(WinnowError) as err:
        pretrained.embed(images(), config=config("timm:resnet-18"), progress=False)
    assert str(err.value) == ("represent.pretrained.model: timm could not load 'resnet-18' with weights (Unknown "
                              "model (resnet-18)); check the name, give path: a weights file, or set download: true")


@pytest.fixture
def fake_torchvision(monkeypatch, tmp_path):
    """``torchvision.models.get_model(name, weights=...)`` and ``get_model_weights(name).DEFAULT`` (whose
    ``url`` names the file torch.hub caches under ``<hub dir>/checkpoints``); the model's head is ``fc``."""
    calls = []

    def get_model(name, *, weights=None):
        calls.append({"name": name, "weights": weights})
        return Pooled("fc")

    weights = types.SimpleNamespace(DEFAULT=types.SimpleNamespace(url="https://download.pytorch.org/models/r18.pth"))
    models = types.SimpleNamespace(get_model=get_model, get_model_weights=lambda name: weights)
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=models))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return calls, weights.DEFAULT


def test_torchvision_weights_from_a_file_are_loaded_and_the_classifier_goes(fake_torchvision, tmp_path):
    calls, _ = fake_torchvision
    state = Pooled("fc").state_dict()
    state["fc.weight"] = torch.full((10, 3), 7.0)  # the classifier goes: its weights must not matter
    torch.save(state, tmp_path / "r18.pth")
    features, _ = pretrained.embed(images(), config=config("torchvision:resnet18", path=str(tmp_path / "r18.pth")),
                                   progress=False)
    assert calls == [{"name": "resnet18", "weights": None}]
    np.testing.assert_allclose(features, channel_means(images()), rtol=1e-5, atol=1e-6)


@pytest.mark.hostile("represent")
def test_torchvision_weights_with_a_flipped_bit_are_refused_with_one_line(fake_torchvision, tmp_path):
    # before: torch.load checks no CRC, so the flipped weight embedded every image with another model, without a word
    calls, _ = fake_torchvision
    torch.save(Pooled("fc").state_dict(), tmp_path / "r18.pth")  # torch names the archive's folder r18
    flip_a_bit(tmp_path / "r18.pth", member="data.pkl")
    with pytest.raises(WinnowError, match="^" + re.escape(
            f"represent.pretrained.path: {tmp_path / 'r18.pth'}: corrupt: its member r18/data.pkl fails its CRC-32 "
            "check (a bit changed on disk or in a copy); download the weights again") + "$"):
        pretrained.embed(images(), config=config("torchvision:resnet18", path=str(tmp_path / "r18.pth")),
                         progress=False)
    assert calls == []


@pytest.mark.hostile("represent")
def test_torchvision_weights_torch_saved_without_crcs_are_loaded(fake_torchvision, tmp_path):
    # before: refused as "corrupt: its member r18/data.pkl fails its CRC-32 check": torch writes a CRC of 0 for every
    # member under torch.serialization.set_crc32_options(False), a documented way to save large files faster
    calls, _ = fake_torchvision
    torch.serialization.set_crc32_options(False)
    try:
        torch.save(Pooled("fc").state_dict(), tmp_path / "r18.pth")
    finally:
        torch.serialization.set_crc32_options(True)
    features, _ = pretrained.embed(images(), config=config("torchvision:resnet18", path=str(tmp_path / "r18.pth")),
                                   progress=False)
    assert calls == [{"name": "resnet18", "weights": None}]
    np.testing.assert_allclose(features, channel_means(images()), rtol=1e-5, atol=1e-6)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("download", [False, True])
def test_torchvision_weights_in_the_cache_with_a_flipped_bit_are_refused_with_one_line(fake_torchvision, tmp_path,
                                                                                       download):
    # before: torch.hub checks the hash only as it downloads, and loads a cached file as it is (download: true too):
    # the flipped weight embedded every image with another model, exit 0, as path: did before its own check
    calls, _ = fake_torchvision
    cached = tmp_path / "hub" / "checkpoints" / "r18.pth"
    cached.parent.mkdir(parents=True)
    torch.save(Pooled("fc").state_dict(), cached)
    flip_a_bit(cached, member="data.pkl")
    with pytest.raises(WinnowError) as err:
        pretrained.embed(images(), config=config("torchvision:resnet18", download=download), progress=False)
    assert str(err.value) == (f"represent.pretrained.model: torchvision:resnet18 weights in the local cache ({cached}): "
                              "corrupt: its member r18/data.pkl fails its CRC-32 check (a bit changed on disk or in a "
                              "copy); delete the file and set download: true, or give path: a weights file")
    assert calls == []

def test_torchvision_weights_missing_from_the_cache_are_not_downloaded_unless_asked(fake_torchvision, tmp_path):
    calls, default = fake_torchvision
    with pytest.raises(WinnowError) as err:
        pretrained.embed(images(), config=config("torchvision:resnet18"), progress=False)
    assert str(err.value) == (f"represent.pretrained.model: torchvision:resnet18 weights are not in the local cache "
                              f"({tmp_path / 'hub' / 'checkpoints' / 'r18.pth'}); set download: true or give path: "
                              "a weights file")
    assert calls == []
    pretrained.embed(images(), config=config("torchvision:resnet18", download=True), progress=False)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / "r18.pth").write_bytes(b"cached")
    pretrained.embed(images(), config=config("torchvision:resnet18"), progress=False)
    assert calls == [{"name": "resnet18", "weights": default}] * 2


class ConvNeXtLike(nn.Module):
    """torchvision's ConvNeXt layout: the backbone ends in a pool, and the classifier (LayerNorm2d, here an identity,
    then flatten and linear) flattens the pooled map."""

    def __init__(self):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Identity(), nn.Flatten(1), nn.Linear(3, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(x))


class SqueezeNetLike(nn.Module):
    """torchvision's SqueezeNet layout: the classifier (dropout, a 1x1 conv to the classes, ReLU, pool) pools."""

    def __init__(self):
        super().__init__()
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(3, 10, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(x), 1)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("architecture, expected", [
    # before: refused, "returned (5, 3, 1, 1) for 5 images; ... (pool and flatten inside the model)", which a model
    # named by torchvision:NAME cannot do: the whole classifier went, its flatten with it
    (ConvNeXtLike, lambda pixels: channel_means(pixels)),
    # before: the whole classifier went, its pool with it: 192 unpooled values per 8x8 image (86,528 at 224)
    (SqueezeNetLike, lambda pixels: np.maximum(channel_means(pixels), 0)),
])
def test_a_torchvision_classifier_that_pools_or_flattens_loses_only_its_class_layer(monkeypatch, tmp_path,
                                                                                    architecture, expected):
    models = types.SimpleNamespace(get_model=lambda name, *, weights=None: architecture())
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=models))
    torch.save(architecture().state_dict(), tmp_path / "weights.pth")
    named = config("torchvision:convnext_tiny", path=str(tmp_path / "weights.pth"))
    features, _ = pretrained.embed(images(), config=named, progress=False)
    assert features.shape == (5, 3)
    np.testing.assert_allclose(features, expected(images()), rtol=1e-5, atol=1e-6)


@pytest.fixture
def fake_open_clip(monkeypatch):
    """``open_clip.create_model(arch, pretrained=TAG or a file)``; features come from ``encode_image``."""
    calls = []

    class Clip(nn.Module):
        def encode_image(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(2, 3))

    def create_model(arch, *, pretrained=None):
        calls.append({"arch": arch, "pretrained": pretrained, "offline": os.environ.get("HF_HUB_OFFLINE")})
        return Clip()

    monkeypatch.setitem(sys.modules, "open_clip", types.SimpleNamespace(create_model=create_model))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return calls


def test_open_clip_takes_the_tag_or_the_file_and_encodes_images(fake_open_clip, tmp_path):
    features, _ = pretrained.embed(images(), config=config("open_clip:ViT-B-32/laion2b_s34b_b79k"), progress=False)
    (tmp_path / "clip.bin").write_bytes(b"weights")
    pretrained.embed(images(), config=config("open_clip:ViT-B-32", path=str(tmp_path / "clip.bin")), progress=False)
    assert fake_open_clip == [{"arch": "ViT-B-32", "pretrained": "laion2b_s34b_b79k", "offline": "1"},
                              {"arch": "ViT-B-32", "pretrained": str(tmp_path / "clip.bin"), "offline": "1"}]
    np.testing.assert_allclose(features, channel_means(images()), rtol=1e-5, atol=1e-6)


def test_open_clip_without_a_tag_or_a_file_is_one_line(fake_open_clip):
    with pytest.raises(WinnowError) as err:
        pretrained.embed(images(), config=config("open_clip:ViT-B-32"), progress=False)
    assert str(err.value) == ("represent.pretrained.model: open_clip:ViT-B-32 names no weights; write "
                              "open_clip:ARCH/TAG (e.g. open_clip:ViT-B-32/laion2b_s34b_b79k) or give path:")
    assert fake_open_clip == []


def test_no_connection_leaves_the_process_while_downloads_are_off():
    # before: HF_HUB_OFFLINE was set after timm had imported the hub (which reads it once, at import), and
    # URL-hosted weights (torch.hub) heed no variable: download false did not keep the run offline
    import socket

    connect = socket.socket.connect
    with pretrained_libraries.offline(True):
        with pytest.raises(OSError, match="represent.pretrained.download is false: no connection is made"):
            socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert socket.socket.connect is connect
