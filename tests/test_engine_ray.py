"""compute.engine: ray: score's and dedup's per-image batches as Ray Data tasks, and the represent stage's
encoders as a Ray Data actor pool, on a tiny local cluster give the local engine's output byte for byte,
rows in order (winnow.engine); and without a cluster to join, the score stage stops with one line. Then the
hostile cases: a file replaced under the tasks, views of a memory map, a batch function's one-line errors, a
worker that dies, a stage terminated (winnow.ray_tasks)."""

import importlib.util
import os
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import imagehash
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import forked_run
from conftest import require
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage,
)
from test_dedup_copies import smooth_images
from winnow import perturb, selfsup, training
from winnow.configs import SelfSupConfig, TrainConfig
from winnow.dedup import dedup_images
from winnow.engine import Encoder, Engine, _process_as_it_is, runtime_env
from winnow.errors import WinnowError
from winnow.models import build_model
from winnow.imageset import read_imageset, write_imageset
from winnow.phash import phash64
from winnow.quality import score_table
from winnow.file_rows import FileRows
from winnow.ray_address import _check_reachable
from winnow.ray_tasks import ENCODER_PACKAGES, EmbedActor, in_row_order, package_versions
from winnow.thumbnails import Looks

RAY = Engine("ray")


# Runs a stage script on a machine where no Ray cluster runs, whatever the suite's other worker runs meanwhile: Ray's
# look for the clusters of this machine (the gcs_server processes of every user and session) finds none
_NO_CLUSTER_ON_THE_MACHINE = """
import runpy, sys
from winnow.ray_tasks import import_ray
import_ray()  # as the engine imports it, first
import ray._private.services
def no_cluster():
    return frozenset()
no_cluster.cache_clear = lambda: None  # ray.init and ray.shutdown clear the look's cache
ray._private.services.find_gcs_addresses = no_cluster
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.hostile("params")
def test_ray_engine_without_a_running_cluster(tmp_path):
    """Hostile compute settings: the Ray engine asked to join a cluster that is not there stops the real
    score stage with one line naming compute.ray.address, before anything is written. "auto" joins any cluster
    on the machine: before, a local cluster that a test of another file started meanwhile in the suite's other
    worker (test_hostile_scale_63's represent on compute.engine: ray) was joined, and the stage ended in no such
    line (forced by a cluster started beside it: "ended with status 1 before any Python code could say why");
    first in this module did not help, so the stage looks for clusters as on a machine that runs none."""
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    params = default_params()
    params["compute"] = {"engine": "ray", "ray": {"address": "auto", "num_cpus": None}, "knn": "numpy"}
    project = make_project(tmp_path / "project", params)
    manifest = pd.DataFrame({"id": ["a", "b"], "split": "train", "label": 0, "source": "t", "orig_h": 8,
                             "orig_w": 8, "orig_mode": "L"})
    write_imageset(project / "data/degrade", np.zeros((2, 8, 8, 1), np.uint8), manifest, ["x"])
    launcher = tmp_path / "no_cluster.py"
    launcher.write_text(_NO_CLUSTER_ON_THE_MACHINE)
    before = files_under(project)
    done = forked_run.run("script", str(launcher), [str(ROOT / "stages/score.py")], cwd=project, env=_env(),
                          timeout=900)
    line = assert_error_line(done, "compute.ray.address", "no Ray cluster at 'auto'", "ray start --head",
                             "compute.ray.address: null")
    assert line.startswith("error: compute.ray.address: no Ray cluster at 'auto' (Could not find any running Ray")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("address, problem", [
    # before: Ray retried for ever, printing "Failed to connect to GCS" and deaf to SIGINT and SIGTERM
    ("127.0.0.1:1", "no Ray cluster at '127.0.0.1:1' (ConnectionRefusedError: Connection refused); start one with "
                    "`ray start --head`, or set compute.ray.address: null for a local one"),
    # before: ValueError "Unable to parse port number" traceback
    ("nohost:abc", "'nohost:abc' is not host:port, ray://host:port, auto or null; give the address `ray start "
                   "--head` printed"),
    # before: ValueError "Ray Client requires pip package ray[client]" traceback
    ("ray://127.0.0.1:1", "no Ray cluster at 'ray://127.0.0.1:1' (ConnectionRefusedError: Connection refused); "
                          "start one with `ray start --head`, or set compute.ray.address: null for a local one"),
])
def test_a_ray_address_nothing_answers_at_is_one_line_at_once(tmp_path, address, problem):
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    params = default_params()
    params["compute"] = {"engine": "ray", "ray": {"address": address, "num_cpus": None}, "knn": "numpy"}
    project = make_project(tmp_path / "project", params)
    manifest = pd.DataFrame({"id": ["a", "b"], "split": "train", "label": 0, "source": "t", "orig_h": 8,
                             "orig_w": 8, "orig_mode": "L"})
    write_imageset(project / "data/degrade", np.zeros((2, 8, 8, 1), np.uint8), manifest, ["x"])
    before = files_under(project)
    assert assert_error_line(run_stage(project, "score")) == f"error: compute.ray.address: {problem}"
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_represent_refuses_a_ray_address_before_any_other_work(tmp_path):
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    params = default_params()
    params["compute"] = {"engine": "ray", "ray": {"address": "127.0.0.1:1", "num_cpus": None}, "knn": "numpy"}
    # a missing features file is found by the embedding's own work: the engine's line must come first
    # (before: represent trained its judge for a minute, then gave the engine's error)
    params["represent"].update(source="file", file=str(tmp_path / "absent.npy"), knn_k=1)
    project = make_project(tmp_path / "project", params)
    manifest = pd.DataFrame({"id": ["a", "b"], "split": "train", "label": 0, "source": "t", "orig_h": 8,
                             "orig_w": 8, "orig_mode": "L"})
    write_imageset(project / "data/degrade", np.zeros((2, 8, 8, 1), np.uint8), manifest, ["x"])
    before = files_under(project)
    assert assert_error_line(run_stage(project, "represent")).startswith(
        "error: compute.ray.address: no Ray cluster at '127.0.0.1:1' (ConnectionRefusedError")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_a_ray_address_that_answers_as_something_else_is_one_line_at_once():
    # found by probing: an address that took the connection but was not Ray's GCS (the dashboard's port, 8265)
    # passed the check, and ray.init retried "Failed to get cluster ID from GCS" until the stage was killed
    import socket
    import threading

    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    server = socket.create_server(("127.0.0.1", 0))

    def answer_as_http() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(64)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer_as_http, daemon=True).start()
    address = f"127.0.0.1:{server.getsockname()[1]}"
    with server, pytest.raises(WinnowError) as refused:
        Engine("ray", address).check_ready()
    assert str(refused.value) == (
        f"compute.ray.address: no Ray cluster at '{address}' (it answers, but not as gRPC, which a Ray cluster's GCS "
        "speaks; the dashboard's port? give the GCS port, 6379 unless `ray start --head` said another); start one "
        "with `ray start --head`, or set compute.ray.address: null for a local one")


def test_a_cluster_with_tls_on_is_checked_by_its_connection_alone(monkeypatch):
    # found by a review: a cluster with RAY_USE_TLS answers the plain HTTP/2 preface by closing, and was refused
    import socket
    import threading

    monkeypatch.setenv("RAY_USE_TLS", "1")
    server = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: server.accept()[0].close(), daemon=True).start()
    with server:
        _check_reachable(f"127.0.0.1:{server.getsockname()[1]}")  # no error: a TLS handshake is Ray's to make


@pytest.mark.hostile("params")
def test_auto_names_the_ray_address_of_the_environment_it_follows(monkeypatch):
    # found by probing: with RAY_ADDRESS set, auto joined it unchecked and hung on a dead one; its line named only
    # 'auto'
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    with pytest.raises(WinnowError) as refused:
        Engine("ray", "auto").check_ready()
    assert str(refused.value).startswith("RAY_ADDRESS (compute.ray.address: auto follows it): no Ray cluster at "
                                         "'127.0.0.1:1' (ConnectionRefusedError")


@pytest.mark.hostile("params")
def test_auto_checks_the_cluster_a_stale_ray_current_cluster_file_names(monkeypatch, tmp_path):
    # found by probing: a ray_current_cluster file left by a cluster that is gone (its head killed, never `ray stop`ped)
    # was joined unchecked by auto, and ray.init retried "Failed to get cluster ID from GCS" until the stage was killed
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:  # a port nothing listens on once closed
        address = f"127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # where Ray looks for the file
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray/ray_current_cluster").write_text(address + "\n")
    import ray._private.services

    # none running on this machine (whatever other runs here start): Ray follows the file
    monkeypatch.setattr(ray._private.services, "find_gcs_addresses", frozenset)
    with pytest.raises(WinnowError) as refused:
        Engine("ray", "auto").check_ready()
    assert str(refused.value) == (
        f"compute.ray.address: auto, which follows {tmp_path}/ray/ray_current_cluster (written by `ray start`, removed "
        f"by `ray stop`): no Ray cluster at '{address}' (ConnectionRefusedError: Connection refused); start one with "
        "`ray start --head`, or set compute.ray.address: null for a local one")


@pytest.mark.hostile("params")
def test_auto_beside_the_one_cluster_running_here_joins_it_whatever_a_stale_file_says(monkeypatch, tmp_path):
    # found by a review: a stale ray_current_cluster file beside one cluster running on this machine (one a notebook's
    # ray.init started, which writes no file) was refused as "no Ray cluster at" the file's address, where ray.init
    # with auto joins the running cluster and ignores the file (Ray's rule: the file only with none or several)
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import ray._private.services

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray/ray_current_cluster").write_text("127.0.0.1:1\n")  # a head gone, never `ray stop`ped
    monkeypatch.setattr(ray._private.services, "find_gcs_addresses", lambda: frozenset({"192.0.2.2:33233"}))
    assert ray._private.services.get_ray_address_from_environment("auto", None) == "192.0.2.2:33233"  # Ray's choice
    assert Engine("ray", "auto").check_ready() is None


def test_ray_asked_for_but_not_installed_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # importing it now fails, as when it is not installed
    with pytest.raises(WinnowError, match=r"^compute\.engine: ray asked for but Ray is not installed: pip install "):
        Engine("ray").check_ready()


@pytest.fixture(scope="module")
def ray_cluster():
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import ray

    # this checkout's winnow on the workers, not the one installed in the environment
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    # Ray's variables (RAY_AUTH_MODE=token among them) given back after shutdown as Engine.session gives them back:
    # left in the worker, a later file's failed ray.init and then its session met a cluster asking for a token that
    # Ray's cached setting said was off ("Failed to start GCS", test_hostile_order_74 in the full suite)
    as_before, by_ray = _process_as_it_is()
    with by_ray():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this file
    # the stops' handlers as they were, after Ray set its own and after it stopped: its SIGTERM handler (sys.exit(15))
    # outlived it, and a later test's stage in this worker left that "launcher's" handler alone; the full suite also
    # met SIGINT and SIGHUP left ignored, which every later test's subprocess inherited (SIGHUP and Ctrl-C tests timed
    # out or ran on)
    for number, handler in handlers.items():
        signal.signal(number, handler)
    yield
    with by_ray():
        ray.shutdown()
    as_before()
    for number, handler in handlers.items():
        signal.signal(number, handler)


@pytest.fixture(scope="module")
def imageset(tmp_path_factory):
    """A memory-mapped imageset of 230 images with copies, mirrors and crops, and several original sizes."""
    rng = np.random.default_rng(0)
    images = smooth_images(200, seed=3)
    copies = np.concatenate([images[:10], images[10:20, :, ::-1], perturb.resize(images[20:30, 2:-2, 2:-2], (32, 32))])
    images = np.concatenate([images, copies])
    manifest = pd.DataFrame({"id": [f"i{k}" for k in range(len(images))], "split": "train", "label": 0,
                             "source": "t", "orig_h": rng.integers(16, 48, len(images)),
                             "orig_w": rng.integers(16, 48, len(images)), "orig_mode": "RGB"})
    path = tmp_path_factory.mktemp("engine") / "set"
    write_imageset(path, images, manifest, ["a"])
    return read_imageset(path)


def test_ray_scores_equal_local_byte_for_byte(ray_cluster, imageset):
    # 64 images a task: four tasks, the last one short; the memory map is read by each task itself
    local = score_table(imageset.images, imageset.manifest, batch_size=64)
    on_ray = score_table(imageset.images, imageset.manifest, batch_size=64, engine=RAY)
    pd.testing.assert_frame_equal(on_ray, local, check_exact=True)
    for column in local.select_dtypes("number").columns:  # the scores' float32 bits and the uint64 pHashes
        assert on_ray[column].to_numpy().tobytes() == local[column].to_numpy().tobytes(), column


def test_ray_dedup_equals_local_from_memory_and_from_the_memory_map(ray_cluster, imageset):
    scores = score_table(imageset.images, imageset.manifest)
    options = dict(radius=6, min_correlation=0.98, flip=True, crop=0.0625, keep="first")
    local = dedup_images(imageset.manifest, imageset.images, scores, **options)
    assert (local["group_size"] > 1).sum() >= 40  # the planted copies are found: the comparison has content
    pd.testing.assert_frame_equal(dedup_images(imageset.manifest, imageset.images, scores, **options, engine=RAY),
                                  local, check_exact=True)
    in_memory = np.array(imageset.images)  # no file behind it: the tasks get it from the object store
    looks, ray_looks = (Looks.of(in_memory, flip=True, crop=0.1, batch_size=50, engine=engine)
                        for engine in (Engine(), RAY))
    assert ray_looks.whole.tobytes() == looks.whole.tobytes() and ray_looks.crop.tobytes() == looks.crop.tobytes()


def test_ray_thumbnails_past_the_memory_bound_live_on_disk_with_the_same_numbers(ray_cluster, imageset, tmp_path,
                                                                                 monkeypatch):
    # found by probing: on Ray every block came back to the driver, was concatenated and reordered, and spill_array
    # was never asked: dedup's 400 MB of thumbnails of 66,570 images took 1.9 GB of peak RSS (0.6 GB locally)
    import tempfile

    from winnow import thumbnails

    local = Looks.of(imageset.images, flip=True, crop=0.1, batch_size=50)
    monkeypatch.setattr(thumbnails, "IN_MEMORY_BYTES", 1 << 10)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spilled = Looks.of(imageset.images, flip=True, crop=0.1, batch_size=50, engine=RAY)
    assert isinstance(spilled.whole, np.memmap) and isinstance(spilled.crop, np.memmap)
    assert spilled.whole.tobytes() == local.whole.tobytes() and spilled.crop.tobytes() == local.crop.tobytes()
    assert list(tmp_path.iterdir()) == []  # unlinked at once, as locally


class Blocks:
    """A stand-in for a Ray dataset whose tagged blocks come back as given."""

    def __init__(self, *rows: list[int]) -> None:
        self.rows = rows

    def iter_batches(self, **_options):
        for rows in self.rows:
            yield {"sum": np.array(rows) * 10, "_row": np.array(rows, np.int64)}


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("blocks, problem", [
    ([[2, 3], [0, 1], [2, 3]], "row 2 came back from two tasks"),
    ([[2, 3], [0]], "1 row(s) came back from no task, first row 1"),
])
def test_ray_rows_that_come_back_twice_or_never_are_one_line(blocks, problem):
    # writing each block at its rows: before, concatenated, a row twice made a longer result and a row missing a
    # shorter one, each row after it another image's; written in place, a missing row would hold uninitialised memory
    assert in_row_order(Blocks([2, 3], [0, 1]), n=4)["sum"].tolist() == [0, 10, 20, 30]
    with pytest.raises(WinnowError) as raised:
        in_row_order(Blocks(*blocks), n=4)
    assert str(raised.value) == f"compute.engine: ray: {problem}; rerun, or set compute.engine: local"


def scrambled(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """``model`` with every weight and batch-norm statistic drawn from a seed, in eval mode: weights a
    fresh build does not have, so features equal only when the actors got these."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                value.copy_(torch.rand(value.shape, generator=generator) * 0.5 + (0.5 if "running_var" in name else -0.1))
    return model.eval()


@pytest.fixture(scope="module")
def encoders(imageset):
    """The project's cnn_small (the judge's encoder) and SimCLR (selfsup's), with seeded weights."""
    h, _, c = imageset.images.shape[1:]
    mean, std = torch.tensor([0.4] * c), torch.tensor([0.25] * c)
    config = TrainConfig(model="cnn_small", threads=1)
    judge = training.Trained(scrambled(build_model("cnn_small", in_channels=c, num_classes=3, image_size=h), 1),
                             mean, std, [{"val_acc": 0.5}], 1, config)
    simclr = selfsup.Pretrained(scrambled(selfsup.SimCLR(in_channels=c, width=8), 2), mean, std, [],
                                SelfSupConfig(width=8, threads=None))
    return {"judge": training.encoder(judge, num_classes=3, image_shape=(h, h, c)), "selfsup": selfsup.encoder(simclr)}


@pytest.mark.parametrize("name", ["judge", "selfsup"])
def test_ray_embeddings_equal_local_byte_for_byte_in_row_order(ray_cluster, imageset, encoders, name):
    # 64 images a batch: four actor calls, the last one short, as the local loop cuts them
    encoder = encoders[name]
    local = Engine().embed(encoder, imageset.images, batch_size=64)
    assert local.dtype == np.float32 and local.shape[0] == len(imageset.images)
    fresh = Engine().embed(replace(encoder, model=encoder.build().eval()), imageset.images, batch_size=64)
    assert not np.array_equal(fresh, local)  # the weights matter: equal features mean the actors got them
    from_file = RAY.embed(encoder, imageset.images, batch_size=64)  # the actors read the memory map
    assert from_file.dtype == np.float32 and from_file.tobytes() == local.tobytes()
    from_memory = RAY.embed(encoder, np.array(imageset.images), batch_size=64)  # the object store's copy
    assert from_memory.tobytes() == local.tobytes()


# one local cluster of one CPU, started as a stage starts it (compute.ray.address: local, compute.ray.num_cpus: 1),
# for two checks that each need such a cluster of their own: its size, and an embedding on it
ONE_CPU_CLUSTER = """
import sys
import numpy as np, ray, torch
from winnow import selfsup
from winnow.configs import SelfSupConfig
from winnow.engine import Encoder, Engine, runtime_env
torch.manual_seed(0)
model = selfsup.SimCLR(in_channels=1, width=8).eval()
encoder = selfsup.encoder(selfsup.Pretrained(model, torch.tensor([0.4]), torch.tensor([0.25]), [],
                                             SelfSupConfig(width=8, threads=None)))
images = np.random.default_rng(0).integers(0, 256, (40, 16, 16, 1), dtype=np.uint8)
local = Engine().embed(encoder, images, batch_size=16)
engine = Engine("ray", address="local", num_cpus=1)
with engine.session():
    print("cpus", int(ray.cluster_resources()["CPU"]))
    on_ray = engine.embed(encoder, images, batch_size=16)
print("equal", on_ray.tobytes() == local.tobytes())
"""


def test_a_local_cluster_of_one_cpu_has_the_cpu_asked_for_and_its_embeddings_finish_and_equal_local():
    # before: compute.ray.address: local left compute.ray.num_cpus out, so the cluster took every CPU; and on a
    # cluster of one CPU the one actor held the only CPU, the task handing out batch numbers waited for it, and
    # represent hung with no output (compute.ray.num_cpus: 1, or null on a one-CPU machine)
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    # this checkout's winnow (_env's PYTHONPATH), as the CPU model's check it replaced ran: the environment's editable
    # install may be another checkout's
    done = subprocess.run([sys.executable, "-c", ONE_CPU_CLUSTER], capture_output=True, text=True, timeout=300,
                          env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-2:] == ["cpus 1", "equal True"]


@pytest.mark.hostile("intermediates")
def test_an_image_file_rewritten_while_a_one_cpu_ray_cluster_embeds_here_names_compute_engine_ray(ray_cluster, tmp_path,
                                                                                                  monkeypatch):
    # found by probing: on a cluster of one CPU (compute.ray.num_cpus: 1) the embedding runs in this process, and an
    # images.npy rewritten in place meanwhile was told as read by "compute.engine: local", which the user had not set
    import time

    import ray

    path = tmp_path / "images.npy"
    np.save(path, np.zeros((6, 4, 4, 1), np.uint8))

    def embeds_while_the_file_is_rewritten(model, images, *, batch_size):
        time.sleep(0.05)  # a later modification time than the one the pass began with, on any file system clock
        with open(path, "r+b") as handle:  # in place, as cp does
            handle.seek(-96, 2)
            handle.write(bytes([7]) * 96)
        return np.zeros((len(images), 2), np.float32)

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 1.0})
    encoder = Encoder(model=None, build=None, embed=embeds_while_the_file_is_rewritten, device="cpu")
    with pytest.raises(WinnowError) as raised:
        RAY.embed(encoder, np.load(path, mmap_mode="r"), batch_size=4)
    assert str(raised.value) == (f"{path} was rewritten or replaced while the ray engine read it "
                                 "(compute.engine: ray; another run writing it?); its batches would mix old and new "
                                 "images: rerun when nothing else writes it")


def cpu_judge(imageset) -> Encoder:
    """The judge's cnn_small of :func:`encoders`, its train.device ``cpu``."""
    h, _, c = imageset.images.shape[1:]
    config = TrainConfig(model="cnn_small", threads=1, device="cpu")
    judge = training.Trained(scrambled(build_model("cnn_small", in_channels=c, num_classes=3, image_size=h), 1),
                             torch.tensor([0.4] * c), torch.tensor([0.25] * c), [{"val_acc": 0.5}], 1, config)
    return training.encoder(judge, num_classes=3, image_shape=(h, h, c))


def test_an_embed_actor_keeps_a_cpu_model_on_the_cpu_where_a_gpu_is_visible(monkeypatch, imageset):
    # before: the actor moved the model to "cuda" whenever torch saw one, also for train.device: cpu, so its features
    # came from the GPU while the local engine's came from the CPU (here: torch's "not compiled with CUDA")
    encoder = cpu_judge(imageset)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr("winnow.ray_tasks.import_ray", lambda: SimpleNamespace(get=lambda reference: reference))
    actor = EmbedActor(encoder=replace(encoder, model=None), weights=[encoder.model.state_dict()],
                       source=np.asarray(imageset.images), batch_size=64, n=len(imageset.images),
                       packages=package_versions(ENCODER_PACKAGES))
    assert {value.device.type for value in actor.model.state_dict().values()} == {"cpu"}
    local = Engine().embed(encoder, imageset.images[64:128], batch_size=64)
    assert actor({"id": np.array([1])})["features"].tobytes() == local.tobytes()


def test_ray_embeddings_of_a_cpu_model_ask_for_no_gpu(ray_cluster, imageset, monkeypatch):
    # before: each actor asked for a GPU whenever the cluster had one, and used it, also for train.device: cpu, so
    # the features came from the GPU while the local engine's came from the CPU. The module's cluster says it has a
    # GPU (the engine counts the GPUs by ray.cluster_resources); a pool asking for one is stopped at once, as this
    # cluster has none to give it
    import ray
    import ray.data

    encoder = cpu_judge(imageset)
    local = Engine().embed(encoder, imageset.images, batch_size=64)
    resources = ray.cluster_resources()
    monkeypatch.setattr(ray, "cluster_resources", lambda: {**resources, "GPU": 1.0})
    asked, map_batches = [], ray.data.Dataset.map_batches

    def spy(self, fn, **options):
        asked.append(options.get("num_gpus"))
        if options.get("num_gpus"):
            raise AssertionError(f"the actors asked for {options['num_gpus']} GPU(s)")
        return map_batches(self, fn, **options)

    monkeypatch.setattr(ray.data.Dataset, "map_batches", spy)
    on_ray = RAY.embed(encoder, imageset.images, batch_size=64)
    assert asked == [0]
    assert on_ray.tobytes() == local.tobytes()


# -- hostile intermediates on Ray: the image file changing under the tasks, a view of a memory map, a batch
# function's one-line errors, a worker that dies, a stage terminated. In this module, not one of their own: a
# cluster started in the suite's other worker is one "auto" joins (test_ray_engine_without_a_running_cluster)

def first_pixels(batch: np.ndarray) -> dict[str, np.ndarray]:
    return {"first": batch.reshape(len(batch), -1)[:, 0].astype(np.int64)}


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("driver", ["this node", "another node"])
def test_an_image_file_replaced_while_ray_reads_it_is_one_line_not_mixed_batches(ray_cluster, tmp_path, monkeypatch,
                                                                                  driver):
    # before: each task reopened images.npy by its path, so the batches read after another run replaced the
    # file came from the new images: [0 0 0 7 7 7 7 7 7 7], silently, where the local engine (which keeps the
    # file it mapped) gives all zeros. Another node: found in review, a task on another node than the driver's that
    # found the file changed said the node "does not see the file ... every node must see the repository at the same
    # path on a shared file system", also where the nodes share one and another run had replaced the driver's file:
    # the rewrite, for which a rerun is the cure, told as a cluster set up wrong. There the driver's record names
    # another machine, so every task runs "elsewhere", as on a cluster of several
    if driver == "another node":
        import winnow.engine

        monkeypatch.setattr(winnow.engine, "rows_source",
                            lambda images: replace(FileRows.of(images), host="head-node"))
    path, replacement, marker = tmp_path / "images.npy", tmp_path / "new.npy", tmp_path / "replaced"
    np.save(path, np.zeros((10, 4, 4, 1), np.uint8))
    np.save(replacement, np.full((10, 4, 4, 1), 7, np.uint8))

    def replaces_the_file_once(batch: np.ndarray) -> dict[str, np.ndarray]:
        if not marker.exists():  # another run writing the same imageset, while the first batch is worked on
            marker.touch()
            os.replace(replacement, path)
        return first_pixels(batch)

    images = np.load(path, mmap_mode="r")
    with pytest.raises(WinnowError) as raised:
        RAY.map(replaces_the_file_once, images, batch_size=3)
    assert str(raised.value) == (f"{path} was rewritten or replaced while the ray engine read it "
                                 "(compute.engine: ray; another run writing it?); its batches would mix old and new "
                                 "images: rerun when nothing else writes it")
    assert marker.exists() and sorted(files_under(tmp_path)) == ["images.npy", "replaced"]


@pytest.mark.hostile("intermediates")
def test_an_image_file_rewritten_in_place_while_the_local_engine_reads_it_is_one_line_not_mixed_batches(tmp_path):
    # found by probing: `cp` or numpy.save over images.npy (the same inode) while score ran locally gave scores of
    # the old images for the rows read before and of the new ones after (37,834 of 66,570 pHashes), without a word;
    # here [0 0 0 7 7 7 7 7 7 7]
    import time

    path, marker = tmp_path / "images.npy", tmp_path / "rewritten"
    np.save(path, np.zeros((10, 4, 4, 1), np.uint8))

    def rewrites_the_file_once(batch: np.ndarray) -> dict[str, np.ndarray]:
        if not marker.exists():
            marker.touch()
            time.sleep(0.05)  # a later modification time than the one the pass began with, on any file system clock
            with open(path, "r+b") as handle:  # in place, as cp does: this process's map sees the new bytes
                handle.seek(np.load(path, mmap_mode="r").offset)
                handle.write(bytes([7]) * 160)
        return first_pixels(batch)

    with pytest.raises(WinnowError) as raised:
        Engine().map(rewrites_the_file_once, np.load(path, mmap_mode="r"), batch_size=3)
    assert str(raised.value) == (f"{path} was rewritten or replaced while the local engine read it "
                                 "(compute.engine: local; another run writing it?); its batches would mix old and new "
                                 "images: rerun when nothing else writes it")
    assert marker.exists()


@pytest.mark.hostile("intermediates")
def test_a_view_of_a_memory_map_is_read_from_its_file_and_hashes_as_imagehash(ray_cluster, tmp_path):
    # before: any memory map but a whole .npy (here the (N, H, W) grey file phash64 gives a channel axis, a
    # slice, every third row mirrored) was copied whole into Ray's object store from this process, a set
    # larger than memory read into it at once; now the tasks map the file's bytes under the view themselves
    grey = np.random.default_rng(0).integers(0, 256, (11, 16, 16), dtype=np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    images = np.load(tmp_path / "grey.npy", mmap_mode="r")
    for view, pixels in [(images, grey), (images[3:9], grey[3:9]), (images[::-3, :, ::-1], grey[::-3, :, ::-1])]:
        assert FileRows.of(view[..., None]) is not None  # the tasks' source: the file, not the object store
        expected = [int(str(imagehash.phash(Image.fromarray(img))), 16) for img in pixels]
        assert phash64(view, batch_size=4, engine=RAY).tolist() == expected


def raises_winnow_error(batch: np.ndarray) -> dict[str, np.ndarray]:
    raise WinnowError(f"image {int(batch[0, 0, 0, 0])}: not an image this function takes")


def raises_disk_full(batch: np.ndarray) -> dict[str, np.ndarray]:
    raise OSError(28, "No space left on device", f"/scratch/part-{int(batch[0, 0, 0, 0])}.npy")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("fn", [raises_winnow_error, raises_disk_full])
def test_a_batch_functions_one_line_error_is_the_local_engines_on_ray(ray_cluster, tmp_path, fn):
    # before: a RayTaskError(UserCodeException) holding the worker's traceback, which a stage prints as a
    # traceback; with the original exception asked for, Ray Data appended its retry advice to the message (and
    # in place of an OSError's file name)
    np.save(tmp_path / "images.npy", np.full((5, 4, 4, 1), 9, np.uint8))
    images = np.load(tmp_path / "images.npy", mmap_mode="r")
    with pytest.raises(Exception) as local:
        Engine().map(fn, images, batch_size=2)
    with pytest.raises(Exception) as on_ray:
        RAY.map(fn, images, batch_size=2)
    assert type(on_ray.value) is type(local.value) and on_ray.value.args == local.value.args
    assert str(on_ray.value) == str(local.value)


RAYLET_DIED = """
import sys
sys.path.insert(0, %r)
import ray
from winnow.ray_tasks import ray_failures
from winnow.stage import run
def main():
    with ray_failures():
        raise ray.exceptions.LocalRayletDiedError()
run(main)
""" % str(ROOT / "src")


@pytest.mark.hostile("intermediates")
def test_the_local_raylet_dying_under_the_batches_is_one_line(tmp_path):
    # found by probing: the raylet of score's local cluster killed while its tasks ran ended the stage, at some
    # moments, in a LocalRayletDiedError traceback raised by Ray Data (at others Ray's driver exits from native code,
    # which winnow.watched speaks for); with Ray's temp dir moved (RAY_TMPDIR), the line named /tmp/ray's logs
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", RAYLET_DIED], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=env)
    assert assert_error_line(done) == (
        "error: compute.engine: ray: the raylet of this machine's Ray node died while it ran the batches "
        f"(LocalRayletDiedError: the out-of-memory killer, or kill -9?); its log is under {tmp_path}/ray/"
        "session_latest/logs; rerun, or set compute.engine: local")


def ray_stage_script(batch_function: str) -> str:
    """Python source of a stage (``stages/score.py`` as :func:`winnow.stage.run` runs one) whose main maps
    ``batch_function`` (the source of a function ``batch``) over four images in two batches on Ray, then
    prints "finished"."""
    return f"""
import os, signal, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, {str(ROOT / "src")!r})
sys.argv = ["stages/score.py"]
from winnow.engine import Engine
from winnow.stage import run
{batch_function}
def main():
    Engine("ray", num_cpus=1).map(batch, np.zeros((4, 4, 4, 1), np.uint8), batch_size=2)
    print("finished")

run(main)
"""


KILLED_WORKER = ray_stage_script("""
def batch(images):  # kills its worker every time (a crash in native code, the OOM killer)
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.hostile("intermediates")
def test_a_worker_killed_by_every_try_of_a_batch_ends_the_stage_in_one_line(tmp_path):
    # before: Ray Data retried the task for ever, a new worker each time, and the stage never ended (still
    # running after 6 minutes); now 3 retries, then one line, and Ray Data's tracebacks stay in its log file
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    before = files_under(tmp_path)
    done = subprocess.run([sys.executable, "-c", KILLED_WORKER], cwd=tmp_path, capture_output=True, text=True,
                          timeout=180, env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"})
    line = assert_error_line(done)
    # the folder of this run's own session (before: session_latest, which names whichever session started last)
    logs = re.fullmatch(r"error: compute\.engine: ray: a Ray worker died running a batch, 4 times "
                        r"\(WorkerCrashedError\); its log is under (/tmp/ray/session_\d{4}-\d\d-\d\d_[\d_-]+/logs); "
                        r"or set compute\.engine: local", line)
    assert logs is not None, line
    assert (Path(logs.group(1)) / "raylet.out").is_file()
    assert "finished" not in done.stdout
    assert files_under(tmp_path) == before


SLOW_BATCH = ray_stage_script("""
def batch(images):  # says it started, then outlasts the test
    Path(STARTED).touch()
    time.sleep(300)
    return {"x": np.zeros(len(images))}
""")


@pytest.mark.hostile("intermediates")
def test_a_stage_terminated_while_ray_runs_its_batches_ends_in_one_line(tmp_path):
    # before: ray.init put Ray's own SIGTERM handler in place of the stage's: `timeout` or a cancelled CI job
    # ended the stage with a C stack dump ("*** SIGTERM received ... PC: @ ...") and exit status 15, no error line
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import time

    started = tmp_path / "started"
    before = files_under(tmp_path)
    stage = subprocess.Popen([sys.executable, "-c", SLOW_BATCH.replace("STARTED", repr(str(started)))], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"})
    deadline = time.monotonic() + 120
    while not started.exists() and stage.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    stage.terminate()
    stdout, stderr = stage.communicate(timeout=120)
    assert started.exists(), stderr[-3000:]
    assert stage.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stdout + stderr and "SIGTERM received" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("error: ")] == [
        "error: stages/score.py: terminated (SIGTERM); outputs not yet complete were left unwritten: rerun it"]
    assert files_under(tmp_path) == before | {"started"}


# a SIGTERM that comes while ray.init connects, at two moments of it: as Ray sets its own SIGTERM handler, and once
# the driver has connected (Ray's C failure handler in place), before winnow puts the stage's handler back
TERMINATED_IN_INIT = {
    "as Ray sets its handler": """
from winnow.ray_tasks import import_ray
import_ray()  # as the engine imports it, first
import ray._private.utils
set_handler = ray._private.utils.set_sigterm_handler
def set_and_terminate(handler):
    set_handler(handler)
    os.kill(os.getpid(), signal.SIGTERM)
ray._private.utils.set_sigterm_handler = set_and_terminate
""",
    "once the driver has connected": """
from winnow.ray_tasks import import_ray
import_ray()  # as the engine imports it, first
import ray._private.worker
connect = ray._private.worker.connect
def connect_and_terminate(*args, **kwargs):
    connect(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # a signal handler runs here
ray._private.worker.connect = connect_and_terminate
""",
}


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("moment", TERMINATED_IN_INIT)
def test_a_stage_terminated_while_ray_starts_ends_in_one_line(tmp_path, moment):
    # before: Ray's handler, set first thing in ray.init, ended the stage with sys.exit(15): status 15, no line;
    # once connected, Ray's C failure handler dumped a stack ("*** SIGTERM received") and the stage then aborted
    # (status 134) after its line
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    script = ray_stage_script("""
def batch(images):
    return {"x": np.zeros(len(images))}
""").replace("from winnow.stage import run\n", "from winnow.stage import run\n" + TERMINATED_IN_INIT[moment])
    before = files_under(tmp_path)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env={k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",
                                                                                "RAY_DISABLE_FAILURE_SIGNAL_HANDLER")})
    assert done.returncode == 143, done.stderr[-3000:]
    assert "finished" not in done.stdout
    assert "Traceback" not in done.stdout + done.stderr and "SIGTERM received" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error: ")] == [
        "error: stages/score.py: terminated (SIGTERM); outputs not yet complete were left unwritten: rerun it"]
    assert files_under(tmp_path) == before
