"""Hostile inputs of a user driving winnow through DVC's experiments, found at probe 75 (dvc):

- ``dvc exp run --queue`` (or ``--temp``) of a project whose ``ingest.path`` (or ``ingest.trusted_path``,
  ``represent.file``) is a relative path to a folder or file in the project that neither git nor DVC tracks: the
  experiment runs in DVC's copy of the project (``.dvc/tmp/exps/<tmp>/``), which lacks it, and ``dvc queue logs``
  said "ingest.path: raw does not exist" of a folder the user saw there; now one line says it is missing from the
  experiment's copy and how to give it one. A path missing from the project too is refused by its reader as before;
- ``dvc exp run --queue -S ...`` in another shell while a stage of ``dvc repro`` (or a workspace ``dvc exp run``) ends:
  DVC holds the project's lock while its values stand in params.yaml (and each modified tracked file is stashed), 3.5 s
  measured on a busy machine, past the second the stage's check of edits waited; the stage was refused, "params.yaml
  changed while threshold ran: threshold.bins", of a file nobody edited. The check now waits while another dvc holds
  the lock (DVC takes it back to write dvc.lock only then); a change that lasts is refused as before;
- ``winnow compare`` over experiments run with ``-S 'variants=[baseline,pruned]'``: their dvc.lock keeps the entries of
  evaluate@oracle and evaluate@balanced from the baseline commit's run (DVC never removes an entry), which the commit
  check found stale, and the runs were left out as ones "whose metrics their own dvc.lock contradicts (...
  evaluate@balanced ran; rerun `dvc repro` there)", a fix that mends nothing; a variant a run's params.yaml does not
  list is no stage of that run and is not checked there.
"""

import fcntl
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from PIL import Image

from hostile_harness import assert_nothing_left, default_params, files_under, make_project, params_with
from test_hostile_params import TRAIN_OUTPUTS, _deps_project, _passed, _refused, _train_project
from test_hostile_threshold_64 import _stage_in_process
from winnow import experiments, params_read
from winnow.errors import WinnowError
from winnow.output_paths import check_input_file
from winnow.stage import load_params, together, write_json, write_text


def _images(folder):
    for c in range(2):
        (folder / f"c{c}").mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((8, 8), 40 * c + i, np.uint8)).save(folder / f"c{c}" / f"{i}.png")


def _queued_copy(tmp_path, **ingest):
    """A project holding ``raw/`` (class folders no one tracks) and, as `dvc exp run --queue` makes it, the copy of it
    a queued experiment runs in: params.yaml, dvc.yaml and .dvc/, but no raw/."""
    project = tmp_path / "project"
    _images(project / "raw")
    (project / ".dvc").mkdir()
    params = default_params()
    params["ingest"].update({"source": "imagefolder", "path": "raw", **ingest})
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned"]
    copy = make_project(project / ".dvc/tmp/exps/tmpq7x2", params)
    (copy / ".dvc").mkdir()
    (copy / "dvc.yaml").write_text("stages: {}\n")
    return project, copy


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize(("param", "ingest"), [
    ("ingest.path", {}),
    ("ingest.trusted_path", {"path": "/nowhere/a/path/read/after/the/trusted/one", "trusted_path": "raw"}),
])
def test_a_relative_path_the_queued_copy_lacks_is_said_to_be_missing_from_the_copy(tmp_path, monkeypatch, capsys,
                                                                                  param, ingest):
    # before: "error: ingest.path: raw does not exist (expected root/<class>/<image files>)" in `dvc queue logs`,
    # of the folder the user's project holds (and "ingest.trusted_path: raw does not exist; give ...")
    project, copy = _queued_copy(tmp_path, **ingest)
    before = files_under(copy)
    done = _stage_in_process(copy, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {param}: raw is not in the copy of the project this experiment runs in ({copy}), though "
        f"{project / 'raw'} is there: `dvc exp run --queue` and `--temp` copy only what git and DVC track; give its "
        "absolute path, or commit it to git or DVC (dvc add raw, then commit raw.dvc)"])
    assert_nothing_left(copy, before)


@pytest.mark.hostile("ingest")
def test_a_relative_path_missing_from_the_project_too_is_refused_by_its_reader(tmp_path, monkeypatch, capsys):
    # nothing to say of the copy: the reader's line, as in the project itself
    project, copy = _queued_copy(tmp_path)
    (project / "raw").rename(project / "elsewhere")
    before = files_under(copy)
    done = _stage_in_process(copy, "ingest", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        "error: ingest.path: raw does not exist (expected root/<class>/<image files>)"])
    assert_nothing_left(copy, before)


@pytest.mark.hostile("represent")
def test_a_represent_file_the_copy_of_a_subdir_project_lacks_is_said_to_be_missing_from_the_copy(tmp_path,
                                                                                                 monkeypatch):
    # `dvc init --subdir`: DVC copies the git repository, so the experiment runs in <tmp>/<subdir>. Before:
    # "represent.file: emb.npy not found; write the embeddings there or ..."
    project = tmp_path / "repo" / "vision"
    (project / ".dvc").mkdir(parents=True)
    (project / "emb.npy").write_bytes(b"embeddings")
    copy = project / ".dvc/tmp/exps/tmpa1b2" / "vision"
    (copy / ".dvc").mkdir(parents=True)
    monkeypatch.chdir(copy)
    with pytest.raises(WinnowError) as refused:
        check_input_file(Path("emb.npy"), option="represent.file", fix="write them there")
    assert str(refused.value) == (
        f"represent.file: emb.npy is not in the copy of the project this experiment runs in "
        f"({project / '.dvc/tmp/exps/tmpa1b2'}), though {project / 'emb.npy'} is there: `dvc exp run --queue` and "
        "`--temp` copy only what git and DVC track; give its absolute path, or commit it to git or DVC (dvc add "
        "emb.npy, then commit emb.npy.dvc)")


def _dvc_holding_the_lock(project: Path, monkeypatch, *, put_back: dict[Path, str] | None, after: int = 15):
    """The project's DVC lock held, as `dvc exp run --queue` in another shell holds it (a flock of .dvc/tmp/lock), and
    let go once the stage's check of edits has waited ``after`` tenths of winnow.params_read.SETTLE_S, each file of
    ``put_back`` written back with its text first (None: the change lasts)."""
    lock = open(project / ".dvc/tmp/lock", "a")
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    waits: list[float] = []

    def waiting(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == after:
            for path, text in (put_back or {}).items():
                path.write_text(text)
            lock.close()  # the flock goes with it

    monkeypatch.setattr(params_read, "time", SimpleNamespace(sleep=waiting))  # the module's one use of time
    return waits


def _stashed_meanwhile(project: Path, monkeypatch, edited: str, *, put_back: bool, held: list | None = None,
                       after: int = 15):
    """A train stage's main that, after reading params.yaml, meets ``edited`` rewritten by a dvc holding the
    project's lock (put back or not as it lets go), then writes its outputs."""
    def main():
        load_params()
        path = project / edited
        text = path.read_text()
        path.write_text(yaml.safe_dump(params_with("seed", 7), sort_keys=False) if edited == "params.yaml"
                       else "as the queue's stash left it\n")
        waits = _dvc_holding_the_lock(project, monkeypatch, put_back={path: text} if put_back else None, after=after)
        if held is not None:
            held.append(waits)
        with together():
            write_text("models/baseline.pt", "weights\n")
            write_json("metrics/train/baseline.json", {"epochs": 20})
    return main


@pytest.mark.hostile("params")
@pytest.mark.parametrize("edited", ["params.yaml", "src/winnow/models.py"])
def test_a_file_a_queueing_dvc_puts_back_after_the_settle_time_passes(tmp_path, monkeypatch, capsys, edited):
    # before: "error: params.yaml changed while train@baseline ran: seed; its outputs follow the old values; run dvc
    # repro again" ("src/winnow/models.py changed while train@baseline ran; ..."), exit 1, of a file nobody edited:
    # `dvc exp run --queue` held it rewritten 3.5 s, past the second the check waited
    project = _deps_project(tmp_path, monkeypatch)
    (project / ".dvc/tmp").mkdir(parents=True)
    (project / ".dvc/tmp/lock").write_text("")  # DVC's, kept between its runs
    before = files_under(project)
    assert _passed(_stashed_meanwhile(project, monkeypatch, edited, put_back=True), capsys, project, before) == (
        "", TRAIN_OUTPUTS)


@pytest.mark.hostile("params")
def test_params_a_dvc_holding_the_lock_changed_for_good_are_refused_once_it_lets_go(tmp_path, monkeypatch, capsys):
    # `dvc exp apply` in another shell: the change lasts past the lock, and the stage is refused as before
    project = _train_project(tmp_path, monkeypatch)
    (project / ".dvc/tmp").mkdir(parents=True)
    (project / ".dvc/tmp/lock").write_text("")
    before = files_under(project)
    line = _refused(_stashed_meanwhile(project, monkeypatch, "params.yaml", put_back=False), capsys)
    assert line == ("error: params.yaml changed while train@baseline ran: seed; its outputs follow the old values; "
                    "run dvc repro again\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_a_change_made_under_a_lock_never_let_go_is_refused_after_the_longest_wait(tmp_path, monkeypatch, capsys):
    # a dvc stuck holding the lock: the stage waits DVC_HELD_S past the settle time (a minute; here a second, to keep
    # the test short), no longer, and is refused
    monkeypatch.setattr(params_read, "DVC_HELD_S", 1.0)
    project = _train_project(tmp_path, monkeypatch)
    (project / ".dvc/tmp").mkdir(parents=True)
    (project / ".dvc/tmp/lock").write_text("")
    before = files_under(project)
    held: list = []
    line = _refused(_stashed_meanwhile(project, monkeypatch, "params.yaml", put_back=False, held=held, after=10**6),
                    capsys)
    assert line == ("error: params.yaml changed while train@baseline ran: seed; its outputs follow the old values; "
                    "run dvc repro again\n")
    assert sum(held[0]) == pytest.approx(params_read.SETTLE_S + 1.0)
    assert_nothing_left(project, before)


def _runs(*variant_lists):
    return [{"experiment": f"seed{i}", "rev": f"{i}" * 40, "params": {"seed": i, "variants": variants},
             "metrics": {}, "inputs": {}, "outputs": {}} for i, variants in enumerate(variant_lists, 1)]


def _checked_as_before(monkeypatch) -> list:
    """The commit check as the real one met those runs: their dvc.lock's entries of oracle and balanced (left from the
    baseline's run, before their -S) are stale; the calls it got."""
    calls = []

    def check(repo, rev, *, name, targets):
        calls.append((name, targets))
        stale = [t for t in targets if t in ("evaluate@oracle", "evaluate@balanced")]
        if stale:
            raise WinnowError(f"{name}'s metrics are not what its dvc.lock and params.yaml say (first: "
                              f"src/winnow/augment.py changed since dvc.lock's {stale[-1]} ran)")

    monkeypatch.setattr(experiments.staleness, "check_commit_current", check)
    monkeypatch.setattr(experiments, "check_progress_variables", lambda: None)
    return calls


ALL = [f"evaluate@{v}" for v in ("oracle", "baseline", "pruned", "balanced")]


@pytest.mark.hostile("compare")
def test_runs_of_fewer_variants_are_not_left_out_as_stale_for_the_variants_they_did_not_run(monkeypatch):
    # before: "left out 2 run(s) whose metrics their own dvc.lock contradicts (src/winnow/augment.py changed since
    # dvc.lock's evaluate@balanced ran; rerun `dvc repro` there): seed1, seed2"
    calls = _checked_as_before(monkeypatch)
    runs = _runs(["baseline", "pruned"], ["pruned", "baseline"])
    assert experiments.current_runs(runs, repo=".", targets=ALL) == (runs, "")
    assert calls == [("seed1", ["evaluate@baseline", "evaluate@pruned"]),
                     ("seed2", ["evaluate@baseline", "evaluate@pruned"])]


@pytest.mark.hostile("compare")
def test_a_run_of_a_variant_whose_lock_entry_is_stale_is_still_left_out(monkeypatch):
    # a run that lists balanced is checked for it as before
    _checked_as_before(monkeypatch)
    runs = _runs(["baseline", "pruned"], ["baseline", "pruned", "balanced"])
    assert experiments.current_runs(runs, repo=".", targets=ALL) == (runs[:1], (
        "left out 1 run(s) whose metrics their own dvc.lock contradicts (src/winnow/augment.py changed since "
        "dvc.lock's evaluate@balanced ran; rerun `dvc repro` there): seed2"))
