"""Hostile cases for data beyond memory through the memory-mapped imageset (third pass, stop 63): the represent
stage's model trains on the pixels for minutes, then embeds them, and an ``images.npy`` rewritten in place in
between must stop it in one line (on either engine, named), not give features of other images than the model learnt
from, and so must one rewritten between the budget check's trainings; degrade's damage to a memory-mapped set, the
noise of gaussian_noise too, must take memory for the damaged images, not many times their pixels; the ranks of a
torchrun, each reading its own machine's copy of the data and of params.yaml, must train on the same data and
settings or stop in one line; and a Ray node that does not see the driver's images file must say so."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import tracemalloc
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import forked_run
from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project,
)
from test_hostile_budget import budget_stage
from test_represent import SELFSUP, blobs, write_blobs
from winnow import perturb, torch_runtime
from winnow.configs import TrainConfig
from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import read_imageset, write_imageset
from winnow.file_rows import FileRows
from winnow.training import fit

# Runs stages/represent.py with winnow.selfsup.pretrain wrapped: once the model has trained, images.npy is
# rewritten in place (the same inode, as `cp other.npy data/degrade/images.npy` does) with every pixel inverted
_REWRITING_LAUNCHER = '''
import runpy, sys
import numpy as np
import winnow.selfsup as selfsup

pretrain = selfsup.pretrain


def pretrain_then_rewrite(*args, **kwargs):
    trained = pretrain(*args, **kwargs)
    path = "data/degrade/images.npy"
    inverted = 255 - np.load(path)
    with open(path, "r+b") as handle:
        handle.seek(-inverted.nbytes, 2)
        handle.write(inverted.tobytes())
    return trained


selfsup.pretrain = pretrain_then_rewrite
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_images_rewritten_in_place_while_represent_trains_stop_it_in_one_line(tmp_path, engine):
    # found by probing: before, only the embedding pass was watched for a rewrite, and it began after the training,
    # so represent exited 0 with the features of the inverted images, from a model trained on the originals, under
    # the original ids (engine local and ray alike: Ray's tasks stamp the file when the embedding starts). Found in
    # review: under compute.engine: ray the line named compute.engine: local, which the user had not set
    params = default_params()
    params["represent"] = {**params["represent"], "source": "selfsup", "knn_k": 5, "selfsup": SELFSUP}
    params["compute"] = {**params["compute"], "engine": engine, "ray": {"address": None, "num_cpus": 2}}
    project = make_project(tmp_path / "project", params)
    write_blobs(project, blobs())
    launcher = tmp_path / "launcher.py"
    launcher.write_text(_REWRITING_LAUNCHER)
    before = files_under(project)
    done = forked_run.run("script", str(launcher), [str(ROOT / "stages/represent.py")], cwd=project, env=_env(),
                          timeout=300)
    images = project.resolve() / "data/degrade/images.npy"
    assert assert_error_line(done) == (
        f"error: {images} was rewritten or replaced while the {engine} engine read it (compute.engine: {engine}; "
        "another run writing it?); its batches would mix old and new images: rerun when nothing else writes it")
    assert np.array_equal(np.load(images), 255 - blobs().images)  # the rewrite did land before the embedding
    assert_nothing_left(project, before)


@pytest.mark.hostile("budget")
def test_images_rewritten_in_place_between_the_budget_checks_trainings_stop_it_in_one_line(tmp_path, monkeypatch):
    # found in review, beside represent's: the budget's model check reads the train images from the memory-mapped
    # data/degrade/images.npy for each of its trainings, none's and the winner's, minutes apart; one rewritten in place
    # in between (cp over it) had the winner trained on other pixels than none, and the stage exited 0 with the verdict
    c = case()
    project = write_state(tmp_path / "p", c, issues=planted_fixes_then_mistakes(c), trusted=False,
                          params={"budget": {"check": True}})
    images = project.resolve() / "data/degrade/images.npy"
    stage = budget_stage()
    trained = []

    def fit(train_images, *_, **__):  # another run's cp over the file once none has trained
        trained.append(len(train_images))
        if len(trained) == 1:
            inverted = 255 - np.load(images)
            with open(images, "r+b") as handle:
                handle.seek(-inverted.nbytes, 2)
                handle.write(inverted.tobytes())

    monkeypatch.setattr(stage, "fit", fit)
    # the represent judge trained otherwise: none is trained here too, the first of the two trainings
    monkeypatch.setattr(stage, "load", lambda *_, **__: (SimpleNamespace(config=None, seed=None),))
    monkeypatch.setattr(stage, "predict_proba", lambda model, judged: np.eye(3)[np.zeros(len(judged), int)])
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as raised:
        stage.main()
    assert str(raised.value) == (
        f"{images} was rewritten or replaced while the local engine read it (compute.engine: local; another run "
        "writing it?); its batches would mix old and new images: rerun when nothing else writes it")
    assert len(trained) >= 2  # the winner trained after the rewrite
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("spec", [
    {"kind": "blur", "fraction": 0.5, "method": "box", "kernel": 3},
    {"kind": "near_duplicate", "fraction": 0.5, "low": 0.8, "high": 1.2, "mode": "overwrite"},
], ids=["blur", "near_duplicate"])
def test_damage_to_a_memory_mapped_set_takes_the_memory_of_the_damaged_images(tmp_path, spec):
    # found by probing: degrade of 200,000 32x32 images with the default damage peaked at 633 MiB of private memory
    # for a 585 MiB set, where the README says only the damaged rows take memory: each kind turned all the rows it
    # damaged into float64 at once, with temporaries beside (here 422 MiB for 23 MiB of damaged pixels, 18 times)
    n = 4000
    images, manifest, source = _memory_mapped_set(tmp_path, n)
    streamed, log, peak = _degrade_traced(source, spec, tmp_path / "work")
    damaged = len(log) * 64 * 64 * 3
    assert len(log) == n // 2
    # the damaged images held three times (their pixels, their damaged copy, the mask comparing the two), and one
    # chunk's float64 work: its CHUNK_BYTES of pixels at 8 bytes a value, four arrays of them at most
    assert peak < 3 * damaged + 4 * 8 * perturb.CHUNK_BYTES
    # each damaged image as the damage's definition gives it, applied to all of them in one call
    position = pd.Series(np.arange(n), index=manifest["id"])
    targets = position[log["id"]].to_numpy()
    if spec["kind"] == "blur":
        expected = perturb.blur(images[targets], method="box", kernel=3)
    else:
        factors = pd.DataFrame([json.loads(params)["factors"] for params in log["params"]])
        expected = perturb.jitter(images[position[log["source_id"]].to_numpy()],
                                  **{name: factors[name].to_numpy() for name in factors.columns})
    kept = pd.Series(np.arange(len(streamed)), index=streamed.manifest["id"])
    assert np.array_equal(streamed.images[kept[log["id"]].to_numpy()], expected)


def _memory_mapped_set(tmp_path: Path, n: int) -> tuple[np.ndarray, pd.DataFrame, object]:
    """(images, manifest, the imageset read back memory-mapped) of ``n`` random 64x64 colour images (4,000: 47 MiB)."""
    manifest = pd.DataFrame({"id": [f"im{i:04d}" for i in range(n)], "split": "train", "label": np.arange(n) % 4,
                             "source": "synthetic", "orig_h": 64, "orig_w": 64, "orig_mode": "RGB"})
    images = np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    write_imageset(tmp_path / "in", images, manifest, ["a", "b", "c", "d"])
    return images, manifest, read_imageset(tmp_path / "in")


def _degrade_traced(source, spec: dict, workdir: Path):
    """(degraded set, its log, the peak of the memory numpy allocated meanwhile) of ``spec`` applied to ``source``."""
    degrade(source.select(np.arange(100)), perturbations=[spec], seed=0)  # imports and set-up once, outside
    workdir.mkdir()
    tracemalloc.start()  # numpy reports its arrays' memory to tracemalloc
    try:
        streamed, log = degrade(source, perturbations=[spec], seed=0, workdir=workdir)
        return streamed, log, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.hostile("intermediates")
def test_gaussian_noise_on_a_memory_mapped_set_takes_the_damaged_images_memory_and_draws_a_seeds_noise(tmp_path,
                                                                                                   monkeypatch):
    # found in review: the chunked damage left gaussian_noise to draw, add and round its noise for all the damaged
    # images at once, saying chunks would change a seed's draws; they do not (a Generator's normals drawn chunk after
    # chunk, in order, are one call's), and at once its float64 work took 17 times the damaged pixels
    spec = {"kind": "gaussian_noise", "fraction": 0.5, "sigma": 20.0}
    _, _, source = _memory_mapped_set(tmp_path, 4000)
    streamed, log, peak = _degrade_traced(source, spec, tmp_path / "work")
    assert len(log) == 2000
    assert peak < 3 * len(log) * 64 * 64 * 3 + 4 * 8 * perturb.CHUNK_BYTES  # as for the kinds above
    # the images of the seed are those of the noise drawn for all the damaged images in one call
    monkeypatch.setattr(perturb, "CHUNK_BYTES", 1 << 40)
    (tmp_path / "whole").mkdir()
    whole, whole_log = degrade(source, perturbations=[spec], seed=0, workdir=tmp_path / "whole")
    pd.testing.assert_frame_equal(log, whole_log)
    assert np.array_equal(streamed.images, whole.images)


TORCHRUN_DIFFERS = ("labels", "lr", "val", "crop_padding", "code")


def _rank_with_each_copy(rank: int, world: int, out_dir: str, differences: tuple[str, ...]) -> None:
    """One rank of :func:`_rank_with_its_own_copy` for each of ``differences`` in turn, each in a process group of
    its own (its own init file): one start of the ranks' processes serves every case."""
    for differs in differences:
        Path(out_dir, differs).mkdir(exist_ok=True)
        _rank_with_its_own_copy(rank, world, str(Path(out_dir, f"init-{differs}")), str(Path(out_dir, differs)),
                                differs)


def _rank_with_its_own_copy(rank: int, world: int, init_file: str, out_dir: str, differs: str) -> None:
    """One rank as torchrun starts it on a machine of its own: the same images everywhere, but rank 1's copy is
    another version's in ``differs``: one label of 60 changed (the same count: nothing else tells the data apart),
    no val image (a version ingested without a val split), train.lr ten times rank 0's, or a train.crop_padding
    the 8x8 images cannot take (one rank's check of its own copy or params), or winnow's code of another checkout
    (one module another, params.yaml the same)."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                                         timeout=datetime.timedelta(seconds=60))
    images = np.random.default_rng(0).integers(0, 256, (60, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(60) % 3
    lr, crop_padding, val = 0.001, 1, 12
    if rank == 1 and differs == "labels":
        labels[7] = (labels[7] + 1) % 3
    if rank == 1 and differs == "val":
        val = 0
    if rank == 1 and differs == "lr":
        lr = 0.01
    if rank == 1 and differs == "crop_padding":
        crop_padding = 4
    if rank == 1 and differs == "code":  # the machine's checkout left behind: a copy of the package, one module other
        behind = Path(out_dir, "winnow")
        shutil.copytree(torch_runtime.WINNOW_CODE, behind, ignore=shutil.ignore_patterns("__pycache__"))
        with open(behind / "augment.py", "a") as module:
            module.write("\n# a line this machine's checkout does not have yet\n")
        torch_runtime.WINNOW_CODE = behind
    config = TrainConfig(model="lenet5", epochs=1, patience=None, batch_size=8, crop_padding=crop_padding, lr=lr,
                         device="cpu", threads=1)
    try:
        fit(images, labels, images[:val], labels[:val], config=config, num_classes=3, seed=0, progress=False)
        said = "trained"
    except WinnowError as err:
        said = str(err)
    finally:
        torch.distributed.destroy_process_group()
    Path(out_dir, f"rank{rank}.txt").write_text(said)


@pytest.mark.hostile("training")
@pytest.mark.parametrize("differs, line", [
    ("labels", "train: under torchrun rank 1 holds other train or val images or labels than rank 0 (1 rank(s) in all); "
               "every machine must hold the same data: run dvc pull (or dvc checkout) on each, then rerun"),
    ("lr", "train: under torchrun rank 1 runs another train.lr than rank 0 (1 rank(s) in all); every machine must run "
           "the same params.yaml: git pull (or copy it) on each, then rerun"),
    # found in review: a rank whose copy or params failed a check of fit's own (an empty val split, a crop padding
    # too wide) raised it before the ranks compared, alone, and rank 0 was left in the comparison's broadcast: a gloo
    # error when the rank's process ended (a hang until the group's timeout under nccl)
    ("val", "train: under torchrun rank 1 holds other train or val images or labels than rank 0 (1 rank(s) in all); "
            "every machine must hold the same data: run dvc pull (or dvc checkout) on each, then rerun"),
    ("crop_padding", "train: under torchrun rank 1 runs another train.crop_padding than rank 0 (1 rank(s) in all); "
                     "every machine must run the same params.yaml: git pull (or copy it) on each, then rerun"),
    # found by probing: a machine whose checkout was left behind (git pull on rank 0's only, params.yaml the same)
    # trained its shard with its own code beside rank 0's, and rank 0 wrote the model without a word
    ("code", "train: under torchrun rank 1 runs other winnow code (src/winnow) than rank 0 (1 rank(s) in all); every "
             "machine must run the same checkout and packages: git pull and make setup on each, then rerun"),
])
def test_torchrun_ranks_holding_other_data_or_settings_than_rank_0_stop_in_one_line(torchrun_ranks, differs, line):
    # found by probing: before, both ranks trained, each on its own copy, and rank 0 wrote a model of two data sets
    # (a machine left at another version: dvc pull not run there), or of two learning rates, each rank stepping the
    # averaged gradients its own way; with another row count, rank 1 had another number of steps and waited in the
    # allreduce until the group's timeout
    assert [(torchrun_ranks / differs / f"rank{rank}.txt").read_text() for rank in (0, 1)] == [line, line]


@pytest.fixture(scope="module")
def torchrun_ranks(tmp_path_factory) -> Path:
    """The folder where the two ranks of a torchrun wrote what each said (``<differs>/rank<N>.txt``), for each of
    TORCHRUN_DIFFERS: the ranks' processes (each importing torch and winnow) started once, not once a case."""
    out = tmp_path_factory.mktemp("torchrun")
    torch.multiprocessing.start_processes(_rank_with_each_copy, args=(2, str(out), TORCHRUN_DIFFERS), nprocs=2,
                                          start_method="spawn")
    return out


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("there", ["another copy", "none"])
def test_a_ray_node_without_the_drivers_images_file_is_told_so_not_to_rerun(tmp_path, there):
    # found by probing: a Ray task on a node holding its own copy of the repository (dvc pull on each machine, as
    # the README's torchrun recipe has it) said the file "was rewritten or replaced while compute.engine: ray read it
    # (another run writing it?) ... rerun when nothing else writes it", which fails the same way every time; a node
    # with no copy, only "No such file or directory". A task reads the file through FileRows.read, on its own node:
    # here the driver's record says another machine
    path = tmp_path / "data/degrade/images.npy"
    path.parent.mkdir(parents=True)
    np.save(path, np.zeros((6, 4, 4, 1), np.uint8))
    rows = replace(FileRows.of(np.load(path, mmap_mode="r")), host="head-node")
    copy = tmp_path / "copy.npy"
    np.save(copy, np.zeros((6, 4, 4, 1), np.uint8))  # the same bytes, another file: what dvc pull makes there
    if there == "another copy":
        os.replace(copy, path)
    else:
        path.unlink()
    with pytest.raises(WinnowError) as raised:
        rows.read()
    assert str(raised.value) == (
        f"compute.engine: ray: node {socket.gethostname()} does not see the file {path} that the driver on head-node "
        "reads (another copy there, or none); every node must see the repository at the same path on a shared file "
        "system, or set compute.engine: local")
