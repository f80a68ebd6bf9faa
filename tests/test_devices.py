"""A device this machine lacks is one line naming the option that asked for it, whichever stage reads it:
params accept cuda:<index> and mps (a params.yaml written on a GPU host is valid), the machine decides."""

import numpy as np
import pytest
import torch

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage
from winnow.configs import GanConfig, PretrainedConfig, SelfSupConfig
from winnow.errors import WinnowError
from winnow.gan import train_gan
from winnow.pretrained import embed
from winnow.selfsup import pretrain
from winnow.torch_runtime import pick_device


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize("name, problem", [
    ("cuda", "cuda requested but no CUDA device is visible"),
    ("cuda:1", "cuda:1 requested but no CUDA device is visible"),  # before: torch's AssertionError traceback
    ("mps", "mps requested but this machine has no MPS device"),  # before: torch's RuntimeError traceback
])
def test_a_device_the_machine_lacks_is_refused_naming_the_option(cpu_only, name, problem):
    with pytest.raises(WinnowError, match=rf"^balance\.device: {problem}; use auto or cpu$"):
        pick_device(name, option="balance.device")


def test_a_cuda_index_past_the_devices_visible_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pick_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(WinnowError, match=r"^train\.device: cuda:2 requested but only 2 CUDA device\(s\) are visible; "
                                          r"use auto or cpu$"):
        pick_device("cuda:2")


def test_auto_and_cpu_need_nothing_of_the_machine(cpu_only):
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("run, option", [
    (lambda images: train_gan(images, np.zeros(4, np.int64), config=GanConfig(device="cuda:0"), num_classes=1,
                              seed=0, progress=False), "gan.train.device"),
    (lambda images: pretrain(images, config=SelfSupConfig(device="cuda:0"), seed=0, progress=False),
     "represent.selfsup.device"),
    (lambda images: embed(images, config=PretrainedConfig(device="cuda:0"), progress=False),
     "represent.pretrained.device"),
])
def test_each_model_names_its_own_device_option(cpu_only, run, option):
    # before: cuda named train.device, a parameter the user had not touched, and cuda:0 was torch's traceback
    with pytest.raises(WinnowError, match=rf"^{option}: cuda:0 requested but no CUDA device is visible; "):
        run(np.zeros((4, 8, 8, 1), np.uint8))


@pytest.mark.hostile("params")
def test_the_balance_stage_names_balance_device(tmp_path):
    # before: error: train.device: cuda requested ..., a parameter the user had not touched
    params = default_params()
    params["balance"]["device"] = "mps"
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    assert assert_error_line(run_stage(project, "balance")) == (
        "error: balance.device: mps requested but this machine has no MPS device; use auto or cpu")
    assert_nothing_left(project, before)
