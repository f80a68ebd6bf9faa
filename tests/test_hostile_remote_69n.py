"""The source stage's fingerprint of a folder at a URL (winnow.source_listing) and ingest reading it: an object
rewritten in place, and a bucket that changes between the source stage's listing and ingest's reading."""

from __future__ import annotations

import io
import json
import runpy
import uuid

import fsspec
import numpy as np
import pytest
from PIL import Image

from hostile_harness import ROOT, assert_nothing_left, default_params, files_under, make_project
from test_streaming_ingest import ingest_in_process
from winnow.errors import WinnowError
from winnow.source_listing import fingerprint


def png(value: int) -> bytes:
    """An 8x8 grey PNG of one value: every value gives a file of the same size (73 bytes)."""
    out = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def bucket():
    """(the ``memory://`` URL of a two-class folder, its fsspec file system, the folder's key), removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"/winnow-{uuid.uuid4().hex}"
    for i in range(4):
        fs.pipe(f"{root}/cat/{i}.png", png(10 + i))
        fs.pipe(f"{root}/dog/{i}.png", png(200 + i))
    yield f"memory://{root}", fs, root
    fs.rm(root, recursive=True)


@pytest.mark.hostile("ingest")
def test_an_object_rewritten_with_another_image_of_its_size_changes_the_listing(bucket):
    # before: memory:// lists no ETag nor mtime, so the listing held the size alone: the same for cat/0.png
    # rewritten with other pixels of the same size, and ingest did not rerun (its old pixels kept, unsaid)
    url, fs, root = bucket
    first = fingerprint("imagefolder", url)
    assert len(png(99)) == len(png(10))
    fs.pipe(f"{root}/cat/0.png", png(99))
    assert fingerprint("imagefolder", url) != first


@pytest.mark.hostile("ingest")
def test_an_s3_compatible_store_without_etags_is_listed_by_its_objects_modification_times(bucket, monkeypatch):
    # s3fs lists an object's ETag and LastModified; a store that sends no ETag (some S3-compatible servers) left the
    # size alone in the listing, as memory:// did, and LastModified was not read
    url, fs, root = bucket
    when = {"cat/0.png": "2026-01-01 10:00:00+00:00"}

    def s3_shaped(path, detail=True, **kwargs):
        return {f"{root}/{name}": {"name": f"{root}/{name}", "size": 73, "type": "file", "StorageClass": "STANDARD",
                                   "LastModified": when.get(name, "2025-12-31 09:00:00+00:00")}
                for name in ("cat/0.png", "dog/0.png")}

    monkeypatch.setattr(type(fs), "find", lambda self, path, **kwargs: s3_shaped(path, **kwargs))
    first = fingerprint("imagefolder", url)
    when["cat/0.png"] = "2026-01-02 10:00:00+00:00"  # rewritten a day later, the same size
    assert fingerprint("imagefolder", url) != first
    assert fingerprint("imagefolder", url)["files"] == 2


@pytest.mark.hostile("ingest")
def test_a_bucket_written_to_between_the_source_stage_and_ingest_stops_ingest_nothing_written(tmp_path, bucket,
                                                                                               monkeypatch):
    # before: ingest read the 9 files there, dvc.lock tied its outputs to data/source.json's 8, and `dvc status`
    # said all was up to date: the outputs were not of the data the recorded listing names
    url, fs, root = bucket
    params = default_params()
    params["ingest"].update(source="imagefolder", path=url, size=None, val_fraction=0.25, test_fraction=0.25)
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages/source.py"), run_name="source")["main"]()
    assert json.loads((project / "data/source.json").read_text())["ingest.path"]["files"] == 8
    before = files_under(project)
    fs.pipe(f"{root}/dog/9.png", png(250))  # an upload lands after the listing
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(project, monkeypatch)
    # found as ingest starts, before any file is read (stop 74: before, once every file was read)
    assert str(refused.value) == (
        f"ingest.path: {url} changed since the source stage listed it (8 file(s) then, 9 now, or edited): edited since "
        "and ingest run by itself, or being written now; nothing was ingested: run `dvc repro ingest`, which lists it "
        "first, once the data is no longer being written")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_a_folder_that_was_not_there_for_the_source_stage_is_ingested_as_it_is_once_there(tmp_path, monkeypatch):
    # ingest.download: true fetches CIFAR-10 into ingest.path after the source stage found nothing there: the
    # listings are not compared then (the next dvc repro lists the folder, and ingest reruns on it)
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(tmp_path / "images"), size=None, val_fraction=0.25,
                            test_fraction=0.25)
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages/source.py"), run_name="source")["main"]()
    assert "unreadable" in json.loads((project / "data/source.json").read_text())["ingest.path"]
    for i in range(8):
        (tmp_path / "images" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "images" / f"c{i % 2}" / f"{i}.png").write_bytes(png(20 * i))
    ingest_in_process(project, monkeypatch)
    assert json.loads((project / "metrics/ingest.json").read_text())["images"] == 8


@pytest.mark.hostile("imagefolder")
def test_folders_made_in_the_s3_console_are_read_as_folders_not_rows(tmp_path, bucket, monkeypatch):
    # the S3 console's "Create folder" writes an empty object "<folder>/", which s3fs's ls lists inside the folder
    # as a file (fsspec/s3fs#300). Before: a row "a key with an empty folder name ('//' in it)" for the root and each
    # class folder, 3 rows of 11 files, and ingest stopped above max_reject_fraction 0.05
    url, fs, root = bucket
    listed = type(fs).ls
    folders = {root, f"{root}/cat", f"{root}/dog"}

    def with_markers(self, path, detail=True, **kwargs):
        entries = listed(self, path, detail=detail, **kwargs)
        key = self._strip_protocol(path).rstrip("/")
        return entries + ([{"name": f"{key}/", "size": 0, "type": "file"}] if key in folders else [])

    monkeypatch.setattr(type(fs), "ls", with_markers)
    params = default_params()
    params["ingest"].update(source="imagefolder", path=url, size=None, val_fraction=0.25, test_fraction=0.25)
    project = make_project(tmp_path / "project", params)
    ingest_in_process(project, monkeypatch)
    assert json.loads((project / "metrics/ingest.json").read_text())["images"] == 8
    assert (project / "data/ingest/rejected.csv").read_text() == "path,reason\n"
