"""Hostile sources of the 72nd stop's probe (a folder at a URL, the .npz and CIFAR-10 sources):

- a file at a URL whose read comes back short without an error (a connection dropped that the backend did not
  notice): the image was a rejected row "image file is truncated", kept by DVC once the network was back; now ingest
  stops in one line saying how many of the listed bytes came;
- a class folder at a URL that is gone when ingest lists it (moved or deleted by another writer after the folder
  above was listed), or whose listing fails for the network's sake: both were told "check its permissions"; now the
  first says it is no longer there, the second to check the network;
- an .npz cut short (an interrupted download or copy): told it was no zip file and shown the layouts, which fix
  nothing; now told it is cut short, naming its first member;
- a CIFAR-10 batch cut short (a copy or an extraction interrupted): "not a readable CIFAR-10 batch (...)" and no word
  on what to do; now told to replace it with the official file;
- ``ingest.download: true`` whose connection is cut midway (http.client's ``IncompleteRead``, which is no
  ``OSError`` as urllib's own errors are): a traceback; now the download's one line, its partial file removed.

Each case runs the ingest stage's ``main`` in this process (the ``memory://`` store and the fault planted in it live
here) and asserts the one line, whole, and that nothing was written (``refused_ingest`` asserts it for the .npz).
"""

from __future__ import annotations

import http.client
import io
import urllib.request

import numpy as np
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from test_hostile_remote_67 import refused_in_process
from test_hostile_ingest import cifar_folder
from test_hostile_sources_70 import grey_images, refused_ingest
from winnow.cifar10 import CIFAR10_URL, FOLDER
from test_hostile_remote_ingest import memory_folder, sample_files  # noqa: F401 (memory_folder: a fixture)


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("name", ["dog/05.jpg", "dog/06.png"])  # Pillow's own read, and the plain-PNG fast path's
def test_a_file_at_a_url_read_short_stops_ingest_not_a_row(tmp_path, memory_folder, monkeypatch, name):
    # before: a row "unreadable: image file is truncated" (1 of 28 files, under max_reject_fraction), the other images
    # ingested, and DVC kept the set without it once the network was back, data/source.json's listing unchanged
    url, _ = memory_folder
    whole = sample_files()[name]
    real = MemoryFileSystem.cat_file

    def cut_short(self, path, *args, **kwargs):
        data = real(self, path, *args, **kwargs)
        return data[:100] if str(path).endswith(name) and not args and not kwargs else data  # not a head's read

    monkeypatch.setattr(MemoryFileSystem, "cat_file", cut_short)
    line, before, after = refused_in_process(tmp_path, monkeypatch, path=url)
    assert line == (f"ingest.path: cannot read {url}/{name} (100 of the {len(whole):,} bytes listed came: the read "
                    "was cut short, or the object rewritten since it was listed), which its folder lists; nothing was "
                    "ingested: check the network and the credentials, then rerun")
    assert after == before  # no data/ingest, no metrics/ingest.json, no temporary


def listing_fails(monkeypatch, suffix: str, error: Exception) -> None:
    """``MemoryFileSystem.ls`` raising ``error`` for the folder whose path ends in ``suffix``."""
    real = MemoryFileSystem.ls

    def failed(self, path, *args, **kwargs):
        if str(path).rstrip("/").endswith(suffix):
            raise error
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "ls", failed)


@pytest.mark.hostile("npz")
def test_a_class_folder_at_a_url_gone_when_listed_is_not_blamed_on_permissions(tmp_path, memory_folder, monkeypatch):
    # before: "ingest.path: cannot list memory:///…/dog (/…/dog); check its permissions", of a folder another writer
    # had moved away after ingest.path was listed (s3fs, gcsfs and adlfs raise FileNotFoundError for it)
    url, _ = memory_folder
    listing_fails(monkeypatch, "/dog", FileNotFoundError("/dog"))
    line, before, after = refused_in_process(tmp_path, monkeypatch, path=url)
    assert line == (f"ingest.path: cannot list {url}/dog: it is no longer there, though it was a moment before (moved "
                    "or removed meanwhile?); nothing was ingested: run `dvc repro` again once the data is no longer "
                    "being written")
    assert after == before


@pytest.mark.hostile("npz")
def test_a_class_folder_at_a_url_whose_listing_drops_is_told_to_check_the_network(tmp_path, memory_folder,
                                                                                   monkeypatch):
    # before: "…/dog (Connection reset by peer); check its permissions", which no permission fixes
    url, _ = memory_folder
    listing_fails(monkeypatch, "/dog", ConnectionError("Connection reset by peer"))
    line, before, after = refused_in_process(tmp_path, monkeypatch, path=url)
    assert line == (f"ingest.path: cannot list {url}/dog (Connection reset by peer); nothing was ingested: check the "
                    "network and the credentials, then rerun")
    assert after == before


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("compressed", [False, True])
def test_an_npz_cut_short_is_told_so_not_told_its_layout(tmp_path, monkeypatch, compressed):
    # before: "…/set.npz: not an .npz archive (no zip file and no .npy array); an .npz holds 'images' + 'labels' …":
    # the file is one, cut short by an interrupted download, and no layout fixes it
    whole = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(whole, images=grey_images(10), labels=np.arange(10) % 2)
    (tmp_path / "set.npz").write_bytes(whole.getvalue()[:len(whole.getvalue()) * 2 // 3])
    assert refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz") == (
        f"{tmp_path / 'set.npz'}: an .npz cut short: it begins as one (its first member 'images.npy'), but its end, "
        "where a zip lists its members, is missing, as an interrupted download or copy leaves it; copy or write it "
        "again")


@pytest.mark.hostile("npz")
def test_a_cifar_download_cut_midway_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    # before: a traceback ending in "http.client.IncompleteRead: IncompleteRead(5 bytes read, 95 more expected)"
    def cut(url, to):
        with open(to, "wb") as partial:
            partial.write(b"\x1f\x8b\x08\x00\x00")
        raise http.client.IncompleteRead(b"\x1f\x8b\x08\x00\x00", 95)

    monkeypatch.setattr(urllib.request, "urlretrieve", cut)
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", tmp_path / "data" / FOLDER, download=True) == (
        f"ingest.download: could not fetch {CIFAR10_URL} (IncompleteRead(5 bytes read, 95 more expected)); download it "
        "by hand and set ingest.path")
    assert list((tmp_path / "data").iterdir()) == []  # the partial download is gone, and no archive was kept


@pytest.mark.hostile("npz")
def test_a_cifar_batch_cut_short_is_told_what_to_do(tmp_path, monkeypatch):
    # before: "…/data_batch_3: not a readable CIFAR-10 batch (UnpicklingError: pickle data was truncated)", no fix
    data = cifar_folder(tmp_path / FOLDER, np.random.default_rng(0))
    whole = (data / "data_batch_3").read_bytes()
    (data / "data_batch_3").write_bytes(whole[:len(whole) // 2])
    assert refused_ingest(tmp_path, monkeypatch, "cifar10", data) == (
        f"{data / 'data_batch_3'}: not a readable CIFAR-10 batch (UnpicklingError: pickle data was truncated); replace "
        "it with the official file (a copy or extraction cut short leaves one so)")
