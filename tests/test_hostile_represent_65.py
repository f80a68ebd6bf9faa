"""Hostile cases of the represent stage (a probe's findings, fourth pass): each runs ``stages/represent.py`` in this
process on the 48 blob images of ``test_represent`` and asserts the one line, or the numbers, a user gets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hostile_harness import ROOT, assert_error_line, assert_nothing_left, default_params, files_under, \
    flip_a_bit, make_project
from test_contracts import _stage_module
from test_hostile_represent import N
from test_represent import blobs, write_blobs
from winnow.errors import WinnowError
from winnow.params import validate
from winnow.stage import run


def _represent(project: Path, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """``stages/represent.py`` run in this process as dvc.yaml's command would, its exit status and output as a
    finished process's (a forked run costs seconds a case)."""
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", ["represent.py"])
    try:
        run(_stage_module("represent").main)
        status = 0
    except SystemExit as stop:
        status = stop.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["represent"], status, out.out, out.err)


def _project(root: Path, **section) -> Path:
    """A project of the blob images in data/degrade whose represent section is the default's updated by ``section``."""
    params = default_params()
    params["represent"] = {**params["represent"], **section}
    project = make_project(root / "project", params)
    write_blobs(project, blobs())
    return project


@pytest.mark.hostile("represent")
def test_a_torchscript_file_with_a_bit_flipped_in_a_weight_is_one_line(tmp_path, monkeypatch, capsys):
    # before: exit 0, every image embedded with the changed weight; only the sha256 in metrics/represent.json differed
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "net.pt", "input_size": 16,
                                                                  "batch_size": 16, "device": "cpu"})
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    torch.jit.save(torch.jit.script(net), str(project / "net.pt"))
    assert flip_a_bit(project / "net.pt", member="data/0") == "net/data/0"  # the convolution's weights
    before = files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.pretrained.torchscript: net.pt: corrupt: its member net/data/0 fails its CRC-32 "
                    "check (a bit changed on disk or in a copy); copy or save the model again")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_model_kept_as_represents_own_model_file_is_refused_and_left_as_it_was(tmp_path, monkeypatch,
                                                                                                capsys):
    # before: exit 0, and the user's model overwritten by the record of where the features came from (run by hand), or
    # deleted by dvc repro before the stage ran, which then said it was not found
    project = _project(tmp_path, source="pretrained", pretrained={"torchscript": "models/represent.pt",
                                                                  "input_size": 16, "batch_size": 16, "device": "cpu"})
    (project / "models").mkdir(exist_ok=True)
    torch.jit.save(torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())),
                   str(project / "models/represent.pt"))
    mine, before = (project / "models/represent.pt").read_bytes(), files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: params.yaml: represent.pretrained.torchscript: models/represent.pt is the stage's own "
                    "output, which dvc repro deletes before it runs and the stage then writes; keep your file elsewhere")
    assert_nothing_left(project, before)
    assert (project / "models/represent.pt").read_bytes() == mine


@pytest.mark.hostile("params")
def test_a_users_file_at_represents_metrics_by_its_absolute_path_is_refused_naming_the_output(tmp_path, monkeypatch):
    params = default_params()
    params["represent"] = params["represent"] | {"source": "file", "file": str(tmp_path / "metrics/represent.json")}
    monkeypatch.chdir(tmp_path)  # the project's root, where params.yaml is read
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == (f"params.yaml: represent.file: {tmp_path}/metrics/represent.json "
                                  "(metrics/represent.json) is the stage's own output, which dvc repro deletes before "
                                  "it runs and the stage then writes; keep your file elsewhere")


@pytest.mark.hostile("represent")
def test_a_users_embedding_kept_beside_the_degraded_images_is_refused_and_left_as_it_was(tmp_path, monkeypatch,
                                                                                           capsys):
    # before: read, exit 0; but a file in data/degrade makes dvc status see degrade's output modified, so the next dvc
    # repro reran degrade, which deleted the file (never in DVC's cache), and represent then said it was not found
    project = _project(tmp_path, source="file", file="data/degrade/embeddings.npy")
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")  # the stages' outputs, as a project has them
    pixels = blobs().images.reshape(N, -1).astype(np.float32)
    np.save(project / "data/degrade/embeddings.npy", pixels)
    mine, before = (project / "data/degrade/embeddings.npy").read_bytes(), files_under(project)
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: params.yaml: represent.file: data/degrade/embeddings.npy lies in an output of the degrade "
                    "stage (data/degrade), which dvc repro deletes before that stage runs; keep your file elsewhere")
    assert_nothing_left(project, before)
    assert (project / "data/degrade/embeddings.npy").read_bytes() == mine


@pytest.mark.hostile("params")
def test_a_users_model_beside_the_variants_models_is_not_refused(tmp_path, monkeypatch):
    # models/${item.variant}.pt names the variants' models alone: a TorchScript file of the user's in models/ stays
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    monkeypatch.chdir(tmp_path)
    params = default_params()
    params["represent"] = params["represent"] | {"source": "pretrained",
                                                 "pretrained": {"torchscript": "models/encoder.pt"}}
    validate(params)


@pytest.mark.hostile("params")
def test_a_link_in_degrades_output_to_a_users_file_elsewhere_is_refused(tmp_path, monkeypatch):
    # the link, not its target, lies in data/degrade: dvc repro of degrade deletes it, and represent then said the file
    # was not found. Before: the path was resolved first, its target lay in no project, and it passed
    (tmp_path / "project/data/degrade").mkdir(parents=True)
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "project/dvc.yaml")
    np.save(tmp_path / "embeddings.npy", np.zeros((2, 2), np.float32))
    (tmp_path / "project/data/degrade/embeddings.npy").symlink_to(tmp_path / "embeddings.npy")
    monkeypatch.chdir(tmp_path / "project")
    params = default_params()
    params["represent"] = params["represent"] | {"source": "file", "file": "data/degrade/embeddings.npy"}
    with pytest.raises(WinnowError) as refused:
        validate(params)
    assert str(refused.value) == ("params.yaml: represent.file: data/degrade/embeddings.npy lies in an output of the "
                                  "degrade stage (data/degrade), which dvc repro deletes before that stage runs; keep "
                                  "your file elsewhere")


@pytest.mark.hostile("params")
def test_the_embeddings_of_another_checkout_are_not_refused(tmp_path, monkeypatch):
    # README: a .npy of represent.file with ids.json beside it "as represent writes data/represent/ids.json": another
    # checkout's data/represent is read, and this project's dvc repro never deletes it. Before: refused as lying in an
    # output of the represent stage, the project found from the file's own path
    for checkout in ("other", "project"):
        (tmp_path / checkout / "data/represent").mkdir(parents=True)
        shutil.copy(ROOT / "dvc.yaml", tmp_path / checkout / "dvc.yaml")
    np.save(tmp_path / "other/data/represent/embeddings.npy", np.zeros((2, 2), np.float32))
    monkeypatch.chdir(tmp_path / "project")
    params = default_params()
    params["represent"] = params["represent"] | {"source": "file",
                                                 "file": str(tmp_path / "other/data/represent/embeddings.npy")}
    validate(params)
