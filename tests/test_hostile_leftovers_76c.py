"""Hostile leftovers of stop 75 (the embedding's records, queued DVC experiments, stage processes), mended at 76:

- data/represent/embeddings.npy was hashed whole at every check of its record: dedup's write of its groups and each
  reader of them (read_filters twice in one process: the label cleaners', the budget's) read the whole embedding
  again, a 10 GB embedding 10 GB at each. Now once per version of the file in a process, and an embedding rewritten
  since (the same size, other vectors, even its modification time set back) is still refused; the same for the data
  files a contract's verdict records, which the report hashed again for each verdict it read;
- ``dvc exp run --queue ingest`` (or ``--temp ingest``) of a project whose ``ingest.path`` raw/ the user tracks with
  ``dvc add raw`` (raw.dvc committed): an experiment of named stages checks out only their pipeline's data, which reads
  raw/ by its parameter, and the line told the user to "commit it to git or DVC (dvc add raw, then commit raw.dvc)",
  done already; it now says DVC tracks it and names the runs that check it out (measured with DVC 3.67: `dvc exp run
  --temp` of the whole pipeline, or of raw.dvc and ingest, ingests it). A ``--temp`` copy was named as
  .dvc/tmp/exps/standalone, the folder of every such copy, not the experiment's;
- a caller that sets RAY_AUTH_MODE=token (as Ray's own warning suggests) after a Ray session of winnow's failed in its
  process: Ray had cached the setting as off at that session's end (the variable then unset), the next session's
  cluster inherited token and asked the driver for a token it never sent, and the refusal blamed memory or space
  ("Failed to start GCS"); each session now has Ray read its settings anew before ray.init. (IPython running a stage
  script is documented in the README, not tested: IPython is not in this environment.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import ROOT, assert_nothing_left, default_params, files_under, make_project
from test_hostile_dedup_74 import SPLITS, _embedded
from test_hostile_dvc_75 import _images
from test_hostile_leftovers_75c import _ray, _ray_free_environment
from test_hostile_dedup_more import dedup_project
from test_hostile_threshold_64 import _stage_in_process
from winnow import file_ops
from winnow.contract_verdict import changed_data_file
from winnow.errors import WinnowError
from winnow.judged_rows import read_filters

REWRITTEN_EMBEDDING = (
    "data/dedup/groups.parquet: grouped by the embedding's search on data/represent/embeddings.npy as it was before "
    "the represent stage wrote it anew (its bytes differ now); rerun the dedup stage (dvc repro dedup)")


def _counted_hashes(monkeypatch) -> list[str]:
    """The names of the files hashed whole from now on (winnow.file_ops.file_sha256), in the order hashed."""
    hashed = []
    real = file_ops.file_sha256

    def counted(path):
        hashed.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(file_ops, "file_sha256", counted)
    return hashed


@pytest.mark.hostile("represent")
def test_the_embedding_is_hashed_once_per_version_and_a_rewrite_is_still_refused(tmp_path, monkeypatch, capsys):
    # before: dedup's record of the embedding and each check of it by a reader hashed embeddings.npy whole: three
    # reads of the file here (the write, two readers in one process), one per check in every stage
    project = dedup_project(tmp_path / "project", splits=SPLITS, copies={},
                            dedup={"embedding_radius": 0.01, "embedding_confirm": False, "keep": "first"})
    params = yaml.safe_load((project / "params.yaml").read_text())
    features = np.eye(len(SPLITS), 16)
    _embedded(project, features)
    hashed = _counted_hashes(monkeypatch)
    monkeypatch.setattr(file_ops, "RACY_NS", 0)  # the embedding was written before dedup began: its hash is kept
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    manifest = pd.read_parquet(project / "data/degrade/manifest.parquet")
    read_filters(manifest, params=params)
    read_filters(manifest, params=params)
    assert hashed.count("embeddings.npy") == 1
    # the same path and size, other vectors, its modification time set back: only the change time tells the kept
    # digest is not this file's
    times = (project / "data/represent/embeddings.npy").stat()
    np.save(project / "data/represent/embeddings.npy", features[::-1].astype(np.float32))
    os.utime(project / "data/represent/embeddings.npy", ns=(times.st_atime_ns, times.st_mtime_ns))
    kept = (project / "data/represent/embeddings.npy").stat()
    assert (kept.st_ino, kept.st_size, kept.st_mtime_ns) == (times.st_ino, times.st_size, times.st_mtime_ns)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params)
    assert str(refused.value) == REWRITTEN_EMBEDDING
    assert hashed.count("embeddings.npy") == 2
    assert_nothing_left(project, before)


@pytest.mark.hostile("report")
def test_a_verdicts_data_files_are_hashed_once_per_version_and_a_rewrite_is_still_found(tmp_path, monkeypatch):
    # before: each verdict the report read (metrics/contracts.json, then each variant's) hashed every data file it
    # records again: data/degrade/manifest.parquet and the cleaners' outputs once per verdict
    monkeypatch.chdir(tmp_path)
    Path("data/degrade").mkdir(parents=True)
    Path("data/degrade/manifest.parquet").write_bytes(b"the manifest as the check read it!")
    recorded = file_ops.file_digests(["data/degrade/manifest.parquet", "data/threshold/flags.parquet"])
    hashed = _counted_hashes(monkeypatch)
    monkeypatch.setattr(file_ops, "RACY_NS", 0)  # written before the reads: its hash is kept
    assert [changed_data_file(recorded), changed_data_file(recorded)] == [None, None]
    assert hashed == ["manifest.parquet"]
    Path("data/degrade/manifest.parquet").write_bytes(b"the manifest as degrade rewrote it")  # the same size
    assert changed_data_file(recorded) == "data/degrade/manifest.parquet"


def _experiment_copy(tmp_path, where: str, path: str = "raw") -> tuple[Path, Path]:
    """A project holding raw/ (two class folders) whose ``ingest.path`` is ``path``, and the copy of it an experiment
    runs in at .dvc/tmp/exps/``where``: params.yaml, dvc.yaml and .dvc/, but no raw/."""
    project = tmp_path / "project"
    _images(project / "raw")
    (project / ".dvc").mkdir()
    params = default_params()
    params["ingest"].update({"source": "imagefolder", "path": path})
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned"]
    copy = make_project(project / ".dvc/tmp/exps" / where, params)
    (copy / ".dvc").mkdir()
    (copy / "dvc.yaml").write_text("stages: {}\n")
    return project, copy


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize(("where", "path", "tracked"), [
    ("tmpq7x2", "raw", "raw.dvc"),  # dvc exp run --queue ingest
    ("standalone/tmp0k3j", "raw", "raw.dvc"),  # dvc exp run --temp ingest
    ("tmpq7x2", "raw/c0", "raw.dvc"),  # a folder inside what raw.dvc tracks
], ids=["queue", "temp", "inside"])
def test_a_path_dvc_tracks_missing_from_a_stage_experiment_names_the_runs_that_check_it_out(tmp_path, monkeypatch,
                                                                                           capsys, where, path,
                                                                                           tracked):
    # before: "error: ingest.path: raw is not in the copy of the project this experiment runs in (...), though
    # <project>/raw is there: ... give its absolute path, or commit it to git or DVC (dvc add raw, then commit
    # raw.dvc)", where raw.dvc was committed: the copy lacked raw/ because the experiment named one stage
    project, copy = _experiment_copy(tmp_path, where, path)
    (copy / tracked).write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  path: raw\n")
    before = files_under(copy)
    done = _stage_in_process(copy, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: ingest.path: {path} is tracked by DVC ({tracked}) but not checked out in the copy of the project this "
        f"experiment runs in ({copy}): an experiment of named stages checks out only the data of their pipeline, which "
        f"reads {path} by its parameter, not as a dependency; run the experiment with no stage named (dvc exp run "
        f"--queue, or --temp), or name {tracked} beside its stages (dvc exp run --queue {tracked} <stage>)"])
    assert_nothing_left(copy, before)


@pytest.mark.hostile("ingest")
def test_a_temp_experiments_copy_is_named_as_its_own_folder(tmp_path, monkeypatch, capsys):
    # before: "(<project>/.dvc/tmp/exps/standalone)", the folder every `dvc exp run --temp` copy lies in
    project, copy = _experiment_copy(tmp_path, "standalone/tmp0k3j")
    before = files_under(copy)
    done = _stage_in_process(copy, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: ingest.path: raw is not in the copy of the project this experiment runs in "
        f"({project / '.dvc/tmp/exps/standalone/tmp0k3j'}), though {project / 'raw'} is there: `dvc exp run --queue` "
        "and `--temp` copy only what git and DVC track; give its absolute path, or commit it to git or DVC (dvc add "
        "raw, then commit raw.dvc)"])
    assert_nothing_left(copy, before)


# a session refused (Ray's temporary folder under a file), then RAY_AUTH_MODE=token set and a second session
_AUTH_SET_AFTER_A_FAILED_SESSION = """
import os, sys
from winnow.engine import Engine
from winnow.contract_verdict import changed_data_file
from winnow.errors import WinnowError

open("a-file", "w").close()
os.environ["RAY_TMPDIR"] = os.path.abspath("a-file/ray")
try:
    with Engine("ray", num_cpus=1).session():
        pass
except WinnowError as err:
    print("refused:", str(err).split(";")[0])
del os.environ["RAY_TMPDIR"]
os.environ["RAY_AUTH_MODE"] = "token"
try:
    with Engine("ray", num_cpus=1).session():
        import ray
        print("cpus", int(ray.cluster_resources()["CPU"]))
except WinnowError as err:
    print("refused:", str(err).split(";")[0])
"""


@pytest.mark.hostile("scale")
def test_ray_auth_mode_set_after_a_failed_session_is_the_next_sessions(tmp_path):
    # before: "refused: compute.ray: the local Ray cluster did not start (Failed to start GCS.  Last 0 lines of error
    # files:)" for the second session, whose line went on "free memory or space under /tmp ...": Ray's cache of
    # RAY_AUTH_MODE (off) disagreed with the variable its cluster inherited (token)
    _ray()
    env = _ray_free_environment() | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", _AUTH_SET_AFTER_A_FAILED_SESSION], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        f"refused: compute.ray: the local Ray cluster did not start ([Errno 20] Not a directory: "
        f"'{tmp_path}/a-file/ray')", "cpus 1"]
