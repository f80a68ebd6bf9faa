"""Hostile compute and scale, stop 65: the stages torchrun may not start (only train trains under DDP)."""

import pytest

import forked_run
from hostile_harness import ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project

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
