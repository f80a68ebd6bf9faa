"""The represent stage's library: every source finds a planted mislabel, selfsup is reproducible and
label-blind, files are aligned by id, and the kNN vote that measures an embedding (issue 18 item 1)."""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import make_manifest
from hostile_harness import default_params, make_project, run_stage
from winnow import pretrained, represent, selfsup
from winnow.configs import PretrainedConfig
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.params import validate

CLASSES = ["dark", "bright"]
FLIPPED = 4  # a dark train image (even rows are dark) given the label bright


def blobs(*, per_class=(16, 4, 4), size=12, channels=1, seed=0) -> ImageSet:
    """A grey background with one round blob each, dark (class 0) or bright (class 1), at a random place;
    per_class train, val and test images per class, classes alternating; train image FLIPPED mislabelled."""
    rng = np.random.default_rng(seed)
    splits = np.repeat(["train", "val", "test"], [2 * n for n in per_class])
    labels = np.arange(len(splits)) % 2
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((len(labels), size, size, channels), np.uint8)
    for i, label in enumerate(labels):
        cy, cx = rng.integers(3, size - 3, 2)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 <= 9)[..., None]
        background = 128 + rng.integers(-10, 11, (size, size, channels))
        images[i] = np.where(blob, 235 if label else 20, background)
    manifest = make_manifest(len(labels), labels=labels)
    manifest["split"] = splits
    manifest.loc[FLIPPED, "label"] = 1
    return ImageSet(images, manifest, CLASSES)


def nearest_labels(features: np.ndarray, data: ImageSet, row: int, *, k: int = 5) -> list[int]:
    """Given labels of the k train images nearest (cosine) to ``row``, itself left out."""
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    train = np.flatnonzero((data.manifest["split"] == "train").to_numpy() & (np.arange(len(data)) != row))
    order = np.argsort(-(unit[train] @ unit[row]), kind="stable")
    return data.labels[train[order[:k]]].tolist()


SELFSUP = {"epochs": 4, "batch_size": 16, "width": 8, "threads": 1, "device": "cpu"}


def opts(source: str, **section) -> represent.Options:
    return represent.options({"source": source, **section}, train={"device": "cpu"})


def tiny_torchscript(path) -> str:
    """A TorchScript feature extractor: brightest and darkest normalised value per image; it refuses any
    input but float (N, 3, 16, 16), so the stage's resizing and channel repeat are part of the test."""

    class Extremes(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[1] != 3 or x.shape[2] != 16 or x.shape[3] != 16:
                raise ValueError("expected (N, 3, 16, 16)")
            return torch.stack([x.amax(dim=(1, 2, 3)), -x.amin(dim=(1, 2, 3))], dim=1)

    torch.jit.save(torch.jit.script(Extremes()), str(path))
    return str(path)


def test_each_source_puts_the_planted_mislabel_among_its_true_class(tmp_path, one_torch_thread):
    data = blobs()
    pixels = data.images.reshape(len(data), -1).astype(np.float32) - 128  # dark blob: negative, bright: positive
    np.save(tmp_path / "mine.npy", pixels)
    sources = {
        "selfsup": opts("selfsup", selfsup=SELFSUP),
        "pretrained": opts("pretrained", pretrained={"torchscript": tiny_torchscript(tmp_path / "tiny.pt"),
                                                     "input_size": 16, "device": "cpu"}),
        "file": opts("file", file=str(tmp_path / "mine.npy")),
        "judge": opts("judge", judge={"model": "lenet5", "epochs": 3, "batch_size": 8, "crop_padding": 0}),
    }
    for source, options in sources.items():
        rep = represent.embed_imageset(data, options=options, seed=0, progress=False)
        assert rep.features.dtype == np.float32 and rep.features.shape[0] == len(data), source
        assert list(rep.ids) == data.manifest["id"].tolist(), source
        assert nearest_labels(rep.features, data, FLIPPED) == [0] * 5, source


def test_selfsup_is_reproducible_blind_to_labels_and_never_learns_from_the_test_split(one_torch_thread):
    data = blobs()
    options = opts("selfsup", selfsup=SELFSUP)
    first = represent.embed_imageset(data, options=options, seed=3, progress=False)
    again = represent.embed_imageset(data, options=options, seed=3, progress=False)
    shuffled = data.manifest.copy()
    shuffled["label"] = np.random.default_rng(1).permutation(shuffled["label"].to_numpy())
    relabelled = represent.embed_imageset(ImageSet(data.images, shuffled, CLASSES), options=options, seed=3,
                                          progress=False)
    test = (data.manifest["split"] == "test").to_numpy()
    images = data.images.copy()
    images[test] = np.random.default_rng(2).integers(0, 256, images[test].shape)
    other_test = represent.embed_imageset(ImageSet(images, data.manifest, CLASSES), options=options, seed=3,
                                          progress=False)
    np.testing.assert_array_equal(first.features, again.features)
    np.testing.assert_array_equal(first.features, relabelled.features)
    # other test images: the same weights (train and val rows unchanged), applied to different test images
    np.testing.assert_array_equal(first.features[~test], other_test.features[~test])
    assert not np.array_equal(first.features[test], other_test.features[test])
    assert first.info["epochs"] == 4 and first.info["dim"] == 4 * SELFSUP["width"]


def test_saved_weights_give_the_same_features(tmp_path, one_torch_thread):
    from winnow import checkpoints, training

    data = blobs()
    for source, options in (("selfsup", opts("selfsup", selfsup=SELFSUP)),
                            ("judge", opts("judge", judge={"model": "lenet5", "epochs": 1, "crop_padding": 0}))):
        rep = represent.embed_imageset(data, options=options, seed=0, progress=False, model_out=tmp_path / source)
        again = (selfsup.encode(selfsup.load(tmp_path / source, device="cpu"), data.images) if source == "selfsup"
                 else training.embed(checkpoints.load(tmp_path / source, device="cpu")[0], data.images))
        np.testing.assert_array_equal(again, rep.features)



@pytest.mark.hostile("represent")
def test_a_selfsup_encoder_with_a_flipped_bit_is_refused_in_one_line(tmp_path, one_torch_thread):
    from hostile_harness import flip_a_bit

    represent.embed_imageset(blobs(), options=opts("selfsup", selfsup=SELFSUP), seed=0, progress=False,
                             model_out=tmp_path / "represent.pt")
    member = flip_a_bit(tmp_path / "represent.pt")
    # before: torch.load checks no CRC, so the reloaded encoder embedded with another weight, without a word
    with pytest.raises(WinnowError) as err:
        selfsup.load(tmp_path / "represent.pt", device="cpu")
    assert str(err.value) == (f"{tmp_path / 'represent.pt'}: corrupt: its member {member} fails its CRC-32 check (a "
                              "bit changed on disk or in a copy); run the represent stage again (dvc repro represent)")

def test_selfsup_wall_clock_budget_stops_after_the_epoch_that_would_overrun_it(one_torch_thread):
    data = blobs()
    rep = represent.embed_imageset(data, options=opts("selfsup", selfsup={**SELFSUP, "seconds": 1e-9}), seed=0,
                                   progress=False)
    assert rep.info["epochs"] == 1


def test_views_of_colour_and_grey_images_stay_images_and_differ_from_each_other():
    generator = torch.Generator().manual_seed(0)
    for channels in (1, 3):
        batch = torch.from_numpy(blobs(channels=channels).images).permute(0, 3, 1, 2).float() / 255
        a = selfsup.augment(batch, generator=generator, min_scale=0.3, hflip=True)
        b = selfsup.augment(batch, generator=generator, min_scale=0.3, hflip=True)
        assert a.shape == batch.shape and a.min() >= 0 and a.max() <= 1
        assert not torch.equal(a, b)


def test_a_parquet_keyed_by_id_is_read_in_manifest_order(tmp_path):
    data = blobs()
    ids = data.manifest["id"].to_numpy()
    features = np.random.default_rng(0).normal(size=(len(ids), 3))
    order = np.random.default_rng(1).permutation(len(ids))
    pd.DataFrame({"id": ids[order], "embedding": list(features[order])}).to_parquet(tmp_path / "lists.parquet")
    frame = pd.DataFrame(features[order], columns=["f0", "f1", "f2"]).assign(id=ids[order])
    frame.to_parquet(tmp_path / "columns.parquet")
    for name in ("lists.parquet", "columns.parquet"):
        rep = represent.embed_imageset(data, options=opts("file", file=str(tmp_path / name)), seed=0, progress=False)
        np.testing.assert_array_equal(rep.features, features.astype(np.float32))
        assert len(rep.info["sha256"]) == 64 and rep.info["epochs"] is None


def test_knn_val_accuracy_votes_with_the_given_train_labels_and_breaks_ties_by_the_nearest():
    def at(degrees):
        angle = np.radians(np.asarray(degrees, float))
        return np.stack([np.cos(angle), np.sin(angle)], 1)

    # train near 0 degrees, one of them (at 1) labelled 1; train near 90 all 1; a test image at 1.1 labelled 0
    features = at([0, 1, 2, 3, 87, 88, 89, 90, 0.4, 89, 1.2, 1.1])
    labels = np.array([0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0])
    splits = np.array(["train"] * 8 + ["val"] * 3 + ["test"])
    # k=3: 0.4 -> {0, 1, 2} labels 0, 1, 0: right; 89 -> 1: right; 1.2 -> {1, 2, 0} labels 1, 0, 0: wrong
    assert represent.knn_val_accuracy(features, labels, splits, k=3) == pytest.approx(2 / 3)
    # k=2, a 1:1 tie: 1.2's nearest is the image at 1 (label 1), so its label 1 is called right; 0.4's
    # nearest is at 0 (label 0), so right too
    assert represent.knn_val_accuracy(features, labels, splits, k=2) == 1.0


@pytest.mark.parametrize("library, package", [("timm", "timm"), ("open_clip", "open_clip_torch"),
                                              ("torchvision", "torchvision")])
def test_a_model_from_a_package_that_is_not_installed_is_one_line(monkeypatch, library, package):
    monkeypatch.setitem(sys.modules, library, None)  # import now fails as it does without the package
    config = PretrainedConfig(model=f"{library}:resnet18", device="cpu")
    with pytest.raises(WinnowError, match=rf"^represent\.pretrained\.model: {library}:resnet18 needs {library}, "
                                          rf"which is not installed \(pip install {package}; an optional extra\)"):
        pretrained.embed(blobs().images, config=config, progress=False)


@pytest.mark.parametrize("section, message", [
    ({"selfsup": {"epochs": True}}, "represent.selfsup.epochs: true is a boolean, not an integer in [1, 1000]"),
    ({"selfsup": {"batch_size": 1}}, "represent.selfsup.batch_size: 1 is below 2"),  # NT-Xent needs a partner
    ({"selfsup": {"min_scale": 0}}, "represent.selfsup.min_scale: 0 is not above 0"),
    ({"selfsup": {"seconds": -5}}, "represent.selfsup.seconds: -5 is not above 0"),
    ({"selfsup": {"hflip": "yes"}}, 'represent.selfsup.hflip: "yes" is text to DVC (YAML 1.2), not a boolean; write true'),
    ({"selfsup": {"depth": 6}}, "represent.selfsup.depth: unknown parameter (did you mean width?)"),
    ({"pretrained": {"mean": [0.5]}}, "represent.pretrained.mean: [0.5] has 1 item(s); allowed: a list of 3, "
                                      "each item a number in [0, 1]"),
    ({"pretrained": {"std": [1, 0, 1]}}, "represent.pretrained.std[1]: 0 is below 0.001"),
    # before: accepted on the 0-255 scale, and the model saw -2 everywhere (pixels are scaled to [0, 1] first)
    ({"pretrained": {"mean": [123.675, 116.28, 103.53]}}, "represent.pretrained.mean[0]: 123.675 is above 1"),
    ({"pretrained": {"std": [1e-300, 1, 1]}}, "represent.pretrained.std[0]: 1e-300 is below 0.001"),
    ({"selfsup": {"width": 100_000}}, "represent.selfsup.width: 100000 is above 4096"),  # before: 720 GB asked
    ({"pretrained": {"input_size": 100_000}}, "represent.pretrained.input_size: 100000 is above 2048"),
    ({"source": "pretrained", "pretrained": {"torchscript": "m.pt", "path": "w.pth"}},
     "represent.pretrained.path: only a library model (model:) reads it, and torchscript is set; set it to null"),
    ({"source": "file", "file": "data/represent/mine.npy"},  # before: dvc repro deleted it before reading it
     "represent.file: data/represent/mine.npy lies in data/represent, the stage's own output, which dvc repro "
     "empties before it runs; keep your file elsewhere"),
    ({"judge": {"epoch": 3}}, "represent.judge.epoch: unknown parameter (did you mean epochs?)"),
    ({"knn_k": 0}, "represent.knn_k: 0 is below 1"),
    ({"source": "pretrained"}, "represent.pretrained: give exactly one of model (timm:NAME, torchvision:NAME, "
                               "open_clip:ARCH/TAG) or torchscript (a file) for source pretrained"),
    ({"source": "file"}, "represent.file: missing; source file reads the embeddings from it (a .npy or .parquet)"),
])
def test_each_bad_option_is_one_line_naming_it(section, message):
    params = default_params()
    params["represent"] = params["represent"] | section
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == f"params.yaml: {message}"


def write_blobs(project, data: ImageSet) -> None:
    write_imageset(project / "data/degrade", data.images, data.manifest, data.classes)


def test_stage_writes_features_of_every_split_aligned_to_ids_weights_and_metrics(tmp_path):
    data = blobs()
    params = default_params()
    params["represent"] = {**params["represent"], "source": "selfsup", "knn_k": 5, "selfsup": SELFSUP}
    project = make_project(tmp_path / "project", params)
    write_blobs(project, data)
    done = run_stage(project, "represent", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    features = np.load(project / "data/represent/embeddings.npy")
    ids = json.loads((project / "data/represent/ids.json").read_text())
    metrics = json.loads((project / "metrics/represent.json").read_text())
    saved = torch.load(project / "models/represent.pt", weights_only=True)
    assert ids == read_imageset(project / "data/degrade").manifest["id"].tolist()
    assert features.dtype == np.float32 and features.shape == (len(data), 4 * SELFSUP["width"])
    assert metrics["source"] == "selfsup" and metrics["dim"] == 32 and metrics["epochs"] == 4
    assert metrics["final_loss"] == saved["history"][-1]["loss"]
    assert metrics["images"] == {"train": 32, "val": 8, "test": 8}
    # blobs this far apart: every val image's 5 nearest train images carry its class (one train label is wrong)
    assert metrics["knn_val_accuracy"] == 1.0
    assert nearest_labels(features, data, FLIPPED) == [0] * 5
    # what the cleaners read: rows by id, any subset in any order
    wanted = ["img-47", "img-3", "img-20"]
    np.testing.assert_array_equal(represent.read_representation(project / "data/represent", wanted),
                                  features[[47, 3, 20]])
    with pytest.raises(WinnowError, match=r"ids.json: 1 image\(s\) have no embedding, first 'img-99'; rerun"):
        represent.read_representation(project / "data/represent", ["img-1", "img-99"])
    # what it was made from: every image's pixels, no labels (selfsup reads none), and the train and val images whose
    # pixels its encoder learnt (never the test split's); a checked reader takes it
    made = json.loads((project / "data/represent/made_from.json").read_text())
    degraded = read_imageset(project / "data/degrade")
    assert made == {"source": "selfsup", "labels": None, "splits": None,
                    "digests": dict(zip(degraded.manifest["id"], degraded.manifest["digest"])),
                    "learnt": [f"img-{i}" for i in range(40)]}  # blobs(): 32 train, 8 val, then 8 test images
    np.testing.assert_array_equal(represent.read_representation(project / "data/represent", wanted, data=degraded),
                                  features[[47, 3, 20]])


def test_stage_with_a_users_parquet_writes_its_rows_in_manifest_order_and_records_the_file(tmp_path):
    data = blobs()
    ids = data.manifest["id"].to_numpy()
    features = np.random.default_rng(0).normal(size=(len(ids), 5)).astype(np.float32)
    order = np.random.default_rng(1).permutation(len(ids))
    params = default_params()
    params["represent"] = {**params["represent"], "source": "file", "file": "mine.parquet"}
    project = make_project(tmp_path / "project", params)
    write_blobs(project, data)
    pd.DataFrame({"id": ids[order], "embedding": list(features[order])}).to_parquet(project / "mine.parquet")
    done = run_stage(project, "represent", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_array_equal(np.load(project / "data/represent/embeddings.npy"), features)
    assert json.loads((project / "data/represent/ids.json").read_text()) == ids.tolist()
    record = torch.load(project / "models/represent.pt", weights_only=True)
    metrics = json.loads((project / "metrics/represent.json").read_text())
    assert record["source"] == "file" and record["file"] == "mine.parquet"
    assert metrics["sha256"] == record["sha256"] == hashlib.sha256((project / "mine.parquet").read_bytes()).hexdigest()
    assert metrics["dim"] == 5 and metrics["epochs"] is None


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("rows", ["equal", "one_direction"])
def test_a_judge_whose_embeddings_collapsed_to_one_point_is_refused(monkeypatch, one_torch_thread, rows):
    # before: represent.judge at lr 1000 stored one embedding for all 400 images without a word, and
    # confident-learn then flagged 127 of 190 train images; file and pretrained sources were refused so
    from winnow.engine import Engine

    def collapsed(self, encoder, images, *, batch_size):
        scale = np.ones(len(images)) if rows == "equal" else np.arange(1, len(images) + 1)
        return (np.array([[0.5, 1.0, 0.0, 2.0]]) * scale[:, None]).astype(np.float32)

    monkeypatch.setattr(Engine, "embed", collapsed)
    options = opts("judge", judge={"model": "lenet5", "epochs": 1, "batch_size": 8, "crop_padding": 0})
    with pytest.raises(WinnowError) as refused:
        represent.embed_imageset(blobs(), options=options, seed=0, progress=False)
    what = ("every image has the same embedding (no feature varies); it cannot tell images apart" if rows == "equal"
            else "every image's embedding points the same way (each a positive multiple of one vector: cosine "
                 "similarity 1 between every pair, to float32 precision); cosine neighbours cannot tell images apart")
    assert str(refused.value) == (f"represent.judge: {what}; its training diverged or collapsed: lower "
                                  "represent.judge.lr or choose another source")


def test_selfsup_on_images_below_3_pixels_is_one_line():
    # before: ingest took 2x2 images, and represent ended in a torch traceback ("Output size is too small")
    from winnow.configs import SelfSupConfig
    from winnow.selfsup import pretrain

    with pytest.raises(WinnowError) as refused:
        pretrain(np.zeros((8, 2, 16, 1), np.uint8), config=SelfSupConfig(epochs=1, device="cpu"), seed=0,
                 progress=False)
    assert str(refused.value) == ("represent.selfsup: images of 2x16 pixels; the encoder needs at least 3x3: set "
                                  "ingest.size, or choose represent.source judge or pretrained")
