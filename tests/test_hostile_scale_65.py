"""Hostile compute and scale, stop 65: the stages torchrun may not start (only train trains under DDP), and a local
Ray cluster of more CPUs than the machine gives."""

import os

import pytest

import forked_run
from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project
from winnow import engine
from winnow.engine import Engine

# what torchrun --nproc_per_node=2 sets for its rank 0
RANK_0_OF_2 = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.hostile("training")
@pytest.mark.parametrize("stage", ["represent", "score"])
def test_a_stage_other_than_train_started_by_torchrun_is_one_line_before_any_work(tmp_path, stage):
    # found by probing: `torchrun --nproc_per_node=2 stages/represent.py` (represent.source: judge) trained the judge
    # under DDP, each rank on half the images, so the features were up to 0.32 from one process's (10-NN vote 0.78 for
    # 0.80), and both ranks wrote every output and printed their own line, exit 0
    project = make_project(tmp_path / "project", default_params())
    before = files_under(project)
    done = forked_run.run("script", str(ROOT / f"stages/{stage}.py"), [], cwd=project, env=_env() | RANK_0_OF_2,
                          timeout=60)
    assert assert_error_line(done) == (
        f"error: stages/{stage}.py runs in one process, but torchrun started 2 (WORLD_SIZE=2): each would write every "
        "output, and a judge it trains would learn from a share of the images; run python "
        f"stages/{stage}.py (only stages/train.py trains under torchrun)")
    assert_nothing_left(project, before)


class FakeRay:
    """A stand-in for the ray module: records what ray.init was asked for, starts nothing."""

    def __init__(self) -> None:
        self.inits: list[dict] = []

    def is_initialized(self) -> bool:
        return False

    def init(self, **options) -> None:
        self.inits.append(options)

    def shutdown(self) -> None:
        pass


@pytest.mark.hostile("params")
def test_a_local_ray_cluster_of_more_cpus_than_the_machine_gives_is_a_warning_and_goes_on(monkeypatch, capsys):
    # found by probing: compute.ray.num_cpus 64 on this machine's 2 cores scored 951 images in 26 batches on 19 Ray
    # worker processes (3.3 GiB, 75 s) where 2 CPUs took 9 (1.1 GiB, 33 s), without a word; 1,024 on a large set
    # starts hundreds. The same scores either way, so the run goes on
    fake = FakeRay()
    monkeypatch.setattr(engine, "import_ray", lambda: fake)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # a machine that gives the stage 2 CPUs
    for cpus in (2, 3):
        with Engine("ray", None, cpus).session():
            pass
    assert [init["num_cpus"] for init in fake.inits] == [2, 3]
    assert capsys.readouterr().out == (
        "warning: compute.ray.num_cpus: 3 is more than the 2 CPU(s) this machine gives the stage; Ray runs up to 3 "
        "batches at once, each in a worker process of its own, slower and larger than 2: set it to 2 or less, or null "
        "(every CPU)\n")
