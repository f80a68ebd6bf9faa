"""Faults of the machine met mid-run, a further pass: a process's limits (memory, open files) are the machine's
fault and end the stage in one line, never a row that blames the file and a data set one image short."""

import errno
import importlib.util

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from hostile_harness import ROOT, files_under, imagefolder_project


def _ingest_main():
    spec = importlib.util.spec_from_file_location("ingest_stage_69", ROOT / "stages" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("fault, why, check", [
    (MemoryError(), "out of memory", "free memory and the process's memory limit (`ulimit -v`, a container's)"),
    (OSError(errno.EMFILE, "Too many open files"), "Too many open files", "the open-file limit (`ulimit -n`)"),
])
def test_a_process_limit_met_decoding_an_image_stops_ingest_not_a_row_blaming_the_file(tmp_path, monkeypatch, capsys,
                                                                                       fault, why, check):
    # before: a 6000x6000 JPEG ingested under a 500 MB address-space limit (`ulimit -v`) was a row "unreadable:
    # MemoryError" in rejected.csv and ingest ended with status 0, 36 images of the 37; the source listing unchanged,
    # DVC then kept that set once the limit was raised. Here Pillow's decode of the one JPEG fails as it does then
    project, _ = imagefolder_project(tmp_path)
    photo = tmp_path / "images" / "c1" / "photo.jpg"
    Image.fromarray(np.full((8, 8), 99, np.uint8)).save(photo)

    def load(image):  # the set's one JPEG: the others are PNGs
        raise fault

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    monkeypatch.chdir(project)
    monkeypatch.setattr("sys.argv", ["stages/ingest.py"])
    main = _ingest_main()
    before = files_under(project)
    from winnow.stage import run

    with pytest.raises(SystemExit) as ended:
        run(main)
    assert (ended.value.code, capsys.readouterr().err) == (1, (
        f"error: ingest.path: cannot read {photo} ({why}), which its folder lists; nothing was ingested: check "
        f"{check}, then rerun\n"))
    assert files_under(project) == before  # no imageset, no rejected.csv, no metrics, no temporary
