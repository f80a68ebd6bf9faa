"""Review of probe 79's mends (index and exp), found at review 79:

- a parquet whose id is one level of a several-level index beside an unnamed level (``df.set_index(["id",
  row_numbers])``): the mend reset every level, and pandas named the unnamed one ``level_1``, so each row's number was
  stored as a feature (embeddings ``(N, 3)``, exit 0); now the unnamed level is left out, as a one-level unnamed index
  is.
- ``winnow compare`` while ``dvc exp run --temp`` runs (its executor ``tempdir`` in ``dvc exp show --json``): "run
  this again when `dvc queue status` shows them done", which never lists it; and ``winnow gate --target`` of it:
  "running here, not finished ...; wait for it (dvc queue status)". Probed with real DVC 3.67.1: the run writes
  ``.dvc/tmp/exps/run/<stash>/<stash>.run`` (location tempdir) left at status 1 (PREPARING) after it ends, and
  ``.dvc/tmp/exps/standalone/run/<stash>/<stash>.run``, which ends at 6 (FINISHED).
- decimal features (probe 79's new reading) were made Python Decimal objects, one per value, then floats: a 8,068 x
  512 embedding of decimal lists read in 8.1 s against 0.8 s of floats; now cast in arrow through their text (2.8 s),
  to the same float64 values, which the last test holds.
"""

from __future__ import annotations

import decimal
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gate_repo import git, init
from hostile_harness import default_params, make_project
from test_hostile_exp_79 import F1, _shown
from test_hostile_represent import ids, separable
from test_hostile_represent_65 import _project, _represent
from winnow import revisions
from winnow.cli import main as winnow
from winnow.embedding_file import read_embedding_file
from winnow.errors import WinnowError


@pytest.mark.hostile("represent")
def test_an_unnamed_index_level_beside_id_is_no_feature(tmp_path, monkeypatch, capsys):
    project = _project(tmp_path, source="file", file="mine.parquet", knn_k=5)
    features = separable()
    order = np.arange(len(features))[::-1]  # the ids place the rows, not their order
    frame = pd.DataFrame({"id": ids()[order], "f0": features[order, 0], "f1": features[order, 1]})
    frame.set_index(["id", pd.Index(np.arange(len(frame)))]).to_parquet(project / "mine.parquet")
    done = _represent(project, monkeypatch, capsys)
    assert done.returncode == 0, done.stderr
    # before: (N, 3), the row numbers 0..N-1 stored as the first feature
    np.testing.assert_array_equal(np.load(project / "data/represent/embeddings.npy"), features)


@pytest.mark.hostile("exp")
def test_compare_during_a_dvc_exp_run_temp_says_to_wait_for_that_run(tmp_path, capsys):
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    commit = _shown("a" * 40, "main", 0, F1)
    commit["experiments"] = [
        {"revs": [_shown("b" * 40, "seed1", 1, F1)], "name": "seed1", "executor": None},
        {"revs": [_shown("c" * 40, "slowt", 3, F1)], "name": "slowt",
         "executor": {"state": "running", "name": "tempdir", "local": None}}]
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([_shown("workspace", None, 0, F1), commit]))
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Variants over 2 run(s) (seeds 0, 1)\n\n"
                          "_left out 1 experiment(s) that a `dvc exp run --temp` is still running (slowt); run this "
                          "again once that dvc exp run ends_\n")


def _temp_run(project, *, standalone_status: int) -> None:
    """The two info files `dvc exp run --temp -n slowt` leaves, as DVC 3.67.1 writes them."""
    head = git(project, "rev-parse", "HEAD").strip()
    stash = "1735123c3c9e4ef6cf2c4e3d88e9daf033522a1e"
    for folder, status in ((".dvc/tmp/exps/run", 1), (".dvc/tmp/exps/standalone/run", standalone_status)):
        info = project / folder / stash / f"{stash}.run"
        info.parent.mkdir(parents=True)
        info.write_text(json.dumps({"git_url": f"file://{project}/.dvc/tmp/exps/standalone/tmpw", "baseline_rev": head,
                                    "location": "tempdir", "root_dir": f"{project}/.dvc/tmp/exps/standalone/tmpw",
                                    "dvc_dir": ".dvc", "name": "slowt", "wdir": ".", "result_hash": None,
                                    "result_ref": None, "result_force": False, "status": status}))


@pytest.mark.hostile("exp")
def test_gate_of_a_running_dvc_exp_run_temp_says_to_wait_for_that_run(tmp_path):
    project = init(make_project(tmp_path / "project"))
    _temp_run(project, standalone_status=2)  # RUNNING
    with pytest.raises(WinnowError) as refused:
        revisions.resolve(project, "slowt", option="--target")
    assert str(refused.value) == ("--target slowt: a dvc experiment that a `dvc exp run --temp` is still running, so "
                                  "it has no results to gate; wait for that dvc exp run to end, then again")


@pytest.mark.hostile("exp")
def test_gate_of_a_dvc_exp_run_temp_that_failed_is_not_said_to_be_running(tmp_path):
    # the run/ copy stays at PREPARING after the run; the standalone one says it failed (4), leaving no experiment
    project = init(make_project(tmp_path / "project"))
    _temp_run(project, standalone_status=4)
    with pytest.raises(WinnowError) as refused:
        revisions.resolve(project, "slowt", option="--target")
    assert str(refused.value) == (
        "--target slowt: unknown revision; name a branch, tag, commit or dvc experiment that exists here (in CI fetch "
        "it first: actions/checkout with fetch-depth: 0, or git fetch origin <branch>; an experiment: dvc exp pull "
        "origin <name>)")


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("layout", ["columns", "list", "fixed_size_list"])
def test_decimal_features_are_read_as_the_nearest_float64_to_each_decimal(tmp_path, layout):
    # the decimals are now cast in arrow, through their text: arrow's own decimal-to-float64 cast is an ulp off for
    # about a third of these values (0.0003 as 0.00030000000000000003), where float(Decimal) is the nearest float64
    exact = [[decimal.Decimal(v).scaleb(-4) for v in row]
             for row in np.random.default_rng(1).integers(-10**6, 10**6, size=(len(ids()), 4)).tolist()]
    kind = pa.decimal128(10, 4)
    columns = ({f"f{j}": pa.array([row[j] for row in exact], kind) for j in range(4)} if layout == "columns" else
               {"embedding": pa.array(exact, pa.list_(kind) if layout == "list" else pa.list_(kind, 4))})
    pq.write_table(pa.table({"id": pa.array(ids().tolist()), **columns}), tmp_path / "mine.parquet")
    read = read_embedding_file(tmp_path / "mine.parquet", ids(), np.array(["0" * 16] * len(ids())))
    np.testing.assert_array_equal(read, np.array([[float(v) for v in row] for row in exact]))
