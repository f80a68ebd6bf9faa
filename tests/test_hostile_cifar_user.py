"""A CIFAR-10 user, hostile pass: the README's CIFAR commands as written, and CIFAR arrays as other tools
store them.

- the README's ``ingest.source=cifar10`` command must get through degrade on CIFAR's own class names
  (the default damage named MNIST's class "7", which no CIFAR class is);
- flat ``(N, 3072)`` rows in an .npz are read as CIFAR's planar R, G, B; rows flattened pixel by pixel
  (torchvision's and Keras's ``(N, 32, 32, 3)`` arrays, ``reshape(N, -1)``) were read the same way and
  every image came out scrambled without a word: now one ``error:`` line, nothing left behind.

Every case generates its own tiny CIFAR-shaped data; none reads /work/shared.
"""

from __future__ import annotations

import json
import pickle
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from hostile_harness import ROOT, assert_error_line, assert_nothing_left, make_project, run_stage
from test_hostile_ingest import assert_ingested, ingested, run_ingest
from winnow.cifar10 import CIFAR10_CLASSES, FOLDER

README = (ROOT / "README.md").read_text()


def smooth_images(rng, n: int) -> np.ndarray:
    """uint8 ``(n, 32, 32, 3)`` photo-like images: random 4x4 colour blocks blown up to 32x32, so that
    neighbouring pixels are alike as in a photograph (noise has no layout to tell)."""
    small = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return small.repeat(8, axis=1).repeat(8, axis=2)


def planar(images: np.ndarray) -> np.ndarray:
    """CIFAR's own flat rows: ``(n, 3072)``, 1024 R values, then G, then B."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def cifar_batches(root: Path, rng, *, per_class: int = 2) -> Path:
    """A ``cifar-10-batches-py`` folder: each batch ``per_class`` images of each of CIFAR's 10 classes,
    batches.meta naming them as the official one does."""
    root.mkdir(parents=True)
    labels = [c for c in range(10) for _ in range(per_class)]
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": planar(smooth_images(rng, len(labels))),
                 b"filenames": [b"x.png"] * len(labels)}
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_cases_per_batch": 10000, b"num_vis": 3072}
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


def readme_command(fragment: str) -> list[str]:
    """The words of the one README ``dvc exp run`` containing ``fragment`` (continuation lines joined)."""
    joined = README.replace("\\\n", " ")
    found = [line for line in joined.splitlines() if line.startswith("dvc exp run") and fragment in line]
    assert len(found) == 1, found
    return shlex.split(found[0].split("  #")[0])


@pytest.mark.hostile("cifar10")
def test_the_readme_cifar10_command_gets_through_degrade_on_cifar_class_names(tmp_path, rng):
    from dvc.utils.hydra import apply_overrides

    # before: degrade stopped with "class_subsample: classes must be a class index in [0, 9] or a name in
    # classes.json, got '7'" on the first run of the README's CIFAR command
    data = cifar_batches(tmp_path / FOLDER, rng)
    words = readme_command("ingest.source=cifar10")
    overrides = [words[i + 1] for i, word in enumerate(words) if word == "-S"]
    overrides = [f"ingest.path={data}" if o.startswith("ingest.path=") else o for o in overrides]
    project = make_project(tmp_path / "project")
    apply_overrides(project / "params.yaml", overrides)  # what `dvc exp run -S` does to params.yaml
    for stage in ("ingest", "degrade"):
        done = run_stage(project, stage, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((project / "data/ingest/classes.json").read_text()) == CIFAR10_CLASSES
    assert ingested(project)["split"].value_counts().to_dict() == {"train": 90, "val": 10, "test": 20}


@pytest.mark.hostile("npz")
def test_flat_rows_flattened_pixel_by_pixel_are_refused_not_scrambled(tmp_path, rng):
    images = smooth_images(rng, 40)
    labels = np.arange(40) % 4
    path = tmp_path / "set.npz"
    np.savez(path, train_data=images.reshape(40, -1), train_labels=labels)  # (N, 32, 32, 3) flattened
    project, before, done = run_ingest(tmp_path, "npz", path)
    assert_error_line(done, f"{path}: train_data holds flat rows of 3072 values laid out pixel by pixel "
                      "(R, G, B, R, G, B, ...), not CIFAR's planar layout (1024 R, then G, then B) that flat rows "
                      "are read as; store them as (N, 32, 32, 3) instead")
    assert_nothing_left(project, before)


@pytest.mark.hostile("npz")
def test_planar_flat_rows_of_the_same_images_are_read_as_the_images(tmp_path, rng):
    # the control: CIFAR's own layout of the same photo-like images is read, pixel for pixel
    images = smooth_images(rng, 40)
    path = tmp_path / "set.npz"
    np.savez(path, train_data=planar(images), train_labels=np.arange(40) % 4)
    project, _, done = run_ingest(tmp_path, "npz", path)
    assert_ingested(done)
    stored = np.load(project / "data/ingest/images.npy")
    order = [int(re.search(r"(\d+)$", i).group(1)) for i in ingested(project)["id"]]
    assert np.array_equal(stored, images[order])


def photo_like(rng, n: int) -> np.ndarray:
    """uint8 ``(n, 32, 32, 3)`` images whose channels move together as a photograph's do: grey 4x4 blocks blown up
    to 32x32, each channel a little off the grey."""
    grey = smooth_images(rng, n)[..., :1].astype(np.int16)
    return np.clip(grey + rng.integers(-12, 13, (n, 1, 1, 3)), 0, 255).astype(np.uint8)


def _rewrite_batch(root: Path, name: str, **values) -> None:
    batch = pickle.loads((root / name).read_bytes())
    (root / name).write_bytes(pickle.dumps(batch | {key.encode(): v for key, v in values.items()}, protocol=2))


@pytest.mark.hostile("cifar10")
def test_a_batch_of_rows_laid_out_pixel_by_pixel_is_refused_not_scrambled(tmp_path, rng):
    # before: read as planar rows, every image of the batch was scrambled; ingest exited 0
    data = cifar_batches(tmp_path / FOLDER, rng)
    _rewrite_batch(data, "data_batch_2", data=smooth_images(rng, 20).reshape(20, -1))
    project, before, done = run_ingest(tmp_path, "cifar10", data)
    assert_error_line(done, f"{data / 'data_batch_2'}: 'data' holds rows laid out pixel by pixel (R, G, B, R, G, B, "
                      "...), not a CIFAR-10 batch's planar layout (1024 R, then G, then B); store them as an npz of "
                      "(N, 32, 32, 3) images instead (ingest.source: npz)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("cifar10")
def test_an_empty_batch_and_an_empty_bytes_value_of_a_protocol_2_pickle_are_read(tmp_path, rng):
    # before: a batch of 0 images was a TypeError traceback (memoryview cast), and b'' in a protocol-2 pickle
    # (Python 3 writes it as bytes()) was refused as a planted global
    data = cifar_batches(tmp_path / FOLDER, rng)
    _rewrite_batch(data, "data_batch_3", data=np.zeros((0, 3072), np.uint8), labels=[], filenames=[],
                   batch_label=b"")
    project, _, done = run_ingest(tmp_path, "cifar10", data)
    assert_ingested(done)
    assert "RuntimeWarning" not in done.stderr  # before: numpy's "Mean of empty slice", twice
    ids = ingested(project)["id"]
    assert len(ids) == 100 and not ids.str.contains("data_batch_3").any()  # 4 train batches of 20, the test's 20


WARNED_PLANAR = ("images holds (40, 32, 32, 3) images whose values seem to run channel by channel (all R, then G, "
                 "then B): planar rows reshaped straight to (N, H, W, 3) scramble every image; if so, reshape them to "
                 "(N, 3, H, W) and transpose to (N, H, W, 3), or store the flat rows")


@pytest.mark.hostile("npz")
def test_planar_rows_reshaped_straight_to_images_are_named_not_scrambled_silently(tmp_path, rng):
    # before: CIFAR's planar rows reshaped to (N, 32, 32, 3) without a transpose, the classic slip, were stored as
    # scrambled images without a word. A warning, not a refusal: a review found legal grey horizontal gratings that
    # read the same
    images = photo_like(rng, 40)
    path = tmp_path / "set.npz"
    np.savez(path, images=planar(images).reshape(40, 32, 32, 3), labels=np.arange(40) % 4)
    _, _, done = run_ingest(tmp_path, "npz", path)
    assert_ingested(done)
    assert f"warning: {path}: {WARNED_PLANAR}" in done.stdout.splitlines()
    np.savez(path, images=images, labels=np.arange(40) % 4)  # the control: the same images stored as they are
    _, _, done = run_ingest(tmp_path / "control", "npz", path)
    assert_ingested(done)
    assert "channel by channel" not in done.stdout


@pytest.mark.hostile("npz")
def test_uint8_pixels_of_0_and_1_are_warned_as_black(tmp_path, rng):
    # before: a 0/1 mask stored as uint8 (what the refusal of int16 0/1 pixels advised) was read as black images
    # without a word
    path = tmp_path / "set.npz"
    np.savez(path, images=(rng.random((20, 8, 8)) > 0.5).astype(np.uint8), labels=np.arange(20) % 2)
    project, _, done = run_ingest(tmp_path, "npz", path)
    assert_ingested(done)
    assert (f"warning: {path}: images is uint8 with every pixel 0 or 1, read as 8 bits: every image is black; if 1 "
            "means white, multiply by 255") in done.stdout.splitlines()


@pytest.mark.hostile("npz")
def test_an_empty_split_of_colour_images_is_one_line_not_a_traceback_nor_carved_from_train(tmp_path, rng):
    # found by a review: the layout check reshaped a (0, 32, 32, 3) test split into a ValueError traceback; then it
    # was read, and the test split carved from train without a word, as if test_images were absent (stop 65)
    images = photo_like(rng, 40)
    path = tmp_path / "set.npz"
    np.savez(path, train_images=images, train_labels=np.arange(40) % 4, test_images=images[:0],
             test_labels=np.zeros(0, np.int64))
    project, before, done = run_ingest(tmp_path, "npz", path)
    assert assert_error_line(done) == (
        f"error: {path}: test_images holds no images, so the test split would be carved from the train images "
        "instead; fill it, or remove test_images and its labels to have ingest carve it")
    assert_nothing_left(project, before)
