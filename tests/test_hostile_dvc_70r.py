"""Review of probe 70's dvc mends (dvc):

- a CIFAR-10 folder another queued run put at ``ingest.path`` meanwhile, one batch rewritten at the same size (other
  bytes): refused as a folder in the way, not taken for the archive's files (they were compared by size alone);
- the source listing of files inside the project by content: an unchanged project hashed every file again on every
  ``dvc repro`` (the source stage, ingest's check and the gate each read all of data/raw); a file whose size,
  modification and change time, inode and device are those of the last listing is not read again, a fresh clone or
  copy hashes each file once, and an edit with its size and times kept (``cp -p``) is still seen, by the gate too;
  a file changed just before a listing (the kernel clock's step) is hashed again by the next; a damaged record of the
  hashes is read as none;
- a parquet table whose pandas metadata (the ``pandas`` key) is an object whose fields are of another kind
  (``"columns": 5``, ``"index_columns": null``, ``"columns": [5]``): one line naming the metadata and the stage to
  rerun, not pandas' TypeError or AttributeError traceback (the read_table mend named JSON of another kind only).
"""

import json
import os
import shutil
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

import winnow.cifar10
import winnow.source_listing
from hostile_harness import (
    assert_nothing_left, default_params, files_under, make_project, tiny_degraded, undamaged_params,
)
from test_hostile_dvc_70 import _archive
from test_hostile_threshold_64 import _stage_in_process
from winnow.cifar10 import FOLDER, extract_archive
from winnow.errors import WinnowError
from winnow.source_listing import HASHES, listing
from winnow.stage import write_json
from winnow.staleness import _check_source_listing

IMAGES = ["a/0.png", "a/1.png", "b/0.png"]
SCORES = "data/score/scores.parquet"


@pytest.mark.hostile("compare")
def test_a_folder_put_at_ingest_path_meanwhile_with_a_batch_of_other_bytes_is_refused(tmp_path, monkeypatch):
    # what appeared there holds the archive's file names at their sizes, one batch with other bytes (another data
    # set's labels, a user's edit). Before: taken for the folder this run extracted, exit 0, and ingest read it as
    # CIFAR-10
    files = {"data_batch_1": b"one", "test_batch": b"test"}
    archive, root = _archive(tmp_path, files), tmp_path / "cifar" / FOLDER
    extract = winnow.cifar10._extract

    def a_folder_of_other_bytes_appears(archive, scratch):
        extract(archive, scratch)
        root.mkdir(parents=True)
        (root / "data_batch_1").write_bytes(b"ONE")
        (root / "test_batch").write_bytes(b"test")

    monkeypatch.setattr(winnow.cifar10, "_extract", a_folder_of_other_bytes_appears)
    with pytest.raises(WinnowError) as refused:
        extract_archive(archive, root)
    assert str(refused.value) == (f"ingest.path: cannot put the extracted {FOLDER} at {root} (Directory not empty); "
                                  "point ingest.path at a folder that does not exist yet")
    assert sorted(p.name for p in root.parent.iterdir()) == [FOLDER]  # this run's scratch folder removed
    assert {p.name: p.read_bytes() for p in root.iterdir()} == {"data_batch_1": b"ONE", "test_batch": b"test"}


def _dvc_project(root, monkeypatch, *, racy_ns: int = 0):
    """A DVC project (a .dvc folder) whose ingest reads data/raw inside it, its data/source.json as the source
    stage writes it there; ``racy_ns``: how close to a listing a file changed is hashed again by the next (0: its
    files, written a moment before, are kept as a listing long after them keeps them)."""
    monkeypatch.setattr(winnow.source_listing, "RACY_NS", racy_ns)
    params = default_params()
    params["ingest"].update(source="imagefolder", path="data/raw", trusted_path=None)
    project = make_project(root, params)
    (project / ".dvc").mkdir()
    for name in IMAGES:
        (project / "data/raw" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "data/raw" / name).write_bytes(f"the pixels of {name}".encode())
    write_json(project / "data/source.json", listing(params["ingest"], root=project))
    return project, params


def _counting(monkeypatch) -> list[str]:
    read = []
    real = winnow.source_listing.file_sha256

    def counted(path):
        read.append(os.path.relpath(path))
        return real(path)

    monkeypatch.setattr(winnow.source_listing, "file_sha256", counted)
    return read


@pytest.mark.hostile("compare")
def test_an_unchanged_project_hashes_none_of_its_files_again(tmp_path, monkeypatch):
    # before: every listing (the source stage on every dvc repro, ingest's check, the gate) read every file under
    # data/raw again: 10 GB for 100,000 images, twice a dvc repro
    project, params = _dvc_project(tmp_path / "project", monkeypatch)
    listed = (project / "data/source.json").read_text()
    read = _counting(monkeypatch)
    monkeypatch.chdir(project)
    assert listing(params["ingest"]) == listing(params["ingest"], root=project)
    _check_source_listing(project, {"source": {}})
    assert read == []
    assert (project / "data/source.json").read_text() == listed


@pytest.mark.hostile("compare")
def test_a_file_edited_with_its_size_and_times_kept_is_hashed_again_and_seen_by_the_gate(tmp_path, monkeypatch):
    # `cp -p` over one image: the same size and modification time, only its change time tells. It alone is read
    project, _ = _dvc_project(tmp_path / "project", monkeypatch)
    data = project / "data/raw/a/1.png"
    times = data.stat()
    data.write_bytes(b"THE PIXELS OF a/1.png")
    os.utime(data, ns=(times.st_atime_ns, times.st_mtime_ns))
    read = _counting(monkeypatch)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        _check_source_listing(project, {"source": {}})
    assert str(refused.value) == ("the workspace's ingest.path has changed since the source stage listed it (files 3 "
                                  "then, 3 now, or edited): ingest and everything after it are stale; run `dvc "
                                  "repro`, then again")
    assert read == ["data/raw/a/1.png"]


@pytest.mark.hostile("compare")
def test_a_clone_hashes_each_file_once_then_none(tmp_path, monkeypatch):
    # a clone or copy (its record of hashes copied too, or not): new inodes and times, so each file is read once, the
    # listing the same, the gate content; the next listing reads none
    project, params = _dvc_project(tmp_path / "project", monkeypatch)
    clone = tmp_path / "clone"
    shutil.copytree(project, clone)
    read = _counting(monkeypatch)
    monkeypatch.chdir(clone)
    _check_source_listing(clone, {"source": {}})
    assert sorted(read) == [f"data/raw/{name}" for name in IMAGES]
    read.clear()
    assert listing(params["ingest"], root=clone) == listing(params["ingest"], root=project)
    assert read == []


@pytest.mark.hostile("compare")
def test_files_changed_just_before_a_listing_are_hashed_again_by_the_next(tmp_path, monkeypatch):
    # the kernel's clock steps in milliseconds (a FAT disk's in 2 s): a file edited at its size in the same step after
    # the listing read it keeps its stat, so its hash is kept only once it is older than that (git's racy files).
    # Each listing here begins a millisecond after the last change under data/raw, as it does a moment after
    # _dvc_project writes them: before, read from the clock, a test held back 2 s between those writes and its first
    # listing (forced: 2.5 s) took the files for old ones, kept their hashes, and the check read none
    raw = tmp_path / "project/data/raw"
    monkeypatch.setattr(winnow.source_listing, "time", SimpleNamespace(
        time_ns=lambda: max(path.stat().st_ctime_ns for path in raw.rglob("*")) + 1_000_000))
    project, _ = _dvc_project(tmp_path / "project", monkeypatch, racy_ns=winnow.source_listing.RACY_NS)
    read = _counting(monkeypatch)
    monkeypatch.chdir(project)
    _check_source_listing(project, {"source": {}})
    assert sorted(read) == [f"data/raw/{name}" for name in IMAGES]


@pytest.mark.hostile("compare")
def test_a_damaged_record_of_hashes_is_read_as_none(tmp_path, monkeypatch):
    # cut by a full disk, or edited: every file hashed again, the listing as the source stage wrote it, the record
    # written anew and no temporary left
    project, _ = _dvc_project(tmp_path / "project", monkeypatch)
    (project / HASHES).write_text('{"cut')
    before = files_under(project)
    read = _counting(monkeypatch)
    monkeypatch.chdir(project)
    _check_source_listing(project, {"source": {}})
    assert sorted(read) == [f"data/raw/{name}" for name in IMAGES]
    read.clear()
    _check_source_listing(project, {"source": {}})
    assert read == []
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("field", "value", "why"), [
    ("columns", 5, "TypeError: object of type 'int' has no len()"),
    ("index_columns", None, "TypeError: 'NoneType' object is not iterable"),
    ("columns", [5], "AttributeError: 'int' object has no attribute 'get'"),
])
def test_a_table_whose_pandas_column_metadata_is_damaged_is_refused_naming_it(tmp_path, monkeypatch, capsys, field,
                                                                              value, why):
    # the scores' pandas metadata (the "pandas" key: its columns and index) JSON of an object, one field of another
    # kind, as another tool may rewrite it. Before: threshold stopped in pandas' read with that TypeError or
    # AttributeError, a traceback, though the rows read whole without the metadata
    params = undamaged_params()
    project = make_project(tmp_path / "p", params)
    tiny_degraded(project, score=params["score"])
    table = pq.read_table(project / SCORES)
    described = json.loads(table.schema.metadata[b"pandas"])
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata,
                                                  b"pandas": json.dumps({**described, field: value}).encode()}),
                   project / SCORES)
    before = files_under(project)
    done = _stage_in_process(project, "threshold", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {SCORES}: its pandas metadata (pandas) does not describe its columns ({why}); rerun the score stage "
        "(dvc repro score)"])
    assert_nothing_left(project, before)
