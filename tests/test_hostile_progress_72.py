"""tqdm's environment variables that tqdm cannot use (lead, stop 72). tqdm reads ``TQDM_*`` when it is imported and
when a bar draws; before, each of these ended ingest in a traceback (an import's ValueError, a draw's ZeroDivisionError
or KeyError) once the files were listed, and train, represent and the judges the same way at their first bar:

- ``TQDM_POSITION=x`` (not a number: tqdm's import fails);
- ``TQDM_ASCII=1`` (a one-character bar: the first draw divides by zero);
- ``TQDM_BAR_FORMAT={files}`` (a field tqdm does not fill);
- ``TQDM_UNIT_SCALE=1`` with ``TQDM_UNIT_DIVISOR=0`` (each usable alone: the two together divide by zero once a bar
  passes 1,000 images).

Variables tqdm can use (``TQDM_NCOLS=60``, ``TQDM_MININTERVAL=5``) change nothing.
"""

from __future__ import annotations

import json

import pytest
from hostile_harness import files_under, imagefolder_project, refused_line, run_stage


@pytest.mark.hostile("params")
@pytest.mark.parametrize("variables, line", [
    ({"TQDM_POSITION": "x"},
     "error: environment variable TQDM_POSITION='x': tqdm, which draws the progress bars, cannot use it (ValueError: "
     "invalid literal for int() with base 10: 'x'); correct or unset it"),
    ({"TQDM_ASCII": "1"},
     "error: environment variable TQDM_ASCII='1': tqdm, which draws the progress bars, cannot use it "
     "(ZeroDivisionError: integer division or modulo by zero); correct or unset it"),
    ({"TQDM_BAR_FORMAT": "{files}"},
     "error: environment variable TQDM_BAR_FORMAT='{files}': tqdm, which draws the progress bars, cannot use it "
     "(KeyError: 'files'); correct or unset it"),
    ({"TQDM_UNIT_SCALE": "1", "TQDM_UNIT_DIVISOR": "0"},
     "error: environment variables TQDM_UNIT_DIVISOR='0', TQDM_UNIT_SCALE='1': tqdm, which draws the progress bars, "
     "cannot use them together (ZeroDivisionError: division by zero); correct or unset them"),
])
def test_a_tqdm_variable_tqdm_cannot_use_is_one_line_before_any_work(tmp_path, monkeypatch, variables, line):
    project, _ = imagefolder_project(tmp_path)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert refused_line(project, "ingest") == line  # refused_line: nothing left behind either


@pytest.mark.hostile("params")
def test_tqdm_variables_tqdm_can_use_change_nothing(tmp_path, monkeypatch):
    project, _ = imagefolder_project(tmp_path)
    monkeypatch.setenv("TQDM_NCOLS", "60")
    monkeypatch.setenv("TQDM_MININTERVAL", "5")
    before = files_under(project)
    done = run_stage(project, "ingest")
    assert done.returncode == 0, done.stderr
    assert "data/ingest/images.npy" in files_under(project) - before
    assert json.loads((project / "data/ingest/classes.json").read_text()) == ["c0", "c1", "c2"]
