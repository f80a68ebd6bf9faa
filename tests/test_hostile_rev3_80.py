"""Review of stop 80's commits (rev3_80):

- OMP_STACKSIZE=4K with a Kelvin sign (U+212A) for its K: Python's lower() made it k and winnow let it through,
  where libgomp (C's tolower) warned "Invalid value for environment variable OMP_STACKSIZE" and ignored it;
- `winnow review import <a name too long for the file system>` ended "review: <name>: File name too long
  [ENAMETOOLONG]; free space, or fix the path or its permissions, then rerun" (path.is_file() raised), the fault
  2f2c1c53 mended for check_input_file's options alone;
- `make test`/`make repro` in an export where no dvc runs yet read core.no_scm with a grep for a bare
  `no_scm = true` line: `no_scm = true  # an export` and `no_scm = "true"` (dvc reads both as true) were refused
  as "in no git repository", and a .dvc/config.local's `no_scm = false` over it was passed.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from hostile_harness import libgomp_warns
from test_hostile_make_79 import MAKE, OUTER_MAKE, _clone
from winnow.errors import WinnowError
from winnow.review import import_verdicts
from winnow.openmp_settings import openmp_refusal


@pytest.mark.hostile("interrupted")
def test_a_stack_size_whose_suffix_is_no_ascii_letter_is_refused_as_libgomp_judges_it(monkeypatch):
    kelvin = "4\u212a"
    assert libgomp_warns("OMP_STACKSIZE", [kelvin, "4K"]) == {kelvin: True, "4K": False}
    for other in [key for key in os.environ if key.startswith(("OMP_", "GOMP_", "MKL_"))]:
        monkeypatch.delenv(other)
    monkeypatch.setenv("OMP_STACKSIZE", kelvin)
    assert openmp_refusal() == (
        f"OMP_STACKSIZE={kelvin!r} is no stack size GNU OpenMP reads (torch's import loads it, which would ignore it "
        "with a warning); set it to kilobytes, or a size with a suffix B, K, M or G (such as 4M), or unset it, then "
        "rerun")


@pytest.mark.hostile("review")
def test_a_review_file_name_too_long_is_one_line_naming_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    name = "v" * 300 + ".csv"
    with pytest.raises(WinnowError) as raised:
        import_verdicts(name)
    assert str(raised.value) == f"{name}: cannot be read (File name too long); give it a shorter name"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("config", "local", "passes"), [
    ("[core]\n    no_scm = true  # an export, no git\n", None, True),
    ("[core]\n    no_scm = \"True\"\n", None, True),
    ("['core']\n    no_scm = true\n", None, True),
    ("[core]\n    remote = store\n", "[core]\n    no_scm = true\n", True),
    ("[core]\n    no_scm = true\n", "[core]\n    no_scm = false\n", False),
    ("[remote \"store\"]\n    no_scm = true\n", None, False),
])
def test_make_reads_core_no_scm_of_an_export_as_dvc_does_where_no_dvc_runs_yet(tmp_path, config, local, passes):
    # dvc config core.no_scm gives true, true, true, true, false and nothing for these (dvc 3's configobj reading)
    clone = _clone(tmp_path / "winnow")
    (clone / ".dvc").mkdir()
    (clone / ".dvc/config").write_text(config)
    if local is not None:
        (clone / ".dvc/config.local").write_text(local)
    env = {key: val for key, val in os.environ.items() if key not in OUTER_MAKE}
    env["PATH"] = "/usr/bin:/bin"  # no dvc: a fresh export's set-up has not run
    done = subprocess.run([MAKE, "-s", "git-check"], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    refusal = (f"git-check: {clone} is in no git repository, which dvc and the tests need (a tarball or zip export "
               "has none): run git init in it, or clone the project with git clone\n")
    assert (done.returncode, done.stdout) == ((0, "") if passes else (2, refusal))
