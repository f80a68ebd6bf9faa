"""Hostile cases of the 77th stop's leftovers of stop 76 (launch settings and devices):

- train in a plain process (torchrun did not start it: no TORCHELASTIC_RUN_ID) with WORLD_SIZE=2, RANK, LOCAL_RANK,
  MASTER_ADDR and MASTER_PORT left set in the shell: one line, after a short wait, naming the variables to unset;
  before, the rendezvous waited 30 minutes for a rank that never came, then torch's traceback;
- the same variables set by torchrun (TORCHELASTIC_RUN_ID): torch's own env:// rendezvous, as before;
- ingest.path: prep/raw, the output of the fetch stage of prep/dvc.yaml (a second dvc.yaml, whose stages DVC runs as
  the top one's), in the project and in the copy a queued experiment of ingest alone runs in, which lacks it: the
  params check's line that a path in a stage's output is refused with, as for the top dvc.yaml's outputs; before, the
  project ingested it, and the copy told the user to `dvc add prep/raw`, which DVC refuses for a stage's output.
- gan.train.device: cuda:1 on a host of one GPU: one line naming it before anything is read; before, a missing
  models/baseline.pt was named in its place (and with the model there, it was read and run before the refusal);
- balance.device: cuda:1 on a host of two GPUs: the baseline model that picks the edge cases runs on cuda:1; before,
  on cuda:0 (the device's kind alone was passed on), the copies on cuda:1.
- train.device (train, evaluate, represent's judge) and data_valuation.device: cuda:1 on a host of one GPU, an input missing too: the
  device's line before any file is read; before, the missing variant rows, model, embedding or images was named first, and
  the device only once that was made;
- represent.pretrained torchvision:resnet18 with download: true, stderr a log (not a terminal): torch.hub's download
  bar and the Hugging Face Hub's are off, as winnow's own bars are there, and on a terminal both draw, the hub's state
  given back after; before, torch.hub drew every state of the download into the log, carriage returns and all.

Each checks the whole line a user reads, and nothing partial left behind.
"""

from __future__ import annotations

import io
import socket
import sys

import pytest
import torch

from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_training_76 import _in_process

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _left_launch(monkeypatch, port: int, *, rank: str = "0") -> None:
    """torchrun's variables of a 2-rank launch, left set in a process torchrun did not start."""
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    for name, value in {"WORLD_SIZE": "2", "RANK": rank, "LOCAL_RANK": rank, "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.hostile("training")
def test_train_with_torchrun_variables_left_in_a_plain_process_is_refused_after_a_short_wait(
        tmp_path, monkeypatch, capsys):
    # before: rank 0 listened at MASTER_PORT and waited torch's 30 minutes for rank 1, which nothing would start, then
    # "torch.distributed.DistStoreError: Timed out after 1801 seconds waiting for clients. 1/2 clients joined."
    import winnow.torch_runtime as runtime
    from test_hostile_threshold_64 import _stage_module
    from test_hostile_training_76 import _tiny

    project = _tiny(tmp_path / "project", train={"model": "lenet5", "epochs": 1, "batch_size": 8})
    port = _free_port()
    _left_launch(monkeypatch, port)
    monkeypatch.setattr(runtime, "ALONE_RENDEZVOUS_S", 1)
    monkeypatch.chdir(project)
    before = files_under(project)
    done = _in_process(_stage_module("train").main, monkeypatch, capsys, "baseline", torchrun=True)
    assert assert_error_line(done) == (
        f"error: WORLD_SIZE=2: rank 0 waited 1 s at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port} for the other 1 rank(s), "
        "which never came, and torchrun did not start this process (no TORCHELASTIC_RUN_ID): the variables are left "
        "from another launch; unset WORLD_SIZE RANK LOCAL_RANK MASTER_ADDR MASTER_PORT to train in one process, or "
        "launch with torchrun (torchrun --nproc_per_node=2 ...)")
    assert_nothing_left(project, before)
    assert not torch.distributed.is_initialized()


@pytest.mark.hostile("training")
def test_a_plain_rank_1_whose_rank_0_never_listens_is_refused_after_a_short_wait(monkeypatch):
    # before: rank 1 retried its connection to MASTER_ADDR:MASTER_PORT for torch's 30 minutes, then a traceback
    import winnow.torch_runtime as runtime
    from winnow.errors import WinnowError

    port = _free_port()
    _left_launch(monkeypatch, port, rank="1")
    monkeypatch.setattr(runtime, "ALONE_RENDEZVOUS_S", 1)
    with pytest.raises(WinnowError) as refused:
        runtime.distributed_setup()
    assert str(refused.value) == (
        f"WORLD_SIZE=2: rank 1 waited 1 s at MASTER_ADDR:MASTER_PORT 127.0.0.1:{port} for rank 0, which never came, "
        "and torchrun did not start this process (no TORCHELASTIC_RUN_ID): the variables are left from another "
        "launch; unset WORLD_SIZE RANK LOCAL_RANK MASTER_ADDR MASTER_PORT to train in one process, or launch with "
        "torchrun (torchrun --nproc_per_node=2 ...)")
    assert not torch.distributed.is_initialized()


@pytest.mark.hostile("training")
def test_a_rank_torchrun_started_meets_its_peers_by_torchs_own_rendezvous(monkeypatch):
    # the short wait is for processes torchrun did not start: its ranks keep torch's env:// rendezvous (the agent's
    # store, its timeout), as before the mend
    import winnow.torch_runtime as runtime

    _left_launch(monkeypatch, _free_port())
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls = []
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setattr(torch.distributed, "TCPStore", lambda *_, **__: pytest.fail("a store of winnow's own"))
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 0)
    assert runtime.distributed_setup() == (0, 2)
    assert calls == [(("gloo",), {})]


NESTED_STAGE = "stages:\n  fetch:\n    cmd: python fetch.py\n    outs:\n    - raw\n"


@pytest.mark.hostile("dvc")
@pytest.mark.parametrize("where", ["project", "experiment copy"])
def test_a_path_a_second_dvc_yaml_writes_is_refused_as_a_stage_output(tmp_path, monkeypatch, capsys, where):
    # before: the copy (dvc exp run --queue ingest) said "error: ingest.path: prep/raw is not in the copy of the project
    # this experiment runs in (...): ... give its absolute path, or commit it to git or DVC (dvc add prep/raw, then
    # commit prep/raw.dvc)", which DVC refuses ("output 'prep/raw' is already specified in stage: 'fetch'"); the project
    # ingested prep/raw, which dvc repro deletes before fetch runs, as the params check says of the top dvc.yaml's
    from test_hostile_dvc_75 import _images
    from test_hostile_leftovers_76c import _experiment_copy
    from test_hostile_threshold_64 import _stage_in_process

    project, copy = _experiment_copy(tmp_path, "tmpq7x2", "prep/raw")
    _images(project / "prep/raw")
    runs_in = project if where == "project" else copy
    if where == "project":
        (project / "params.yaml").write_text((copy / "params.yaml").read_text())
        (project / "dvc.yaml").write_text("stages: {}\n")
    (runs_in / "prep").mkdir(exist_ok=True)
    (runs_in / "prep/dvc.yaml").write_text(NESTED_STAGE)
    before = files_under(runs_in)
    done = _stage_in_process(runs_in, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: params.yaml: ingest.path: prep/raw lies in an output of the prep/dvc.yaml:fetch stage (prep/raw), which "
        "dvc repro deletes before that stage runs; keep your file elsewhere"])
    assert_nothing_left(runs_in, before)


def _gpus(monkeypatch, count: int) -> None:
    """torch sees ``count`` CUDA devices (this machine has none)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.hostile("training")
def test_gan_train_device_the_host_lacks_is_refused_before_the_baseline_model_is_read(tmp_path, monkeypatch, capsys):
    # before: "error: models/baseline.pt: model file not found; rerun the train@baseline stage (dvc repro
    # train@baseline)", the wrong cause; with the model there, it was read and run on the val images before the GAN's
    # training refused the device
    import yaml

    from hostile_harness import make_project
    from test_gan import gan_project
    from test_hostile_training_70r import _in_process as _stage_run

    project = gan_project(tmp_path / "project", weak_k=2)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["train"]["device"] = "cuda:1"
    make_project(project, params)
    (project / "models/baseline.pt").unlink()
    _gpus(monkeypatch, 1)
    before = files_under(project)
    with pytest.raises(SystemExit) as refused:
        _stage_run(project, monkeypatch, "gan_synthesize")
    assert (refused.value.code, capsys.readouterr().err.splitlines()) == (1, [
        "error: gan.train.device: cuda:1 requested but only 1 CUDA device(s) are visible; use auto or cpu"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("balance")
def test_balance_runs_its_baseline_model_on_the_gpu_balance_device_names(tmp_path, monkeypatch, capsys):
    # before: load(device="cuda"), balance.device's kind alone: with cuda:1 set on a host of two GPUs the model that
    # picks the edge cases ran on cuda:0, the copies on cuda:1
    import numpy as np
    import yaml

    from hostile_harness import make_project
    from test_augment import _stage
    from test_hostile_balance_more import balance_project
    from winnow.errors import WinnowError

    images = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path / "project", images, np.array([0, 0, 0, 0, 1, 1]), policy={"n": 1})
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["balance"].update(edge_fraction=0.5, device="cuda:1")
    make_project(project, params)
    _gpus(monkeypatch, 2)
    stage = _stage("balance")
    asked = []

    def load(path, *, device, **_):
        asked.append(device)
        raise WinnowError("stopped where the model is read")

    monkeypatch.setattr(stage, "load", load)
    monkeypatch.chdir(project)
    done = _in_process(stage.main, monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines(), asked) == (1, ["error: stopped where the model is read"],
                                                                  ["cuda:1"])


class _Terminal(io.StringIO):
    """stderr as a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.hostile("progress")
@pytest.mark.parametrize(("stderr", "drawn"), [(io.StringIO, False), (_Terminal, True)], ids=["log", "terminal"])
def test_weight_downloads_draw_their_bars_on_a_terminal_alone(tmp_path, monkeypatch, stderr, drawn):
    # before: torchvision's builder fetched its weights through torch.hub.download_url_to_file(progress=True), whose
    # tqdm bar wrote each state to a log that winnow's own bars (tqdm's disable=None) leave alone
    import types

    from test_pretrained_libraries import Pooled, config, images
    from winnow import pretrained

    shown = []  # each download's progress flag, as torch.hub (and the Hugging Face Hub) were left to draw

    def download(url, dst, hash_prefix=None, progress=True):  # torch.hub's, with no network
        shown.append(("torch.hub", progress))

    def get_model(name, *, weights=None):  # torchvision's builders fetch their weights with progress=True by default
        torch.hub.download_url_to_file(weights.url, str(tmp_path / "r18.pth"), None, progress=True)
        shown.append(("hugging face hub", not hub["off"]))
        return Pooled("fc")

    hub = {"off": False}
    utils = types.SimpleNamespace(are_progress_bars_disabled=lambda: hub["off"],
                                  disable_progress_bars=lambda: hub.update(off=True),
                                  enable_progress_bars=lambda: hub.update(off=False))
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(utils=utils))
    monkeypatch.setitem(sys.modules, "huggingface_hub.utils", utils)
    weights = types.SimpleNamespace(DEFAULT=types.SimpleNamespace(url="https://download.pytorch.org/models/r18.pth"))
    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(models=types.SimpleNamespace(
        get_model=get_model, get_model_weights=lambda name: weights)))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    monkeypatch.setattr(sys, "stderr", stderr())
    features, _ = pretrained.embed(images(), config=config("torchvision:resnet18", download=True), progress=False)
    assert (features.shape, shown) == ((5, 3), [("torch.hub", drawn), ("hugging face hub", drawn)])
    assert (torch.hub.download_url_to_file, hub["off"], sys.stderr.getvalue()) == (download, False, "")


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("stage", "argv", "section", "gone", "missing"), [
    ("train", ["baseline"], "train", "data/variants/baseline",
     "data/variants/baseline/rows.parquet: not found; rerun the variants stage (dvc repro variants)"),
    ("evaluate", ["baseline"], "train", "data/variants/baseline",
     "models/baseline.pt: model file not found; rerun the train@baseline stage (dvc repro train@baseline)"),
    ("data_valuation", [], "data_valuation", "data/variants/baseline",
     "data/represent/embeddings.npy: missing; rerun the represent stage (dvc repro represent)"),
    ("represent", [], "train", "data/degrade/images.npy",  # the judge trains on train.device
     "data/degrade: not an imageset, images.npy is missing (run the stage that writes it)"),
], ids=["train", "evaluate", "data-valuation", "represent"])
def test_a_device_the_host_lacks_is_named_before_a_missing_input(tmp_path, monkeypatch, capsys, stage, argv, section,
                                                                 gone, missing):
    # before: "error: <missing>": the device, refused only as the model was built or loaded, was named after that
    # input was made (dvc repro of the stages before)
    import shutil

    import yaml

    from hostile_harness import make_project
    from test_hostile_threshold_64 import _stage_module
    from test_hostile_training_76 import _tiny

    project = _tiny(tmp_path / "project", train={"model": "lenet5", "epochs": 1, "batch_size": 8})
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[section]["device"] = "cuda:1"
    make_project(project, params)
    if (project / gone).is_dir():
        shutil.rmtree(project / gone)
    else:
        (project / gone).unlink()
    _gpus(monkeypatch, 1)
    monkeypatch.chdir(project)
    before = files_under(project)
    done = _in_process(_stage_module(stage).main, monkeypatch, capsys, *argv)
    assert assert_error_line(done) == (
        f"error: {section}.device: cuda:1 requested but only 1 CUDA device(s) are visible; use auto or cpu")
    assert_nothing_left(project, before)
    params[section]["device"] = "cpu"  # the device put right, the missing input is what is named
    make_project(project, params)
    done = _in_process(_stage_module(stage).main, monkeypatch, capsys, *argv)
    assert assert_error_line(done) == f"error: {missing}"
