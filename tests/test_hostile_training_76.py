"""Hostile cases of the 76th stop's probe of training, seeds and the model files:

- budget's model check of a models/represent.pt whose weights are NaN (edited by hand), where the represent judge
  stands in for none's training: the line evaluate, balance and gan-synthesize give of such a model, naming it and the
  represent stage; before, argmax read its NaN rows as class 0, none was right only on the judge images of class 0,
  and the winner was measured better than that, exit 0;
- train of resnet18 on 8x8 images, 2 train images shared by 2 torchrun ranks: each rank's share is one image, which
  its batch norm cannot normalise; before, the line said "train: 1 train image" of a data set of 2, and told the user
  to "train on at least 2 images a batch" under a batch size of 8, which changes nothing;
- train with WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT left set in the shell (exported for an earlier run) while
  another process holds the port: one line naming the address and the reason; before, torch's DistNetworkError
  traceback;
- train with a MASTER_PORT that is no port (295OO, 99999): one line naming it, as WORLD_SIZE and RANK are named;
  before, int()'s ValueError traceback from inside torch's rendezvous, or torch's own of a port past 65535.

Each checks the whole line a user reads, and nothing partial left behind.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_budget import budget_stage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _in_process(main, monkeypatch, capsys, *argv: str, torchrun: bool = False) -> subprocess.CompletedProcess:
    """``main`` run as a stage script's ``run(main)`` runs it, its exit status and output as a finished process's."""
    from winnow.stage import run

    monkeypatch.setattr(sys, "argv", ["stage.py", *argv])
    try:
        run(main, reads_arguments=bool(argv), torchrun=torchrun)
        status = 0
    except SystemExit as stop:
        status = stop.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["stage"], status, out.out, out.err)


@pytest.mark.hostile("training")
def test_budget_refuses_a_represent_judge_of_nan_weights_standing_in_for_none(tmp_path, monkeypatch, capsys):
    # before: exit 0; the judge's NaN probabilities argmaxed to class 0 for all 900 val images, so none's model got the
    # 300 of class 0 right and any cleaning whose model did better was measured better than none
    from winnow.training import TrainConfig, Trained

    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"budget": {"check": True}})
    params = yaml.safe_load((project / "params.yaml").read_text())
    # the judge as its checkpoint loads, trained as the train section and seed say (so it stands in for none), on the
    # project's 1x1 grey images, its weights NaN
    net = nn.Sequential(nn.Flatten(), nn.Linear(1, 3))
    with torch.no_grad():
        net[1].weight.fill_(float("nan"))
    judge = Trained(net.eval(), torch.zeros(1), torch.ones(1), [], 1, TrainConfig.from_params(params["train"]),
                    params["seed"])
    stage = budget_stage()
    monkeypatch.setattr(stage, "load", lambda *_, **__: (judge, ["left", "middle", "right"]))
    monkeypatch.setattr(stage, "fit", lambda *_, **__: pytest.fail("the winner was trained beside a NaN none"))
    monkeypatch.chdir(project)
    before = files_under(project)
    done = _in_process(stage.main, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/represent.pt: gives non-finite probabilities (NaN or infinity) for 900 of 900 val images, first "
        "'val-0000', so its predictions mean nothing; rerun the represent stage (dvc repro represent)")
    assert_nothing_left(project, before)


def _tiny(root, *, train: dict):
    """A project of classes a and b (1 train, 1 val and 1 test image each, 8x8 grey, baseline keeping every train
    image) whose train section is updated by ``train``."""
    import pandas as pd

    from hostile_harness import default_params, make_project
    from winnow.degrade import perturbation_table
    from winnow.imageset import write_imageset
    from winnow.stage import write_table
    from winnow.variants import baseline_rows, write_variant

    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline"]
    params["contracts"]["enforce_variants"] = []
    params["train"].update(device="cpu", crop_padding=0, **train)
    project = make_project(root, params)
    rows = [(f"{split}-{c}", split, c) for split in ("train", "val", "test") for c in range(2)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    for name in ("ingest", "degrade"):
        write_imageset(project / "data" / name, images, manifest, ["a", "b"])
    write_table(project / "data/degrade/perturbations.parquet", perturbation_table([]))
    write_variant("baseline", baseline_rows(manifest), root=project / "data/variants")
    return project


@pytest.mark.hostile("training")
def test_train_under_more_torchrun_ranks_than_images_for_batch_norm_names_the_ranks(tmp_path, monkeypatch, capsys):
    # before: "error: train: 1 train image leaves resnet18's batch norm one value per channel on 8x8 images, which it
    # cannot normalise; train on at least 2 images a batch (or larger images, or lenet5)": the data set held 2 train
    # images and the batch size was 8. Here the stage runs as rank 0 of two; the refusal comes before any collective
    import winnow.training
    from test_hostile_threshold_64 import _stage_module

    project = _tiny(tmp_path / "project", train={"model": "resnet18", "epochs": 1, "batch_size": 8})
    monkeypatch.setattr(winnow.training, "distributed_setup", lambda: (0, 2))
    monkeypatch.setattr(winnow.training, "check_same_data", lambda *_, **__: None)  # the ranks' data: one process
    monkeypatch.chdir(project)
    before = files_under(project)
    done = _in_process(_stage_module("train").main, monkeypatch, capsys, "baseline")
    assert assert_error_line(done) == (
        "error: train: 2 train images shared by 2 torchrun ranks give each rank 1, and a batch of 1 leaves resnet18's "
        "batch norm one value per channel on 8x8 images, which it cannot normalise; start at most 1 rank(s) in all "
        "(torchrun --nproc_per_node), or train on more images (or larger images, or lenet5)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_train_whose_torchrun_variables_name_a_port_another_process_holds_is_one_line(tmp_path, monkeypatch, capsys):
    # before: a traceback ending "torch.distributed.DistNetworkError: The server socket has failed to listen on any
    # local network address. port: ..., name: EADDRINUSE, message: address already in use"
    import socket

    from test_hostile_threshold_64 import _stage_module

    project = _tiny(tmp_path / "project", train={"model": "lenet5", "epochs": 1, "batch_size": 8})
    with socket.socket() as holder:  # the port another process listens on
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        launch = {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        for name, value in launch.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(project)
        before = files_under(project)
        done = _in_process(_stage_module("train").main, monkeypatch, capsys, "baseline", torchrun=True)
    assert assert_error_line(done) == (
        f"error: WORLD_SIZE=2: rank 0 could not set up the process group at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port} "
        "(address already in use); launch with torchrun (torchrun --nproc_per_node=2 ...), which sets them for every "
        "rank, or unset WORLD_SIZE to train in one process")
    assert_nothing_left(project, before)
    assert not torch.distributed.is_initialized()


@pytest.mark.hostile("training")
@pytest.mark.parametrize("port", ["295OO", "99999"])
def test_train_whose_master_port_is_no_port_is_one_line(tmp_path, monkeypatch, capsys, port):
    # before: "ValueError: invalid literal for int() with base 10: '295OO'" (or "port must have value from 0 to 65535
    # but was 99999."), a traceback from torch's env:// rendezvous
    from test_hostile_threshold_64 import _stage_module

    project = _tiny(tmp_path / "project", train={"model": "lenet5", "epochs": 1, "batch_size": 8})
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(project)
    before = files_under(project)
    done = _in_process(_stage_module("train").main, monkeypatch, capsys, "baseline", torchrun=True)
    assert assert_error_line(done) == (f"error: MASTER_PORT='{port}': not a whole number from 1 to 65535; torchrun "
                                       "sets it, so launch with torchrun or unset MASTER_PORT")
    assert_nothing_left(project, before)
