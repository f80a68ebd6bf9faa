"""Faults of the machine met mid-run, found in review of stop 69: a file-size limit met in a stage's work files names
the output it was for, never a scratch folder the user cannot find."""

from __future__ import annotations

import importlib.util
import resource

import numpy as np
import pandas as pd
import pytest

from hostile_harness import ROOT, default_params, files_under, make_project
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
        "error: stages/degrade.py: data/degrade: File too large [EFBIG]; free space, or fix the path or its "
        "permissions, then rerun\n"))
    assert files_under(project) == before
