"""Hostile compute and scale, stop 65: the stages torchrun may not start (only train trains under DDP), and a local
Ray cluster of more CPUs than the machine gives."""

import os
import socket
import threading

import pytest

import forked_run
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project,
)
from winnow import cores, engine
from winnow.engine import Engine
from winnow.errors import WinnowError

# what torchrun --nproc_per_node=2 sets for its rank 0
RANK_0_OF_2 = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.hostile("training")
@pytest.mark.parametrize("stage, args", [("represent", []), ("score", []), ("evaluate", ["baseline"])])
def test_a_stage_other_than_train_started_by_torchrun_is_one_line_before_any_work(tmp_path, stage, args):
    # found by probing: `torchrun --nproc_per_node=2 stages/represent.py` (represent.source: judge) trained the judge
    # under DDP, each rank on half the images, so the features were up to 0.32 from one process's (10-NN vote 0.78 for
    # 0.80), and both ranks wrote every output and printed their own line, exit 0
    project = make_project(tmp_path / "project", default_params())
    before = files_under(project)
    # evaluate's line gives its variant back (the command dvc.yaml runs): before, "run python stages/evaluate.py",
    # which evaluate refuses for want of one
    done = forked_run.run("script", str(ROOT / f"stages/{stage}.py"), args, cwd=project, env=_env() | RANK_0_OF_2,
                          timeout=60)
    assert assert_error_line(done) == (
        f"error: stages/{stage}.py runs in one process, but torchrun started 2 (WORLD_SIZE=2): each would write every "
        "output, and a judge it trains would learn from a share of the images; run "
        f"{' '.join(['python', f'stages/{stage}.py', *args])} (only stages/train.py trains under torchrun)")
    assert_nothing_left(project, before)


class FakeRay:
    """A stand-in for the ray module: records what ray.init was asked for, starts nothing; ``refusal``: what its
    ray.init raises instead."""

    def __init__(self, refusal: Exception | None = None) -> None:
        self.inits: list[dict] = []
        self.refusal = refusal

    def is_initialized(self) -> bool:
        return False

    def init(self, **options) -> None:
        self.inits.append(options)
        if self.refusal is not None:
            raise self.refusal

    def shutdown(self) -> None:
        pass


@pytest.mark.hostile("params")
def test_a_local_ray_cluster_of_more_cpus_than_the_machine_gives_is_a_warning_and_goes_on(monkeypatch, capsys,
                                                                                          tmp_path):
    # found by probing: compute.ray.num_cpus 64 on this machine's 2 cores scored 951 images in 26 batches on 19 Ray
    # worker processes (3.3 GiB, 75 s) where 2 CPUs took 9 (1.1 GiB, 33 s), without a word; 1,024 on a large set
    # starts hundreds. The same scores either way, so the run goes on
    fake = FakeRay()
    monkeypatch.setattr(engine, "import_ray", lambda: fake)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # a machine that gives the stage 2 CPUs
    monkeypatch.setattr(cores, "PROC_CGROUP", tmp_path / "no-cgroup")  # and no CPU quota, whatever the test machine's
    for cpus in (2, 3):
        with Engine("ray", None, cpus).session():
            pass
    assert [init["num_cpus"] for init in fake.inits] == [2, 3]
    assert capsys.readouterr().out == (
        "warning: compute.ray.num_cpus: 3 is more than the 2 CPU(s) this machine gives the stage; Ray runs up to 3 "
        "batches at once, each in a worker process of its own, slower and larger than 2: set it to 2 or less, or null "
        "(every CPU)\n")


JOIN_REFUSED = (
    "compute.ray.address: the Ray cluster at '{address}' answers but did not let this process join ({reason}); one "
    "that `ray start` started on a machine holding a Ray token (~/.ray/auth_token, which every local Ray cluster "
    "writes) asks for it (Ray's token authentication), which Ray sends to an address given only under "
    "RAY_AUTH_MODE=token: set that (the token from RAY_AUTH_TOKEN or ~/.ray/auth_token), or compute.ray.address: auto "
    "on a machine of the cluster")
NO_CLUSTER = ("compute.ray.address: no Ray cluster at '{address}' ({reason}); start one with `ray start --head`, or "
              "set compute.ray.address: null for a local one")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("mode, line", [(None, JOIN_REFUSED), ("token", NO_CLUSTER)])
def test_a_cluster_that_answers_but_lets_no_process_join_names_rays_token_not_a_missing_cluster(monkeypatch, mode,
                                                                                                 line):
    # found by probing (Ray 2.60): `ray start --head --port=6399`, then compute.ray.address: 127.0.0.1:6399, said
    # "no Ray cluster at '127.0.0.1:6399' (Failed to connect to Ray cluster at 192.0.2.2:6399); start one with `ray
    # start --head`", the command just run: its cluster has token authentication on (Ray's default) and Ray sends the
    # token to a cluster it finds (auto), never to an address given, unless RAY_AUTH_MODE=token; with it, the score
    # stage joined and scored byte for byte as locally. Under token the token went, so the old line stands
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_as_grpc() -> None:  # as that cluster's GCS does, so the address passes the check before ray.init
        conn, _ = server.accept()
        with conn:
            conn.recv(64)
            conn.sendall(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))  # an empty SETTINGS frame

    threading.Thread(target=answer_as_grpc, daemon=True).start()
    reason = f"Failed to connect to Ray cluster at 192.0.2.2:{port}"
    monkeypatch.setattr(engine, "import_ray", lambda: FakeRay(ConnectionError(reason)))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    if mode is not None:
        monkeypatch.setenv("RAY_AUTH_MODE", mode)
    with server, pytest.raises(WinnowError) as refused:
        with Engine("ray", f"127.0.0.1:{port}").session():
            pass
    assert str(refused.value) == line.format(address=f"127.0.0.1:{port}", reason=reason)
