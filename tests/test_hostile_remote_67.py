"""Hostile sources beyond one machine (stop 67): a folder at a URL whose store fails part-way (a connection reset
while its files are read, a store that cannot be reached when the trusted set is looked at), and a local folder on a
network mount whose read, or a link's look at its target, fails for the mount's sake (an I/O error, a stale NFS
handle); a hidden image at a URL whose first bytes do not come is left out as any hidden file is.

Each case runs the ingest stage's main in this process (the ``memory://`` store and the failure planted in it live
here) and asserts the one line, whole, and that nothing was written; or, where ingest goes on, its rows and counts.
"""

from __future__ import annotations

import errno
import json
import os

import pandas as pd
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from hostile_harness import default_params, files_under, make_project
from test_hostile_remote_ingest import memory_folder, sample_files  # noqa: F401 (memory_folder: a fixture)
from test_streaming_ingest import ingest_in_process
from winnow.errors import WinnowError


def failing(monkeypatch, method: str, suffix: str) -> None:
    """``MemoryFileSystem.<method>`` raising a ConnectionError for each path ending in ``suffix``, as a network that
    drops does (s3fs and gcsfs raise their own errors, not OSError)."""
    real = getattr(MemoryFileSystem, method)

    def dropped(self, path, *args, **kwargs):
        if str(path).rstrip("/").endswith(suffix):
            raise ConnectionError("Connection reset by peer")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, method, dropped)


def refused_in_process(tmp_path, monkeypatch, **ingest) -> tuple[str, set[str], set[str]]:
    """(the error's line, the project's files before, after) of the ingest stage run in this process."""
    params = default_params()
    params["ingest"].update(source="imagefolder", max_reject_fraction=0.5, **ingest)
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    with pytest.raises(WinnowError) as raised:
        ingest_in_process(project, monkeypatch)
    return str(raised.value), before, files_under(project)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("name", ["dog/05.jpg", "dog/06.png"])  # Pillow's own read, and the plain-PNG fast path's
def test_a_file_at_a_url_whose_bytes_do_not_come_stops_ingest_not_a_row(tmp_path, memory_folder, monkeypatch, name):
    # before: the file was a rejected row "unreadable: Connection reset by peer", the other 23 images were ingested
    # (1 of 28 files, under max_reject_fraction), and as data/source.json's listing had not changed, dvc repro kept
    # the set without it once the network was back
    url, _ = memory_folder
    failing(monkeypatch, "cat_file", name)
    line, before, after = refused_in_process(tmp_path, monkeypatch, path=url)
    assert line == (f"ingest.path: cannot read memory://{url.removeprefix('memory://')}/{name} (Connection reset by "
                    "peer), which its folder lists; nothing was ingested: check the network and the credentials, then "
                    "rerun")
    assert after == before  # no data/ingest, no metrics/ingest.json, no temporary


@pytest.mark.hostile("ingest")
def test_a_trusted_set_at_a_url_that_cannot_be_reached_names_the_trusted_path(tmp_path, memory_folder, monkeypatch):
    # before: "ingest.path: cannot reach memory:///…-trusted (…)", naming the data set's parameter, which was readable
    url, fs = memory_folder
    trusted = f"{url}-trusted"
    fs.pipe(f"{trusted.removeprefix('memory://')}/cat/00.png", sample_files()["cat/00.png"])
    failing(monkeypatch, "isdir", "-trusted")
    try:
        line, before, after = refused_in_process(tmp_path, monkeypatch, path=url, trusted_path=trusted)
    finally:
        monkeypatch.undo()  # the store answers again, so the trusted folder can be removed
        fs.rm(trusted.removeprefix("memory://"), recursive=True)
    assert line == (f"ingest.trusted_path: cannot reach memory://{trusted.removeprefix('memory://')} (Connection "
                    "reset by peer); check the URL and its credentials")
    assert after == before


def local_read_failing(monkeypatch, suffix: str, code: int) -> None:
    """``os.open`` raising ``OSError(code)`` for each path ending in ``suffix``, as an NFS mount that hiccups does
    (the decoder reads local files with ``os.open``/``os.read``)."""
    real = os.open

    def failed(path, *args, **kwargs):
        if str(path).endswith(suffix):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", failed)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize(("name", "code"), [("dog/06.png", errno.EIO), ("dog/05.jpg", errno.ESTALE)])
def test_a_local_read_failing_for_the_mount_s_sake_stops_ingest_not_a_row(tmp_path, monkeypatch, name, code):
    # before: a row "unreadable: [Errno 5] Input/output error: '…/dog/06.png'", the other 23 images ingested, and as
    # data/source.json's listing (sizes, times, inodes) had not changed, dvc repro kept the set without it
    images = tmp_path / "images"
    for relative, data in sample_files().items():
        (images / relative).parent.mkdir(parents=True, exist_ok=True)
        (images / relative).write_bytes(data)
    local_read_failing(monkeypatch, name, code)
    line, before, after = refused_in_process(tmp_path, monkeypatch, path=str(images))
    assert line == (f"ingest.path: cannot read {images / name} ({os.strerror(code)}), which its folder lists; nothing "
                    "was ingested: check the disk or its network mount, then rerun")
    assert after == before


class StaleLink:
    """A ``os.DirEntry`` of a symbolic link whose target is on a mount that answers ``ESTALE`` (``is_file`` follows
    the link, so it looks at the target)."""

    def __init__(self, entry: os.DirEntry) -> None:
        self.entry = entry

    def __getattr__(self, name: str):
        return getattr(self.entry, name)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        raise OSError(errno.ESTALE, os.strerror(errno.ESTALE), self.entry.path)


@pytest.mark.hostile("imagefolder")
def test_a_linked_image_whose_target_answers_stale_stops_ingest_not_a_row(tmp_path, monkeypatch):
    # before: a row "unreadable: Stale file handle" (DVC's symlink cache on an NFS mount that hiccups), kept by dvc
    # repro as the listing had not changed
    images = tmp_path / "images"
    for relative, data in sample_files().items():
        (images / relative).parent.mkdir(parents=True, exist_ok=True)
        (images / relative).write_bytes(data)
    real = os.scandir

    class Scan:  # os.scandir of the dog folder, its 05.jpg a stale link
        def __init__(self, path):
            self.scan = real(path)

        def __enter__(self):
            return (StaleLink(e) if e.name == "05.jpg" else e for e in self.scan.__enter__())

        def __exit__(self, *exc):
            return self.scan.__exit__(*exc)

    monkeypatch.setattr(os, "scandir", lambda path=".": Scan(path) if str(path) == str(images / "dog") else real(path))
    line, before, after = refused_in_process(tmp_path, monkeypatch, path=str(images))
    assert line == (f"ingest.path: cannot read {images / 'dog/05.jpg'} (Stale file handle), which its folder lists; "
                    "nothing was ingested: check the disk or its network mount, then rerun")
    assert after == before


@pytest.mark.hostile("imagefolder")
def test_a_local_file_whose_read_is_refused_stays_a_row(tmp_path, monkeypatch):
    # a permission is the file's, not the mount's: the file is set aside and the rest ingested, as before
    images = tmp_path / "images"
    for relative, data in sample_files().items():
        (images / relative).parent.mkdir(parents=True, exist_ok=True)
        (images / relative).write_bytes(data)
    local_read_failing(monkeypatch, "dog/05.jpg", errno.EACCES)
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(images), max_reject_fraction=0.5)
    project = make_project(tmp_path / "project", params)
    ingest_in_process(project, monkeypatch)
    rejected = dict(pd.read_csv(project / "data/ingest/rejected.csv").itertuples(index=False))
    refused = images / "dog/05.jpg"
    assert rejected[str(refused)] == "unreadable: Permission denied; fix its permissions"  # the row names its file
    assert len(rejected) == 5  # the four bad entries of sample_files, and this one


class BackendError(Exception):
    """A backend's own error, which is no OSError (gcsfs raises its HttpError so)."""


@pytest.mark.hostile("imagefolder")
def test_a_hidden_image_at_a_url_whose_head_does_not_come_is_left_out_as_any_hidden_file(tmp_path, memory_folder, monkeypatch):
    # before: the check of a hidden file's first bytes, for the warning naming hidden images, caught OSError alone, and
    # the backend's "503 Service Unavailable" ended ingest in a traceback, of a file never read
    url, fs = memory_folder
    fs.pipe(f"{url.removeprefix('memory://')}/cat/.IMG_0001.png", sample_files()["cat/00.png"])
    real = MemoryFileSystem._open

    def unavailable(self, path, *args, **kwargs):
        if str(path).endswith(".IMG_0001.png"):
            raise BackendError("503 Service Unavailable")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "_open", unavailable)
    params = default_params()
    params["ingest"].update(source="imagefolder", path=url, max_reject_fraction=0.5)
    project = make_project(tmp_path / "project", params)
    ingest_in_process(project, monkeypatch)
    metrics = json.loads((project / "metrics/ingest.json").read_text())
    assert (metrics["images"], metrics["rejected"]) == (24, 4)  # sample_files' 24 images, its four bad entries
