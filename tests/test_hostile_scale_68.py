"""Hostile cases for the Ray engine beyond one machine (stop 68): a node of the cluster started from another
environment than the stage's (``ray start`` under another Pillow, numpy, scipy or torch) must stop the stage in one
line naming the node and the package, not return batches computed its own way beside the local engine's; and an
images.npy rewritten in place between two of dedup's passes over it, or while degrade streams it, must stop the
stage in one line."""

from __future__ import annotations

import socket
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import PIL
import pytest
import scipy
import torch

from winnow import dedup, training
from winnow import degrade as degrade_module
from winnow.copies import variant_hashes
from winnow.configs import TrainConfig
from winnow.errors import WinnowError
from winnow.degrade_picks import pick_all
from winnow.imageset import pixel_digest, read_imageset, write_imageset
from winnow.models import build_model
from winnow.phash import _phash_rows, phash64
from winnow.file_rows import FileRows
from winnow.ray_tasks import EmbedActor, RowsTask, _BatchFailed

HERE = socket.gethostname()


def other_environment(line: str) -> str:
    return (f"compute.engine: ray: node {HERE} runs {line}, so its batches would differ from the local engine's: "
            "install the stage's versions on every node (pip install -r requirements.lock) and restart Ray there, "
            "or set compute.engine: local")


@pytest.mark.hostile("intermediates")
def test_a_ray_node_of_another_pillow_than_the_stages_is_one_line_not_its_own_hashes(tmp_path):
    # found by probing: the tasks checked the images file and shipped winnow's code, not the libraries whose arithmetic
    # the batches are. Pillow 13 resizes a 40x20 image vertical pass first and Pillow 12 horizontal first, and the
    # pHash follows the installed Pillow: a node started under Pillow 12 beside a stage under 13 hashed its batches
    # otherwise (17 of 20 such images, winnow.phash), dedup grouped by those hashes, and switching the engine reruns
    # no stage
    pixels = np.random.default_rng(0).integers(0, 256, (4, 40, 20), dtype=np.uint8)
    np.save(tmp_path / "images.npy", pixels[..., None])
    source = FileRows.of(np.load(tmp_path / "images.npy", mmap_mode="r"))
    stage = (("numpy", np.__version__), ("scipy", scipy.__version__), ("pillow", PIL.__version__))
    same = RowsTask(_phash_rows, source, 2, 4, {}, packages=stage)
    # the stage's own versions: the local engine's hashes of those rows (phash64 is imagehash's on tall images too:
    # tests/test_hostile_scale_more.py)
    assert same({"id": np.array([1])})["phash"].tolist() == phash64(pixels[2:]).tolist()
    older = RowsTask(_phash_rows, source, 2, 4, {}, packages=(*stage[:2], ("pillow", "12.0.0")))
    with pytest.raises(_BatchFailed) as raised:  # what ray_failures raises as the stage's one line
        older({"id": np.array([1])})
    assert type(raised.value.error) is WinnowError
    assert str(raised.value.error) == other_environment(f"pillow {PIL.__version__} where the stage runs 12.0.0")


@pytest.mark.hostile("intermediates")
def test_a_ray_embedding_actor_on_a_node_without_the_stages_torch_is_one_line(monkeypatch):
    monkeypatch.setattr("winnow.ray_tasks.import_ray", lambda: SimpleNamespace(get=lambda reference: reference))
    torch.manual_seed(0)
    config = TrainConfig(model="lenet5", threads=1, device="cpu")
    judge = training.Trained(build_model("lenet5", in_channels=1, num_classes=3, image_size=8).eval(),
                             torch.tensor([0.5]), torch.tensor([0.25]), [], 1, config)
    encoder = training.encoder(judge, num_classes=3, image_shape=(8, 8, 1))
    actor = EmbedActor(encoder=replace(encoder, model=None), weights=[encoder.model.state_dict()], source=None,
                       batch_size=4, n=6, packages=(("numpy", np.__version__), ("torch", "2.99.0")))
    with pytest.raises(_BatchFailed) as raised:
        actor({"id": np.array([0])})
    assert str(raised.value.error) == other_environment(f"torch {torch.__version__.split('+')[0]} where the stage runs "
                                                        "2.99.0")


@pytest.mark.hostile("intermediates")
def test_images_rewritten_in_place_between_dedups_passes_stop_it_in_one_line(tmp_path, monkeypatch):
    # found by probing: each of dedup's passes over the memory-mapped images (thumbnails, then the pHashes of mirrors
    # and crops) checked only itself, so an images.npy rewritten in place between two (`cp other.npy` over it) gave
    # the thumbnails of the old images and the mirrors' hashes of the new ones, and dedup grouped with both, exit 0
    path = tmp_path / "images.npy"
    pixels = np.random.default_rng(2).integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    np.save(path, pixels)
    images = np.load(path, mmap_mode="r")
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(12)], "split": "train", "label": 0,
                             "digest": pixel_digest(pixels)})
    scores = pd.DataFrame({"id": manifest["id"], "phash": phash64(pixels)})

    def rewritten_first(images, **options):  # cp over the file once the thumbnails are made
        with open(path, "r+b") as handle:
            handle.seek(-pixels.nbytes, 2)
            handle.write((255 - pixels).tobytes())
        return variant_hashes(images, **options)

    monkeypatch.setattr(dedup, "variant_hashes", rewritten_first)
    with pytest.raises(WinnowError) as raised:
        dedup.dedup_images(manifest, images, scores, radius=6, min_correlation=0.98, flip=True, crop=0.0625,
                           keep="first")
    assert str(raised.value) == (f"{path} was rewritten or replaced while the local engine read it "
                                 "(compute.engine: local; another run writing it?); its batches would mix old and new "
                                 "images: rerun when nothing else writes it")


@pytest.mark.hostile("intermediates")
def test_images_rewritten_in_place_while_degrade_streams_them_stop_it_in_one_line(tmp_path, monkeypatch):
    # found by probing: degrade read data/ingest's images.npy through a copy-on-write map from the first damage to the
    # last kept row written out, checked by nothing; rewritten in place meanwhile (every pixel inverted once the
    # targets were picked), 15 of 20 rows came out as the new pixels under the old digests beside 5 damaged old ones
    pixels = np.random.default_rng(3).integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(20)], "split": "train", "label": np.arange(20) % 2,
                             "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "RGB"})
    write_imageset(tmp_path / "ingest", pixels, manifest, ["a", "b"])
    path = tmp_path / "ingest" / "images.npy"

    def rewritten_first(*args, **options):
        with open(path, "r+b") as handle:
            handle.seek(-pixels.nbytes, 2)
            handle.write((255 - pixels).tobytes())
        return pick_all(*args, **options)

    monkeypatch.setattr(degrade_module, "pick_all", rewritten_first)
    (tmp_path / "work").mkdir()
    with pytest.raises(WinnowError) as raised:
        degrade_module.degrade(read_imageset(tmp_path / "ingest"), seed=0, workdir=tmp_path / "work",
                               perturbations=[{"kind": "blur", "fraction": 0.25, "method": "box", "kernel": 3}])
    assert str(raised.value) == (f"{path} was rewritten or replaced while the local engine read it "
                                 "(compute.engine: local; another run writing it?); its batches would mix old and new "
                                 "images: rerun when nothing else writes it")
