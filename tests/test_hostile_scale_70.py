"""Hostile cases for scale, stop 70 (compute engines, memory-mapped images, interrupted and changing inputs):

- an images.npy overwritten in place (``cp -p``) by another set of its size and modification time (two copies
  unpacked from archives of fixed times) that differs in one image while the local engine reads it;
- an object of a folder at a URL deleted by another writer after ingest listed the folder and before it read the
  object (through Pillow's read and the plain-PNG fast path);
"""

import os
import shutil

import numpy as np
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_remote_ingest import memory_folder  # noqa: F401 (a fixture)
from test_streaming_ingest import ingest_in_process
from winnow.engine import Engine
from winnow.errors import WinnowError


def first_pixels(batch: np.ndarray) -> dict[str, np.ndarray]:
    return {"first": batch.reshape(len(batch), -1)[:, 0].astype(np.int64)}


@pytest.mark.hostile("intermediates")
def test_a_same_size_same_time_copy_differing_in_one_image_put_in_place_mid_read_is_one_line(tmp_path):
    # found by probing: the change check compared inode, size and modification time, then (the change time having
    # moved) 256 blocks of 4 KiB spread over the file; a 4 MiB set whose one changed image (row 2010) lay between two
    # of those blocks, copied over images.npy by `cp -p` from a twin of the same modification time, was read as the
    # same file: the batches after the copy came from the new bytes, exit 0
    path, twin, marker = tmp_path / "images.npy", tmp_path / "twin.npy", tmp_path / "copied"
    pixels = np.random.default_rng(0).integers(0, 256, (4000, 32, 32, 1), dtype=np.uint8)
    np.save(path, pixels)
    other = pixels.copy()
    other[2010] = 255 - other[2010]
    np.save(twin, other)
    when = os.stat(path)
    os.utime(twin, ns=(when.st_atime_ns, when.st_mtime_ns))  # the twin's time is the file's: archives of fixed times

    def copies_the_twin_over_once(batch: np.ndarray) -> dict[str, np.ndarray]:
        if not marker.exists():
            marker.touch()
            shutil.copy2(twin, path)  # cp -p: in place (the same inode), the twin's modification time
        return first_pixels(batch)

    with pytest.raises(WinnowError) as raised:
        Engine().map(copies_the_twin_over_once, np.load(path, mmap_mode="r"), batch_size=500)
    assert str(raised.value) == (f"{path} was rewritten or replaced while the local engine read it "
                                 "(compute.engine: local; another run writing it?); its batches would mix old and new "
                                 "images: rerun when nothing else writes it")
    assert sorted(files_under(tmp_path)) == ["copied", "images.npy", "twin.npy"]


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("name", ["dog/05.jpg", "dog/06.png"])  # Pillow's own read, and the plain-PNG fast path's
def test_an_object_deleted_after_ingest_listed_its_folder_is_named_gone_not_a_network_to_check(tmp_path, memory_folder,
                                                                                               monkeypatch, name):
    # found by probing: another writer deleted the object between ingest's listing of the folder and its read; the
    # store's "no such key" (FileNotFoundError) was told as "check the network and the credentials, then rerun",
    # which neither is nor helps while the folder is being written
    url, fs = memory_folder
    real = MemoryFileSystem.cat_file

    def deleted_first(self, path, *args, **kwargs):
        if str(path).endswith(name) and self.exists(path):
            self.rm(path)  # another writer, after the listing
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "cat_file", deleted_first)
    params = default_params()
    params["ingest"].update(source="imagefolder", path=url, max_reject_fraction=0.5)
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    with pytest.raises(WinnowError) as raised:
        ingest_in_process(project, monkeypatch)
    assert str(raised.value) == (
        f"ingest.path: cannot read {url}/{name}, which its folder listed: it is no longer there (deleted or moved "
        "since, as the folder is being written); nothing was ingested: run `dvc repro` again once the data is no "
        "longer being written")
    assert_nothing_left(project, before)  # no data/ingest, no metrics/ingest.json, no temporary
