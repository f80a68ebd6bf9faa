"""Hostile leftovers of the 77o review (stage outputs of nested dvc.yaml files, the compare stage's CSV):

- a dvc.yaml below the project's top that holds no mapping of stages (a YAML list), or an output written as text
  (``outs: raw``), beside ingest.path in that folder: the ingest stage runs, the broken file left for dvc to report;
  before, the params check stopped in an AttributeError traceback, or read ``outs: raw`` as outputs r, a and w and
  refused ingest.path prep/w as one of them;
- ``winnow compare --out data/ingest/compare.md`` in a DVC project whose data/ holds a dvc.yaml of its own: refused as
  inside the top dvc.yaml's ingest output, as without that file; before, the nested dvc.yaml was taken for the
  project's top, its outputs alone were looked at, and the markdown was written into data/ingest;
- the compare stage's significance CSV of two variants whose per-class changes sum to 0 (+0.1, +0.2, -0.3): a change
  of 0.0, as its markdown says; before, the float noise of the mean, 1.85037e-17;
- two plain processes launched by hand (WORLD_SIZE=2, RANK, MASTER_ADDR, MASTER_PORT, no TORCHELASTIC_RUN_ID), rank 1
  started first: they meet at the store winnow makes since 3fa34af7 and sum a tensor across both; no test had run
  that path to a process group, only to its refusals.

Each checks the whole line or value a user reads, and nothing partial left behind.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pandas as pd
import pytest

from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_winnow,
)


@pytest.mark.hostile("dvc")
@pytest.mark.parametrize(("nested", "folder"), [
    ("- fetch\n", "raw"),  # no mapping of stages: before, AttributeError: 'list' object has no attribute 'get'
    ("stages:\n  fetch:\n    cmd: python fetch.py\n    outs: raw\n", "w"),  # outs as text, not a list of paths
], ids=["list", "outs-text"])
def test_a_nested_dvc_yaml_of_another_shape_is_left_to_dvc_and_ingest_runs(tmp_path, monkeypatch, capsys, nested,
                                                                            folder):
    # before: the params check of ingest.path read the nested dvc.yaml as a mapping of stages, each with a list of
    # outputs: a list stopped it in a traceback, and "outs: raw" was three outputs, r, a and w, so ingest.path prep/w
    # was refused as "an output of the prep/dvc.yaml:fetch stage (prep/w)", which no stage writes
    from test_hostile_dvc_75 import _images
    from test_hostile_leftovers_76c import _experiment_copy
    from test_hostile_threshold_64 import _stage_in_process

    project, copy = _experiment_copy(tmp_path, "tmpq7x2", f"prep/{folder}")
    _images(project / "prep" / folder)
    (project / "params.yaml").write_text((copy / "params.yaml").read_text())
    (project / "dvc.yaml").write_text("stages: {}\n")
    (project / "prep/dvc.yaml").write_text(nested)
    done = _stage_in_process(project, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")
    assert (project / "data/ingest/images.npy").is_file()


@pytest.mark.hostile("compare")
def test_compare_out_in_a_top_stage_output_beside_a_nested_dvc_yaml_is_refused(tmp_path):
    # before: data/dvc.yaml was taken for the project's top (the nearest dvc.yaml above the path), so only its fetch
    # stage's outputs were looked at: the markdown was written into data/ingest, the ingest stage's output, exit 0
    from test_hostile_compare_more import TWO_CLASSES, record

    project = make_project(tmp_path / "project", default_params())
    (project / ".dvc").mkdir()
    (project / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    (project / "data/ingest").mkdir(parents=True)
    (project / "data/ingest/classes.json").write_text('["a", "b"]\n')
    (project / "data/dvc.yaml").write_text("stages:\n  fetch:\n    cmd: python fetch.py\n    outs:\n    - raw\n")
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("c", "c0ffee", 0, TWO_CLASSES)]))
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--out", "data/ingest/compare.md")
    assert assert_error_line(done) == (
        "error: --out data/ingest/compare.md: is an output of the ingest stage (data/ingest), which this would "
        "overwrite; give another path, e.g. --out reports/compare-seeds.md")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_the_compare_stages_csv_writes_changes_that_sum_to_zero_as_no_change(tmp_path, monkeypatch):
    # pruned +0.1, +0.2 and -0.3 on three classes: no change on average. Before, the CSV wrote the mean's float noise
    # to 6 significant digits, mean_diff 1.85037e-17, beside the markdown's 0.0000
    from test_hostile_compare_68 import _stage
    from test_hostile_evaluate_77 import _summary
    from winnow.metrics import summary_path

    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    base, head = [0.5, 0.6, 0.7], [0.6, 0.8, 0.4]
    for variant, scores in (("baseline", base), ("pruned", head)):
        (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
        (project / summary_path(variant)).write_text(pd.Series(
            {"per_class": _summary({str(c): s for c, s in enumerate(scores)})["per_class"]}).to_json())
    monkeypatch.chdir(project)
    _stage("compare").main()
    row = pd.read_csv(project / "plots/compare/f1_significance.csv").iloc[0]
    assert (row["from"], row["to"], row["mean_diff"], row["n"]) == ("baseline", "pruned", 0.0, 3)


# one rank of a hand launch: winnow's rendezvous, its wait long enough for any machine (no timing is asserted), a sum
# across the two ranks, and the rank, world size and sum printed
HAND_RANK = """
import torch
import winnow.torch_runtime as runtime

runtime.ALONE_RENDEZVOUS_S = 600
rank, world = runtime.distributed_setup()
total = torch.tensor([rank + 1.0])
torch.distributed.all_reduce(total)
print(rank, world, int(total.item()), torch.distributed.get_backend())
torch.distributed.destroy_process_group()
"""


@pytest.mark.hostile("training")
def test_two_plain_processes_launched_by_hand_form_one_process_group(tmp_path):
    # 3fa34af7 replaced torch's env:// rendezvous with a store of winnow's own outside torchrun; its tests covered the
    # ranks that never meet, none two that do (a store that never formed a group would have passed them all)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # the CPU's gloo group whatever the host holds (a GPU host's would be nccl's)
    env = {name: value for name, value in _env().items() if name != "TORCHELASTIC_RUN_ID"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    ranks = [subprocess.Popen([sys.executable, "-c", HAND_RANK], cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**env, "WORLD_SIZE": "2", "RANK": rank, "LOCAL_RANK": rank,
                                                           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
             for rank in ("1", "0")]  # rank 1 first: it waits for rank 0's store
    done = [process.communicate(timeout=900) for process in ranks]
    assert [(process.returncode, out) for process, (out, _) in zip(ranks, done)] == [(0, "1 2 3 gloo\n"),
                                                                                     (0, "0 2 3 gloo\n")]
