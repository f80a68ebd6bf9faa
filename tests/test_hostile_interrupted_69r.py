"""Faults of the machine met mid-run, found in review of stop 69: a file-size limit met in a stage's work files names
the output it was for, never a scratch folder the user cannot find; a stage stopped by the process's limits leaves no
folder it made behind."""

from __future__ import annotations

import errno
import importlib.util
import resource

import numpy as np
import pandas as pd
import pytest
from PIL import Image, JpegImagePlugin

from hostile_harness import ROOT, default_params, files_under, imagefolder_project, make_project
from winnow.imageset import write_imageset
from winnow.stage import run


@pytest.mark.hostile("interrupted")
def test_a_file_size_limit_met_in_degrades_work_file_names_data_degrade_not_its_scratch_folder(tmp_path, monkeypatch,
                                                                                               capsys):
    # before: "error: stages/degrade.py: data/.degrade.winnow-scratch-15596/images.npy: File too large [EFBIG]; ...":
    # a folder named by a process id, removed before the user could look (degrade under `ulimit -f 1`)
    params = default_params()
    params["degrade"]["perturbations"] = [{"kind": "brightness", "fraction": 0.5, "factor": 3.5}]
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    manifest = pd.DataFrame({"id": [f"i{i}" for i in range(12)], "split": ["train"] * 8 + ["val"] * 2 + ["test"] * 2,
                             "label": [0, 1] * 6, "source": "t", "orig_h": 8, "orig_w": 8, "orig_mode": "L"})
    write_imageset("data/ingest", np.arange(12 * 64, dtype=np.uint8).reshape(12, 8, 8, 1), manifest, ["a", "b"])
    spec = importlib.util.spec_from_file_location("degrade_stage_69r", ROOT / "stages" / "degrade.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    before = files_under(project)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def main():
        # 512 bytes: the work copy of the images (12 x 64 bytes past its header) is not; Python ignores SIGXFSZ, so the
        # write fails with EFBIG as under `ulimit -f`
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, hard))
        try:
            stage.main()
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    monkeypatch.setattr("sys.argv", ["stages/degrade.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        "error: stages/degrade.py: data/degrade: File too large [EFBIG]; the file is larger than this process may "
        "write (`ulimit -f`) or than its file system holds (FAT32: 4 GiB); raise the limit, or write to another file "
        "system, then rerun\n"))
    assert files_under(project) == before


@pytest.mark.hostile("interrupted")
def test_an_ingest_stopped_by_the_open_file_limit_leaves_no_empty_data_folder(tmp_path, monkeypatch, capsys):
    # before: the stop 5c7e2386 made (one line, exit 1) left an empty data/ in a project that had none: the write of
    # data/ingest made its folder before the decode met the limit. Here Pillow's decode of the one JPEG meets EMFILE
    project, _ = imagefolder_project(tmp_path)
    photo = tmp_path / "images" / "c1" / "photo.jpg"
    Image.fromarray(np.full((8, 8), 99, np.uint8)).save(photo)

    def load(image):  # the set's one JPEG: the others are PNGs
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    monkeypatch.chdir(project)
    spec = importlib.util.spec_from_file_location("ingest_stage_69r", ROOT / "stages" / "ingest.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    monkeypatch.setattr("sys.argv", ["stages/ingest.py"])
    with pytest.raises(SystemExit) as ended:
        run(stage.main)
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        f"error: ingest.path: cannot read {photo} (Too many open files), which its folder lists; nothing was ingested: "
        "check the open-file limit (`ulimit -n`), then rerun\n"))
    assert sorted(path.name for path in project.iterdir()) == ["params.yaml"]


@pytest.mark.hostile("interrupted")
def test_the_open_file_limit_met_outside_a_decode_names_the_limit_not_free_space(tmp_path, monkeypatch, capsys):
    # before: "error: stages/score.py: data/degrade/images.npy: Too many open files [EMFILE]; free space, or fix the path
    # or its permissions, then rerun": no space nor permission was short (5c7e2386 mended ingest's decode alone)
    monkeypatch.chdir(tmp_path)

    def main():
        raise OSError(errno.EMFILE, "Too many open files", "data/degrade/images.npy")

    monkeypatch.setattr("sys.argv", ["stages/score.py"])
    with pytest.raises(SystemExit) as ended:
        run(main)
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        "error: stages/score.py: data/degrade/images.npy: Too many open files [EMFILE]; raise the open-file limit "
        "(`ulimit -n`) or close other programs, then rerun\n"))
