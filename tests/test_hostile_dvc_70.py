"""Hostile inputs of a user driving winnow through DVC, found at probe 70 (dvc):

- two experiments run side by side (``dvc exp run --queue`` twice, ``dvc queue start -j 2``) with ``ingest.download:
  true`` at one absolute ``ingest.path``: both fetch and extract the archive, and the second to rename its copy into
  place was refused ("Directory not empty; point ingest.path at a folder that does not exist yet"), though the folder
  there was the one it had extracted too;
- a fresh clone of a project whose data lies inside it (``ingest.path: digits.npz`` in git, or brought by ``dvc
  import-url``), its outputs pulled (``dvc status`` clean but for ``source``): the gate refused the workspace ("the
  workspace's ingest.path has changed since the source stage listed it"): the listing held each file's inode and
  times, which a clone or a copy renews for the same bytes. A copied project reran ingest too, and ``winnow compare``
  left out every seed run by ``dvc exp run --queue`` ("run(s) of other code or inputs (data/source.json)"): each
  ran in a temporary copy of the project;
- ``winnow study queue`` over a class named ``${oc.env:HOME}`` or ``${x}`` (a folder name): the ``-S`` value it
  queued was interpolated by DVC's override grammar, the class ``/root`` removed, or ``dvc exp run`` stopped
  ("Interpolation key 'x' not found").
"""

import io
import os
import shutil
import tarfile

import pytest

import winnow.cifar10
from hostile_harness import default_params, make_project
from winnow.cifar10 import FOLDER, extract_archive
from winnow.errors import WinnowError
from winnow.source_listing import listing
from winnow.stage import write_json
from winnow.study_sweeps import queue_commands
from winnow.yaml_text import load_yaml
from winnow.staleness import _check_source_listing


def _archive(tmp_path, files: dict[str, bytes]):
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, body in files.items():
            member = tarfile.TarInfo(f"{FOLDER}/{name}")
            member.size = len(body)
            tar.addfile(member, io.BytesIO(body))
    return archive


@pytest.mark.hostile("compare")
def test_an_archive_another_queued_run_extracted_meanwhile_is_used(tmp_path, monkeypatch):
    # two queued experiments on one ingest.path: the other run renamed its extracted folder into place while this one
    # extracted. Before: "error: ingest.path: cannot put the extracted cifar-10-batches-py at ... (Directory not
    # empty); point ingest.path at a folder that does not exist yet", and that experiment failed
    files = {"data_batch_1": b"one", "test_batch": b"test", "batches.meta": b"meta"}
    archive, root = _archive(tmp_path, files), tmp_path / "cifar" / FOLDER
    extract = winnow.cifar10._extract

    def the_other_run_first(archive, scratch):
        extract(archive, scratch)
        shutil.copytree(scratch / FOLDER, root)  # the other run's copy of the same archive

    monkeypatch.setattr(winnow.cifar10, "_extract", the_other_run_first)
    extract_archive(archive, root)
    assert {p.name: p.read_bytes() for p in root.iterdir()} == files
    assert sorted(p.name for p in root.parent.iterdir()) == [FOLDER]  # this run's scratch folder removed


@pytest.mark.hostile("compare")
def test_another_folder_put_at_ingest_path_meanwhile_is_still_refused(tmp_path, monkeypatch):
    # what appeared there is not the archive's files (a user's own folder): refused as before, nothing of it touched
    archive, root = _archive(tmp_path, {"data_batch_1": b"one", "test_batch": b"test"}), tmp_path / "cifar" / FOLDER
    extract = winnow.cifar10._extract

    def a_folder_appears(archive, scratch):
        extract(archive, scratch)
        root.mkdir(parents=True)
        (root / "notes.txt").write_bytes(b"mine")

    monkeypatch.setattr(winnow.cifar10, "_extract", a_folder_appears)
    with pytest.raises(WinnowError) as refused:
        extract_archive(archive, root)
    assert str(refused.value) == (f"ingest.path: cannot put the extracted {FOLDER} at {root} (Directory not empty); "
                                  "point ingest.path at a folder that does not exist yet")
    assert sorted(p.name for p in root.parent.iterdir()) == [FOLDER]
    assert [p.name for p in root.iterdir()] == ["notes.txt"]


def _listed_project(root):
    """A project whose ingest reads digits.npz inside it (a relative ingest.path), its data/source.json as the
    source stage writes it there."""
    params = default_params()
    params["ingest"].update(source="npz", path="digits.npz", trusted_path="trusted")
    project = make_project(root, params)
    (project / "digits.npz").write_bytes(b"the images" * 100)
    (project / "trusted" / "a").mkdir(parents=True)
    (project / "trusted" / "a" / "0.png").write_bytes(b"a trusted image")
    write_json(project / "data/source.json", listing(params["ingest"], root=project))
    return project, params


@pytest.mark.hostile("compare")
def test_a_clone_of_a_project_whose_data_is_inside_it_is_current_for_the_gate(tmp_path):
    # `git clone` + `dvc pull` (here a copy: new inodes, change and modification times, the same bytes), dvc status
    # clean. Before: "error: the workspace's ingest.path has changed since the source stage listed it (files 1 then, 1
    # now, or edited): ingest and everything after it are stale; run `dvc repro`, then again"
    project, params = _listed_project(tmp_path / "project")
    clone = tmp_path / "clone"
    shutil.copytree(project, clone)  # copy2 keeps modification times; a clone's are new as well
    for file in (clone / "digits.npz", clone / "trusted/a/0.png"):
        file.touch()
    _check_source_listing(clone, {"source": {}})
    assert listing(params["ingest"], root=clone) == listing(params["ingest"], root=project)  # no ingest rerun


@pytest.mark.hostile("compare")
def test_data_inside_the_project_edited_in_place_is_still_stale_for_the_gate(tmp_path):
    # the same size, its times put back (`cp -p`, a tar with fixed times): still seen, by its content now
    project, _ = _listed_project(tmp_path / "project")
    data = project / "digits.npz"
    times = data.stat()
    data.write_bytes(b"THE IMAGES" * 100)
    os.utime(data, ns=(times.st_atime_ns, times.st_mtime_ns))
    with pytest.raises(WinnowError) as refused:
        _check_source_listing(project, {"source": {}})
    assert str(refused.value) == ("the workspace's ingest.path has changed since the source stage listed it (files 1 "
                                  "then, 1 now, or edited): ingest and everything after it are stale; run `dvc "
                                  "repro`, then again")


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("name", ["${oc.env:HOME}", "${x}", "a\\${x}", "cost$", "\\"])
def test_study_queue_passes_a_class_name_holding_an_interpolation_to_dvc_as_it_is(tmp_path, name):
    # before: ${oc.env:HOME} reached params.yaml as /root (another class removed, or an unknown one refused by the
    # experiment), and ${x} stopped `dvc exp run` with "Interpolation key 'x' not found"
    from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` does to params.yaml

    project = make_project(tmp_path / "project")
    command = queue_commands(["class_deletion"], classes=[name], colour=False)[-1]
    assert command[:5] == ["dvc", "exp", "run", "--queue", "-S"]
    apply_overrides(str(project / "params.yaml"), [command[-1]])
    assert load_yaml((project / "params.yaml").read_text(), name="params.yaml")["degrade"]["perturbations"] == [
        {"kind": "class_removal", "classes": [name]}]
