"""A stage that fails or is interrupted part-way leaves its last complete outputs, every one byte for byte:
never some rewritten and the rest old (winnow.stage.together, check_outputs), and no temporary that the
next run would not remove (winnow.stage.sweep_temporaries).

Each case runs the real stage once in a tiny project (3 classes of random 8x8 images), changes a parameter
so that a new run would write different outputs, and makes the second run fail: an output that is a
folder, a write that hits a full disk (or ``ulimit -f``), a Ctrl-C during training, a kill -9."""

import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import forked_run
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, flip_a_bit,
    imagefolder_project, make_project, run_stage, run_winnow, tiny_degraded,
)
from review_project import write_project
from winnow.errors import INTERRUPTED
from winnow.stage import together, write_table, write_text
from winnow.variants import baseline_rows, write_variant

MODEL, LOG = "models/baseline.pt", "metrics/train/baseline"
THRESHOLD_OUT = ["data/threshold/flags.parquet", "metrics/threshold.json", "plots/threshold"]
EVALUATE_OUT = ["metrics/evaluate/baseline.json", "metrics/evaluate/baseline", "plots/evaluate/baseline"]


def _params(**train) -> dict:
    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline"]
    params["contracts"]["enforce_variants"] = []
    params["train"] |= {"epochs": 3, "patience": None, "batch_size": 8, "crop_padding": 1, "threads": 1,
                        "device": "cpu", **train}
    return params


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Scores, the baseline variant, and the outputs of threshold, train@baseline and evaluate@baseline."""
    root = make_project(tmp_path_factory.mktemp("template"), _params())
    manifest, images, scores = tiny_degraded(root, score=_params()["score"])
    write_variant("baseline", baseline_rows(manifest), root=root / "data/variants")
    for stage in (("threshold",), ("train", "baseline"), ("evaluate", "baseline")):
        done = run_stage(root, *stage)
        assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "project"))


def _contents(project: Path, *paths: str) -> dict[str, bytes]:
    """Every file at or under ``paths``, by its path in the project."""
    found = [p for path in paths for p in [project / path, *(project / path).rglob("*")] if p.is_file()]
    return {str(p.relative_to(project)): p.read_bytes() for p in found}


# Runs a stage script with one fault (WINNOW_FAULT): "interrupt" presses Ctrl-C in the validation of epoch 2
# (epoch 1 is in dvclive's log by then); "model" limits the size of a file the stage writes (`ulimit -f`) below the
# model's, so its torch.save fails as on a full disk; "parquet" and "json" fill the disk in the first
# DataFrame.to_parquet or JSON file (a stage's metrics, its last write).
_LAUNCHER = '''
import errno, os, runpy, sys

fault = os.environ["WINNOW_FAULT"]
if fault == "interrupt":
    import winnow.training as training

    evaluate, calls = training._evaluate, []

    def interrupted(*args):
        calls.append(None)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate(*args)

    training._evaluate = interrupted
elif fault == "model":
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, 32 * 1024))  # Python ignores SIGXFSZ: writes fail EFBIG
else:
    import pandas, torch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if fault == "json":
        import winnow.stage

        winnow.stage.write_text = full
    else:
        pandas.DataFrame.to_parquet = full
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
'''


def _run_with_fault(project: Path, fault: str, stage: str, *args: str) -> subprocess.CompletedProcess:
    launcher = project.parent / "launcher.py"
    launcher.write_text(_LAUNCHER)
    return forked_run.run("script", str(launcher), [str(ROOT / "stages" / f"{stage}.py"), *args], cwd=project,
                          env={**_env(), "WINNOW_FAULT": fault}, timeout=600)


@pytest.mark.hostile("interrupted")
def test_an_interrupted_training_leaves_the_last_model_and_its_log(project):
    # before: models/baseline.pt kept, metrics/train/baseline/ rewritten with the one epoch run so far
    make_project(project, _params(epochs=2, lr=0.01))
    before, old = files_under(project), _contents(project, MODEL, LOG)
    done = _run_with_fault(project, "interrupt", "train", "baseline")
    assert done.returncode == INTERRUPTED, done.stderr
    assert "error: stages/train.py: interrupted" in done.stderr
    assert _contents(project, MODEL, LOG) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_training_whose_model_write_fails_leaves_the_last_model_and_its_log(project):
    # before: the full disk stopped the model's write, but the log of the new run stayed, with the old model; and
    # torch's own RuntimeError for the failed write ("unexpected pos ...") was a traceback
    make_project(project, _params(epochs=2, lr=0.01))
    before, old = files_under(project), _contents(project, MODEL, LOG)
    assert assert_error_line(_run_with_fault(project, "model", "train", "baseline")) == (
        "error: stages/train.py: models/baseline.pt: File too large [EFBIG]; the file is larger than this process "
        "may write (`ulimit -f`) or than its file system holds (FAT32: 4 GiB); raise the limit, or write to another "
        "file system, then rerun")
    assert _contents(project, MODEL, LOG) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_training_whose_dvc_state_cannot_be_written_ends_in_one_line(project, tmp_path):
    # before: dvclive opens the DVC repository, and sqlite's "disk I/O error" (a full disk under DVC's site cache)
    # was a traceback from dvclive's start-up
    make_project(project, _params(epochs=2, lr=0.01))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=project, check=True, env=_env())
    # what `dvc config --local core.site_cache_dir ...` writes, without a third process importing DVC
    (project / ".dvc/config.local").write_text(f"[core]\n    site_cache_dir = {tmp_path / 'site-cache'}\n")
    before, old = files_under(project), _contents(project, MODEL, LOG)
    # no file can grow past 64 bytes (`ulimit -f`): tempfile's probe of /tmp (4 bytes) passes, and the first larger
    # write is dvclive's, to DVC's state database. A process of its own, since a forked run's stderr is a file
    done = subprocess.run([sys.executable, str(ROOT / "stages/train.py"), "baseline"], cwd=project, env=_env(),
                          capture_output=True, text=True, timeout=600,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64)))
    assert assert_error_line(done) == (
        "error: stages/train.py: DVC's state database could not be opened or written (disk I/O error); it is in DVC's "
        "site cache (`dvc config core.site_cache_dir`; by default under /var/tmp/dvc): make that folder writable, "
        "free space there, or point core.site_cache_dir elsewhere, then rerun")
    assert _contents(project, MODEL, LOG) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_model_path_that_is_a_folder_stops_train_before_it_trains(project):
    # before: it trained, rewrote metrics/train/baseline/, then failed on the folder
    make_project(project, _params(epochs=2, lr=0.01))
    (project / MODEL).unlink()
    (project / MODEL).mkdir()
    before, old = files_under(project), _contents(project, LOG)
    done = run_stage(project, "train", "baseline")
    assert assert_error_line(done) == ("error: train@baseline: models/baseline.pt is a folder, where the stage writes "
                                       "a file; move it away, then rerun")
    assert "epoch" not in done.stderr  # no training ran
    assert _contents(project, LOG) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_models_folder_linked_to_a_disk_not_mounted_stops_train_before_it_trains(project, tmp_path):
    # found by probing: models/ a symbolic link to a folder on a bigger disk, not mounted: check_outputs passed, and
    # train@baseline trained, then failed at the model's write: "error: stages/train.py: models: File exists [EEXIST];
    # free space, or fix the path or its permissions, then rerun"
    make_project(project, _params(epochs=2, lr=0.01))
    shutil.rmtree(project / "models")
    (project / "models").symlink_to(tmp_path / "unmounted/models")
    before, old = files_under(project), _contents(project, LOG)
    done = run_stage(project, "train", "baseline")
    assert assert_error_line(done) == (
        f"error: train@baseline: models/baseline.pt lies under models, a symbolic link to {tmp_path}/unmounted/models, "
        "which does not exist; create that folder (or mount its disk), then rerun")
    assert "epoch" not in done.stderr  # no training ran
    assert _contents(project, LOG) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("launch", "line"), [
    ({"WORLD_SIZE": "abc"}, "error: WORLD_SIZE='abc': not a whole number >= 1; torchrun sets it, so launch with "
                            "torchrun or unset WORLD_SIZE"),
    ({"WORLD_SIZE": "0"}, "error: WORLD_SIZE='0': not a whole number >= 1; torchrun sets it, so launch with torchrun "
                          "or unset WORLD_SIZE"),
    ({"WORLD_SIZE": "2"}, "error: WORLD_SIZE=2 is set without RANK, MASTER_ADDR, MASTER_PORT: launch with torchrun "
                          "(torchrun --nproc_per_node=2 ...), or unset WORLD_SIZE to train in one process"),
    ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"},
     "error: RANK=2 with WORLD_SIZE=2: a rank must be below the world size; launch with torchrun, which sets both"),
])
def test_a_world_size_without_torchrun_stops_train_with_one_line(project, launch, line):
    # before: "ValueError: invalid literal for int()" (abc), and torch's rendezvous error ("environment variable
    # RANK expected, but not set") for 2, each a traceback; a rank past the world size went on to torch's rendezvous
    make_project(project, _params(epochs=2, lr=0.01))
    env = {k: v for k, v in _env().items() if k not in ("RANK", "MASTER_ADDR", "MASTER_PORT")} | launch
    before, old = files_under(project), _contents(project, MODEL, LOG)
    done = forked_run.run("script", str(ROOT / "stages/train.py"), ["baseline"], cwd=project, env=env, timeout=600)
    assert assert_error_line(done) == line
    assert _contents(project, MODEL, LOG) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_model_with_a_flipped_bit_stops_evaluate_with_one_line(project):
    # before: torch.load checks no CRC, so a bit flipped in a weight was evaluated as another model (accuracy 0.5180,
    # was 0.8490), exit 0; DVC's md5 catches it only under `dvc repro`, not a stage run by hand or `dvc repro -s`
    flipped = flip_a_bit(project / MODEL)  # in the widest layer's weights
    before, old = files_under(project), _contents(project, *EVALUATE_OUT)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == (
        f"error: models/baseline.pt: corrupt: its member {flipped} fails its CRC-32 check (a bit changed on "
        "disk or in a copy); rerun the train@baseline stage (dvc repro train@baseline)")
    assert _contents(project, *EVALUATE_OUT) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_threshold_whose_flags_write_fails_leaves_every_old_output(project):
    # before (`ulimit -f 20`): the plots rewritten, flags and metrics old, then EFBIG at the flags
    make_project(project, _params() | {"threshold": _params()["threshold"] | {"bins": 64}})
    before, old = files_under(project), _contents(project, *THRESHOLD_OUT)
    assert_error_line(_run_with_fault(project, "parquet", "threshold"), "No space left on device [ENOSPC]")
    assert _contents(project, *THRESHOLD_OUT) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_evaluate_whose_summary_path_is_a_folder_rewrites_nothing(project):
    # before: predictions.csv of the new model written, then IsADirectoryError; summary and metrics old
    checkpoint = torch.load(project / MODEL, weights_only=True)  # another model: new outputs would differ
    checkpoint["state_dict"] = {k: v * 2 if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()}
    torch.save(checkpoint, project / MODEL)
    (project / "metrics/evaluate/baseline/summary.json").unlink()
    (project / "metrics/evaluate/baseline/summary.json").mkdir()
    before, old = files_under(project), _contents(project, *EVALUATE_OUT)
    done = run_stage(project, "evaluate", "baseline")
    assert assert_error_line(done) == ("error: evaluate@baseline: metrics/evaluate/baseline/summary.json is a folder, "
                                       "where the stage writes a file; move it away, then rerun")
    assert _contents(project, *EVALUATE_OUT) == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_degrade_whose_metrics_write_fails_leaves_the_last_damaged_imageset(project):
    # before: data/degrade held the new damage and its perturbation log, metrics/degrade.json the old counts
    assert run_stage(project, "degrade").returncode == 0  # degrade.enabled false: the imageset passed on
    make_project(project, _params() | {"degrade": {"enabled": True, "perturbations": [
        {"kind": "symmetric_noise", "fraction": 0.5}]}})
    before, old = files_under(project), _contents(project, "data/degrade", "metrics/degrade.json")
    assert_error_line(_run_with_fault(project, "json", "degrade"), "No space left on device [ENOSPC]")
    assert _contents(project, "data/degrade", "metrics/degrade.json") == old
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_ingest_whose_metrics_write_fails_leaves_the_last_imageset(tmp_path):
    # before: data/ingest held the new images, metrics/ingest.json the old counts
    project, params = imagefolder_project(tmp_path)
    assert run_stage(project, "ingest").returncode == 0
    params["seed"] += 1  # another split of the same files
    make_project(project, params)
    before, old = files_under(project), _contents(project, "data/ingest", "metrics/ingest.json")
    assert_error_line(_run_with_fault(project, "json", "ingest"), "No space left on device [ENOSPC]")
    assert _contents(project, "data/ingest", "metrics/ingest.json") == old
    assert_nothing_left(project, before)


def test_together_puts_every_old_output_back_when_a_rename_fails(tmp_path, monkeypatch):
    # the commit itself failing half-way (b's rename) must not leave a new and b old
    monkeypatch.chdir(tmp_path)
    write_text("a.txt", "old a")
    write_text("b.txt", "old b")
    rename = Path.rename

    def failing(self, target):
        if ".winnow-tmp-" in self.name and Path(target).name == "b.txt":
            raise OSError(errno.EIO, "Input/output error")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError, match="Input/output error"), together():
        write_text("a.txt", "new a")
        write_text("b.txt", "new b")
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.txt": "old a", "b.txt": "old b"}


# Replaces reviews/thumbs as `winnow review export` does, but is killed (kill -9) after two thumbnails.
_KILLED_EXPORT = '''
import os, signal
from pathlib import Path

from winnow.review_page import write_folder


class Killed(dict):
    def items(self):
        yield "one.png", b"1"
        yield "two.png", b"2"
        os.kill(os.getpid(), signal.SIGKILL)


write_folder(Path("reviews/thumbs"), Killed())
'''


def _killed_export(project: Path) -> Path:
    """The temporary folder a killed thumbnail write left in reviews/."""
    proc = subprocess.run([sys.executable, "-c", _KILLED_EXPORT], cwd=project, env=_env(), capture_output=True,
                          text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    [left] = [p for p in (project / "reviews").iterdir() if p.name.startswith(".thumbs.")]
    assert left.name.startswith(".thumbs.winnow-tmp-") and sorted(os.listdir(left)) == ["one.png", "two.png"]
    return left


@pytest.mark.hostile("interrupted")
def test_a_killed_review_export_leaves_thumbnails_the_next_export_and_any_stage_remove(tmp_path):
    # before: reviews/.thumbs.tmp-<pid>/ (155 PNGs) stayed for good: no sweep knew its name or looked in reviews/
    project = write_project(tmp_path / "project")
    assert run_winnow(project, "review", "export").returncode == 0
    thumbs = _contents(project, "reviews/thumbs")

    left = _killed_export(project)
    assert _contents(project, "reviews/thumbs") == thumbs
    done = run_winnow(project, "review", "export")
    assert done.returncode == 0, done.stderr
    assert not left.exists() and _contents(project, "reviews/thumbs") == thumbs

    left = _killed_export(project)
    done = run_stage(project, "threshold")
    assert done.returncode == 0, done.stderr
    assert f"removed 1 temporary file(s) left by killed runs: reviews/{left.name}" in done.stdout
    assert_nothing_left(project, files_under(project))


# Moves a.txt and the folder f into place together, the real rename replaced by one that stops the process
# with os._exit (as kill -9 does: no clean-up runs) at the rename numbered kill_at, after one that fails with EIO
# at fail_at when given (the undo's renames are counted on)
def _commit_killed(project: Path, *, kill_at: int, fail_at: int | None = None) -> None:
    script = project / "commit.py"
    script.write_text(f"""
import errno, os
from pathlib import Path

from winnow.outputs import atomic_folder, atomic_path, together

renames = []
real = Path.rename

def rename(self, target):
    renames.append(target)
    if len(renames) == {fail_at!r}:
        raise OSError(errno.EIO, "Input/output error")
    if len(renames) == {kill_at}:
        os._exit(9)
    return real(self, target)

Path.rename = rename
with together():
    with atomic_path("a.txt") as tmp:
        tmp.write_text("new a")
    with atomic_folder("f") as tmp:
        (tmp / "x.txt").write_text("new x")
""")
    done = subprocess.run([sys.executable, str(script)], cwd=project, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr


def _old_outputs(project: Path) -> None:
    (project / "a.txt").write_text("old a")
    (project / "f").mkdir()
    (project / "f/x.txt").write_text("old x")


def _outputs(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): p.read_text() for p in sorted(project.rglob("*.txt"))}


def _next_stage(project: Path, monkeypatch) -> tuple[list[Path], list[Path]]:
    """What the next stage started in ``project`` does first: :func:`winnow.commit_journal.finish_killed_commits`."""
    from winnow.commit_journal import finish_killed_commits

    monkeypatch.chdir(project)
    return finish_killed_commits()


def _assert_settled(project: Path, expected: dict[str, str]) -> None:
    """After the next stage's sweep: the outputs hold ``expected``, and no journal or temporary is left."""
    from winnow.temporaries import sweep_temporaries

    sweep_temporaries([project])
    assert _outputs(project) == expected
    assert sorted(p.name for p in project.iterdir()) == ["a.txt", "commit.py", "f"]


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("kill_at", [1, 2, 3])  # a.txt set aside; a.txt in place; f set aside
def test_a_commit_killed_part_way_is_finished_by_the_next_stage(tmp_path, monkeypatch, kill_at):
    # before: kill -9 between the renames left f new beside a.txt old (or an output missing), and the next
    # stage's sweep removed the old copy it had set aside
    _old_outputs(tmp_path)
    _commit_killed(tmp_path, kill_at=kill_at)
    finished, dropped = _next_stage(tmp_path, monkeypatch)
    assert ([p.name for p in finished], dropped) == (["a.txt", "f"], [])
    _assert_settled(tmp_path, {"a.txt": "new a", "f/x.txt": "new x"})


@pytest.mark.hostile("interrupted")
def test_a_commit_killed_while_undoing_a_failed_move_is_undone_by_the_next_stage(tmp_path, monkeypatch):
    # the move of f failed (EIO), and the process was killed while it put a.txt back
    _old_outputs(tmp_path)
    _commit_killed(tmp_path, fail_at=3, kill_at=4)
    journal = next(tmp_path.glob(".winnow-commit-*.json")).read_text()
    _next_stage(tmp_path, monkeypatch)
    assert _outputs(tmp_path) == {"a.txt": "old a", "f/x.txt": "old x"}
    # finishing the undo again (a copy of the journal, a second kill) changes nothing: it had removed a.txt
    (tmp_path / ".winnow-commit-999999999.json").write_text(journal)
    _next_stage(tmp_path, monkeypatch)
    _assert_settled(tmp_path, {"a.txt": "old a", "f/x.txt": "old x"})


@pytest.mark.hostile("interrupted")
def test_a_killed_commit_whose_outputs_were_written_since_is_dropped(tmp_path, monkeypatch):
    # before: DVC restored a.txt from its run cache (or a checkout or pull did), and the next stage still moved
    # the killed run's f over it: a.txt of one run beside f of another
    _old_outputs(tmp_path)
    _commit_killed(tmp_path, kill_at=3)  # a.txt new in place, f about to be set aside
    (tmp_path / "a.txt").unlink()
    (tmp_path / "a.txt").write_text("restored a")
    shutil.rmtree(tmp_path / "f")
    (tmp_path / "f").mkdir()
    (tmp_path / "f/x.txt").write_text("restored x")
    finished, dropped = _next_stage(tmp_path, monkeypatch)
    assert (finished, [p.name for p in dropped]) == ([], ["a.txt", "f"])
    _assert_settled(tmp_path, {"a.txt": "restored a", "f/x.txt": "restored x"})


@pytest.mark.hostile("interrupted")
def test_a_copy_of_a_checkout_with_a_killed_commit_leaves_the_original_alone(tmp_path, monkeypatch):
    # before: the journal named absolute paths, so the copy finished the original's moves and not its own
    original = tmp_path / "original"
    original.mkdir()
    _old_outputs(original)
    _commit_killed(original, kill_at=2)  # a.txt new in place, f old
    before = _outputs(original)
    copy = Path(shutil.copytree(original, tmp_path / "copy"))
    finished, dropped = _next_stage(copy, monkeypatch)
    assert (finished, [p.name for p in dropped]) == ([], ["a.txt", "f"])
    assert _outputs(original) == before


@pytest.mark.hostile("interrupted")
def test_ctrl_c_during_the_moves_waits_until_every_output_is_in_place(tmp_path, monkeypatch, request):
    # before: the KeyboardInterrupt came out of a rename that had already happened, the undo failed on the
    # new folder (ENOTEMPTY), and f was new beside a.txt old
    from winnow.outputs import atomic_folder, atomic_path

    monkeypatch.chdir(tmp_path)
    _old_outputs(tmp_path)
    rename = Path.rename

    def interrupted(self, target):
        moved = rename(self, target)
        if Path(target).name == "f":
            os.kill(os.getpid(), signal.SIGINT)
        return moved

    monkeypatch.setattr(Path, "rename", interrupted)
    # Ctrl-C as a terminal delivers it (a pytest-xdist worker ignores SIGINT)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    with pytest.raises(KeyboardInterrupt), together():
        with atomic_path("a.txt") as tmp:
            tmp.write_text("new a")
        with atomic_folder("f") as tmp:
            (tmp / "x.txt").write_text("new x")
    assert _outputs(tmp_path) == {"a.txt": "new a", "f/x.txt": "new x"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "f"]


@pytest.mark.hostile("interrupted")
def test_a_dropped_commit_puts_an_old_output_it_had_set_aside_back(tmp_path, monkeypatch):
    # before: killed with f set aside and its new copy not yet in place, then a.txt touched: the commit was
    # dropped, and both copies of f were removed
    _old_outputs(tmp_path)
    _commit_killed(tmp_path, kill_at=4)
    os.utime(tmp_path / "a.txt", ns=(1, 1))
    finished, dropped = _next_stage(tmp_path, monkeypatch)
    assert (finished, [p.name for p in dropped]) == ([], ["a.txt", "f"])
    _assert_settled(tmp_path, {"a.txt": "new a", "f/x.txt": "old x"})


@pytest.mark.hostile("interrupted")
def test_a_killed_commit_under_this_process_id_is_a_killed_runs(tmp_path, monkeypatch):
    # before: a process given a killed run's id again (a container restarted) took the journal for its own
    # commit under way and skipped it, and f was left absent
    _old_outputs(tmp_path)
    _commit_killed(tmp_path, kill_at=4)
    journal = next(tmp_path.glob(".winnow-commit-*.json"))
    journal.rename(tmp_path / f".winnow-commit-{os.getpid()}-0000.json")
    finished, _ = _next_stage(tmp_path, monkeypatch)
    assert [p.name for p in finished] == ["a.txt", "f"]
    _assert_settled(tmp_path, {"a.txt": "new a", "f/x.txt": "new x"})


@pytest.mark.hostile("intermediates")
def test_score_whose_output_is_a_folder_stops_before_scoring(project):
    # before: every image scored, then the write failed: on a large set the work thrown away
    (project / "data/score/scores.parquet").unlink()
    (project / "data/score/scores.parquet").mkdir()
    before = files_under(project)
    done = run_stage(project, "score")
    assert assert_error_line(done) == ("error: score: data/score/scores.parquet is a folder, where the stage writes "
                                       "a file; move it away, then rerun")
    assert_nothing_left(project, before)


def test_threshold_scores_its_flags_against_the_damage_on_train_only(tmp_path):
    # before: a flagged test image (degrade never damages test) counted as a false positive, and an issue
    # that flagged nothing reported precision 0, "every flag was wrong", where the report said "–"
    import json

    from winnow.degrade import perturbation_table

    params = _params()
    params["threshold"]["issues"] = {"dark": {"method": "fixed", "value": 0.1},
                                     "light": {"method": "fixed", "value": 0.0}}
    root = make_project(tmp_path / "project", params)
    manifest, _, scores = tiny_degraded(root, score=params["score"])
    dark = ["train-0-0", "train-1-0"]
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table(
        [{"id": i, "kind": "brightness", "params": json.dumps({"factor": 0.05}), "source_id": None,
          "original_label": 0} for i in dark]
        + [{"id": "train-2-0", "kind": "brightness", "params": json.dumps({"factor": 3.0}), "source_id": None,
            "original_label": 2}]))
    scores.loc[scores["id"].isin([*dark, "test-0-0"]), "dark"] = 0.01  # the test image dark by nature
    write_table(root / "data/score/scores.parquet", scores)
    done = run_stage(root, "threshold")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((root / "metrics/threshold.json").read_text())
    assert (metrics["dark"]["flagged"], metrics["dark"]["tp"], metrics["dark"]["fp"]) == (3, 2, 0)
    assert metrics["dark"]["precision"] == 1.0
    assert metrics["light"]["flagged"] == 0 and metrics["light"]["precision"] is None
    assert metrics["light"]["recall"] == 0.0 and metrics["light"]["fn"] == 1
