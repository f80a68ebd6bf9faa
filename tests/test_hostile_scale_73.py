"""Hostile cases for scale, stop 73 (the Ray engine's cluster addresses):

- a Ray Client address (``ray://host:port``) that answers, on a machine without Ray's client (``ray[client]``,
  which requirements.lock does not pin): the one line names the missing package, not a missing cluster;
- ``RAY_ADDRESS=auto`` beside ``compute.ray.address: auto``: Ray takes it as auto itself (the cluster running here, else
  the one ``ray start`` wrote to its ``ray_current_cluster`` file), so the check follows the file as without it, not a
  refusal of "'auto'" as no address;
- a Ray node whose numpy rounds its matrix products otherwise than the stage's machine (OpenBLAS's kernels for another
  kind of CPU, or another BLAS), its package versions the stage's: its batches are one line, not the local engine's
  scores and thumbnails in other last bits;
- a Ray address holding credentials before its host (``ray://alice:secret@head:10001``, in params.yaml or in
  RAY_ADDRESS beside auto): one line that does not repeat them, not "no Ray cluster at" the whole address, its secret
  read as part of the host name.
"""

import importlib.util
import os
from functools import partial
import socket
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from conftest import require, require_faiss
from winnow.engine import Engine
from winnow.errors import WinnowError
from winnow.file_rows import FileRows
from winnow.ray_tasks import RowsTask, _BatchFailed
from winnow.thumbnails import _thumbnail_batch, thumbnail_features

THUMBNAILS = partial(_thumbnail_batch, side=16, views={"whole": 0.0})  # thumbnail_features' batches


def grpc_server() -> socket.socket:
    """A listening socket on every interface whose connections answer the HTTP/2 preface with an empty SETTINGS frame,
    as a gRPC server does, then keep reading until the client closes (closed with the returned socket)."""
    server = socket.create_server(("", 0))

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(64)
                conn.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
                while conn.recv(1024):
                    pass
            except OSError:
                pass

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("via_environment", [False, True])
def test_a_ray_client_address_without_rays_client_names_the_package_not_a_missing_cluster(monkeypatch,
                                                                                          via_environment):
    # found by probing: ray://host:port that answered passed the reachability check, then ray.init's ValueError ("Ray
    # Client requires pip package `ray[client]`") came out as "no Ray cluster at 'ray://...' (...); start one with
    # `ray start --head`": a cluster that runs, and a fix that changes nothing (ray[data] brings no grpcio)
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import ray._private.utils

    monkeypatch.setattr(ray._private.utils, "get_ray_client_dependency_error",
                        lambda: ModuleNotFoundError("No module named 'grpc'"))
    with grpc_server() as server:
        address = f"ray://127.0.0.1:{server.getsockname()[1]}"
        if via_environment:
            monkeypatch.setenv("RAY_ADDRESS", address)
        where = "RAY_ADDRESS (compute.ray.address: auto follows it)" if via_environment else "compute.ray.address"
        with pytest.raises(WinnowError) as refused:
            Engine("ray", "auto" if via_environment else address).check_ready()
    assert str(refused.value) == (
        f"{where}: '{address}' is a Ray Client address (ray://), which needs Ray's client, not installed here (No "
        "module named 'grpc'): pip install 'ray[client]', or give the cluster's GCS address host:port (6379 unless "
        "`ray start --head` said another) without ray://")


@pytest.mark.hostile("ingest")
def test_ray_address_auto_in_the_environment_is_auto_itself_and_checks_the_file_ray_follows(monkeypatch, tmp_path):
    # found by probing: with RAY_ADDRESS=auto, compute.ray.address: auto was refused before any work as
    # "RAY_ADDRESS (compute.ray.address: auto follows it): 'auto' is not host:port, ray://host:port, auto or null",
    # a setting Ray takes (the cluster running here, else the one its file names), told as no address at all
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    import ray._private.services

    with socket.create_server(("127.0.0.1", 0)) as server:  # a port nothing listens on once closed
        address = f"127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # where Ray looks for the file
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray/ray_current_cluster").write_text(address + "\n")  # a head gone, never `ray stop`ped
    monkeypatch.setattr(ray._private.services, "find_gcs_addresses", frozenset)  # none running on this machine
    assert ray._private.services.get_ray_address_from_environment("auto", None) == address  # Ray follows the file
    with pytest.raises(WinnowError) as refused:
        Engine("ray", "auto").check_ready()
    assert str(refused.value) == (
        f"compute.ray.address: auto, which follows {tmp_path}/ray/ray_current_cluster (written by `ray start`, removed "
        f"by `ray stop`): no Ray cluster at '{address}' (ConnectionRefusedError: Connection refused); start one with "
        "`ray start --head`, or set compute.ray.address: null for a local one")


@pytest.mark.hostile("ingest")
def test_a_ray_node_rounding_matrix_products_otherwise_than_the_stage_is_one_line(tmp_path):
    # found by probing: the tasks checked the node's numpy, scipy and Pillow releases, not how its BLAS rounds. The same
    # numpy under OpenBLAS's Haswell kernels (OPENBLAS_CORETYPE=Haswell, or a node of that CPU) beside the stage's
    # SkylakeX ones gave score tables and dedup thumbnails other in the last bits than the local engine's, exit 0,
    # and switching the engine reruns no stage
    # CI's run: faiss's own OpenBLAS, loaded by an earlier test, was named as the node's; only numpy's rounds its products
    require_faiss()
    importlib.import_module("faiss")  # loads faiss's OpenBLAS into this process

    pixels = np.random.default_rng(0).integers(0, 256, (6, 24, 20, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", pixels)
    source = FileRows.of(np.load(tmp_path / "images.npy", mmap_mode="r"))
    same = RowsTask(THUMBNAILS, source, 4, 6, {})  # the driver's rounding: this process's
    assert same({"id": np.array([1])})["whole"].tobytes() == thumbnail_features(pixels)[4:].tobytes()
    # a driver on a machine whose products round otherwise (another digest of the fixed products)
    elsewhere = RowsTask(THUMBNAILS, source, 4, 6, {}, blas=("0" * 16, "openblas 0.3.31 (Haswell kernels)"))
    with pytest.raises(_BatchFailed) as raised:  # what ray_failures raises as the stage's one line
        elsewhere({"id": np.array([1])})
    # where numpy's wheel keeps its OpenBLAS, resolved: a venv reached through a link (a worktree's) names numpy by
    # the link, threadpoolctl the library by its file; the description was empty there before
    numpy_libs = f"{os.path.realpath(os.path.dirname(np.__file__))}.libs{os.sep}"
    here = ", ".join(f"{lib['internal_api']} {lib['version']}" + (f" ({lib['architecture']} kernels)"
                                                                  if lib.get("architecture") else "")
                     for lib in threadpool_info() if os.path.realpath(lib["filepath"]).startswith(numpy_libs))
    assert here  # numpy's own OpenBLAS is named
    assert "faiss_cpu.libs" in str(threadpool_info())  # faiss's OpenBLAS is loaded beside numpy's
    assert type(raised.value.error) is WinnowError
    assert str(raised.value.error) == (
        f"compute.engine: ray: node {socket.gethostname()} rounds numpy's matrix products otherwise than the machine "
        f"the stage runs on ({here} there, openblas 0.3.31 (Haswell kernels) on the stage's machine: another BLAS, or "
        "OpenBLAS's kernels for another kind of CPU), so its batches would differ from the local engine's in the last "
        "bits: run the cluster on machines of the stage's kind of CPU, set OPENBLAS_CORETYPE to one core type that all "
        "of them run (for the stage, and for `ray start` on every node), or set compute.engine: local")


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("address, via_environment, source, given", [
    ("ray://alice:s3cr3t@127.0.0.1:1", False, "params.yaml (and its history)", "ray://127.0.0.1:1"),
    ("alice:s3cr3t@127.0.0.1:1", False, "params.yaml (and its history)", "127.0.0.1:1"),
    ("ray://alice:s3cr3t@127.0.0.1:1", True, "RAY_ADDRESS", "ray://127.0.0.1:1"),
])
def test_a_ray_address_holding_credentials_is_refused_without_repeating_them(monkeypatch, address, via_environment,
                                                                              source, given):
    # found by probing: "compute.ray.address: no Ray cluster at 'ray://alice:s3cr3t@127.0.0.1:1' (gaierror: Name or
    # service not known)": the secret in the terminal and every log of the run, and "alice:s3cr3t@127.0.0.1" looked up
    # as the host's name (the params check of num_cpus beside an address already left it out)
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    if via_environment:
        monkeypatch.setenv("RAY_ADDRESS", address)
    where = "RAY_ADDRESS (compute.ray.address: auto follows it)" if via_environment else "compute.ray.address"
    with pytest.raises(WinnowError) as refused:
        Engine("ray", "auto" if via_environment else address).check_ready()
    assert str(refused.value) == (
        f"{where}: the address holds credentials before its host (user:secret@, not repeated here), which Ray does "
        f"not read from an address; remove them from {source} and give {given}")
